"""/undo, /rewind and /diff: the chat's side of checkpoints (what to say, what to record)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from codive_cli.agent.compaction import SUMMARY_PREFIX
from codive_cli.conversation.checkpoints.restore import Restored
from codive_cli.conversation.checkpoints.shadow import CheckpointError
from codive_cli.conversation.session.records import title_of
from codive_cli.provider import ChatMessage

if TYPE_CHECKING:
    from codive_cli.conversation.chat import Chat

SHOWN_PATHS = 5


def turn_starts(messages: list[ChatMessage]) -> list[tuple[int, str]]:
    """(index, title) of each person's message in the conversation: where turns begin."""
    return [
        (index, title_of(message.content))
        for index, message in enumerate(messages)
        if message.role == "user" and not message.content.startswith(SUMMARY_PREFIX)
    ]


def describe(restored: Restored) -> str:
    """`put back a.py, b.py; removed new.py; left alone: x (why)` in one line."""
    parts = []
    if restored.written:
        parts.append(f"put back {_paths(restored.written)}")
    if restored.removed:
        parts.append(f"removed {_paths(restored.removed)}")
    if restored.skipped:
        parts.append(f"left alone: {'; '.join(restored.skipped)}")
    return "; ".join(parts) or "no files to put back"


def _paths(paths: list[str]) -> str:
    shown = ", ".join(paths[:SHOWN_PATHS])
    more = len(paths) - SHOWN_PATHS
    return shown + (f" and {more} more" if more > 0 else "")


class CheckpointCommands:
    """The handlers of /undo, /rewind and /diff for one chat."""

    def __init__(self, chat: Chat) -> None:
        self.chat = chat

    async def undo(self, argument: str) -> None:
        tracker = self.chat.checkpoints
        if tracker is None:
            self.chat.note("undo is off in this chat")
            return
        try:
            restored = await asyncio.to_thread(tracker.undo)
        except CheckpointError as error:
            self.chat.note(f"undo failed: {error}")
            return
        if restored is None:
            self.chat.note("nothing to undo: no turn of this session has changed files")
            return
        self.chat.session.record("undo")
        changed = restored.written + restored.removed
        self.chat.to_model.append(
            "[codive: the person undid the file changes of the latest turn that changed files"
            f" ({_paths(changed) or 'nothing to put back'}); those files are as before it]"
        )
        self.chat.note(f"undone: {describe(restored)}")

    async def rewind(self, argument: str) -> None:
        turns = turn_starts(self.chat.session.messages)
        if not turns:
            self.chat.note("nothing to rewind: no turn in this conversation yet")
            return
        if not argument:
            self.chat.output.show(self._listing(turns))
            return
        number = int(argument) if argument.isdigit() else 0
        if not 1 <= number <= len(turns):
            self.chat.note(f"pick a turn from 1 to {len(turns)}: /rewind N")
            return
        at, title = turns[number - 1]
        restored = Restored()
        if self.chat.checkpoints is not None:
            try:
                restored = await asyncio.to_thread(self.chat.checkpoints.rewind, at)
            except CheckpointError as error:
                self.chat.note(f"rewind failed: {error}")
                return
        self.chat.session.rewind(at)
        self.chat.agent.messages = list(self.chat.session.messages)
        self.chat.note(f"rewound to before turn {number} ({title}); {describe(restored)}")

    def _listing(self, turns: list[tuple[int, str]]) -> str:
        tracker = self.chat.checkpoints
        changed = {c.at for c in tracker.list} if tracker is not None else set()
        width = len(str(len(turns)))
        rows = [
            f"  {n:>{width}}  {title}" + ("  (changed files)" if at in changed else "")
            for n, (at, title) in enumerate(turns, 1)
        ]
        hint = "/rewind N puts the conversation and files back to just before turn N"
        return "\n".join(["Turns:", *rows, hint])

    async def diff(self, argument: str) -> None:
        tracker = self.chat.checkpoints
        if tracker is None:
            self.chat.note("checkpoints are off in this chat")
            return
        try:
            text = await asyncio.to_thread(tracker.diff)
        except CheckpointError as error:
            self.chat.note(f"diff failed: {error}")
            return
        if text.strip():
            self.chat.output.diff(text)
        else:
            self.chat.note("no file changes in this session yet")
