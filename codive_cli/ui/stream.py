"""Streaming Markdown: finished blocks are printed once, only the unfinished tail stays live.

Re-rendering a whole answer on every refresh costs more the longer the answer gets. Here the
text is split (ui/blocks.py) into finished top-level blocks and an unfinished tail. A finished
block is printed once above the live region (so scrollback keeps it) and never drawn again;
the live region re-renders only the tail, at most once per refresh tick, cropped to the
screen. A list or table that is still the last block is held (ui/held.py): its finished items
or rows are set aside as they complete, each new line is parsed with its own item only, and a
redraw renders only the last ones, so the cost per delta stays flat however long it grows.
What ends up printed equals one full render of the answer: each block, held ones included,
goes through `rich.markdown.Markdown` whole, and the blank line Rich puts between top-level
elements is added back where a split removed it. One exception: a reference-style link
(`[text][ref]`) renders literally when its definition lies in another block.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from functools import cache
from typing import ClassVar

from markdown_it.token import Token
from pygments.lexers import get_all_lexers  # type: ignore[import-untyped]
from rich.console import Console, ConsoleOptions, RenderResult
from rich.live import Live
from rich.markdown import CodeBlock, ListElement, Markdown, MarkdownElement
from rich.segment import Segment
from rich.spinner import Spinner
from rich.text import Text

from codive_cli.ui.blocks import (
    Split,
    is_top_level,
    needs_gap,
    new_line_after,
    new_line_after_kind,
    split,
    with_gap,
)
from codive_cli.ui.held import HOLDS, Held, hold
from codive_cli.ui.markdown import AnswerMarkdown, Code

__all__ = ["MarkdownStream", "split"]


@cache
def _lexer_names() -> frozenset[str]:
    return frozenset(name for _, names, _, _ in get_all_lexers(plugins=False) for name in names)


class _TailCodeBlock(Code):
    """A code block whose language Pygments does not ship is drawn as plain text at once.

    Pygments answers an unknown name by scanning every installed package's entry points
    (a fifth of a second), and a tail redrawn while a fence's info string streams in ("pyt",
    "pytho") asks for one on every tick. An empty name is what Rich ends up with anyway.
    """

    @classmethod
    def create(cls, markdown: Markdown, token: Token) -> CodeBlock:
        block = super().create(markdown, token)
        if block.lexer_name not in _lexer_names():
            block.lexer_name = ""
        return block


class _TailList(ListElement):
    """A list that may be the end of a longer one: numbered on from where the window starts."""

    @classmethod
    def create(cls, markdown: Markdown, token: Token) -> ListElement:
        element = super().create(markdown, token)
        top = token.level == 0 and token.type == "ordered_list_open"
        if top and isinstance(markdown, _TailMarkdown) and markdown.first_number is not None:
            element.list_start, markdown.first_number = markdown.first_number, None
        return element


class _TailMarkdown(AnswerMarkdown):
    elements: ClassVar[dict[str, type[MarkdownElement]]] = {
        **AnswerMarkdown.elements,
        "fence": _TailCodeBlock,
        "code_block": _TailCodeBlock,
        "bullet_list_open": _TailList,
        "ordered_list_open": _TailList,
    }
    first_number: int | None = None  # the first top-level ordered list starts here


@dataclass(frozen=True)
class _Tail:
    """The unprinted text and what the live region needs to draw it; replaced, never changed."""

    text: str = ""
    new_line: bool = False  # Rich's new_line flag after the blocks already printed
    waiting: bool = True  # no visible text yet: show the spinner
    fence: str = ""  # the text is a top-level fence still open, with this markup
    held: Held | None = None  # a growing list or table whose finished parts come first
    count: int = 0  # how many of those parts (more may have been added since)


class _TailView:
    """The live region's renderable: the tail rendered once per change, cut to fit the screen."""

    def __init__(self, stream: MarkdownStream) -> None:
        self.stream = stream
        dim = "" if stream.console.no_color else "dim"  # NO_COLOR: no styles at all
        self.spinner = Spinner("dots", text=Text("waiting for the model…", style=dim))
        self.thought_style = "" if stream.console.no_color else "dim italic"
        self._key: tuple[_Tail, int, int] | None = None
        self._lines: list[list[Segment]] = []

    def stale(self, console: Console) -> bool:
        """Whether a redraw would change anything (the spinner always does)."""
        tail = self.stream._tail
        return tail.waiting or (tail, console.width, console.size.height) != self._key

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        tail = self.stream._tail
        if tail.waiting:
            yield self.spinner
            if self.stream.notice:  # a retry, say
                yield Text(self.stream.notice, style=self.thought_style)
            if self.stream.thinking:  # the model's reasoning, as it arrives
                yield Text(self.stream.thinking, style=self.thought_style)
            return
        key = (tail, options.max_width, console.size.height)
        if key != self._key:
            self._key, self._lines = key, self._render(tail, console, options)
        for index, line in enumerate(self._lines):
            if index:
                yield Segment.line()
            yield from line

    def _render(
        self, tail: _Tail, console: Console, options: ConsoleOptions
    ) -> list[list[Segment]]:
        height = max(1, console.size.height - 1)
        if tail.held is not None:
            return self._render_held(tail, tail.held, height, console, options)
        if not tail.text.strip():
            return []
        text = _fence_end(tail.text, height) if tail.fence else tail.text
        return self._markdown_lines(text, None, tail.new_line, console, options)[-height:]

    def _render_held(
        self, tail: _Tail, held: Held, height: int, console: Console, options: ConsoleOptions
    ) -> list[list[Segment]]:
        """The last parts of a held block: as many as fill the screen (an empty item: none)."""
        parts = height
        while True:
            window = held.window(tail.count, tail.text, parts)
            lines = self._markdown_lines(
                window.text, window.first_number, tail.new_line, console, options
            )
            if window.whole or len(lines) >= height:
                return lines[-height:]
            parts *= 2

    def _markdown_lines(
        self,
        text: str,
        first_number: int | None,
        new_line: bool,
        console: Console,
        options: ConsoleOptions,
    ) -> list[list[Segment]]:
        markdown = _TailMarkdown(text, code_theme=self.stream.code_theme)
        markdown.first_number = first_number
        gap = needs_gap(markdown.parsed, new_line)
        return console.render_lines(with_gap(markdown, gap), options, pad=False)


def _fence_end(text: str, keep: int) -> str:
    """An open fence cut to its opening line and last `keep` lines: all the screen can show."""
    lines = text.split("\n")
    return text if len(lines) <= keep + 1 else "\n".join([lines[0], *lines[-keep:]])


class _LiveRegion:
    """A transient `Live` redrawn by our own thread, under the lock its owner prints under.

    Rich's refresh thread writes while holding the Live's lock, but `console.print` from
    another thread renders the live region outside that lock, so the two can interleave and
    move the cursor by a stale height: lines lost or repeated. One lock around both fixes it.
    """

    def __init__(
        self, console: Console, view: _TailView, rate: float, lock: threading.Lock
    ) -> None:
        self.console, self.view, self._lock = console, view, lock
        self._live = Live(
            console=console,
            auto_refresh=False,
            transient=True,
            vertical_overflow="crop",
            get_renderable=lambda: view,
        )
        self._live.start(refresh=True)
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(1 / rate,), name="markdown-stream", daemon=True
        )
        self._thread.start()

    def _run(self, interval: float) -> None:
        while not self._stop.wait(interval):
            with self._lock:
                if self.view.stale(self.console):
                    self._live.refresh()

    def stop(self) -> None:
        """Stop redrawing and erase the region."""
        self._stop.set()
        self._thread.join()
        self._live.stop()


class MarkdownStream:
    """Markdown that grows as deltas arrive; scrollback keeps what is finished."""

    def __init__(
        self, console: Console, *, refresh_per_second: float = 12, code_theme: str = "monokai"
    ) -> None:
        if refresh_per_second <= 0:
            raise ValueError("refresh_per_second must be positive")
        self.console = console
        self.code_theme = code_theme
        self._tail = _Tail()
        self.thinking = ""  # the latest lines of reasoning, shown under the spinner
        self.notice = ""  # one line under the spinner while nothing is shown (a retry)
        self._cr = ""  # a carriage return held back: the next delta may start with "\n"
        self._checked = 0  # how far the tail's complete lines were looked at
        self._done = False
        self._lock = threading.Lock()
        self._region: _LiveRegion | None = None
        if console.is_interactive and not console.is_dumb_terminal:
            view = _TailView(self)
            self._region = _LiveRegion(console, view, refresh_per_second, self._lock)

    def think(self, text: str, lines: int = 4) -> None:
        """Show the latest `lines` of the model's reasoning (all of it so far in `text`)
        while no answer text has come; the view drops it when the answer starts."""
        width = max(20, self.console.width - 2)
        rows = [row[:width] for row in text[-4000:].strip().splitlines() if row.strip()]
        self.thinking = "\n".join(rows[-lines:])

    def feed(self, text: str) -> None:
        """Append a delta of any size; print the blocks it finishes."""
        if self._done:
            raise RuntimeError("MarkdownStream.feed() after finish()")
        text = self._line_ends(text)
        if not text:
            return
        tail = self._tail
        waiting = tail.waiting and not text.strip()
        self._tail = _Tail(
            tail.text + text, tail.new_line, waiting, tail.fence, tail.held, tail.count
        )
        if "\n" in text:
            self._print_finished()

    def finish(self) -> None:
        """Print whatever is left; the live region disappears, the answer stays."""
        if self._done:
            return
        self._done = True
        tail = self._tail
        if self._region is not None:
            self._tail = _Tail(waiting=False)  # the region's last frame is empty
            self._region.stop()
        held = tail.held.text(tail.count) if tail.held is not None else ""
        text = held + tail.text + self._cr.replace("\r", "\n")
        self._tail = _Tail(text, tail.new_line, waiting=False)
        # Nothing follows the last print, so the whole rest goes in one parse (a long held
        # table parsed once more just to find its top-level blocks was an eighth of its cost).
        self._commit(text, _Tail(waiting=False), printable=None)

    def abort(self, note: str | None = None) -> None:
        """Like finish(), then a dim note such as "interrupted"."""
        if self._done:
            return
        self.finish()
        if note:
            self.console.print(Text(note, style="dim"))

    def _line_ends(self, text: str) -> str:
        """Line ends as markdown-it normalises them, so line numbers agree with its map."""
        text, self._cr = self._cr + text, ""
        if text.endswith("\r"):
            text, self._cr = text[:-1], "\r"
        return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text

    def _print_finished(self) -> None:
        """Print the blocks the last complete line finished, if any."""
        text, fence = self._tail.text, self._tail.fence
        end = text.rfind("\n") + 1
        if self._tail.held is not None:
            self._advance_held(self._tail.held, end)
            return
        # An open fence ends only on a line with its markup: no need to parse until one comes.
        if fence and fence not in text[self._checked : end]:
            self._checked = end
            return
        found = split(text)
        self._checked = end - found.cut
        self._print(found)
        if found.open_kind in HOLDS:
            held, head = hold(found.open_kind, self._tail.text)
            self._tail = replace(self._tail, text=self._tail.text[head:], held=held)
            self._advance_held(held, end - found.cut - head)

    def _advance_held(self, held: Held, end: int) -> None:
        """Set aside the parts of a held list or table the new lines finished; print it if
        they end it, and go on with what follows."""
        tail = self._tail
        step = held.advance(tail.text[:end])
        if not step.ended:
            self._tail = replace(tail, text=tail.text[step.cut :], count=len(held.parts))
            return
        block = held.text(len(held.parts)) + tail.text[step.parted : step.cut]
        rest = _Tail(tail.text[step.cut :], new_line_after_kind(held.kind), tail.waiting)
        self._commit(block, rest)
        self._print_finished()

    def _print(self, found: Split) -> None:
        """Print the finished head of the tail; the rest stays live."""
        tail = self._tail
        rest = _Tail(
            tail.text[found.cut :],
            new_line_after(found.blocks, tail.new_line),
            tail.waiting,
            found.open_fence,
        )
        self._commit(tail.text[: found.cut], rest, printable=bool(found.blocks))

    def _commit(self, text: str, rest: _Tail, printable: bool | None = True) -> None:
        """Print `text` as Markdown and let `rest` be the tail (`printable` None: when the
        text holds any top-level block, as its own parse tells)."""
        if printable is False:
            self._tail = rest
            return
        markdown = AnswerMarkdown(text, code_theme=self.code_theme)
        if printable is None and not any(is_top_level(t) for t in markdown.parsed):
            self._tail = rest
            return
        gap = needs_gap(markdown.parsed, self._tail.new_line)
        # Under the lock, a redraw finds the text either in the tail or printed, never both.
        with self._lock:
            self._tail = rest
            self.console.print(with_gap(markdown, gap))
