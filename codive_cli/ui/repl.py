"""Where chat input comes from: a prompt-toolkit prompt on a terminal, or plain lines."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import threading
from collections.abc import Iterable
from pathlib import Path

from prompt_toolkit import PromptSession
from prompt_toolkit.application import get_app
from prompt_toolkit.completion import CompleteEvent, Completer, Completion, PathCompleter
from prompt_toolkit.document import Document
from prompt_toolkit.filters import Condition
from prompt_toolkit.history import FileHistory, History, InMemoryHistory
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent

from codive_cli.conversation import commands


class ChatCompleter(Completer):
    """Slash commands at the start of the input; workspace paths after `@`."""

    def __init__(self, root: Path) -> None:
        self.paths = PathCompleter(get_paths=lambda: [str(root)], expanduser=False)

    def get_completions(
        self, document: Document, complete_event: CompleteEvent
    ) -> Iterable[Completion]:
        before = document.text_before_cursor
        if before.startswith("/") and " " not in before:
            for command in commands.completions():
                if command.startswith(before):
                    yield Completion(command, start_position=-len(before))
            return
        word = before.split()[-1] if before.split() and not before.endswith(" ") else ""
        if word.startswith("@"):
            inner = Document(word[1:], len(word) - 1)
            yield from self.paths.get_completions(inner, complete_event)


EDIT = "/edit"  # what Esc Esc at an empty prompt sends: the last prompt back, to edit


def key_bindings() -> KeyBindings:
    """Enter sends; Esc Enter, Alt-Enter or Ctrl-J insert a newline; Esc Esc at an empty
    prompt asks for the last prompt back (as /edit does)."""
    bindings = KeyBindings()
    empty = Condition(lambda: not get_app().current_buffer.text)

    @bindings.add("enter")
    def _send(event: KeyPressEvent) -> None:
        event.current_buffer.validate_and_handle()

    @bindings.add("escape", "enter")
    @bindings.add("c-j")
    def _newline(event: KeyPressEvent) -> None:
        event.current_buffer.insert_text("\n")

    @bindings.add("escape", "escape", filter=empty)
    def _edit(event: KeyPressEvent) -> None:
        event.app.exit(result=EDIT)

    return bindings


class TerminalSource:
    """The interactive prompt: history across runs, completion, multi-line input."""

    editable = True  # `default` is put in the input, to edit before sending

    def __init__(self, root: Path, history_file: Path | None) -> None:
        history = prompt_history(history_file)
        self.session: PromptSession[str] = PromptSession(
            history=history,
            completer=ChatCompleter(root),
            complete_while_typing=True,
            key_bindings=key_bindings(),
            multiline=True,  # Enter is bound to send; pasted newlines stay in the text
            prompt_continuation="  ",
        )

    async def read(self, default: str = "") -> str | None:
        try:
            return await self.session.prompt_async("› ", default=default)
        except KeyboardInterrupt:
            return ""  # Ctrl-C at the prompt clears the line (and drops a draft)
        except EOFError:
            return None


class LineSource:
    """Prompts from a pipe, one per line (`codive chat < prompts.txt`).

    Lines are read on a daemon thread: a pipe that stays open and silent must not keep
    codive from exiting when it is told to stop (asyncio waits for its own worker threads).
    """

    editable = False  # a pipe cannot put text back: `/edit TEXT` replaces the last prompt

    async def read(self, default: str = "") -> str | None:
        loop = asyncio.get_running_loop()
        line: asyncio.Future[str] = loop.create_future()

        def deliver(text: str) -> None:
            if not line.done():
                line.set_result(text)

        def read_line() -> None:
            text = sys.stdin.readline()
            with contextlib.suppress(RuntimeError):  # the loop closed while we waited
                loop.call_soon_threadsafe(deliver, text)

        threading.Thread(target=read_line, name="codive-stdin", daemon=True).start()
        text = await line
        return text.rstrip("\n") if text else None


def prompt_history(path: Path | None) -> History:
    """What the person typed, kept across runs in `path` (pasted keys too, so readable by
    them only, 0600 like session files, also when an older codive created it 0644). A file
    that cannot be opened (a read-only home) costs the history of this run, not the chat."""
    if path is None:
        return InMemoryHistory()
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # A symlink is followed: a dotfile manager may keep the history elsewhere.
        fd = os.open(path, os.O_CREAT | os.O_APPEND | os.O_WRONLY, 0o600)
        try:
            os.fchmod(fd, 0o600)
        finally:
            os.close(fd)
    except OSError:
        return InMemoryHistory()
    return FileHistory(str(path))


def interactive() -> bool:
    if sys.stdin is None or sys.stdout is None:  # started with the stream closed
        return False
    return sys.stdin.isatty() and sys.stdout.isatty() and os.environ.get("TERM") != "dumb"
