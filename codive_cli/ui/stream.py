"""Streaming Markdown: finished blocks are printed once, only the unfinished tail stays live.

Re-rendering a whole answer on every refresh costs more the longer the answer gets. Here the
text is split, with the same markdown-it parser Rich uses, into finished top-level blocks and
an unfinished tail. A finished block is printed once above the live region (so scrollback
keeps it) and never drawn again; the live region re-renders only the tail, at most once per
refresh tick, cropped to the screen. What ends up printed equals one full render of the
answer: each block goes through `rich.markdown.Markdown`, and the blank line Rich puts between
top-level elements is added back where a split removed it. One exception: a reference-style
link (`[text][ref]`) renders literally when its definition lies in another block.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import ClassVar

from markdown_it import MarkdownIt
from markdown_it.token import Token
from pygments.lexers import get_all_lexers  # type: ignore[import-untyped]
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.live import Live
from rich.markdown import CodeBlock, Markdown, MarkdownElement, UnknownElement
from rich.segment import Segment
from rich.spinner import Spinner
from rich.text import Text

# The parser rich.markdown.Markdown builds, so blocks split where Rich's parse splits them.
_PARSER = MarkdownIt().enable("strikethrough").enable("table")

# Rich elements that keep their children to draw themselves, rather than letting them out.
_KEEPS_CHILDREN = frozenset(
    {
        "blockquote_open",
        "bullet_list_open",
        "ordered_list_open",
        "list_item_open",
        "table_open",
        "thead_open",
        "tbody_open",
        "tr_open",
    }
)

# Tokens Rich's Markdown handles as text or style, not as elements.
_NOT_ELEMENTS = frozenset(
    {"text", "hardbreak", "softbreak", "link_open", "link_close", "html_inline"}
)

# Blocks complete once their last line is: nothing that follows can extend them.
_ONE_SHOT = frozenset({"heading_open", "hr"})

# Blocks that a blank line ends (lists and indented code can go on after one).
_BLANK_ENDS = frozenset({"paragraph_open", "table_open", "blockquote_open"})


@dataclass(frozen=True)
class Block:
    """A top-level block: its opening token's type, its lines and fence markup."""

    kind: str
    start: int
    stop: int
    markup: str


def top_level(text: str) -> list[Block]:
    """The top-level blocks of `text`, in order."""
    return [
        Block(token.type, token.map[0], token.map[1], token.markup)
        for token in _PARSER.parse(text)
        if token.level == 0 and token.nesting != -1 and token.map is not None
    ]


@dataclass(frozen=True)
class Split:
    """The head of a tail that is finished blocks, and what the rest starts with."""

    cut: int  # characters of finished blocks
    blocks: list[Block]  # their top-level blocks
    open_fence: str = ""  # the rest is a top-level fence still open, with this markup


def split(tail: str) -> Split:
    """Find the finished blocks at the head of `tail`.

    Only complete lines are parsed: a partial line can still turn into anything. Every block
    before the last one is finished (markdown-it started a new block, so the earlier one is
    closed for good); the last one is finished when its own end is certain.
    """
    end = tail.rfind("\n") + 1
    lines = tail[:end].split("\n")[:-1]
    blocks = top_level(tail[:end]) if end else []
    if not blocks:
        return Split(0, [])
    last = blocks[-1]
    if _is_closed(last, lines):
        return Split(end, blocks)
    cut = sum(len(line) + 1 for line in lines[: last.start])
    return Split(cut, blocks[:-1], last.markup if last.kind == "fence" else "")


def _is_closed(block: Block, lines: list[str]) -> bool:
    """Whether the last top-level block of `lines` can no longer grow."""
    if block.kind in _ONE_SHOT:
        return True
    if block.kind in _BLANK_ENDS:
        return block.stop < len(lines)
    if block.kind == "fence":
        last = lines[block.stop - 1]
        return block.stop - 1 > block.start and _closes_fence(last, block.markup)
    return False


def _closes_fence(line: str, markup: str) -> bool:
    line = line.expandtabs(4)
    body = line.strip()
    indent = len(line) - len(line.lstrip(" "))
    return indent < 4 and len(body) >= len(markup) and body == markup[0] * len(body)


def new_line_after(blocks: list[Block], before: bool) -> bool:
    """Rich's `new_line` flag once `blocks` are rendered (it was `before` ahead of them)."""
    if not blocks:
        return before
    return Markdown.elements.get(blocks[-1].kind, UnknownElement).new_line


def needs_gap(tokens: list[Token], new_line: bool) -> bool:
    """Whether a full render would put a blank line ahead of `tokens` that theirs lacks.

    Rich writes a blank line before the element it writes out if the element closed before
    it asked for one. A split changes that only when the first element to close is also
    written out at once: not a child a container keeps for later (a list's paragraph), but a
    top-level one or one whose parent passes it through (an image in a paragraph).
    """
    if not new_line:
        return False
    parents: list[str] = []
    for token in _elements(tokens):
        if token.nesting == 1:
            parents.append(token.type)
            continue
        if token.nesting == -1:
            parents.pop()
        # An empty inline is written out without a blank line (and sets the flag anyway).
        return token.type != "inline" and not (parents and parents[-1] in _KEEPS_CHILDREN)
    return False


def _elements(tokens: list[Token]) -> Iterator[Token]:
    """The tokens Rich's Markdown turns into elements, in the order it meets them."""
    for token in tokens:
        if token.children and token.type != "fence" and token.tag != "img":
            yield from _elements(token.children)
        elif token.type not in _NOT_ELEMENTS and not (
            token.tag in Markdown.inlines and token.type not in ("fence", "code_block")
        ):
            yield token


def with_gap(markdown: Markdown, gap: bool) -> RenderableType:
    return Group(Text(), markdown) if gap else markdown


@cache
def _lexer_names() -> frozenset[str]:
    return frozenset(name for _, names, _, _ in get_all_lexers(plugins=False) for name in names)


class _TailCodeBlock(CodeBlock):
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


class _TailMarkdown(Markdown):
    elements: ClassVar[dict[str, type[MarkdownElement]]] = {
        **Markdown.elements,
        "fence": _TailCodeBlock,
        "code_block": _TailCodeBlock,
    }


@dataclass(frozen=True)
class _Tail:
    """The unprinted text and what the live region needs to draw it; replaced, never changed."""

    text: str = ""
    new_line: bool = False  # Rich's new_line flag after the blocks already printed
    waiting: bool = True  # no visible text yet: show the spinner
    fence: str = ""  # the text is a top-level fence still open, with this markup


class _TailView:
    """The live region's renderable: the tail rendered once per change, cut to fit the screen."""

    def __init__(self, stream: MarkdownStream) -> None:
        self.stream = stream
        self.spinner = Spinner("dots", text=Text("waiting for the model…", style="dim"))
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
        if not tail.text.strip():
            return []
        height = max(1, console.size.height - 1)
        text = _fence_end(tail.text, height) if tail.fence else tail.text
        markdown = _TailMarkdown(text, code_theme=self.stream.code_theme)
        gap = needs_gap(markdown.parsed, tail.new_line)
        lines = console.render_lines(with_gap(markdown, gap), options, pad=False)
        return lines[-height:]


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
        self._cr = ""  # a carriage return held back: the next delta may start with "\n"
        self._checked = 0  # how far the tail's complete lines were looked at
        self._done = False
        self._lock = threading.Lock()
        self._region: _LiveRegion | None = None
        if console.is_interactive and not console.is_dumb_terminal:
            view = _TailView(self)
            self._region = _LiveRegion(console, view, refresh_per_second, self._lock)

    def feed(self, text: str) -> None:
        """Append a delta of any size; print the blocks it finishes."""
        if self._done:
            raise RuntimeError("MarkdownStream.feed() after finish()")
        text = self._line_ends(text)
        if not text:
            return
        tail = self._tail
        waiting = tail.waiting and not text.strip()
        self._tail = _Tail(tail.text + text, tail.new_line, waiting, tail.fence)
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
        text = tail.text + self._cr.replace("\r", "\n")
        self._tail = _Tail(text, tail.new_line, waiting=False)
        self._print(Split(len(text), top_level(text)))

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
        # An open fence ends only on a line with its markup: no need to parse until one comes.
        if fence and fence not in text[self._checked : end]:
            self._checked = end
            return
        found = split(text)
        self._checked = end - found.cut
        self._print(found)

    def _print(self, found: Split) -> None:
        """Print the finished head of the tail; the rest stays live."""
        tail = self._tail
        rest = _Tail(
            tail.text[found.cut :],
            new_line_after(found.blocks, tail.new_line),
            tail.waiting,
            found.open_fence,
        )
        if not found.blocks:
            self._tail = rest
            return
        markdown = Markdown(tail.text[: found.cut], code_theme=self.code_theme)
        gap = needs_gap(markdown.parsed, tail.new_line)
        # Under the lock, a redraw finds the text either in the tail or printed, never both.
        with self._lock:
            self._tail = rest
            self.console.print(with_gap(markdown, gap))
