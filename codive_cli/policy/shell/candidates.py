"""The commands a command line may run, looked for generously so deny and ask rules match.

A simple command yields itself, itself without leading options (`git -c x=y push`), what a
wrapper runs (`sudo`, `timeout 5`, `find -exec`, `uv run`) and what a shell's string runs
(`bash -c '...'`, `eval`). A line that cannot be judged is searched best effort: textually,
and on whatever tree tree-sitter builds. A budget bounds the work (`_Exhausted` means ask).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from codive_cli.policy.shell.parse import split_command, syntax_tree
from codive_cli.policy.shell.programs import GIT_GLOBAL_WITH_ARG, SHELLS, WRAPPERS, basename
from codive_cli.policy.shell.words import (
    GLOB_CHARS,
    MAX_COMMAND_CHARS,
    WORD_NODES,
    CannotJudge,
    decode_word,
    node_text,
)

if TYPE_CHECKING:
    from tree_sitter import Node

# A command's words and the indexes of those that may be globs.
Candidate = tuple[tuple[str, ...], frozenset[int]]

# How deep `sh -c '...'` strings are followed when looking for denied commands.
_MAX_SHELL_DEPTH = 3
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


class Exhausted(Exception):
    """Looking for denied commands took too much work: judge says ask."""


class Budget:
    """Bounds the best-effort search (nested `eval eval eval ...` would blow up)."""

    def __init__(self) -> None:
        self.parses = 64
        self.chars = 4 * MAX_COMMAND_CHARS
        self.candidates = 50_000

    def spend_parse(self, chars: int) -> None:
        self.parses -= 1
        self.chars -= chars
        if self.parses < 0 or self.chars < 0:
            raise Exhausted

    def spend_candidate(self) -> None:
        self.candidates -= 1
        if self.candidates < 0:
            raise Exhausted


def _shift(globs: frozenset[int], by: int, first: int | None = None) -> frozenset[int]:
    """Glob indexes of a slice: words from `first` (default `by`) on, moved down by `by`."""
    lowest = by if first is None else first
    return frozenset(i - by for i in globs if i >= lowest)


def expand(
    words: tuple[str, ...], globs: frozenset[int], depth: int, budget: Budget
) -> Iterator[Candidate]:
    """The commands a simple command may run, for deny and ask rules."""
    if not words:
        return
    budget.spend_candidate()
    yield words, globs
    name = basename(words[0])
    # Leading options skipped (`git -c x=y push`, `git --no-pager push`).
    i = 1
    while i < len(words) and words[i].startswith("-") and words[i] != "--":
        i += 2 if name == "git" and words[i] in GIT_GLOBAL_WITH_ARG else 1
    if 1 < i < len(words):
        budget.spend_candidate()
        yield (words[0], *words[i:]), frozenset({0} & globs) | _shift(globs, i - 1, i)
    if name in WRAPPERS:
        yield from _wrapped(name, words, globs, depth, budget)


def _wrapped(
    name: str, words: tuple[str, ...], globs: frozenset[int], depth: int, budget: Budget
) -> Iterator[Candidate]:
    """The commands a wrapper program may run."""
    # Where the wrapped command may start: anywhere for `sudo -u x cmd`, `timeout 5 cmd`
    # ...; after `-exec` for find; after `run`/`exec` for `uv run cmd`, `bundle exec cmd`.
    after = _WRAPPED_AFTER.get(name)
    for start in range(1, min(len(words), _MAX_WRAPPED)):
        if after is None or words[start - 1] in after:
            budget.spend_candidate()
            yield words[start:], _shift(globs, start)
    if depth < _MAX_SHELL_DEPTH:
        for start in range(min(len(words), _MAX_WRAPPED)):
            if basename(words[start]) in SHELLS:
                yield from _shell_strings(words[start:], depth + 1, budget)
                break  # later shell words are arguments of this one


def _shell_strings(words: tuple[str, ...], depth: int, budget: Budget) -> Iterator[Candidate]:
    """Commands inside a shell's string arguments (`bash -c '...'`, `eval ...`)."""
    texts = [w for w in words[1:50] if not w.startswith("-") or " " in w]
    if basename(words[0]) == "eval":
        texts = [" ".join(words[1:])]
    for text in texts:
        yield from _candidates_for(text, depth, budget)


def _candidates_for(command: str, depth: int, budget: Budget) -> Iterator[Candidate]:
    budget.spend_parse(len(command))
    parts = split_command(command)
    if parts is None:
        yield from lenient_candidates(command, depth, budget)
        return
    for part in parts:
        yield from expand(part.words, part.glob_words, depth, budget)


# --- lines that cannot be judged ------------------------------------------------------

_SEGMENT_SPLIT = re.compile(r"\$\(|<\(|>\(|[\n;&|()`{}]")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
# Bounds on the best-effort look at lines that cannot be judged (pathological input).
_LENIENT_WORD_BYTES = 4096
_LENIENT_COMMANDS = 2000


def _globs_of(words: Sequence[str]) -> frozenset[int]:
    return frozenset(i for i, w in enumerate(words) if GLOB_CHARS & set(w))


def lenient_candidates(command: str, depth: int, budget: Budget) -> Iterator[Candidate]:
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
        yield from expand(found, _globs_of(found), depth, budget)


def _lenient_word(node: Node) -> str:
    if node.end_byte - node.start_byte > _LENIENT_WORD_BYTES:
        return ""
    if node.type == "command_name" and node.named_child_count == 1:
        inner = node.named_children[0]
        if inner is not None:
            node = inner
    try:
        return decode_word(node).value
    except (CannotJudge, UnicodeError):
        try:
            return re.sub(r"[\"'\\]", "", node_text(node))
        except (CannotJudge, UnicodeError):
            return ""


def _lenient_words(command: Node) -> tuple[str, ...]:
    """The words of a `command` node, each as best it can be read."""
    words = [
        _lenient_word(child)
        for child in command.children
        if child.type == "command_name"
        or child.type in WORD_NODES
        or child.type in ("simple_expansion", "expansion", "command_substitution")
    ]
    return tuple(w for w in words if w)


def _tree_commands(command: str, depth: int, budget: Budget) -> list[tuple[str, ...]]:
    if len(command) > MAX_COMMAND_CHARS:
        return []
    try:
        root = syntax_tree(command)
    except (UnicodeError, ValueError):
        return []
    found: list[tuple[str, ...]] = []
    stack = [root]
    while stack and len(found) < _LENIENT_COMMANDS:
        node = stack.pop()
        stack.extend(node.children)
        if node.type != "command":
            continue
        words = _lenient_words(node)
        if not words:
            continue
        found.append(words)
        # A heredoc fed to a shell is a script.
        if depth < _MAX_SHELL_DEPTH and basename(words[0]) in SHELLS:
            found.extend(_heredoc_commands(node, depth, budget))
    return found


def _heredoc_commands(command: Node, depth: int, budget: Budget) -> Iterator[tuple[str, ...]]:
    """The commands in the heredoc bodies next to a `command` node."""
    parent = command.parent
    for sibling in parent.children if parent is not None else []:
        for body in sibling.children:
            if body.type == "heredoc_body":
                text = _text_or_empty(body)
                yield from (c[0] for c in _candidates_for(text, depth + 1, budget))


def _text_or_empty(node: Node) -> str:
    try:
        return node_text(node)
    except (CannotJudge, UnicodeError):
        return ""
