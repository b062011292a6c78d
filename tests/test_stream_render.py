"""MarkdownStream: however the answer is chunked, what stays printed is one full render.

The comparisons are exact, blank lines included: each finished block goes through Rich's own
Markdown, and the stream puts back the blank line Rich writes between top-level elements.
Trailing spaces are stripped only where a terminal is emulated (Rich pads lines to the width
and an erased line has none). One construct cannot match and is left out: a reference-style
link whose definition comes in a later (or earlier) block, because each block is parsed alone.
"""

from __future__ import annotations

import random
import re
import time
from io import StringIO

import pytest
from rich.console import Console

from codive_cli.ui.markdown import AnswerMarkdown
from codive_cli.ui.stream import MarkdownStream, split

DOCS = {
    "paragraphs": "Hello *world*.\nSecond line.\n\nAnother with `code`.\n\n\nThird **one**.\n",
    "headings": "# Title\nText under.\n## Sub\n\nPara\n===\n\nSetext\n---\nafter\n#### Four\n",
    "nested_lists": "- a\n  - b\n    - c\n- d\n\n  more of d\n\n1. x\n   - y\n2. z\n",
    "loose_ordered": "".join(f"{n}. item {n}\n\n" for n in range(1, 12)) + "after\n",
    "ordered_from_7": "7. seven\n\n8. eight\n\n9. nine\n\n10. ten\n",
    "fence_blank_lines": (
        "Intro:\n```python\ndef f():\n\n    return 1\n\n\n```\nAfter.\n\n"
        "````md\n```\ninner\n```\n````\n"
    ),
    "tilde_fences": "~~~\na\n\nb\n~~~\n\n~~~~ text\n~~~\nstill\n~~~~\ndone\n",
    "fence_in_list": (
        "1. step\n\n   ```sh\n   ls\n\n   pwd\n   ```\n\n2. next\n   ~~~\n   x\n   ~~~\n"
    ),
    "tables": "| a | b |\n|---|:-:|\n| 1 | 2 |\n| 3 | 4 |\n\ntext\n| x |\n|---|\n| y |\n",
    "block_quotes": "> quoted\n> more\n\n> second\n>\n> - in\n\npara\n> lazy\nline\n",
    "wide": (
        "中文段落，很长很长的中文文本，需要换行显示。" * 6 + "\n\n- 😀 emoji 🎉 list\n- 日本語\n\n"
        "| 名前 | 値 |\n|---|---|\n| 😀 | 中文 |\n\n```\n漢字 = '😀'\n```\n"
    ),
    "rules": "a\n\n---\n\nb\n***\n- - -\n\n- item\n\n___\n> ---\n",
    "indented_code": "para\n\n    code1\n\n    code2\n\nafter\n",
    "html": "para\n\n<div>\nhi\n\n</div>\n\nend ![alt](http://x/y.png)\n\n![i](z.png) more\n",
    "no_trailing_newline": "# H\n\nlast paragraph without a newline",
    "unclosed_fence": "text\n\n```python\nx = 1\n\ny = 2",
    "carriage_returns": "a\r\nb\r\n\r\n- c\r- d\r\n\r\n```\r\ncode\r\n```\r\nend\r",
}


def long_table(rows: int) -> str:
    """A table whose widest cells sit in the middle, so early rows alone are too narrow."""
    body = "".join(
        f"| {n} | {'**wide** ' * (n % 7)}`c{n}` | {'x' * (3 if n != rows // 2 else 30)} |\n"
        for n in range(1, rows + 1)
    )
    return "Intro\n\n| n | text | right |\n|---|:--|--:|\n" + body + "| short\n\nafter\n"


# Lists and tables are held while they grow: each part parses alone, the block prints whole.
HELD_DOCS = {
    "long_ordered": "Steps:\n\n"
    + "".join(f"{n}. step {n} " + "word " * (n % 13) + "\n" for n in range(1, 121))
    + "\nDone.\n",
    "ordered_from_95": "".join(f"{n}) item\n" for n in range(95, 106)) + "# End\n",
    "loose_and_tight": (
        "- a\n- b\n\n- c\n\n\n- d\nlazy line\n\n  more of d\n\n* other marker\n+ third\n\nafter\n"
    ),
    "deep_nesting": "".join(
        f"- top {n}\n  1. mid {n}\n     - low {n}\n\n       low para\n  2. mid two\n"
        for n in range(12)
    )
    + "para\n",
    "list_of_code": (
        "1. one\n   ```py\n   x = 1\n   ```\n2. two\n\n   ```\n   y\n\n   z\n   ```\n"
        "3. ~~~\n   open\n4. four\n       indented code\n\n- ```\n  - not an item\n  ```\n"
        "- ```\n\n```\nafter the fence\n```\n"
    ),
    "list_ended_by_blocks": (
        "- a\n# Head\n- b\n---\n- c\n> quote\n1. d\n```\ncode\n```\n- e\n\n    code\n"
    ),
    "empty_items": "-\n-\n- a\n-\n\n1.\n2. b\n",
    "long_table": long_table(40),
    "tables_back_to_back": (
        "| a |\n|---|\n| 1 |\n\n| b | c |\n|:-:|--:|\n| 2 | 3 | 9 |\n| 4\n# H\n"
        "| a |\n|---|\n| 1 |\n- item\n| x | y |\n|---|---|\n"
    ),
    "table_cells_wrap": (
        "| # | name | what it does |\n|--:|:-:|---|\n"
        + "".join(
            f"| {n} | `id_{n}` \\| **b** | {'*words* that wrap ~~here~~ ' * (n % 5)}end |\n"
            for n in range(1, 30)
        )
        + "A paragraph right after the table.\n"
    ),
    "table_cut_mid_row": "Intro\n\n| a | b |\n|---|--:|\n| 1 | **2** |\n| 3 | fo",
}
# Tables are drawn (ui/table.py) apart from the rest: these are also compared in colour.
TABLE_DOCS = [
    "tables",
    "wide",
    "long_table",
    "tables_back_to_back",
    "table_cells_wrap",
    "table_cut_mid_row",
]
DOCS.update(HELD_DOCS)


@pytest.fixture(autouse=True)
def drawable_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """A forced terminal Rich draws live regions on, whatever TERM the test run inherits."""
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.delenv("TTY_INTERACTIVE", raising=False)


def plain_console(width: int = 80) -> Console:
    return Console(file=StringIO(), width=width, force_terminal=False, color_system=None)


def terminal_console() -> Console:
    return Console(file=StringIO(), width=80, force_terminal=True, height=24)


def output(console: Console) -> str:
    file = console.file
    assert isinstance(file, StringIO)
    return file.getvalue()


def full_render(text: str, width: int = 80) -> str:
    console = plain_console(width)
    console.print(AnswerMarkdown(text))
    return output(console)


def chunks(text: str, seed: int) -> list[str]:
    """Random cuts; seed 0 feeds one character at a time, so every split point occurs."""
    rng = random.Random(seed)
    most = [1, 3, 8, 40, 400][seed % 5]
    pieces, index = [], 0
    while index < len(text):
        size = rng.randint(1, most)
        pieces.append(text[index : index + size])
        index += size
    return pieces


def stream(console: Console, pieces: list[str], pause: float = 0.0, rate: float = 12) -> None:
    renderer = MarkdownStream(console, refresh_per_second=rate)
    try:
        for piece in pieces:
            renderer.feed(piece)
            if pause:
                time.sleep(pause)
    finally:
        renderer.finish()


class Terminal:
    """Replays what Rich writes to a terminal: CR, LF, cursor up, erase line; styles dropped."""

    CONTROL = re.compile(r"\x1b\[([0-9;?]*)([A-Za-z])|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|[\r\n]")

    def __init__(self, data: str) -> None:
        self.rows, self.row, self.col = [""], 0, 0
        position = 0
        for match in self.CONTROL.finditer(data):
            self.write(data[position : match.start()])
            self.control(match)
            position = match.end()
        self.write(data[position:])

    def write(self, text: str) -> None:
        line = self.rows[self.row].ljust(self.col)
        self.rows[self.row] = line[: self.col] + text + line[self.col + len(text) :]
        self.col += len(text)

    def control(self, match: re.Match[str]) -> None:
        token, final = match.group(0), match.group(2)
        if token == "\n":
            self.row, self.col = self.row + 1, 0
            self.rows += [""] * (self.row + 1 - len(self.rows))
        elif token == "\r":
            self.col = 0
        elif final == "A":
            self.row = max(0, self.row - int(match.group(1) or 1))
        elif final == "K":
            whole = match.group(1) == "2"
            self.rows[self.row] = "" if whole else self.rows[self.row][: self.col]

    def lines(self) -> list[str]:
        lines = [row.rstrip() for row in self.rows]
        while lines and not lines[-1]:
            lines.pop()
        return lines


def stripped_lines(text: str) -> list[str]:
    return Terminal(text).lines()


def live_heights(data: str) -> list[int]:
    """Height of each live region Rich moved back over (one erased line per row)."""
    return [run.count("\x1b[2K") for run in re.findall(r"\r(?:\x1b\[2K|\x1b\[1A)+", data)]


@pytest.mark.parametrize("name", sorted(DOCS))
def test_streamed_text_equals_one_full_render(name: str) -> None:
    text = DOCS[name]
    for seed in range(10):
        console = plain_console()
        stream(console, chunks(text, seed))
        assert output(console) == full_render(text), f"seed {seed}"


@pytest.mark.parametrize("name", sorted(DOCS))
def test_live_terminal_leaves_one_full_render(name: str) -> None:
    text = DOCS[name]
    for seed in range(3):
        console = terminal_console()
        stream(console, chunks(text, seed))
        assert stripped_lines(output(console)) == stripped_lines(full_render(text))


@pytest.mark.parametrize("width", [20, 40, 80])
@pytest.mark.parametrize("name", TABLE_DOCS)
def test_streamed_tables_in_colour_equal_one_full_render(name: str, width: int) -> None:
    """Every style and segment shows in colour; narrow widths make cells wrap and fold."""
    text = DOCS[name]
    consoles = [
        Console(file=StringIO(), width=width, force_terminal=True, force_interactive=False)
        for _ in range(2)
    ]
    stream(consoles[0], chunks(text, width))
    consoles[1].print(AnswerMarkdown(text))
    assert output(consoles[0]) == output(consoles[1])


def long_answer() -> str:
    code = "\n".join(f"    value_{n} = compute({n})  # 中文 {n}" for n in range(80))
    items = "\n".join(f"{n}. item {n} " + "word " * (n % 20) for n in range(1, 31))
    paragraph = "A paragraph that wraps across several lines of the screen. " * 6
    return (
        f"# Long answer\n\n{paragraph}\n\n```python\ndef f():\n{code}\n```\n\n{items}\n\n"
        f"{paragraph}\n\n| a | b |\n|---|---|\n| 😀 | 漢字 |\n\n{paragraph}"
    )


def test_live_region_fits_the_screen_and_no_line_is_lost_or_repeated() -> None:
    text = long_answer()
    console = terminal_console()
    pieces = [text[index : index + 199] for index in range(0, len(text), 199)]
    stream(console, pieces, pause=0.006, rate=200)  # pauses let the region redraw
    data = output(console)
    # The 80-line code block outgrows the screen: the region must stop one row short of it.
    assert max(live_heights(data)) == console.size.height - 1
    assert stripped_lines(data) == stripped_lines(full_render(text))


def test_resizing_between_deltas_loses_and_repeats_nothing() -> None:
    text = DOCS["wide"] + DOCS["nested_lists"] + long_answer()
    console = terminal_console()
    renderer = MarkdownStream(console)
    try:
        for index, piece in enumerate(chunks(text, 3)):
            if index % 25 == 0:
                console.width = 50 if console.width == 80 else 80
            renderer.feed(piece)
    finally:
        renderer.finish()
    shown = "\n".join(stripped_lines(output(console)))
    # Blocks keep the width they were printed at, so only the characters are compared.
    assert "".join(shown.split()) == "".join(full_render(text).split())


def test_spinner_until_the_first_text_and_gone_after() -> None:
    console = terminal_console()
    renderer = MarkdownStream(console)
    renderer.feed("\n")
    renderer.feed("Hi **there**")
    renderer.finish()
    assert "waiting for the model…" in output(console)
    assert stripped_lines(output(console)) == ["Hi there"]


def test_an_unchanged_tail_is_not_redrawn() -> None:
    console = terminal_console()
    renderer = MarkdownStream(console, refresh_per_second=200)
    renderer.feed("Some text")
    time.sleep(0.05)
    drawn = len(output(console))
    time.sleep(0.05)
    assert len(output(console)) == drawn
    renderer.feed(" more")
    time.sleep(0.05)
    assert "Some text more" in output(console)[drawn:]
    renderer.finish()


def test_finish_with_no_text_leaves_nothing() -> None:
    console = terminal_console()
    MarkdownStream(console).finish()
    assert stripped_lines(output(console)) == []


def test_plain_console_prints_each_block_once_finished() -> None:
    console = plain_console()
    renderer = MarkdownStream(console)
    renderer.feed("# Title\n\nFirst para")
    assert "Title" in output(console) and "First" not in output(console)
    renderer.feed("graph.\n\n```py\nx = 1\n")
    assert "First paragraph." in output(console) and "x = 1" not in output(console)
    renderer.feed("```\n")
    assert "x = 1" in output(console)
    renderer.feed("tail")
    assert "tail" not in output(console)
    renderer.finish()
    assert output(console) == full_render("# Title\n\nFirst paragraph.\n\n```py\nx = 1\n```\ntail")


def test_abort_prints_the_rest_and_a_dim_note() -> None:
    console = terminal_console()
    renderer = MarkdownStream(console)
    renderer.feed("Partial **answ")
    renderer.abort("interrupted")
    renderer.abort("twice")
    assert stripped_lines(output(console)) == ["Partial **answ", "interrupted"]
    assert "\x1b[2minterrupted" in output(console)


def test_feed_after_finish_is_an_error() -> None:
    renderer = MarkdownStream(plain_console())
    renderer.finish()
    with pytest.raises(RuntimeError):
        renderer.feed("late")


@pytest.mark.parametrize(
    ("tail", "finished"),
    [
        ("para\n\n", "para\n\n"),  # a blank line ends a paragraph
        ("para\nmore", ""),  # partial lines are never parsed
        ("1. a\n\n2. b\n\n", ""),  # a list may go on after a blank line
        ("1. a\n\n2. b\n\nafter\n", "1. a\n\n2. b\n\n"),
        ("```\ncode\n\n", ""),  # inside a fence, blank lines end nothing
        ("```\ncode\n``", ""),
        ("```\ncode\n```\n", "```\ncode\n```\n"),  # the closing fence line is complete
        ("````\n```\n", ""),  # a shorter fence does not close
        ("~~~\n```\n~~~~\n", "~~~\n```\n~~~~\n"),
        ("- a\n  ```\n  x\n  ```\n", ""),  # a fence in a list item: the list may go on
        ("# Head\n", "# Head\n"),
        ("    code\n\n", ""),  # indented code may go on after a blank line
        ("| a |\n|---|\n| 1 |\n", ""),
        ("| a |\n|---|\n| 1 |\n\n", "| a |\n|---|\n| 1 |\n\n"),
        ("- a\n- b\n", ""),  # the last block is a list: held, never finished while last
    ],
)
def test_split(tail: str, finished: str) -> None:
    assert tail[: split(tail).cut] == finished


def held_view(text: str) -> list[str]:
    """What the live region shows after `text` (complete lines) was fed, as plain lines."""
    console = Console(file=StringIO(), width=80, force_terminal=True, height=24)
    renderer = MarkdownStream(console, refresh_per_second=0.01)
    renderer.feed(text)
    region = renderer._region
    assert region is not None and renderer._tail.held is not None
    lines = region.view._render(renderer._tail, console, console.options)
    renderer.finish()
    return ["".join(segment.text for segment in line).rstrip() for line in lines]


@pytest.mark.parametrize(
    "text",
    [
        "".join(f"{n}. item {n} " + "word " * (n % 17) + "\n" for n in range(1, 140)),
        "".join(f"- item {n}\n  - nested {n}\n" for n in range(90)),
        long_table(150).split("| short")[0],
    ],
    ids=["ordered", "nested", "table"],
)
def test_live_view_of_a_held_block_is_the_end_of_its_full_render(text: str) -> None:
    """The window of the last parts is numbered and sized as the whole block would be."""
    shown = held_view(text)
    assert len(shown) == 23
    assert shown == [line.rstrip() for line in full_render(text).splitlines()[-23:]]


def test_a_held_list_parses_only_its_last_item() -> None:
    renderer = MarkdownStream(plain_console())
    renderer.feed("Intro\n\n" + "".join(f"{n}. item {n}\n" for n in range(1, 1001)))
    tail = renderer._tail
    assert tail.held is not None and tail.count == 999 and tail.text == "1000. item 1000\n"
    renderer.finish()


def test_headings_are_left_aligned_and_code_has_one_blank_line_around_it() -> None:
    console = plain_console(60)
    stream_ = MarkdownStream(console)
    stream_.feed("# Title here\n\nSome text.\n\n```python\nprint(1)\n```\n\nAfter the code.\n")
    stream_.finish()
    lines = stripped_lines(output(console))
    assert lines[0] == "Title here"  # not centred
    code = next(i for i, line in enumerate(lines) if "print(1)" in line)
    assert lines[code - 1] == "" and lines[code - 2] == "Some text."  # one blank line above
    assert lines[code + 1] == "" and lines[code + 2] == "After the code."  # and one below


def test_with_no_color_the_spinner_has_no_style() -> None:
    console = Console(file=StringIO(), width=60, force_terminal=True, no_color=True)
    stream_ = MarkdownStream(console, refresh_per_second=50)
    time.sleep(0.1)
    stream_.feed("done\n")
    stream_.finish()
    assert "waiting for the model" in output(console)
    assert "\x1b[2m" not in output(console)  # no dim, as NO_COLOR asks
