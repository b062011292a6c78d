"""Where the top-level Markdown blocks of a streamed answer end, and the blank lines between them.

Blocks are found with the same markdown-it parser Rich uses, so they split where Rich's parse
splits them. Rich writes a blank line between top-level elements; `needs_gap` says when a
block rendered on its own lacks the one a full render would give it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from markdown_it import MarkdownIt
from markdown_it.token import Token
from rich.console import Group, RenderableType
from rich.markdown import Markdown, UnknownElement
from rich.text import Text

# The parser rich.markdown.Markdown builds, so blocks split where Rich's parse splits them.
PARSER = MarkdownIt().enable("strikethrough").enable("table")

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
        for token in PARSER.parse(text)
        if is_top_level(token) and token.map is not None
    ]


def is_top_level(token: Token) -> bool:
    """Whether `token` opens (or is) a top-level block."""
    return token.level == 0 and token.nesting != -1 and token.map is not None


@dataclass(frozen=True)
class Split:
    """The head of a tail that is finished blocks, and what the rest starts with."""

    cut: int  # characters of finished blocks
    blocks: list[Block]  # their top-level blocks
    open_fence: str = ""  # the rest is a top-level fence still open, with this markup
    open_kind: str = ""  # the type of the rest's first block, if that one is unfinished


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
    return Split(cut, blocks[:-1], last.markup if last.kind == "fence" else "", last.kind)


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
    return new_line_after_kind(blocks[-1].kind) if blocks else before


def new_line_after_kind(kind: str) -> bool:
    """Rich's `new_line` flag after a top-level block whose opening token is `kind`."""
    return Markdown.elements.get(kind, UnknownElement).new_line


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
