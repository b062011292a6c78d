"""A shadow git repository outside the workspace that snapshots it, never the person's git.

Every git command runs with `GIT_DIR` set to the shadow and `GIT_WORK_TREE` to the
workspace, so the person's history, index, stash, refs and config are never read or written.
The workspace is untrusted input: no configuration but the shadow's own is read (no system or
global file; the workspace's `.git/config` is not ours to read), hooks and fsmonitor are off,
and `info/attributes` in the shadow overrides every `.gitattributes` so that no filter, text
conversion, ident or encoding applies: a snapshot holds the files' bytes exactly.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

TIMEOUT = 120.0  # seconds for one git command; a snapshot of a huge tree may take a while
KEEP_DAYS = 30  # checkpoints of a session untouched this long are pruned
KEEP_SESSIONS = 20  # per workspace, the most recent sessions' checkpoints are kept
MAX_FILE_BYTES = 10 << 20  # a new file bigger than this is left out of snapshots
MAX_NEW_FILES = 50_000  # more new files than this at once: no snapshot (a home folder?)
LOCK_TRIES = 25  # times 0.2 s: how long to wait for another codive's snapshot
ABSENT = "0" * 40
# Later attributes win over the workspace's .gitattributes (info/attributes comes first in
# git's order): no driver named there (filters, diff drivers) nor conversion applies.
ATTRIBUTES = "* !eol -text -filter !diff -merge -ident -working-tree-encoding\n"
HARDENING = (
    "--no-pager",
    *("-c", "core.hooksPath=/dev/null"),
    *("-c", "core.fsmonitor=false"),
    *("-c", "core.autocrlf=false"),
    *("-c", "core.safecrlf=false"),
    *("-c", "core.symlinks=true"),
    *("-c", "core.attributesFile=/dev/null"),
    *("-c", "core.quotePath=false"),
    *("-c", "core.logAllRefUpdates=false"),
    *("-c", "protocol.allow=never"),
    *("-c", "submodule.recurse=false"),
    *("-c", "maintenance.auto=false"),
    *("-c", "gc.pruneExpire=1.day.ago"),
    *("-c", "diff.noprefix=false"),
)
IDENTITY = {
    "GIT_AUTHOR_NAME": "codive",
    "GIT_AUTHOR_EMAIL": "codive@localhost",
    "GIT_COMMITTER_NAME": "codive",
    "GIT_COMMITTER_EMAIL": "codive@localhost",
}


class CheckpointError(Exception):
    """A snapshot or a restore could not be made (git missing, disk full, a timeout...)."""


@dataclass(frozen=True)
class Change:
    """One path a turn changed: its mode and blob before (`ABSENT` when it did not exist)."""

    path: str
    old_mode: str
    old_blob: str
    new_mode: str


def shadow_folder(home: Path, workspace: Path) -> Path:
    """`<home>/<hash of the workspace's path>`: one shadow repository per workspace."""
    digest = hashlib.sha256(os.fsencode(str(workspace))).hexdigest()[:24]
    return home / digest


class ShadowRepo:
    """The shadow repository of one workspace; `ref` names the chain of one session."""

    def __init__(self, folder: Path, workspace: Path, excluded: tuple[Path, ...] = ()) -> None:
        self.folder = folder
        self.workspace = workspace
        self.excluded = excluded  # codive's own folders, never snapshotted nor written
        self._ready = False

    # --- running git ------------------------------------------------------------------------

    def git(self, *args: str, stdin: bytes | None = None, ok: tuple[int, ...] = (0,)) -> bytes:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        if args[0] != "init":  # init refuses a work tree for a bare repository
            env["GIT_WORK_TREE"] = str(self.workspace)
        env |= IDENTITY | {
            "GIT_DIR": str(self.folder),
            "GIT_INDEX_FILE": str(self.folder / "codive-index"),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_NO_REPLACE_OBJECTS": "1",
            "GIT_OPTIONAL_LOCKS": "0",
            "LC_ALL": "C",
        }
        try:
            done = subprocess.run(
                ["git", *HARDENING, *args],
                input=stdin,
                capture_output=True,
                env=env,
                cwd=self.workspace,
                timeout=TIMEOUT,
                start_new_session=True,  # Ctrl-C on the terminal stops the turn, not git
                check=False,
            )
        except FileNotFoundError as error:
            raise CheckpointError("git is not installed") from error
        except (OSError, subprocess.TimeoutExpired) as error:
            raise CheckpointError(f"git {args[0]}: {error}") from error
        if done.returncode not in ok:
            lines = done.stderr.decode(errors="replace").strip().splitlines() or ["failed"]
            first = next((line for line in lines if line.startswith(("fatal:", "error:"))), None)
            raise CheckpointError(f"git {args[0]}: {first or lines[-1]}")
        return done.stdout

    def ensure(self) -> None:
        """Create the shadow repository (private to the person) the first time."""
        if self._ready:
            return
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            if not (self.folder / "HEAD").exists():
                self.git("init", "--quiet", "--bare", "--template=")
            info = self.folder / "info"
            info.mkdir(exist_ok=True)
            (info / "attributes").write_text(ATTRIBUTES)
            (info / "exclude").write_text(self._exclude_lines())
            (self.folder / "workspace").write_text(str(self.workspace))
            os.utime(self.folder)  # pruning goes by when a workspace was last used
        except OSError as error:
            raise CheckpointError(f"cannot set up {self.folder}: {error}") from error
        self._ready = True

    def _exclude_lines(self) -> str:
        lines = []
        for folder in self.excluded:
            try:
                inside = folder.resolve().relative_to(self.workspace)
            except ValueError:
                continue
            if inside.parts:
                lines.append("/" + "/".join(_glob_escape(p) for p in inside.parts) + "/")
        return "".join(f"{line}\n" for line in lines)

    # --- snapshots --------------------------------------------------------------------------

    def tree(self) -> str:
        """The workspace's tracked and untracked, not ignored, files as a tree object."""
        self.ensure()
        self._leave_out_big_files()
        lock = self.folder / "codive-index.lock"
        for attempt in range(LOCK_TRIES):  # another codive in this folder is snapshotting
            with contextlib.suppress(OSError):
                if lock.stat().st_mtime < time.time() - 2 * TIMEOUT:
                    lock.unlink()  # left by a codive that was killed mid-snapshot
            try:
                # Unreadable files are left out (exit status 1), not a reason to fail.
                self.git("add", "--all", "--ignore-errors", "--", ".", ok=(0, 1))
                break
            except CheckpointError as error:
                if ".lock" not in str(error) or attempt == LOCK_TRIES - 1:
                    raise
                time.sleep(0.2)
        return self.git("write-tree").decode().strip()

    def _leave_out_big_files(self) -> None:
        """Files new to the shadow over MAX_FILE_BYTES are excluded; too many new files
        (a folder that is not a project) means no snapshot, to keep disk use bounded."""
        listing = self.git("ls-files", "-z", "--others", "--exclude-standard")
        names = [os.fsdecode(name) for name in listing.split(b"\0") if name]
        if len(names) > MAX_NEW_FILES:
            raise CheckpointError(
                f"{len(names):,} files not yet saved in this folder (at most {MAX_NEW_FILES:,})"
            )
        big = []
        for name in names:
            try:
                if (self.workspace / name).lstat().st_size > MAX_FILE_BYTES:
                    big.append("/" + _glob_escape(name))
            except OSError:
                continue
        if big:
            with (self.folder / "info" / "exclude").open("a") as file:
                file.write("".join(f"{line}\n" for line in big))

    def snapshot(self, ref: str, parent: str | None) -> str:
        """A commit of the workspace as it is, on `ref` after `parent`; `parent` itself when
        nothing changed since."""
        tree = self.tree()
        if parent is not None and self.tree_of(parent) == tree:
            return parent
        parents = ["-p", parent] if parent else []
        commit = self.git("commit-tree", tree, *parents, "-m", "codive checkpoint")
        sha = commit.decode().strip()
        self.git("update-ref", ref, sha)
        return sha

    def tree_of(self, commit: str) -> str:
        return self.git("rev-parse", "--verify", "--quiet", f"{commit}^{{tree}}").decode().strip()

    def changes(self, before: str, after: str) -> list[Change]:
        """Every path that differs between two snapshots, as it was in `before`."""
        raw = self.git("diff-tree", "-r", "-z", "--no-renames", "--raw", before, after)
        fields = raw.split(b"\0")
        found = []
        for head, path in zip(fields[0::2], fields[1::2], strict=False):
            if not head.startswith(b":"):
                continue
            old_mode, new_mode, old_blob, _new_blob, _status = head[1:].decode().split(" ")
            found.append(Change(os.fsdecode(path), old_mode, old_blob, new_mode))
        return found

    def blobs(self, shas: list[str]) -> dict[str, bytes]:
        """The contents of these blobs, read through one `cat-file --batch`."""
        wanted = list(dict.fromkeys(s for s in shas if s != ABSENT))
        if not wanted:
            return {}
        out = self.git("cat-file", "--batch", stdin="".join(f"{s}\n" for s in wanted).encode())
        found: dict[str, bytes] = {}
        at = 0
        for sha in wanted:
            end = out.index(b"\n", at)
            header = out[at:end].split()
            if len(header) != 3 or header[1] != b"blob":
                raise CheckpointError(f"checkpoint object {sha} is missing")
            size = int(header[2])
            found[sha] = out[end + 1 : end + 1 + size]
            at = end + 1 + size + 1
        return found

    def diff(self, before: str, after: str) -> str:
        """A unified diff between two snapshots (commits or trees), no program of anyone's."""
        out = self.git(
            "diff", "--no-ext-diff", "--no-textconv", "--no-color", "--no-renames", before, after
        )
        return out.decode("utf-8", errors="replace")

    # --- pruning ----------------------------------------------------------------------------

    def prune(self, live: set[str], now: float | None = None) -> int:
        """Drop the chains of sessions that are gone, older than KEEP_DAYS, or beyond the
        KEEP_SESSIONS most recent; git collects their objects later (`gc --auto`)."""
        self.ensure()
        listing = self.git(
            "for-each-ref", "--sort=-committerdate", "--format=%(committerdate:unix) %(refname)"
        )
        limit = (now or time.time()) - KEEP_DAYS * 86400
        doomed = []
        for rank, line in enumerate(listing.decode().splitlines()):
            stamp, ref = line.split(" ", 1)
            name = ref.rpartition("/")[2]
            if name not in live or int(stamp) < limit or rank >= KEEP_SESSIONS:
                doomed.append(ref)
        if doomed:
            deletes = "".join(f"delete {ref}\n" for ref in doomed)
            self.git("update-ref", "--stdin", stdin=deletes.encode())
            self.git("gc", "--auto", "--quiet")
        return len(doomed)


def prune_workspaces(home: Path, now: float | None = None) -> None:
    """Remove shadow repositories of workspaces that are gone or unused for KEEP_DAYS."""
    limit = (now or time.time()) - KEEP_DAYS * 86400
    try:
        folders = [entry for entry in home.iterdir() if entry.is_dir()]
    except OSError:
        return
    for folder in folders:
        try:
            used = folder.stat().st_mtime
            gone = not Path((folder / "workspace").read_text()).is_dir()
        except OSError:  # being set up right now, or not ours: left alone
            continue
        if used < limit or gone:
            shutil.rmtree(folder, ignore_errors=True)


def _glob_escape(name: str) -> str:
    """A name as a literal .gitignore pattern."""
    escaped = "".join(f"\\{c}" if c in "*?[]\\" else c for c in name)
    stripped = escaped.rstrip(" ")  # trailing spaces count only when escaped
    escaped = stripped + "\\ " * (len(escaped) - len(stripped))
    return "\\" + escaped if escaped[:1] in ("!", "#") else escaped
