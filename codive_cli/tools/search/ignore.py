"""Which paths .gitignore files exclude, read the way ripgrep reads them (with pathspec)."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from codive_cli.policy.regular import open_regular

_GROUP = re.compile(r"\(\?P<\w+>")


@dataclass(frozen=True)
class Level:
    """The ignore rules of one folder: its .gitignore patterns, last one first."""

    path: str  # absolute, no trailing slash ("/" for the file-system root)
    patterns: tuple[tuple[re.Pattern[str], bool], ...]  # (regex, ignores?) in reverse order
    has_git: bool  # the folder holds a .git (a repository's top)
    cut: int = field(init=False)  # length of "path/": what to strip to get a relative path
    # All patterns in one regex: most paths match none, and one test says so.
    any: re.Pattern[str] | None = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "cut", 1 if self.path == "/" else len(self.path) + 1)
        combined = None
        if self.patterns:
            combined = re.compile(
                "|".join(f"(?:{_GROUP.sub('(?:', rx.pattern)})" for rx, _ in self.patterns)
            )
        object.__setattr__(self, "any", combined)

    @property
    def counts(self) -> bool:
        """Whether this level changes anything: it has rules or starts a repository."""
        return bool(self.patterns) or self.has_git


def _parse_gitignore(text: str) -> tuple[tuple[re.Pattern[str], bool], ...]:
    """Compile .gitignore lines with pathspec; a line it rejects is skipped, as git does."""
    from pathspec import GitIgnoreSpec  # ~10 ms: loaded by the first search, not at start-up

    compiled: list[tuple[re.Pattern[str], bool]] = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        try:
            spec = GitIgnoreSpec.from_lines([line])
        except Exception:  # pathspec raises its own error types for malformed patterns
            continue
        for pattern in spec.patterns:
            regex = getattr(pattern, "regex", None)
            if isinstance(regex, re.Pattern) and pattern.include is not None:
                compiled.append((regex, bool(pattern.include)))
    compiled.reverse()
    return tuple(compiled)


def read_level(path: str, names: Sequence[str] | None = None) -> Level:
    """The rules of folder `path`; `names`, when the caller listed the folder, saves lookups."""
    if names is None:
        has_git = os.path.lexists(os.path.join(path, ".git"))
        has_ignore = True
    else:
        has_git = ".git" in names
        has_ignore = ".gitignore" in names
    patterns: tuple[tuple[re.Pattern[str], bool], ...] = ()
    if has_ignore:
        try:
            with open_regular(os.path.join(path, ".gitignore")) as f:
                patterns = _parse_gitignore(f.read(1 << 20).decode("utf-8", "replace"))
        except OSError:  # missing, unreadable, or a FIFO that would block: no rules
            pass
    return Level(path, patterns, has_git)


def _in_git_repository(path: str) -> bool:
    current = path
    while True:
        if os.path.lexists(os.path.join(current, ".git")):
            return True
        parent = os.path.dirname(current)
        if parent == current:
            return False
        current = parent


@dataclass
class IgnoreRules:
    """Which paths .gitignore files exclude, read the way ripgrep reads them.

    Inside a git repository, rules apply from the repository's top down (a nested repository
    starts afresh); outside one, every .gitignore from `/` down applies. Within a .gitignore the
    last matching pattern wins; a deeper .gitignore wins over a shallower one.
    """

    root: str
    git: bool = field(init=False)

    def __post_init__(self) -> None:
        self.root = os.path.realpath(self.root)
        self.git = _in_git_repository(self.root)

    def chain(self, folder: str) -> tuple[Level, ...]:
        """The levels whose rules apply to entries of `folder` (outermost first)."""
        folder = os.path.realpath(folder)
        paths = [folder]
        while (parent := os.path.dirname(paths[-1])) != paths[-1]:
            paths.append(parent)
        levels = [read_level(path) for path in reversed(paths)]
        return tuple(level for level in levels if level.counts)

    def matched(
        self, path: str, is_dir: bool, chain: Sequence[Level], start: str | None = None
    ) -> bool:
        """Whether `path` (absolute, under the folder `chain` describes) is ignored.

        Only `path` itself is judged, not its folders (a walk prunes those). With `start` (a
        folder named explicitly, searched even if ignored), a pattern that matches only
        `start` or one of its parents does not count.
        """
        for level in reversed(chain):
            cut = level.cut
            candidate = path[cut:] + ("/" if is_dir else "")
            if level.any is None or level.any.match(candidate) is None:
                if self.git and level.has_git:
                    break
                continue
            threshold = 0
            if start is not None and (
                start == level.path or start.startswith(level.path.rstrip("/") + "/")
            ):
                threshold = len(start) - cut + 1
            for regex, ignores in level.patterns:
                found = regex.match(candidate)
                if found is not None and found.end() > threshold:
                    return ignores
            if self.git and level.has_git:
                break
        return False

    def ignored(self, path: str | Path) -> bool:
        """Whether `path` (inside the root) or any folder between it and the root is ignored."""
        target = os.path.realpath(path)
        if target == self.root or not target.startswith(self.root + os.sep):
            return False
        parts = target[len(self.root) + 1 :].split(os.sep)
        chain = self.chain(self.root)
        current = self.root
        for index, part in enumerate(parts):
            current = os.path.join(current, part)
            is_dir = index < len(parts) - 1 or os.path.isdir(current)
            if self.matched(current, is_dir, chain):
                return True
            if is_dir:
                level = read_level(current)
                if level.counts:
                    chain = (*chain, level)
        return False
