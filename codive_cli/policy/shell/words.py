"""Words of a command line after quote removal, and the characters that make a line unjudgeable.

Every function here raises `CannotJudge` for a form bash and tree-sitter may read differently.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tree_sitter import Node

# Longer command lines are not judged (they ask).
MAX_COMMAND_CHARS = 100_000

GLOB_CHARS = frozenset("*?[")
# Characters that never belong unquoted in a plain word: their presence means the parse and
# bash may disagree, so the whole line is unknown.
_UNQUOTED_FORBIDDEN = frozenset("$`'\"()<>;&| \t\n")
WORD_NODES = frozenset({"word", "number", "string", "raw_string", "concatenation"})
_BRACE_EXPANSION = re.compile(r"\{.*(?:,|\.\.).*\}", re.DOTALL)

# Characters bash and tree-sitter may disagree on, or a person may not see: controls (but
# tab and newline; `\r` is whitespace to tree-sitter, a word character to bash), format
# characters (zero-width, bidi), unassigned and private code points, and every blank but
# the space (bash splits words on space, tab and newline only).
_ASCII_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_BAD_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"})


class CannotJudge(Exception):
    """The command line cannot be judged safely."""


def node_text(node: Node) -> str:
    """The source text of a node (strict UTF-8)."""
    data = node.text
    if data is None:
        raise CannotJudge("node without text")
    return data.decode("utf-8", errors="strict")


# --- characters and pre-checks ---------------------------------------------------------


def precheck(command: str) -> None:
    """Refuse a line that is too long or holds characters bash and the parse may read apart."""
    if len(command) > MAX_COMMAND_CHARS:
        raise CannotJudge("too long")
    if _ASCII_CONTROL.search(command) or (
        not command.isascii()
        and any(unicodedata.category(ch) in _BAD_CATEGORIES for ch in command if ch > "\x7f")
    ):
        raise CannotJudge("control, invisible or unusual whitespace character")
    _check_continuations(command)


def _check_continuations(command: str) -> None:
    # A backslash-newline joins lines before bash tokenises; tree-sitter splits the word
    # there instead (`r\<newline>m` is `rm` to bash). Accept it only where it stands
    # between words (after an unescaped blank), where both agree.
    for match in re.finditer(r"(\\+)\n", command):
        run = match.group(1)
        if len(run) % 2 == 0:
            continue  # an escaped backslash, then a real newline
        start = match.start(1)
        if len(run) > 1 or start == 0 or command[start - 1] not in " \t":
            raise CannotJudge("line continuation inside a word")
        if start >= 2 and command[start - 2] == "\\":
            raise CannotJudge("line continuation after an escaped blank")


# --- words -----------------------------------------------------------------------------


@dataclass
class Word:
    """One word after quote removal."""

    value: str
    glob: bool  # an unquoted glob character
    brace: bool  # an unquoted `{`
    text: str  # raw


def _decode_unquoted(raw: str) -> tuple[str, bool, bool]:
    out: list[str] = []
    glob = brace = False
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch == "\\":
            if i + 1 >= len(raw):
                raise CannotJudge("trailing backslash")
            nxt = raw[i + 1]
            if nxt != "\n":
                out.append(nxt)
            i += 2
            continue
        if ch in _UNQUOTED_FORBIDDEN:
            raise CannotJudge(f"unquoted {ch!r} in a word")
        if ch in GLOB_CHARS:
            glob = True
        if ch == "{":
            brace = True
        out.append(ch)
        i += 1
    return "".join(out), glob, brace


def _decode_double_quoted(raw: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch == "\\" and i + 1 < len(raw) and raw[i + 1] in '$`"\\\n':
            if raw[i + 1] != "\n":
                out.append(raw[i + 1])
            i += 2
            continue
        if ch in "$`":
            raise CannotJudge("expansion inside double quotes")
        if ch == '"':
            raise CannotJudge("stray double quote")
        out.append(ch)
        i += 1
    return "".join(out)


def _decode_string(node: Node, raw: str) -> str:
    if len(raw) < 2 or raw[0] != '"' or raw[-1] != '"':
        raise CannotJudge("odd double-quoted string")
    for child in node.children:
        if child.type == '"' and not child.is_named:
            continue
        if child.type != "string_content":
            raise CannotJudge(f"{child.type} inside double quotes")
    return _decode_double_quoted(raw[1:-1])


def _decode_part(node: Node) -> tuple[str, bool, bool]:
    """(value, unquoted glob, unquoted brace) of one word-like node."""
    kind = node.type
    raw = node_text(node)
    if kind in ("word", "number"):
        if node.child_count:
            raise CannotJudge(f"{kind} with parts")
        return _decode_unquoted(raw)
    if kind == "raw_string":
        if len(raw) < 2 or raw[0] != "'" or raw[-1] != "'" or "'" in raw[1:-1]:
            raise CannotJudge("odd single-quoted string")
        return raw[1:-1], False, False
    if kind == "string":
        return _decode_string(node, raw), False, False
    raise CannotJudge(f"{kind} is not a plain word")


def _decode_concatenation(node: Node) -> Word:
    values: list[str] = []
    glob = brace = False
    position = node.start_byte
    for child in node.children:
        if child.start_byte != position:
            raise CannotJudge("a gap inside a word")
        position = child.end_byte
        if child.type not in ("word", "number", "string", "raw_string"):
            raise CannotJudge(f"{child.type} in a word")
        value, g, b = _decode_part(child)
        values.append(value)
        glob |= g
        brace |= b
    if position != node.end_byte:
        raise CannotJudge("a gap inside a word")
    return Word("".join(values), glob, brace, node_text(node))


def decode_word(node: Node) -> Word:
    """The word a plain word node stands for; anything that may expand raises."""
    if node.type == "concatenation":
        word = _decode_concatenation(node)
    elif node.type in WORD_NODES:
        value, glob, brace = _decode_part(node)
        word = Word(value, glob, brace, node_text(node))
    else:
        raise CannotJudge(f"{node.type} is not a plain word")
    # Brace expansion (`{push,x}`, `{a..c}`) turns one word into several.
    if word.brace and _BRACE_EXPANSION.search(word.text):
        raise CannotJudge("brace expansion")
    return word


# --- redirections ----------------------------------------------------------------------

# Where writing is harmless.
_SAFE_SINKS = frozenset({"/dev/null", "/dev/stdout", "/dev/stderr"})
_OUTPUT_OPERATORS = frozenset({">", ">>", "&>", "&>>", ">|"})


def _redirect_parts(node: Node) -> tuple[str | None, list[Node]]:
    """The operator of a `file_redirect` and the word nodes after it."""
    operator: str | None = None
    targets: list[Node] = []
    for child in node.children:
        if child.type == "file_descriptor":
            if not node_text(child).isdigit():
                raise CannotJudge("odd file descriptor")
            continue
        if not child.is_named:
            if operator is not None:
                raise CannotJudge("two redirection operators")
            operator = child.type
            continue
        targets.append(child)
    return operator, targets


def _duplication_writes(operator: str, target: Node) -> bool:
    """Whether `>& target` / `<& target` writes to a file."""
    if target.type == "number" and node_text(target).isdigit():
        return False  # 2>&1: duplicate a descriptor
    value = decode_word(target).value
    if value == "-":
        return False
    if operator == "<&":
        raise CannotJudge("odd input duplication")
    return value not in _SAFE_SINKS  # `>& file` writes stdout and stderr there


def redirect_writes(node: Node, inputs: list[str] | None = None) -> bool:
    """Whether a `file_redirect` writes to a file; unknown forms raise. The file of an
    input redirection (`< file`) is added to `inputs`."""
    operator, targets = _redirect_parts(node)
    if operator in (">&-", "<&-"):
        if targets:
            raise CannotJudge("words after a closed descriptor")
        return False
    if len(targets) != 1:
        # `ls > x -l`: tree-sitter files `-l` under the redirection; bash gives it to ls.
        raise CannotJudge("redirection with more than one word")
    target = targets[0]
    if operator in (">&", "<&"):
        return _duplication_writes(operator, target)
    value = decode_word(target).value
    if value.startswith(("/dev/tcp/", "/dev/udp/")):
        return True  # a network connection: never harmless
    if operator == "<":
        word = decode_word(target)
        if word.glob:
            raise CannotJudge("a glob in an input redirection")
        if inputs is not None:
            inputs.append(word.value)
        return False
    if operator in _OUTPUT_OPERATORS:
        return value not in _SAFE_SINKS
    raise CannotJudge(f"redirection {operator!r}")
