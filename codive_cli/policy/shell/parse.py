"""A command line split into its simple commands, on a tree-sitter-bash parse.

Only a whitelisted set of node types is accepted; each simple command's words are taken
after quote removal, and every byte of the line must be accounted for by the pieces judged.
tree-sitter is imported lazily, and one parser is built per process.
"""

from __future__ import annotations

import dataclasses
import re
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from codive_cli.policy.shell.words import (
    WORD_NODES,
    CannotJudge,
    Word,
    decode_word,
    node_text,
    precheck,
    redirect_writes,
)

if TYPE_CHECKING:
    from tree_sitter import Node, Parser

# Nesting deeper than this is not judged (it asks).
_MAX_DEPTH = 64


@dataclass(frozen=True)
class SimpleCommand:
    """One simple command of a command line: its argv after quote removal."""

    words: tuple[str, ...]
    text: str  # the source text of this command
    # Output goes to a file (`> x`, `>> x`, `2> x`, `&> x`, `>| x`, `>& x`), here or on an
    # enclosing group; `> /dev/null` and `2>&1` do not count.
    redirects_output: bool = False
    background: bool = False  # run with a trailing `&`
    # Indexes of words that hold an unquoted glob character (`*`, `?`, `[`): the shell may
    # expand them to other words (never the command name: that is not judged).
    glob_words: frozenset[int] = frozenset()
    # Files read through `<` anywhere on the line (conservatively: every part gets them all).
    input_files: tuple[str, ...] = ()


# --- the parser ------------------------------------------------------------------------

_PARSER: Parser | None = None
_PARSER_LOCK = threading.Lock()


def syntax_tree(command: str) -> Node:
    """The syntax tree's root; one parser per process, used under a lock."""
    global _PARSER
    data = command.encode("utf-8")
    with _PARSER_LOCK:
        if _PARSER is None:
            import tree_sitter
            import tree_sitter_bash

            _PARSER = tree_sitter.Parser(tree_sitter.Language(tree_sitter_bash.language()))
        return _PARSER.parse(data).root_node


# --- walking the tree ------------------------------------------------------------------

# Tokens each container may hold besides statements and comments.
_CONTAINER_TOKENS: dict[str, frozenset[str]] = {
    "program": frozenset({";", "&"}),
    "list": frozenset({"&&", "||"}),
    "pipeline": frozenset({"|", "|&"}),
    "subshell": frozenset({"(", ")", ";", "&"}),
    "compound_statement": frozenset({"{", "}", ";", "&"}),
    "negated_command": frozenset({"!"}),
}
# What may stand between the pieces of a command line: blanks and line continuations.
_GAP = re.compile(rb"(?:[ \t\n]|\\\n)*")
# Reserved words tree-sitter may take for a command name where bash would not.
_RESERVED = frozenset(
    {
        "!",
        "case",
        "coproc",
        "do",
        "done",
        "elif",
        "else",
        "esac",
        "fi",
        "for",
        "function",
        "if",
        "in",
        "select",
        "then",
        "until",
        "while",
        "{",
        "}",
        "[[",
        "]]",
    }
)


class _Walker:
    def __init__(self, source: str) -> None:
        self.source = source.encode("utf-8")
        self.out: list[SimpleCommand] = []
        self.inputs: list[str] = []  # files read with `<`
        # The bytes accounted for, and whether each piece is a word (or reserved word) that
        # must stand apart from its neighbours.
        self.spans: list[tuple[int, int, bool]] = []

    def cover(self, node: Node, word: bool) -> None:
        self.spans.append((node.start_byte, node.end_byte, word))

    def check_coverage(self) -> None:
        r"""Between the pieces judged there may only be blanks and line continuations.

        tree-sitter skips some text bash reads as words (`\ ls` runs a command named " "
        with argument `ls`; tree-sitter sees `ls`): nothing may go unaccounted for.
        """
        position = 0
        previous_word = False
        for start, end, word in sorted(self.spans):
            if start < position or not _GAP.fullmatch(self.source[position:start]):
                raise CannotJudge("text the parse does not account for")
            if word and previous_word and start == position:
                # `'a b'\{` is one word to bash; tree-sitter may see two, `!"x"` is no `!`.
                raise CannotJudge("two words with nothing between them")
            position = end
            previous_word = word
        if not _GAP.fullmatch(self.source[position:]):
            raise CannotJudge("text the parse does not account for")

    def statement(self, node: Node, redirected: bool, depth: int) -> None:
        if depth > _MAX_DEPTH:
            raise CannotJudge("nested too deeply")
        kind = node.type
        if kind == "command":
            self.command(node, redirected)
        elif kind == "redirected_statement":
            self.redirected(node, redirected, depth)
        elif kind in _CONTAINER_TOKENS:
            if kind == "compound_statement":
                self.check_braces(node)
            self.container(node, redirected, depth)
        else:
            raise CannotJudge(f"{kind} is not judged")

    def container(self, node: Node, redirected: bool, depth: int) -> None:
        allowed = _CONTAINER_TOKENS[node.type]
        start = len(self.out)
        for child in node.children:
            if child.type == "comment":
                self.comment(child)
                continue
            if not child.is_named:
                if child.type not in allowed:
                    raise CannotJudge(f"token {child.type!r} in {node.type}")
                self.cover(child, child.type in ("!", "{", "}"))
                if child.type == "&":
                    self.out[start:] = [
                        dataclasses.replace(c, background=True) for c in self.out[start:]
                    ]
                if child.type in (";", "&"):
                    start = len(self.out)
                continue
            if node.type == "program":
                start = len(self.out)
            self.statement(child, redirected, depth + 1)

    def comment(self, node: Node) -> None:
        self.cover(node, False)
        # `#` starts a comment only at the start of a word; what bash does not take for a
        # comment must not be hidden as one.
        before = self.source[node.start_byte - 1 : node.start_byte] if node.start_byte else b""
        if before not in (b"", b" ", b"\t", b"\n", b";", b"&", b"|", b"(", b")"):
            raise CannotJudge("comment inside a word")
        if b"\n" in self.source[node.start_byte : node.end_byte]:
            raise CannotJudge("comment over several lines")

    def redirect(self, node: Node) -> bool:
        for child in node.children:
            self.cover(child, child.is_named)
        return redirect_writes(node, self.inputs)

    def check_braces(self, node: Node) -> None:
        # `{` is a reserved word only when a blank follows it (`{ls;}` runs `{ls`).
        first = node.children[0] if node.child_count else None
        if first is None or first.type != "{":
            raise CannotJudge("odd group")
        after = self.source[first.end_byte : first.end_byte + 1]
        if after not in (b" ", b"\t", b"\n"):
            raise CannotJudge("`{` not followed by a blank")

    def redirected(self, node: Node, redirected: bool, depth: int) -> None:
        body: Node | None = None
        writes = False
        for child in node.children:
            if child.type == "comment":
                self.comment(child)
                continue
            if child.type == "file_redirect":
                writes |= self.redirect(child)
            elif child.type in ("heredoc_redirect", "herestring_redirect"):
                raise CannotJudge("heredoc or herestring")
            elif child.is_named and body is None:
                body = child
            else:
                raise CannotJudge(f"{child.type} in a redirected statement")
        if body is None:
            raise CannotJudge("redirection without a command")
        self.statement(body, redirected or writes, depth + 1)

    def command(self, node: Node, redirected: bool) -> None:
        words: list[Word] = []
        writes = redirected
        seen_name = False
        for child in node.children:
            kind = child.type
            if kind == "comment":
                self.comment(child)
                continue
            if kind == "command_name":
                if seen_name or words:
                    raise CannotJudge("second command name")
                seen_name = True
                words.append(self.command_name(child))
            elif kind == "file_redirect":
                writes |= self.redirect(child)
            elif kind in WORD_NODES:
                if not seen_name:
                    raise CannotJudge("argument before the command name")
                words.append(decode_word(child))
                self.cover(child, True)
            else:
                # variable_assignment (`VAR=x cmd`), expansions, substitutions, `$"..."`,
                # ANSI-C strings, heredocs, herestrings, ...
                raise CannotJudge(f"{kind} in a command")
        if not seen_name:
            raise CannotJudge("command without a name")
        self.out.append(
            SimpleCommand(
                words=tuple(w.value for w in words),
                text=node_text(node),
                redirects_output=writes,
                glob_words=frozenset(i for i, w in enumerate(words) if w.glob),
            )
        )

    def command_name(self, node: Node) -> Word:
        named = [c for c in node.children if c.is_named]
        if len(named) != 1 or len(named) != node.child_count:
            raise CannotJudge("odd command name")
        raw = node_text(named[0])
        if raw in _RESERVED:
            raise CannotJudge(f"reserved word {raw!r} as a command")
        word = decode_word(named[0])
        if word.glob:
            raise CannotJudge("glob in the command name")
        if not word.value:
            raise CannotJudge("empty command name")
        self.cover(named[0], True)
        return word


def split_command(command: str) -> list[SimpleCommand] | None:
    """The simple commands a command line runs, or None when it cannot be judged safely.

    An empty line (or one with only comments) gives []. None for: parse errors, command or
    process substitution, any parameter expansion or arithmetic, `$'...'` and `$"..."`
    strings, heredocs and herestrings, `VAR=value cmd` prefixes and bare assignments,
    function definitions, control flow (`if`, `for`, `case`, `[[ ]]`, ...), brace expansion,
    globs in a command name, redirections tree-sitter and bash may read differently,
    control or invisible characters, lines over MAX_COMMAND_CHARS. Subshells `( )`, groups
    `{ }` and `!` are descended into; `eval`, `exec`, `source`, `.` are ordinary commands.
    """
    if not isinstance(command, str):
        return None
    try:
        precheck(command)
        root = syntax_tree(command)
        if root.has_error or root.type != "program":
            return None
        walker = _Walker(command)
        walker.container(root, False, 0)
        walker.check_coverage()
        if walker.inputs:
            files = tuple(walker.inputs)
            return [dataclasses.replace(part, input_files=files) for part in walker.out]
        return walker.out
    except (CannotJudge, UnicodeError, RecursionError):
        return None
