"""`bash(...)` rule patterns, matched literally (allow) or generously (deny and ask).

Rule syntax (docs/security.md, docs/configuration.md): `git diff` matches exactly that command,
`git diff:*` any command whose words start with `git diff`, `*` any command.
"""

from __future__ import annotations

import fnmatch
import shlex
from dataclasses import dataclass

from codive_cli.policy.shell.parse import SimpleCommand
from codive_cli.policy.shell.programs import basename
from codive_cli.policy.shell.words import GLOB_CHARS


@dataclass(frozen=True)
class Pattern:
    """A parsed rule: its words, whether it is a `:*` prefix, whether it is `*`."""

    words: tuple[str, ...]
    prefix: bool
    any: bool


def parse_pattern(pattern: str) -> Pattern:
    """The rule a pattern string states (words split with shlex, or on blanks if unbalanced)."""
    text = pattern.strip()
    if text == "*":
        return Pattern((), True, True)
    prefix = text.endswith(":*")
    if prefix:
        text = text[:-2]
    try:
        words = tuple(shlex.split(text))
    except ValueError:
        words = tuple(text.split())
    return Pattern(words, prefix, False)


def rule_matches(pattern: str, command: SimpleCommand) -> bool:
    """Whether one rule (the inside of `bash(...)`) matches one simple command, literally.

    `git diff` matches exactly those words; `git diff:*` words that start with them (so
    `git diff --stat`, not `git difftool`); `*` anything. Pattern words split with shlex.
    """
    rule = parse_pattern(pattern)
    if rule.any:
        return True
    if not rule.words:
        return False
    words = command.words
    if rule.prefix:
        return words[: len(rule.words)] == rule.words
    return words == rule.words


def may_match(rule: Pattern, words: tuple[str, ...], globs: frozenset[int]) -> bool:
    """Generous matching for deny and ask rules: could this rule describe these words?"""
    if rule.any:
        return True
    if not rule.words:
        return rule.prefix  # `:*` denies everything
    if not words:
        return False
    if (
        len(words) >= len(rule.words)
        and (rule.prefix or len(words) == len(rule.words))
        and all(_word_may_match(i, p, words[i], globs) for i, p in enumerate(rule.words))
    ):
        return True
    return _glued_match(rule, words)


def _word_may_match(i: int, pattern_word: str, word: str, globs: frozenset[int]) -> bool:
    """Whether word `i` may be the rule's: equal, a glob that may expand to it, or a path to
    the program it names (`/usr/bin/git`, `/usr/bin/gi?`)."""
    if word == pattern_word:
        return True
    if i in globs and fnmatch.fnmatchcase(pattern_word, word):
        return True
    if i == 0 and "/" not in pattern_word:
        base = basename(word)
        return base == pattern_word or bool(
            GLOB_CHARS & set(base) and fnmatch.fnmatchcase(pattern_word, base)
        )
    return False


def _glued_match(rule: Pattern, words: tuple[str, ...]) -> bool:
    """Quoting that glues words together (`'git push'`, `git 'push origin'`)."""
    wanted = " ".join(rule.words)
    have = " ".join(words[: len(wanted) + 1])
    if rule.prefix:
        return have == wanted or have.startswith(wanted + " ")
    return " ".join(words) == wanted
