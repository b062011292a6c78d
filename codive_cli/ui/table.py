"""A Markdown table drawn as Rich draws it, with each cell that fits on one line drawn directly.

Rich draws a table cell as its text in a `Padding`, through the console's general path: the
padding renders the text, the text wraps itself into lines, and every line is cropped and
padded, once inside the padding and once more by the table. For a long table that is most of
the cost of printing it. Most cells of an answer's table are one line that fits its column,
and for such a line Rich's steps come down to a few: justify a copy of the text, render it,
pad it to the column, put the padding's spaces either side. A cell that fits takes those
steps, with Rich's own `Text` methods; any other (one that wraps, holds a line break or a
tab, has a style around it) is drawn by Rich's `Padding` as before. The segments are the same
either way, so the output is byte for byte Rich's (tests/test_table_render.py checks it).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from rich.console import Console, ConsoleOptions, RenderResult
from rich.containers import Lines
from rich.markdown import TableElement
from rich.measure import Measurement
from rich.padding import Padding
from rich.segment import Segment
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from rich.table import _Cell


class AnswerTable(TableElement):
    """Rich's Markdown table, with its cells drawn by `_QuickTable`."""

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for renderable in super().__rich_console__(console, options):
            yield _QuickTable.adopt(renderable) if type(renderable) is Table else renderable


class _QuickTable(Table):
    """A `Table` whose text cells are `_TextCell`s rather than plain `Padding`s."""

    @classmethod
    def adopt(cls, table: Table) -> _QuickTable:
        """The same table (columns, rows, settings), drawn by this class."""
        quick = cls.__new__(cls)
        quick.__dict__.update(table.__dict__)
        return quick

    def _get_cells(self, *args: Any, **kwargs: Any) -> Iterable[_Cell]:
        # A private method of Rich's: any arguments are passed on, and a cell of another
        # shape is left alone, so a Rich that changed it draws its own cells, not a crash.
        for cell in super()._get_cells(*args, **kwargs):
            padding = getattr(cell, "renderable", None)
            if isinstance(padding, Padding) and isinstance(padding.renderable, Text):
                cell = cell._replace(renderable=_TextCell(padding, padding.renderable))
            yield cell


class _TextCell:
    """Text in its cell's padding: measured and drawn as the padding would be."""

    __slots__ = ("padding", "text")

    def __init__(self, padding: Padding, text: Text) -> None:
        self.padding, self.text = padding, text

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        """`Padding.__rich_measure__`, with its `Measurement.get` of the text done inline
        (where that caps the text at the inner width, the cap at the whole width does)."""
        width, extra = options.max_width, self.padding.left + self.padding.right
        if width - extra < 1:
            return self.padding.__rich_measure__(console, options)
        low, high = self.text.__rich_measure__(console, options).normalize()
        return Measurement(min(low + extra, width), min(high + extra, width))

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        line = _one_line(self.padding, self.text, console, options)
        if line is None:
            yield self.padding
        else:
            yield from line


def _one_line(
    padding: Padding, text: Text, console: Console, options: ConsoleOptions
) -> list[Segment] | None:
    """What `padding` renders to when its text is one line that fits, with no style around
    it; else None.

    Rich's steps for such a line: `Text.wrap` finds no break, so it only justifies a copy
    (and truncates it, which changes nothing); joining one unstyled line changes nothing
    either; `Console.render_lines` pads the line to the inner width; `Padding` puts its
    spaces either side.
    """
    plain, width = text.plain, options.max_width - padding.left - padding.right
    overflow = text.overflow or options.overflow or "fold"
    style = console.get_style(padding.style)
    simple = padding.expand and not (padding.top or padding.bottom) and options.height is None
    bare = not (style or text.style) and text.end == "\n" and overflow != "ignore"
    one_line = "\n" not in plain and "\t" not in plain
    fits = width > 0 and max(len(plain), text.cell_len) <= width
    if not (simple and bare and one_line and fits):
        return None
    line = text.copy()
    justify = text.justify or options.justify or "default"
    Lines([line]).justify(console, width, justify=justify, overflow=overflow)
    line.truncate(width, overflow=overflow)
    row = list(line.render(console))
    if line.cell_len < width:
        row.append(Segment(" " * (width - line.cell_len), style))
    left = [Segment(" " * padding.left, style)] if padding.left else []
    right = [Segment(" " * padding.right, style)] if padding.right else []
    return [*left, *row, *right, Segment.line()]
