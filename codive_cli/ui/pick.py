"""`codive chat --resume` without an id: this folder's recent sessions, numbered, to pick one."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from rich.console import Console

from codive_cli.conversation.session import SessionInfo
from codive_cli.ui.safe import plain


def pick_session(
    console: Console,
    sessions: Sequence[SessionInfo],
    ask: Callable[[str], str] = input,
    now: float | None = None,
) -> SessionInfo | None:
    """The session the person picks by its number; None for a new conversation (Enter)."""
    now = time.time() if now is None else now
    console.print(plain("Sessions in this folder, most recent first:", "bold"))
    width = len(str(len(sessions)))
    for number, info in enumerate(sessions, 1):
        count = f"{info.messages:,} message" + ("" if info.messages == 1 else "s")
        console.print(
            plain(f"  {number:>{width}}  {info.title or '(untitled)'}"),
            plain(f"  {age(now - info.updated)} · {count}", "dim"),
            sep="",
        )
    question = f"  Resume which? [1-{len(sessions)}, Enter for a new conversation] "
    while True:
        answer = ask(question).strip()
        if not answer:
            return None
        if answer.isdigit() and 1 <= int(answer) <= len(sessions):
            return sessions[int(answer) - 1]
        console.print(plain(f"  a number from 1 to {len(sessions)}, please", "yellow"))


def age(seconds: float) -> str:
    """`just now`, `5 minutes ago`, `3 hours ago`, `2 days ago`."""
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
        if seconds >= size:
            n = int(seconds // size)
            return f"{n} {unit}{'' if n == 1 else 's'} ago"
    return "just now"
