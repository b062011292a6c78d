"""How an answer's Markdown looks: Rich's renderer with a terminal's conventions.

Two changes to Rich's defaults, both what a reader of a chat expects: a level-1 heading is
left-aligned like the others (Rich centres it, which reads as a title page), and a code block
has no blank padding rows (Rich adds one above and one below, so with the blank line between
blocks there were two). Tables look exactly as Rich draws them, only drawn faster (ui/table.py).
"""

from __future__ import annotations

from typing import ClassVar

from rich.console import Console, ConsoleOptions, RenderResult
from rich.markdown import CodeBlock, Heading, Markdown, MarkdownElement
from rich.syntax import Syntax

from codive_cli.ui.table import AnswerTable


class LeftHeading(Heading):
    LEVEL_ALIGN: ClassVar = {**Heading.LEVEL_ALIGN, "h1": "left"}


class Code(CodeBlock):
    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        code = str(self.text).rstrip()
        yield Syntax(code, self.lexer_name, theme=self.theme, word_wrap=True, padding=(0, 1))


class AnswerMarkdown(Markdown):
    elements: ClassVar[dict[str, type[MarkdownElement]]] = {
        **Markdown.elements,
        "heading_open": LeftHeading,
        "fence": Code,
        "code_block": Code,
        "table_open": AnswerTable,
    }
