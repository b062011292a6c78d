"""Text from a model or a repository, made safe to print: never markup, never a control code.

Rich markup in a command (`[conceal]...[/conceal]`) could hide part of it in an approval, and
`[/]` would crash the print; an escape sequence (`\x1b]...`, `\x1b[2K`, a carriage return, a
right-to-left override) could redraw the terminal. Everything untrusted is shown through
`visible` and printed as a `Text`, which Rich never parses for markup.
"""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # Rich loads with the first thing printed through it, not with `visible`
    from rich.text import Text

# Kept as they are: they only move to the next line or column.
_LAYOUT = frozenset("\n\t")
# Letters that draw as nothing (Hangul fillers, the combining grapheme joiner).
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u034f")


def visible(text: str, *, strict: bool = False) -> str:
    """`text` with every control and format character (C0, C1, DEL, bidi overrides, zero
    width characters) written as an escape: `\\x1b`, `\\r`, `\\u202e`. `strict` (a command
    to approve) also escapes spaces other than " " and letters that draw as nothing."""
    if text.isprintable() and not strict:
        return text
    hidden = ("Cc", "Cf", "Zl", "Zp", "Zs") if strict else ("Cc", "Cf", "Zl", "Zp")
    out = []
    text = text.replace("\r\n", "\n")  # a line ending, not a return to column 0
    for char in text:
        shown = char == " " or unicodedata.category(char) not in hidden
        if char in _LAYOUT or (shown and not (strict and char in _BLANK_LETTERS)):
            out.append(char)
        elif char == "\r":
            out.append("\\r")
        elif ord(char) < 0x100:
            out.append(f"\\x{ord(char):02x}")
        else:
            out.append(f"\\u{ord(char):04x}")
    return "".join(out)


def plain(text: str, style: str = "") -> Text:
    """A Rich Text of untrusted text: no markup, no control codes."""
    from rich.text import Text

    return Text(visible(text), style=style)
