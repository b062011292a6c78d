"""The interface both search backends (ripgrep and the Python walker) implement."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from codive_cli.tools.search.globbing import GlobMatcher
from codive_cli.tools.search.scope import Scope

MAX_MATCH_LINE_CHARS = 400  # one grep output line's text, before "… [N more characters]"


@dataclass(frozen=True)
class GrepQuery:
    """What grep looks for: a regex, in files the glob matches, up to `limit` lines."""

    pattern: str
    ignore_case: bool
    matcher: GlobMatcher | None
    limit: int


@dataclass
class Matches:
    """Matching lines as (path relative to root, line number, text), up to a limit."""

    limit: int
    backend: str  # which backend found them: "ripgrep" or "python"
    items: list[tuple[str, int, str]] = field(default_factory=list)
    more: bool = False

    def add(self, rel: str, number: int, text: str) -> bool:
        """Record a match (its text cut to length); False once the limit is passed."""
        if len(self.items) >= self.limit:
            self.more = True
            return False
        self.items.append((rel, number, _truncate_line(text)))
        return True

    def adopt(self, items: list[tuple[str, int, str]]) -> None:
        """Take matches another `Matches` recorded (already cut: cutting twice would
        count the characters of the first cut's text, not the line's)."""
        room = self.limit - len(self.items)
        self.items.extend(items[:room])
        self.more = self.more or len(items) > room


def _truncate_line(text: str) -> str:
    if len(text) <= MAX_MATCH_LINE_CHARS:
        return text
    return text[:MAX_MATCH_LINE_CHARS] + f"… [{len(text) - MAX_MATCH_LINE_CHARS} more characters]"


class Backend(Protocol):
    """Lists and searches the files of a scope that .gitignore rules keep."""

    async def files(self, scope: Scope) -> list[str]:
        """Paths (relative to the root) of the files under the scope that are not ignored,
        in no particular order."""
        ...

    async def search(self, scope: Scope, query: GrepQuery) -> Matches:
        """The lines matching the query, in `rg --sort path` order."""
        ...


def sort_key(rel: str) -> list[str]:
    """The order `rg --sort path` gives: folder by folder, names sorted."""
    return rel.split("/")
