"""The Python backend: an `os.scandir` walk that prunes ignored folders, and `re` for grep."""

from __future__ import annotations

import operator
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass

from codive_cli.policy.regular import open_regular
from codive_cli.tools.base import ToolError
from codive_cli.tools.search.backend import GrepQuery, Matches
from codive_cli.tools.search.budget import Budget, in_thread
from codive_cli.tools.search.globbing import GlobMatcher
from codive_cli.tools.search.ignore import IgnoreRules, Level, read_level
from codive_cli.tools.search.scope import Scope

_BOM_UTF8 = b"\xef\xbb\xbf"
_BOM_UTF16 = (b"\xff\xfe", b"\xfe\xff")

_by_name = operator.attrgetter("name")
# Folders still being listed, depth first: each one's remaining entries and its rule chain.
_Stack = list[tuple[Iterator[os.DirEntry[str]], tuple[Level, ...]]]


def walk_files(rules: IgnoreRules, start: str, budget: Budget | None = None) -> Iterator[str]:
    """Absolute paths of the files under `start` that are not ignored, in `rg --sort path`
    order. `start` itself is walked even when it is ignored; symlinks are not followed."""
    start = os.path.realpath(start)
    parent_chain = rules.chain(os.path.dirname(start)) if start != "/" else ()
    stack: _Stack = []
    if budget is not None:
        budget.check()
    _enter(stack, start, parent_chain)
    checked = 0
    while stack:
        entries, chain = stack[-1]
        entry = next(entries, None)
        if entry is None:
            stack.pop()
            continue
        checked += 1
        if budget is not None and checked % 256 == 0:
            budget.check()
        is_dir = _walkable(entry)
        if is_dir is None or (chain and rules.matched(entry.path, is_dir, chain, start)):
            continue
        if is_dir:
            _enter(stack, entry.path, chain)
        else:
            yield entry.path


def _enter(stack: _Stack, folder: str, chain: tuple[Level, ...]) -> None:
    """Push `folder`'s entries, sorted by name, with its rules added to `chain`."""
    try:
        with os.scandir(folder) as it:
            entries = list(it)
        entries.sort(key=_by_name)
    except OSError:
        return
    level = read_level(folder, [entry.name for entry in entries])
    if level.counts:
        chain = (*chain, level)
    stack.append((iter(entries), chain))


def _walkable(entry: os.DirEntry[str]) -> bool | None:
    """True for a folder, False for a regular file, None for what the walk skips: `.git`,
    symlinks, sockets, devices."""
    if entry.name == ".git":
        return None
    try:
        is_dir = entry.is_dir(follow_symlinks=False)
        if not is_dir and not entry.is_file(follow_symlinks=False):
            return None
    except OSError:
        return None
    return is_dir


@dataclass
class WalkerBackend:
    """The search backend used when ripgrep is missing or switched off."""

    rules: IgnoreRules
    budget: Budget

    async def files(self, scope: Scope) -> list[str]:
        return await in_thread(lambda b: self._walk_rel(scope, b), self.budget)

    async def search(self, scope: Scope, query: GrepQuery) -> Matches:
        regex = compile_regex(query.pattern, query.ignore_case)
        matches = Matches(query.limit, "python")
        await in_thread(lambda b: self._grep(scope, regex, query.matcher, matches, b), self.budget)
        return matches

    def _walk_rel(self, scope: Scope, budget: Budget) -> list[str]:
        cut = len(scope.root) + 1
        return [path[cut:] for path in walk_files(self.rules, scope.target, budget)]

    def _grep(
        self,
        scope: Scope,
        regex: re.Pattern[str],
        matcher: GlobMatcher | None,
        matches: Matches,
        budget: Budget,
    ) -> None:
        cut = len(scope.root) + 1
        if not scope.is_dir:
            _grep_file(scope.target, scope.rel, regex, matches)
            return
        for index, path in enumerate(walk_files(self.rules, scope.target, budget)):
            if index % 64 == 0:
                budget.check()
            rel = path[cut:]
            if matcher is not None and not matcher(scope.under(rel)):
                continue
            if not _grep_file(path, rel, regex, matches):
                return


def compile_regex(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    """`pattern` compiled by Python's `re`; a ToolError that says how to fix it if invalid."""
    try:
        return re.compile(pattern, re.IGNORECASE if ignore_case else 0)
    except re.error as exc:
        raise ToolError(
            f"invalid regex {pattern!r}: {exc}. Escape special characters such as "
            "( ) [ ] { } . * + ? | \\ to match them literally."
        ) from None
    except (RecursionError, OverflowError) as exc:  # pragma: no cover - pathological
        raise ToolError(f"invalid regex {pattern!r}: {exc}") from None


def _grep_file(path: str, rel: str, regex: re.Pattern[str], matches: Matches) -> bool:
    """Search one file; False when the match limit is reached."""
    try:
        with open_regular(path) as f:
            data = f.read()
    except OSError:
        return True
    text = _decode_text(data)
    if text is None:
        return True
    if _whole_text_check(regex.pattern) and regex.search(text) is None:
        # No match in the whole text means none in any line (each is a substring of it).
        return True
    for number, line in enumerate(text.split("\n"), 1):
        if line.endswith("\r"):
            line = line[:-1]
        if regex.search(line) is not None and not matches.add(rel, number, line):
            return False
    return True


def _decode_text(data: bytes) -> str | None:
    """File bytes as text the way rg reads them, or None for a binary file."""
    if data.startswith(_BOM_UTF16):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            return None
    if b"\0" in data:
        return None
    if data.startswith(_BOM_UTF8):
        data = data[3:]
    return data.decode("utf-8", "replace")


def _whole_text_check(pattern: str) -> bool:
    """Whether a miss on a whole file proves a miss on each of its lines: not so for anchors
    and look-arounds, which see a line's edges differently."""
    return not any(token in pattern for token in ("^", "$", "\\A", "\\Z", "(?"))
