"""Judging a shell command line against `bash(...)` permission rules, on a real parse.

The approach is OpenAI Codex's: parse with tree-sitter-bash, accept only a whitelisted set
of node types, and take each simple command's words after quote removal. Anything else
(expansions, substitutions, heredocs, assignments, functions, control flow, parse errors,
odd characters) cannot be judged and asks. Every decision fails closed:

- `allow` needs every simple command to be allowed by a rule or to be read-only;
- a deny (or ask) rule is matched generously ("may this run that?"): through wrappers
  (`sudo`, `env`, `timeout`, `xargs`, `find -exec` ...), `sh -c '...'` strings, `git -c ...`
  global options, path prefixes (`/usr/bin/git`), quoting and globs;
- what cannot be parsed asks, unless a deny rule matches it, best effort, textually.

Rule syntax (DESIGN, "Tools and permissions"): `git diff` matches exactly that command,
`git diff:*` any command whose words start with `git diff`, `*` any command. A prefix rule
does not cover a form that is known to write or execute (`git diff --output=x`,
`find -exec`, `sed -i`, `rg --pre`): those need an exact rule, or they ask. An output
redirection to a file (`> x`) is a part of its own that only `*` covers.

tree-sitter is imported lazily, and one parser is built per process.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import re
import shlex
import threading
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from tree_sitter import Node, Parser

__all__ = [
    "MAX_COMMAND_CHARS",
    "READ_ONLY_COMMANDS",
    "Judgement",
    "SimpleCommand",
    "is_read_only",
    "is_read_only_command",
    "judge",
    "rule_matches",
    "split_command",
]

Judgement = Literal["allow", "deny", "ask"]

# Longer command lines are not judged (they ask); nesting deeper than this is not either.
MAX_COMMAND_CHARS = 100_000
_MAX_DEPTH = 64
# How deep `sh -c '...'` strings are followed when looking for denied commands.
_MAX_SHELL_DEPTH = 3


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


class _Unknown(Exception):
    """The command line cannot be judged safely."""


# --- the parser ------------------------------------------------------------------------

_PARSER: Parser | None = None
_PARSER_LOCK = threading.Lock()


def _parse(command: str) -> Node:
    """The syntax tree's root; one parser per process, used under a lock."""
    global _PARSER
    data = command.encode("utf-8")
    with _PARSER_LOCK:
        if _PARSER is None:
            import tree_sitter
            import tree_sitter_bash

            _PARSER = tree_sitter.Parser(tree_sitter.Language(tree_sitter_bash.language()))
        return _PARSER.parse(data).root_node


def _text(node: Node) -> str:
    data = node.text
    if data is None:
        raise _Unknown("node without text")
    return data.decode("utf-8", errors="strict")


# --- characters and pre-checks ---------------------------------------------------------

# Characters bash and tree-sitter may disagree on, or a person may not see: controls (but
# tab and newline; `\r` is whitespace to tree-sitter, a word character to bash), format
# characters (zero-width, bidi), unassigned and private code points, and every blank but
# the space (bash splits words on space, tab and newline only).
_ASCII_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_BAD_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"})


def _precheck(command: str) -> None:
    if len(command) > MAX_COMMAND_CHARS:
        raise _Unknown("too long")
    if _ASCII_CONTROL.search(command) or (
        not command.isascii()
        and any(unicodedata.category(ch) in _BAD_CATEGORIES for ch in command if ch > "\x7f")
    ):
        raise _Unknown("control, invisible or unusual whitespace character")
    # A backslash-newline joins lines before bash tokenises; tree-sitter splits the word
    # there instead (`r\<newline>m` is `rm` to bash). Accept it only where it stands
    # between words (after an unescaped blank), where both agree.
    for match in re.finditer(r"(\\+)\n", command):
        run = match.group(1)
        if len(run) % 2 == 0:
            continue  # an escaped backslash, then a real newline
        start = match.start(1)
        if len(run) > 1 or start == 0 or command[start - 1] not in " \t":
            raise _Unknown("line continuation inside a word")
        if start >= 2 and command[start - 2] == "\\":
            raise _Unknown("line continuation after an escaped blank")


# --- words -----------------------------------------------------------------------------

_GLOB_CHARS = frozenset("*?[")
# Characters that never belong unquoted in a plain word: their presence means the parse and
# bash may disagree, so the whole line is unknown.
_UNQUOTED_FORBIDDEN = frozenset("$`'\"()<>;&| \t\n")
_WORD_NODES = frozenset({"word", "number", "string", "raw_string", "concatenation"})
_BRACE_EXPANSION = re.compile(r"\{.*(?:,|\.\.).*\}", re.DOTALL)


@dataclass
class _Word:
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
                raise _Unknown("trailing backslash")
            nxt = raw[i + 1]
            if nxt != "\n":
                out.append(nxt)
            i += 2
            continue
        if ch in _UNQUOTED_FORBIDDEN:
            raise _Unknown(f"unquoted {ch!r} in a word")
        if ch in _GLOB_CHARS:
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
            raise _Unknown("expansion inside double quotes")
        if ch == '"':
            raise _Unknown("stray double quote")
        out.append(ch)
        i += 1
    return "".join(out)


def _decode_part(node: Node) -> tuple[str, bool, bool]:
    """(value, unquoted glob, unquoted brace) of one word-like node."""
    kind = node.type
    raw = _text(node)
    if kind in ("word", "number"):
        if node.child_count:
            raise _Unknown(f"{kind} with parts")
        return _decode_unquoted(raw)
    if kind == "raw_string":
        if len(raw) < 2 or raw[0] != "'" or raw[-1] != "'" or "'" in raw[1:-1]:
            raise _Unknown("odd single-quoted string")
        return raw[1:-1], False, False
    if kind == "string":
        if len(raw) < 2 or raw[0] != '"' or raw[-1] != '"':
            raise _Unknown("odd double-quoted string")
        for child in node.children:
            if child.type == '"' and not child.is_named:
                continue
            if child.type != "string_content":
                raise _Unknown(f"{child.type} inside double quotes")
        return _decode_double_quoted(raw[1:-1]), False, False
    raise _Unknown(f"{kind} is not a plain word")


def _decode_word(node: Node) -> _Word:
    if node.type == "concatenation":
        values: list[str] = []
        glob = brace = False
        position = node.start_byte
        for child in node.children:
            if child.start_byte != position:
                raise _Unknown("a gap inside a word")
            position = child.end_byte
            if child.type not in ("word", "number", "string", "raw_string"):
                raise _Unknown(f"{child.type} in a word")
            value, g, b = _decode_part(child)
            values.append(value)
            glob |= g
            brace |= b
        if position != node.end_byte:
            raise _Unknown("a gap inside a word")
        word = _Word("".join(values), glob, brace, _text(node))
    elif node.type in _WORD_NODES:
        value, glob, brace = _decode_part(node)
        word = _Word(value, glob, brace, _text(node))
    else:
        raise _Unknown(f"{node.type} is not a plain word")
    # Brace expansion (`{push,x}`, `{a..c}`) turns one word into several.
    if word.brace and _BRACE_EXPANSION.search(word.text):
        raise _Unknown("brace expansion")
    return word


# --- redirections ----------------------------------------------------------------------

# Where writing is harmless.
_SAFE_SINKS = frozenset({"/dev/null", "/dev/stdout", "/dev/stderr"})
_OUTPUT_OPERATORS = frozenset({">", ">>", "&>", "&>>", ">|"})


def _redirect_writes(node: Node, inputs: list[str] | None = None) -> bool:
    """Whether a `file_redirect` writes to a file; unknown forms raise. The file of an
    input redirection (`< file`) is added to `inputs`."""
    operator: str | None = None
    targets: list[Node] = []
    for child in node.children:
        if child.type == "file_descriptor":
            if not _text(child).isdigit():
                raise _Unknown("odd file descriptor")
            continue
        if not child.is_named:
            if operator is not None:
                raise _Unknown("two redirection operators")
            operator = child.type
            continue
        targets.append(child)
    if operator in (">&-", "<&-"):
        if targets:
            raise _Unknown("words after a closed descriptor")
        return False
    if len(targets) != 1:
        # `ls > x -l`: tree-sitter files `-l` under the redirection; bash gives it to ls.
        raise _Unknown("redirection with more than one word")
    target = targets[0]
    if operator in (">&", "<&"):
        if target.type == "number" and _text(target).isdigit():
            return False  # 2>&1: duplicate a descriptor
        value = _decode_word(target).value
        if value == "-":
            return False
        if operator == "<&":
            raise _Unknown("odd input duplication")
        return value not in _SAFE_SINKS  # `>& file` writes stdout and stderr there
    value = _decode_word(target).value
    if value.startswith(("/dev/tcp/", "/dev/udp/")):
        return True  # a network connection: never harmless
    if operator == "<":
        word = _decode_word(target)
        if word.glob:
            raise _Unknown("a glob in an input redirection")
        if inputs is not None:
            inputs.append(word.value)
        return False
    if operator in _OUTPUT_OPERATORS:
        return value not in _SAFE_SINKS
    raise _Unknown(f"redirection {operator!r}")


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
                raise _Unknown("text the parse does not account for")
            if word and previous_word and start == position:
                # `'a b'\{` is one word to bash; tree-sitter may see two, `!"x"` is no `!`.
                raise _Unknown("two words with nothing between them")
            position = end
            previous_word = word
        if not _GAP.fullmatch(self.source[position:]):
            raise _Unknown("text the parse does not account for")

    def statement(self, node: Node, redirected: bool, depth: int) -> None:
        if depth > _MAX_DEPTH:
            raise _Unknown("nested too deeply")
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
            raise _Unknown(f"{kind} is not judged")

    def container(self, node: Node, redirected: bool, depth: int) -> None:
        allowed = _CONTAINER_TOKENS[node.type]
        start = len(self.out)
        for child in node.children:
            if child.type == "comment":
                self.comment(child)
                continue
            if not child.is_named:
                if child.type not in allowed:
                    raise _Unknown(f"token {child.type!r} in {node.type}")
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
            raise _Unknown("comment inside a word")
        if b"\n" in self.source[node.start_byte : node.end_byte]:
            raise _Unknown("comment over several lines")

    def redirect(self, node: Node) -> bool:
        for child in node.children:
            self.cover(child, child.is_named)
        return _redirect_writes(node, self.inputs)

    def check_braces(self, node: Node) -> None:
        # `{` is a reserved word only when a blank follows it (`{ls;}` runs `{ls`).
        first = node.children[0] if node.child_count else None
        if first is None or first.type != "{":
            raise _Unknown("odd group")
        after = self.source[first.end_byte : first.end_byte + 1]
        if after not in (b" ", b"\t", b"\n"):
            raise _Unknown("`{` not followed by a blank")

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
                raise _Unknown("heredoc or herestring")
            elif child.is_named and body is None:
                body = child
            else:
                raise _Unknown(f"{child.type} in a redirected statement")
        if body is None:
            raise _Unknown("redirection without a command")
        self.statement(body, redirected or writes, depth + 1)

    def command(self, node: Node, redirected: bool) -> None:
        words: list[_Word] = []
        writes = redirected
        seen_name = False
        for child in node.children:
            kind = child.type
            if kind == "comment":
                self.comment(child)
                continue
            if kind == "command_name":
                if seen_name or words:
                    raise _Unknown("second command name")
                seen_name = True
                named = [c for c in child.children if c.is_named]
                if len(named) != 1 or len(named) != child.child_count:
                    raise _Unknown("odd command name")
                raw = _text(named[0])
                if raw in _RESERVED:
                    raise _Unknown(f"reserved word {raw!r} as a command")
                word = _decode_word(named[0])
                if word.glob:
                    raise _Unknown("glob in the command name")
                if not word.value:
                    raise _Unknown("empty command name")
                words.append(word)
                self.cover(named[0], True)
            elif kind == "file_redirect":
                writes |= self.redirect(child)
            elif kind in _WORD_NODES:
                if not seen_name:
                    raise _Unknown("argument before the command name")
                words.append(_decode_word(child))
                self.cover(child, True)
            else:
                # variable_assignment (`VAR=x cmd`), expansions, substitutions, `$"..."`,
                # ANSI-C strings, heredocs, herestrings, ...
                raise _Unknown(f"{kind} in a command")
        if not seen_name:
            raise _Unknown("command without a name")
        self.out.append(
            SimpleCommand(
                words=tuple(w.value for w in words),
                text=_text(node),
                redirects_output=writes,
                glob_words=frozenset(i for i, w in enumerate(words) if w.glob),
            )
        )


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
        _precheck(command)
        root = _parse(command)
        if root.has_error or root.type != "program":
            return None
        walker = _Walker(command)
        walker.container(root, False, 0)
        walker.check_coverage()
        if walker.inputs:
            files = tuple(walker.inputs)
            return [dataclasses.replace(part, input_files=files) for part in walker.out]
        return walker.out
    except (_Unknown, UnicodeError, RecursionError):
        return None


# --- rules -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Pattern:
    words: tuple[str, ...]
    prefix: bool
    any: bool


def _parse_pattern(pattern: str) -> _Pattern:
    text = pattern.strip()
    if text == "*":
        return _Pattern((), True, True)
    prefix = text.endswith(":*")
    if prefix:
        text = text[:-2]
    try:
        words = tuple(shlex.split(text))
    except ValueError:
        words = tuple(text.split())
    return _Pattern(words, prefix, False)


def rule_matches(pattern: str, command: SimpleCommand) -> bool:
    """Whether one rule (the inside of `bash(...)`) matches one simple command, literally.

    `git diff` matches exactly those words; `git diff:*` words that start with them (so
    `git diff --stat`, not `git difftool`); `*` anything. Pattern words split with shlex.
    """
    rule = _parse_pattern(pattern)
    if rule.any:
        return True
    if not rule.words:
        return False
    words = command.words
    if rule.prefix:
        return words[: len(rule.words)] == rule.words
    return words == rule.words


def _basename(word: str) -> str:
    return word.rsplit("/", 1)[-1]


def _may_match(rule: _Pattern, words: tuple[str, ...], globs: frozenset[int]) -> bool:
    """Generous matching for deny and ask rules: could this rule describe these words?"""
    if rule.any:
        return True
    if not rule.words:
        return rule.prefix  # `:*` denies everything
    if not words:
        return False
    if len(words) >= len(rule.words) and (rule.prefix or len(words) == len(rule.words)):
        for i, pattern_word in enumerate(rule.words):
            word = words[i]
            if word == pattern_word:
                continue
            if i in globs and fnmatch.fnmatchcase(pattern_word, word):
                continue
            if i == 0 and "/" not in pattern_word:
                base = _basename(word)
                if base == pattern_word or (
                    _GLOB_CHARS & set(base) and fnmatch.fnmatchcase(pattern_word, base)
                ):
                    continue
            break
        else:
            return True
    # Quoting that glues words together (`'git push'`, `git 'push origin'`).
    wanted = " ".join(rule.words)
    have = " ".join(words[: len(wanted) + 1])
    if rule.prefix:
        return have == wanted or have.startswith(wanted + " ")
    return " ".join(words) == wanted


# Programs that run their arguments (or some of them) as a command.
_WRAPPERS = frozenset(
    {
        "ash",
        "bash",
        "builtin",
        "bundle",
        "busybox",
        "bwrap",
        "caffeinate",
        "chroot",
        "chrt",
        "command",
        "coproc",
        "dash",
        "direnv",
        "doas",
        "env",
        "eval",
        "exec",
        "fakeroot",
        "find",
        "firejail",
        "fish",
        "flock",
        "ionice",
        "ksh",
        "ltrace",
        "mise",
        "mksh",
        "nice",
        "nohup",
        "npx",
        "nsenter",
        "parallel",
        "pipenv",
        "pnpm",
        "poetry",
        "proxychains",
        "proxychains4",
        "runuser",
        "script",
        "setsid",
        "sg",
        "sh",
        "ssh",
        "stdbuf",
        "strace",
        "su",
        "sudo",
        "systemd-run",
        "taskset",
        "time",
        "timeout",
        "torsocks",
        "unbuffer",
        "uv",
        "uvx",
        "valgrind",
        "watch",
        "xargs",
        "yarn",
        "zsh",
    }
)
# Programs some of whose arguments are shell source text.
_SHELLS = frozenset(
    {
        "ash",
        "bash",
        "busybox",
        "dash",
        "env",
        "eval",
        "fish",
        "flock",
        "ksh",
        "mksh",
        "parallel",
        "runuser",
        "script",
        "sg",
        "sh",
        "ssh",
        "su",
        "watch",
        "zsh",
    }
)
_GIT_GLOBAL_WITH_ARG = frozenset(
    {"-c", "-C", "--git-dir", "--work-tree", "--namespace", "--super-prefix", "--config-env"}
)
_Candidate = tuple[tuple[str, ...], frozenset[int]]


class _Exhausted(Exception):
    """Looking for denied commands took too much work: judge says ask."""


class _Budget:
    """Bounds the best-effort search (nested `eval eval eval ...` would blow up)."""

    def __init__(self) -> None:
        self.parses = 64
        self.chars = 4 * MAX_COMMAND_CHARS
        self.candidates = 50_000

    def spend_parse(self, chars: int) -> None:
        self.parses -= 1
        self.chars -= chars
        if self.parses < 0 or self.chars < 0:
            raise _Exhausted

    def spend_candidate(self) -> None:
        self.candidates -= 1
        if self.candidates < 0:
            raise _Exhausted


# How far into a wrapper's words the wrapped command is looked for.
_MAX_WRAPPED = 64
_RUN_WORDS = frozenset({"run", "exec", "x", "dlx", "--"})
# Wrappers whose command only follows one of these words (`find . -name curl` runs no curl).
_WRAPPED_AFTER: dict[str, frozenset[str]] = {
    "find": frozenset({"-exec", "-execdir", "-ok", "-okdir"}),
    **{
        name: _RUN_WORDS
        for name in ("bundle", "direnv", "mise", "pipenv", "pnpm", "poetry", "uv", "yarn")
    },
}


def _shift(globs: frozenset[int], by: int, first: int | None = None) -> frozenset[int]:
    """Glob indexes of a slice: words from `first` (default `by`) on, moved down by `by`."""
    lowest = by if first is None else first
    return frozenset(i - by for i in globs if i >= lowest)


def _expand(
    words: tuple[str, ...], globs: frozenset[int], depth: int, budget: _Budget
) -> Iterator[_Candidate]:
    """The commands a simple command may run, for deny and ask rules."""
    if not words:
        return
    budget.spend_candidate()
    yield words, globs
    name = _basename(words[0])
    # Leading options skipped (`git -c x=y push`, `git --no-pager push`).
    i = 1
    while i < len(words) and words[i].startswith("-") and words[i] != "--":
        i += 2 if name == "git" and words[i] in _GIT_GLOBAL_WITH_ARG else 1
    if 1 < i < len(words):
        budget.spend_candidate()
        yield (words[0], *words[i:]), frozenset({0} & globs) | _shift(globs, i - 1, i)
    if name in _WRAPPERS:
        # Where the wrapped command may start: anywhere for `sudo -u x cmd`, `timeout 5 cmd`
        # ...; after `-exec` for find; after `run`/`exec` for `uv run cmd`, `bundle exec cmd`.
        after = _WRAPPED_AFTER.get(name)
        for start in range(1, min(len(words), _MAX_WRAPPED)):
            if after is None or words[start - 1] in after:
                budget.spend_candidate()
                yield words[start:], _shift(globs, start)
        if depth < _MAX_SHELL_DEPTH:
            for start in range(min(len(words), _MAX_WRAPPED)):
                if _basename(words[start]) in _SHELLS:
                    yield from _shell_strings(words[start:], depth + 1, budget)
                    break  # later shell words are arguments of this one


def _shell_strings(words: tuple[str, ...], depth: int, budget: _Budget) -> Iterator[_Candidate]:
    """Commands inside a shell's string arguments (`bash -c '...'`, `eval ...`)."""
    texts = [w for w in words[1:50] if not w.startswith("-") or " " in w]
    if _basename(words[0]) == "eval":
        texts = [" ".join(words[1:])]
    for text in texts:
        yield from _candidates_for(text, depth, budget)


def _candidates_for(command: str, depth: int, budget: _Budget) -> Iterator[_Candidate]:
    budget.spend_parse(len(command))
    parts = split_command(command)
    if parts is None:
        yield from _lenient_candidates(command, depth, budget)
        return
    for part in parts:
        yield from _expand(part.words, part.glob_words, depth, budget)


_SEGMENT_SPLIT = re.compile(r"\$\(|<\(|>\(|[\n;&|()`{}]")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


def _globs_of(words: Sequence[str]) -> frozenset[int]:
    return frozenset(i for i, w in enumerate(words) if _GLOB_CHARS & set(w))


def _lenient_candidates(command: str, depth: int, budget: _Budget) -> Iterator[_Candidate]:
    """For lines that cannot be judged: anything that may be a command, for deny rules."""
    seen: set[tuple[str, ...]] = set()
    raw: list[tuple[str, ...]] = []
    # Textual: the pieces between separators, quotes and assignments dropped.
    for segment in _SEGMENT_SPLIT.split(command[:MAX_COMMAND_CHARS]):
        words = re.sub(r"[\"'\\]", "", segment).split()
        while words and (_ASSIGNMENT.match(words[0]) or words[0] in ("!", "then", "do")):
            words = words[1:]
        if words:
            raw.append(tuple(words))
    # On the tree, whatever errors it holds: every command node, wherever it sits.
    raw.extend(_tree_commands(command, depth, budget))
    for found in raw:
        if found in seen:
            continue
        seen.add(found)
        yield from _expand(found, _globs_of(found), depth, budget)


# Bounds on the best-effort look at lines that cannot be judged (pathological input).
_LENIENT_WORD_BYTES = 4096
_LENIENT_COMMANDS = 2000


def _lenient_word(node: Node) -> str:
    if node.end_byte - node.start_byte > _LENIENT_WORD_BYTES:
        return ""
    if node.type == "command_name" and node.named_child_count == 1:
        inner = node.named_children[0]
        if inner is not None:
            node = inner
    try:
        return _decode_word(node).value
    except (_Unknown, UnicodeError):
        try:
            return re.sub(r"[\"'\\]", "", _text(node))
        except (_Unknown, UnicodeError):
            return ""


def _tree_commands(command: str, depth: int, budget: _Budget) -> list[tuple[str, ...]]:
    if len(command) > MAX_COMMAND_CHARS:
        return []
    try:
        root = _parse(command)
    except (UnicodeError, ValueError):
        return []
    found: list[tuple[str, ...]] = []
    stack = [root]
    while stack and len(found) < _LENIENT_COMMANDS:
        node = stack.pop()
        stack.extend(node.children)
        if node.type != "command":
            continue
        words = [
            _lenient_word(child)
            for child in node.children
            if child.type == "command_name"
            or child.type in _WORD_NODES
            or child.type in ("simple_expansion", "expansion", "command_substitution")
        ]
        words = [w for w in words if w]
        if not words:
            continue
        found.append(tuple(words))
        # A heredoc fed to a shell is a script.
        if depth < _MAX_SHELL_DEPTH and _basename(words[0]) in _SHELLS:
            parent = node.parent
            for sibling in parent.children if parent is not None else []:
                for body in sibling.children:
                    if body.type == "heredoc_body":
                        found.extend(
                            c[0] for c in _candidates_for(_text_or_empty(body), depth + 1, budget)
                        )
    return found


def _text_or_empty(node: Node) -> str:
    try:
        return _text(node)
    except (_Unknown, UnicodeError):
        return ""


# --- read-only commands ----------------------------------------------------------------

READ_ONLY_COMMANDS = frozenset(
    {
        "basename",
        "cat",
        "cut",
        "date",
        "df",
        "dirname",
        "du",
        "echo",
        "file",
        "find",
        "grep",
        "head",
        "ls",
        "pwd",
        "realpath",
        "rg",
        "sort",
        "stat",
        "tail",
        "tr",
        "tree",
        "true",
        "uniq",
        "wc",
        "which",
        "whoami",
    }
)
_READ_ONLY_GIT = frozenset({"status", "diff", "log", "show"})
_FIND_UNSAFE = ("-exec", "-execdir", "-ok", "-okdir", "-delete", "-fprint", "-fls")


def _long_option_is(word: str, names: Iterable[str]) -> bool:
    """`--out=x` is `--output` to getopt_long (unique prefixes count): fail closed on those."""
    if not word.startswith("--") or word == "--":
        return False
    given = word[2:].split("=", 1)[0]
    return bool(given) and any(name.startswith(given) for name in names)


def _short_flags(word: str, with_arg: str) -> str:
    """The flags of a short-option cluster (`-nro` -> `nro`), up to one that takes a value."""
    if not word.startswith("-") or word.startswith("--") or word == "-":
        return ""
    flags = []
    for ch in word[1:]:
        flags.append(ch)
        if ch in with_arg:
            break
    return "".join(flags)


def _unsafe_reason(words: tuple[str, ...]) -> str | None:
    """Why this command (by its program) writes or executes beyond its output, if it does."""
    if not words:
        return "empty"
    name = _basename(words[0])
    args = words[1:]
    for word in args if name in ("sort", "wc", "du", "find") else ():
        # file names read from data (a pipe): no word on the line names them
        if _long_option_is(word, ("files0-from",)) or word.startswith("-files0-from"):
            return "--files0-from reads file names from data"
    if name == "git":
        in_globals = True
        for word in args:
            if in_globals and not word.startswith("-"):
                in_globals = False  # the subcommand
            if in_globals and (
                word in _GIT_GLOBAL_WITH_ARG
                or word.startswith(("--config-env", "--exec-path", "--git-dir", "--work-tree"))
                or (word.startswith("-c") and not word.startswith("--"))
                or (word.startswith("-C") and not word.startswith("--"))
            ):
                return "git configuration, programs or repository from the command line"
            if _long_option_is(word, ("output", "ext-diff")):
                return "git --output / --ext-diff"
            if _long_option_is(word, ("no-index",)):
                return "git diff --no-index reads any two paths"
        return None
    if name == "find":
        for word in args:
            if word.startswith(_FIND_UNSAFE):
                return f"find {word}"
        return None
    if name == "sed":
        for word in args:
            if word.startswith(("-i", "--in-place")) or _long_option_is(word, ("in-place",)):
                return "sed -i"
            flags = _short_flags(word, "ef")
            if "i" in flags:
                return "sed -i"
            if "f" in flags or _long_option_is(word, ("file",)):
                return "sed -f: a script not on the command line"
            if re.search(r"[wWe]", word):
                return "a sed script that may write or execute (w, W, e)"
        return None
    if name == "rg":
        for word in args:
            if _long_option_is(word, ("pre", "pre-glob", "hostname-bin")):
                return "rg --pre / --hostname-bin run programs"
        return None
    if name == "sort":
        for word in args:
            if _long_option_is(word, ("output", "compress-program")):
                return "sort --output / --compress-program"
            if "o" in _short_flags(word, "kStTo"):
                return "sort -o"
        return None
    if name == "uniq":
        positional = 0
        skip = False
        options = True
        for word in args:
            if skip:
                skip = False
            elif options and word == "--":
                options = False
            elif options and word in ("-f", "-s", "-w", "--skip-fields", "--skip-chars"):
                skip = True
            elif options and word.startswith("-") and word != "-":
                if word == "--check-chars":
                    skip = True
            else:
                positional += 1
        return "uniq with an output file" if positional > 1 else None
    if name == "tree":
        for word in args:
            flags = _short_flags(word, "LPIHTo")
            if "o" in flags or "R" in flags or _long_option_is(word, ("output",)):
                return "tree -o / -R write files"
        return None
    if name == "date":
        for word in args:
            if "s" in _short_flags(word, "dfrIs") or _long_option_is(word, ("set",)):
                return "date --set"
        return None
    if name == "file":
        for word in args:
            if "C" in _short_flags(word, "efFmP") or _long_option_is(word, ("compile",)):
                return "file --compile writes"
        return None
    return None


def is_read_only_command(command: SimpleCommand) -> bool:
    """Whether one simple command only reads: on the short built-in list, by its bare name,
    with no option that writes or executes and no output redirection to a file."""
    if command.redirects_output or not command.words:
        return False
    name = command.words[0]
    if name == "git":
        if len(command.words) < 2 or command.words[1] not in _READ_ONLY_GIT:
            return False
    elif name not in READ_ONLY_COMMANDS:
        return False
    return _unsafe_reason(command.words) is None


def is_read_only(command: str) -> bool:
    """True only if the line parses and every simple command in it is read-only."""
    parts = split_command(command)
    return bool(parts) and all(is_read_only_command(p) for p in parts or ())


# --- judging ---------------------------------------------------------------------------


def _as_rules(rules: Sequence[str] | str) -> tuple[str, ...]:
    return (rules,) if isinstance(rules, str) else tuple(rules)


def _allowed(part: SimpleCommand, allow: Sequence[str]) -> bool:
    if any(pattern.strip() == "*" for pattern in allow):
        return True
    if part.redirects_output:
        return False  # a write to a file is a part that no narrower rule covers
    if is_read_only_command(part):
        return True
    for pattern in allow:
        if not rule_matches(pattern, part):
            continue
        if _parse_pattern(pattern).prefix and _unsafe_reason(part.words) is not None:
            continue  # `git diff:*` does not cover `git diff --output=x`
        return True
    return False


def judge(
    command: str,
    allow: Sequence[str],
    deny: Sequence[str],
    ask: Sequence[str] = (),
) -> Judgement:
    """The judgement of a command line under bash rules (the inside of `bash(...)`).

    Deny if any part may match a deny rule; else ask if any part may match an ask rule;
    else allow if every part is allowed by a rule or read-only; else ask. A line that
    cannot be judged asks, unless a deny rule matches it, best effort.
    """
    allow, deny, ask = _as_rules(allow), _as_rules(deny), _as_rules(ask)
    deny_rules = [_parse_pattern(p) for p in deny]
    ask_rules = [_parse_pattern(p) for p in ask]
    parts = split_command(command)
    budget = _Budget()
    if parts is None:
        text = command if isinstance(command, str) else ""
        try:
            candidates = list(_lenient_candidates(text, 0, budget)) if deny_rules else []
        except _Exhausted:
            return "ask"
        if any(_may_match(r, w, g) for r in deny_rules for w, g in candidates):
            return "deny"
        return "ask"
    try:
        candidates = [c for part in parts for c in _expand(part.words, part.glob_words, 0, budget)]
    except _Exhausted:
        return "ask"
    if any(_may_match(r, w, g) for r in deny_rules for w, g in candidates):
        return "deny"
    if any(_may_match(r, w, g) for r in ask_rules for w, g in candidates):
        return "ask"
    if parts and all(_allowed(part, allow) for part in parts):
        return "allow"
    return "ask"
