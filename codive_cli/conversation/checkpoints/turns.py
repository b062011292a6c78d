"""A chat's checkpoints: the workspace before a turn first changes files and after the turn,
and the file side of /undo, /rewind and /diff."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codive_cli.conversation.checkpoints.restore import Restored, restore
from codive_cli.conversation.checkpoints.shadow import (
    CheckpointError,
    ShadowRepo,
    prune_workspaces,
    shadow_folder,
)

MAX_DIFF_LINES = 4000


def default_home() -> Path:
    """Where shadow repositories live: `checkpoints` under the platform's user data dir."""
    from platformdirs import user_data_path

    return user_data_path("codive", appauthor=False) / "checkpoints"


@dataclass
class Checkpoint:
    """One turn that changed files: the snapshots before and after it. `at` is the number of
    the session's messages when the turn began (None once compaction rewrote them)."""

    before: str
    after: str
    at: int | None

    def record(self) -> dict[str, Any]:
        return {"before": self.before, "after": self.after, "at": self.at}

    @classmethod
    def of(cls, record: dict[str, Any]) -> Checkpoint | None:
        before, after, at = record.get("before"), record.get("after"), record.get("at")
        if isinstance(before, str) and isinstance(after, str):
            return cls(before, after, at if isinstance(at, int) else None)
        return None


class Checkpoints:
    """The checkpoints of one chat in one workspace (a shadow repository, see shadow.py).

    Nothing here raises: a snapshot that fails leaves its turn without a checkpoint and
    `warning()` says so once; the commands report failures as text.
    """

    def __init__(
        self,
        root: Path,
        session_id: str,
        *,
        home: Path | None = None,
        protected: tuple[Path, ...] = (),
        sessions: Path | None = None,
    ) -> None:
        self.home = home or default_home()
        self.root = root
        self.protected = protected
        self.sessions = sessions  # the folder of saved sessions: checkpoints outlive none
        self.repo = ShadowRepo(shadow_folder(self.home, root), root, protected)
        self.session_id = session_id
        self.list: list[Checkpoint] = []
        self.problem: str | None = None
        self._said = False
        self._pruned = False
        self._active = False  # a turn is in progress
        self._turn: int | None = None  # its `at`
        self._before: str | None = None  # its snapshot ("" when taking it failed)

    def start(self, session_id: str, records: Iterable[dict[str, Any]] = ()) -> None:
        """Follow another session (a new one on /clear), with the checkpoints it recorded."""
        self.session_id = session_id
        self.list = [c for c in map(Checkpoint.of, records) if c is not None]

    # --- turns ------------------------------------------------------------------------------

    def begin(self, at: int) -> None:
        self._active, self._turn, self._before = True, at, None

    def before_change(self) -> None:
        """Before a call that may change files: the turn's first one takes the snapshot."""
        if self._active and self._before is None:
            self._before = self._snapshot() or ""

    def end(self) -> Checkpoint | None:
        """The turn is over: its checkpoint, if it changed files."""
        before, at = self._before, self._turn
        self._active, self._turn, self._before = False, None, None
        if not before:
            return None
        after = self._snapshot()
        if after is None or after == before:
            return None
        checkpoint = Checkpoint(before, after, at)
        self.list.append(checkpoint)
        return checkpoint

    def compacted(self) -> None:
        """The conversation was rewritten: no checkpoint is tied to a message any more."""
        for checkpoint in self.list:
            checkpoint.at = None
        self._turn = None

    def warning(self) -> str | None:
        """`undo is unavailable: why`, the first time a snapshot failed; then None."""
        if self.problem is None or self._said:
            return None
        self._said = True
        return f"undo is unavailable: {self.problem}"

    def _snapshot(self) -> str | None:
        try:
            self._prune_once()
            parent = self.list[-1].after if self.list else None
            return self.repo.snapshot(f"refs/codive/{self.session_id}", parent)
        except CheckpointError as error:
            self.problem = str(error)
            return None

    def _prune_once(self) -> None:
        if self._pruned:
            return
        self._pruned = True
        prune_workspaces(self.home)
        if self.sessions is not None:
            live = {path.stem for path in self.sessions.glob("*.jsonl")} | {self.session_id}
            self.repo.prune(live)

    # --- commands ---------------------------------------------------------------------------

    def undo(self) -> Restored | None:
        """Put back the files of the latest turn that changed any (None: there is none)."""
        if not self.list:
            return None
        restored = self._revert(self.list[-1])
        self.list.pop()
        return restored

    def rewind(self, at: int) -> Restored:
        """Put back the files of every turn from the one that began at `at` on, latest first."""
        done = Restored()
        while self.list and self.list[-1].at is not None and self.list[-1].at >= at:
            step = self._revert(self.list.pop())
            done.written += step.written
            done.removed += step.removed
            done.skipped += step.skipped
        return done

    def _revert(self, checkpoint: Checkpoint) -> Restored:
        changes = self.repo.changes(checkpoint.before, checkpoint.after)
        blobs = self.repo.blobs([change.old_blob for change in changes])
        return restore(self.root, changes, blobs, self.protected)

    def diff(self) -> str:
        """What the session changed so far: a unified diff from its first checkpoint."""
        if not self.list:
            return ""
        text = self.repo.diff(self.list[0].before, self.repo.tree())
        lines = text.splitlines()
        if len(lines) > MAX_DIFF_LINES:
            more = len(lines) - MAX_DIFF_LINES
            text = "\n".join([*lines[:MAX_DIFF_LINES], f"… {more} more lines"])
        return text
