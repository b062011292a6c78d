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

Rule syntax (docs/security.md, docs/configuration.md): `git diff` matches exactly that command,
`git diff:*` any command whose words start with `git diff`, `*` any command. A prefix rule
does not cover a form that is known to write or execute (`git diff --output=x`,
`find -exec`, `sed -i`, `rg --pre`): those need an exact rule, or they ask. An output
redirection to a file (`> x`) is a part of its own that only `*` covers.

The modules: `words` (quote removal, characters refused, redirections), `parse` (the tree
walk into simple commands), `rules` (rule patterns), `programs` and `candidates` (what a
command may run, for deny and ask rules), `readonly` (the built-in read-only commands).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from codive_cli.policy.shell.candidates import Budget, Exhausted, expand, lenient_candidates
from codive_cli.policy.shell.parse import SimpleCommand, split_command
from codive_cli.policy.shell.readonly import (
    READ_ONLY_COMMANDS,
    is_read_only,
    is_read_only_command,
    unsafe_reason,
)
from codive_cli.policy.shell.rules import Pattern, may_match, parse_pattern, rule_matches
from codive_cli.policy.shell.words import MAX_COMMAND_CHARS

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
        if parse_pattern(pattern).prefix and unsafe_reason(part.words) is not None:
            continue  # `git diff:*` does not cover `git diff --output=x`
        return True
    return False


def _judge_unparsed(command: str, deny_rules: list[Pattern], budget: Budget) -> Judgement:
    """A line that cannot be judged: deny if a deny rule may match it, else ask."""
    text = command if isinstance(command, str) else ""
    try:
        candidates = list(lenient_candidates(text, 0, budget)) if deny_rules else []
    except Exhausted:
        return "ask"
    if any(may_match(r, w, g) for r in deny_rules for w, g in candidates):
        return "deny"
    return "ask"


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
    deny_rules = [parse_pattern(p) for p in deny]
    ask_rules = [parse_pattern(p) for p in ask]
    parts = split_command(command)
    budget = Budget()
    if parts is None:
        return _judge_unparsed(command, deny_rules, budget)
    try:
        candidates = [c for part in parts for c in expand(part.words, part.glob_words, 0, budget)]
    except Exhausted:
        return "ask"
    if any(may_match(r, w, g) for r in deny_rules for w, g in candidates):
        return "deny"
    if any(may_match(r, w, g) for r in ask_rules for w, g in candidates):
        return "ask"
    if parts and all(_allowed(part, allow) for part in parts):
        return "allow"
    return "ask"
