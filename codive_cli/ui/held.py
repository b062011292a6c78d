"""A list or table still growing at the end of the answer: its finished items or rows kept apart.

While a list or table is the last block nothing proves it is finished, so it cannot be printed;
but its finished parts can be set aside. Once markdown-it starts a new top-level item, the one
before is complete, and each line after a table's separator is complete once it is a row. So
each new line is parsed with only the item it belongs to (a list) or the header (a table), and
a redraw renders only the last parts, enough to fill the screen: the cost per delta does not
grow with the block. Nothing here is printed early: the block prints whole once it ends, so
the output still equals one full render. Printing parts early cannot: Rich sizes an ordered
list's numbers by its last number and a table's columns by its widest cells, and a part
printed before the rest is known could come out narrower than in the full render.

Bounds: a single top-level item still re-parses as it grows (a huge nested list inside one
item), and a table stops where markdown-it's cap on filled-in missing cells (65,536 in the
whole table) would stop it only when that happens in one row's parse.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import pairwise

from markdown_it.rules_block.table import escapedSplit
from markdown_it.token import Token
from rich.cells import cell_len

from codive_cli.ui.blocks import PARSER

LISTS = frozenset({"bullet_list_open", "ordered_list_open"})
HOLDS = LISTS | {"table_open"}


@dataclass(frozen=True)
class Step:
    """What a parse of the new complete lines found: parts set aside, or the block's end."""

    cut: int  # characters of the lines taken: into parts, or (ended) into the block
    ended: bool = False
    parted: int = 0  # of those, characters that became parts before the end was found


@dataclass(frozen=True)
class Window:
    """The text a redraw renders: the last parts of the block and the tail after them."""

    text: str
    whole: bool  # the window holds the whole block
    first_number: int | None = None  # an ordered list's number for its first item here


def _offsets(text: str) -> list[int]:
    """The offset of each line of `text`, and its length last."""
    return [0, *(match.end() for match in re.finditer("\n", text))]


def _level_zero(tokens: list[Token]) -> list[Token]:
    return [t for t in tokens if t.level == 0 and t.nesting != -1 and t.map is not None]


class Held:
    """The finished parts of a growing block; only ever appended to, so a redraw thread can
    read the first `count` of them (its snapshot) while the feeding thread adds more."""

    def __init__(self, kind: str, head: str) -> None:
        self.kind = kind
        self.head = head  # text before the first part: a table's header and separator
        self.parts: list[str] = []

    def text(self, count: int) -> str:
        """The block's text up to its first `count` parts."""
        return self.head + "".join(self.parts[:count])

    def advance(self, lines: str) -> Step:
        """Set aside the finished parts of `lines` (complete lines after the last part)."""
        raise NotImplementedError

    def window(self, count: int, tail: str, parts: int) -> Window:
        """What to render to show the last `parts` of the first `count`, then `tail`."""
        raise NotImplementedError


class HeldList(Held):
    """A top-level list: each part is one finished item, from its marker line to the next."""

    def __init__(self, kind: str, first_line: str) -> None:
        super().__init__(kind, "")
        number = re.match(r" *(\d+)", first_line)
        self.start = int(number.group(1)) if number and kind == "ordered_list_open" else None

    def advance(self, lines: str) -> Step:
        tokens = PARSER.parse(lines)
        offsets, blocks = _offsets(lines), _level_zero(tokens)
        if len(blocks) > 1:
            return Step(offsets[_line(blocks[1])], ended=True)
        items = [_line(t) for t in tokens if t.type == "list_item_open" and t.level == 1]
        for begin, end in pairwise(items):
            self.parts.append(lines[offsets[begin] : offsets[end]])
        return Step(offsets[items[-1]] if items else 0)

    def window(self, count: int, tail: str, parts: int) -> Window:
        skip = max(0, count - parts)
        first = None if self.start is None else self.start + skip
        return Window("".join(self.parts[skip:count]) + tail, skip == 0, first)


class HeldTable(Held):
    """A top-level table: each part is one body row; the head is its header and separator.

    Rich sizes columns by their widest cells, so a window of the last rows alone would come
    out narrower than the whole table. The window also carries, right under the header, the
    rows holding each column's longest word and longest cell: the same widths, and the
    screen shows the last rows below them.
    """

    def __init__(self, head: str) -> None:
        super().__init__("table_open", head)
        widths = _cell_widths(PARSER.parse(head))[0]
        self._widest: list[tuple[int, str]] = [(width, "") for pair in widths for width in pair]

    def advance(self, lines: str) -> Step:
        # A line that starts with a pipe is a row: no rule that ends a table starts so.
        parted = 0
        for line in lines.splitlines(keepends=True):
            if not line.startswith("|"):
                break
            self._row(line)
            parted += len(line)
        if parted == len(lines):
            return Step(parted)
        step = self._parse(lines[parted:])
        return Step(parted + step.cut, step.ended, parted)

    def _parse(self, lines: str) -> Step:
        """The rows of `lines`, or where the table ends, as markdown-it sees them."""
        text = self.head + lines
        tokens = PARSER.parse(text)
        offsets, blocks = _offsets(text), _level_zero(tokens)
        stop = blocks[0].map[1] if blocks[0].map else 2
        if stop < len(offsets) - 1:  # a line after the table that is not one of its rows
            return Step(offsets[stop] - len(self.head), ended=True)
        close = next(index for index, t in enumerate(tokens) if t.type == "table_close")
        for line, widths in enumerate(_cell_widths(tokens[:close])[1:], start=2):
            self._record(text[offsets[line] : offsets[line + 1]], widths)
        return Step(len(lines))

    def _row(self, line: str) -> None:
        """Record a row; a cell is parsed only if its source could be a column's widest.

        A cell renders no wider than its source (markup only takes characters away), so a
        cell whose source beats neither of its column's widest needs no parse.
        """
        self.parts.append(line)
        body = line.strip()
        cells = escapedSplit(body) if "\\" in body else body.split("|")
        cells = cells[1:] if cells and not cells[0] else cells
        cells = cells[:-1] if cells and not cells[-1] else cells
        for column, cell in enumerate(cells[: len(self._widest) // 2]):
            word, whole = _measure(cell.strip())
            if word > self._widest[2 * column][0] or whole > self._widest[2 * column + 1][0]:
                inline = PARSER.parseInline(cell.strip())[0].children or []
                self._widen(column, _measure(_plain(inline)), line)

    def _record(self, row: str, widths: list[tuple[int, int]]) -> None:
        self.parts.append(row)
        for column, measured in enumerate(widths[: len(self._widest) // 2]):
            self._widen(column, measured, row)

    def _widen(self, column: int, measured: tuple[int, int], row: str) -> None:
        """Let `row` be the column's widest for the measures it beats."""
        for index, width in zip((2 * column, 2 * column + 1), measured, strict=True):
            if width > self._widest[index][0]:
                self._widest[index] = (width, row)

    def window(self, count: int, tail: str, parts: int) -> Window:
        if count <= parts + len(self._widest):
            return Window(self.text(count) + tail, True)
        widest = dict.fromkeys(row for _, row in self._widest if row)
        rows = "".join([*widest, *self.parts[count - parts : count]])
        return Window(self.head + rows + tail, False)


def _line(token: Token) -> int:
    return token.map[0] if token.map else 0


def _cell_widths(tokens: list[Token]) -> list[list[tuple[int, int]]]:
    """Each row's cells as Rich measures their text: (longest word, whole cell)."""
    rows: list[list[tuple[int, int]]] = []
    for token in tokens:
        if token.type == "tr_open":
            rows.append([])
        elif token.type == "inline" and rows:
            rows[-1].append(_measure(_plain(token.children or [])))
    return rows


def _plain(inline: list[Token]) -> str:
    """The text Rich shows for a cell's inline tokens."""
    return "".join(child.content for child in inline if child.type in ("text", "code_inline"))


def _measure(plain: str) -> tuple[int, int]:
    """Rich's measure of a cell's text: its longest word and its whole width."""
    whole = cell_len(plain)
    return max((cell_len(word) for word in plain.split()), default=whole), whole


def hold(kind: str, text: str) -> tuple[Held, int]:
    """Start holding the block of `kind` that `text` starts with; how much of it is head."""
    if kind == "table_open":
        offsets = _offsets(text)
        return HeldTable(text[: offsets[2]]), offsets[2]
    return HeldList(kind, text[: text.find("\n")]), 0
