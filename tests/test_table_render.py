"""An answer's table draws byte for byte as Rich's own Markdown table.

AnswerMarkdown draws a table's cells that fit on one line directly (ui/table.py) rather than
through Rich's general path. The reference here is AnswerMarkdown with Rich's table element
put back, rendered at many widths and colour systems; link ids, random per render, are the
one thing set aside.
"""

from __future__ import annotations

import re
from io import StringIO
from typing import Any, ClassVar

import pytest
from rich.console import Console, ConsoleOptions, RenderResult
from rich.markdown import MarkdownElement, TableElement
from rich.padding import Padding
from rich.text import Text

from codive_cli.ui.markdown import AnswerMarkdown
from codive_cli.ui.table import _one_line, _TextCell


class RichTables(AnswerMarkdown):
    elements: ClassVar[dict[str, type[MarkdownElement]]] = {
        **AnswerMarkdown.elements,
        "table_open": TableElement,
    }


WRAPS = "| k | " + "words that wrap " * 12 + "|\n"
TABLES = {
    "aligned": (
        "| n | left | centre | right | none |\n|--:|:--|:-:|--:|---|\n"
        "| 1 | a | b | c | d |\n| 22 | a longer cell | mid | 3.5 | plain text here |\n"
    ),
    "inline_markup": (
        "| **bold** head | *it* ~~gone~~ `code` |\n|---|:-:|\n"
        "| [link](http://x.y) ***both*** | <b>html</b> &amp; `a` **`b`** |\n"
        "| ![image](a.png) after | *one **two** three* |\n"
    ),
    "escaped_pipes": "| a \\| b | `c \\| d` |\n|---|--:|\n| \\| | x \\|\\| y |\n",
    "wrapping": (
        "| key | a long description |\n|---|:-:|\n"
        + WRAPS
        + "| ｗｉｄｅ 中文 | 😀 emoji and long_unbreakable_identifier_that_must_fold_here |\n"
    ),
    "ragged": "| a | b | c |\n|---|---|---|\n| 1 |\n| 1 | 2 | 3 | 4 |\n|  | | |\n",
    "header_only": "| only | head |\n|:-:|--:|\n",
    "odd_text": (
        "| x | y |\n|---|:-:|\n| e\u0301 combining | trailing  spaces   |\n| a\u00a0b | \t |\n"
    ),
}
CONSOLES: dict[str, dict[str, Any]] = {
    "plain": {"color_system": None},
    "256": {"force_terminal": True, "color_system": "256"},
    "truecolor": {"force_terminal": True, "color_system": "truecolor"},
    "no_color": {"force_terminal": True, "no_color": True},
}


def render(markdown_class: type[AnswerMarkdown], text: str, width: int, console: str) -> str:
    target = Console(file=StringIO(), width=width, **CONSOLES[console])
    target.print(markdown_class(text))
    assert isinstance(target.file, StringIO)
    return re.sub(r"id=\d+;", "id=;", target.file.getvalue())


@pytest.mark.parametrize("console", sorted(CONSOLES))
@pytest.mark.parametrize("name", sorted(TABLES))
def test_a_table_draws_as_richs_own(name: str, console: str) -> None:
    text = f"Before.\n\n{TABLES[name]}\nAfter.\n"
    for width in (*range(1, 13), 20, 40, 80, 120):
        assert render(AnswerMarkdown, text, width, console) == render(
            RichTables, text, width, console
        ), f"width {width}"


CELLS = {
    "plain": Text("plain"),
    "empty": Text(""),
    "spaces": Text("  spaced out  "),
    "spans": Text.assemble("a ", ("bold", "bold"), " and ", ("code", "on black"), ("", "red")),
    "one_span": Text.assemble(("all styled", "italic")),
    "wide": Text("中文 and 😀"),
    "lines": Text("two words\nand more words"),
}
PADS: list[tuple[int, int, int, int]] = [(0, 1, 0, 0), (0, 0, 0, 1), (0, 1, 0, 1), (0, 0, 0, 0)]


@pytest.mark.parametrize("justify", ["default", "left", "center", "right", "full", None])
@pytest.mark.parametrize("name", sorted(set(CELLS) - {"lines"}))
def test_a_cell_that_fits_is_the_segments_its_padding_renders(name: str, justify: Any) -> None:
    """Segment for segment, not only the bytes: the column's justify and widths vary."""
    console = Console(file=StringIO(), width=80, color_system="truecolor")
    text = CELLS[name].copy()
    text.justify = justify
    for pad in PADS:
        padding = Padding(text, pad)
        for width in range(max(1, text.cell_len) + pad[1] + pad[3], 30):
            options = console.options.update(width=width, justify="left", height=None)
            expected = list(console.render(padding, options))
            assert _one_line(padding, text, console, options) == expected, (pad, width)


@pytest.mark.parametrize("name", sorted(CELLS))
def test_a_cell_measures_as_its_padding(name: str) -> None:
    console = Console(file=StringIO(), width=80)
    for pad in PADS:
        padding = Padding(CELLS[name], pad)
        for width in range(30):
            options = console.options.update_width(width)
            expected = padding.__rich_measure__(console, options)
            assert _TextCell(padding, CELLS[name]).__rich_measure__(console, options) == expected


@pytest.mark.parametrize(
    ("text", "width", "pad", "style"),
    [
        (Text("too wide for it"), 10, (0, 1, 0, 0), "none"),
        (Text("fits without the pad"), 20, (0, 1, 0, 1), "none"),
        (Text(""), 1, (0, 1, 0, 0), "none"),  # no room left inside the padding
        (Text("two\nlines"), 20, (0, 0, 0, 0), "none"),
        (Text("a\ttab"), 20, (0, 0, 0, 0), "none"),
        (Text("styled", style="bold"), 20, (0, 0, 0, 0), "none"),
        (Text("in a styled padding"), 30, (0, 1, 0, 1), "on red"),
        (Text("end", end=""), 20, (0, 0, 0, 0), "none"),
        (Text("e\u0301" * 6), 8, (0, 0, 0, 0), "none"),  # fits in cells, not in characters
    ],
)
def test_any_other_cell_is_left_to_rich(
    text: Text, width: int, pad: tuple[int, int, int, int], style: str
) -> None:
    console = Console(file=StringIO(), width=80)
    options = console.options.update(width=width, height=None)
    assert _one_line(Padding(text, pad, style=style), text, console, options) is None


def test_only_a_cell_that_wraps_goes_through_richs_padding(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    drawn: list[str] = []
    general = Padding.__rich_console__

    def spy(padding: Padding, console: Console, options: ConsoleOptions) -> RenderResult:
        assert isinstance(padding.renderable, Text)
        drawn.append(padding.renderable.plain)
        yield from general(padding, console, options)

    monkeypatch.setattr(Padding, "__rich_console__", spy)
    table = "| n | text |\n|---|---|\n" + "".join(f"| {n} | cell {n} |\n" for n in range(50))
    render(AnswerMarkdown, table + WRAPS, 60, "truecolor")
    assert drawn == ["words that wrap " * 11 + "words that wrap"]
