"""The ripgrep backend, and the choice between it and the Python walker."""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from codive_cli.tools.base import ToolError
from codive_cli.tools.search.backend import Backend, GrepQuery, Matches, sort_key
from codive_cli.tools.search.budget import Budget
from codive_cli.tools.search.globbing import GlobMatcher
from codive_cli.tools.search.ignore import IgnoreRules
from codive_cli.tools.search.rg_process import RgRun, base_args, relative
from codive_cli.tools.search.scope import Scope
from codive_cli.tools.search.walk import WalkerBackend

# Switch ripgrep off (tests, the benchmark, or a broken rg): this, or CODIVE_NO_RIPGREP=1.
USE_RIPGREP = True
NO_RIPGREP_ENV = "CODIVE_NO_RIPGREP"

# Matches an unsorted (parallel) rg run may collect before a sorted run is needed instead.
UNSORTED_LIMIT = 2_000
# Explicit file arguments per rg run (well under the kernel's argument-size limit).
_MAX_ARG_BYTES = 96 * 1024
_RG_MATCH = re.compile(rb"(\d+):")


def ripgrep() -> str | None:
    """The rg executable to use, or None for the Python fallback.

    An rg installed beside this interpreter (`pip install ripgrep`) comes first: on PATH
    there may be a version manager's shim that costs more to start than a search takes."""
    if not USE_RIPGREP:
        return None
    if os.environ.get(NO_RIPGREP_ENV, "").strip().lower() not in ("", "0", "false", "no"):
        return None
    beside = os.path.join(os.path.dirname(sys.executable), "rg")
    if os.path.isfile(beside) and os.access(beside, os.X_OK):
        return beside
    return shutil.which("rg")


def pick_backend(rules: IgnoreRules, budget: Budget) -> Backend:
    """ripgrep when it is found and allowed, the Python walker otherwise."""
    rg = ripgrep()
    if rg is None:
        return WalkerBackend(rules, budget)
    return RipgrepBackend(rg, rules, budget)


class _RegexUnsupported(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class RipgrepBackend:
    """Runs `rg` for each listing or search; falls back to the walker for regex syntax that
    only Python's `re` knows."""

    rg: str
    rules: IgnoreRules
    budget: Budget

    async def files(self, scope: Scope) -> list[str]:
        chunks: list[bytes] = []

        def take(chunk: bytes) -> bool:
            chunks.append(chunk)
            return True

        run = RgRun(
            self.rg, [*base_args(self.rules), "--files", "--", scope.rel or "."], scope.root
        )
        await run.run(take, self.budget, whole=True)
        # One decode and one split for the lot: tens of thousands of lines, no Python loop.
        files = os.fsdecode(b"".join(chunks)).split("\n")
        if files and files[-1] == "":
            files.pop()
        if run.returncode not in (0, 1) and not files:
            message = run.stderr.decode("utf-8", "replace").strip()
            raise ToolError(f"listing files failed: {message or f'rg exited {run.returncode}'}")
        if not scope.rel:
            files = [name[2:] if name.startswith("./") else name for name in files]
        return files

    async def search(self, scope: Scope, query: GrepQuery) -> Matches:
        try:
            return await self._search(scope, query)
        except _RegexUnsupported as exc:
            # Syntax rg's engine lacks (look-around, back-references): Python's re may
            # have it; if not, the model gets rg's message, which points at the problem.
            try:
                re.compile(query.pattern)
            except re.error:
                raise ToolError(
                    f"invalid regex {query.pattern!r}:\n{exc.message}\nEscape special "
                    "characters such as ( ) [ ] { } . * + ? | \\ to match them literally."
                ) from None
            return await WalkerBackend(self.rules, self.budget).search(scope, query)

    async def _search(self, scope: Scope, query: GrepQuery) -> Matches:
        matches = Matches(query.limit, "ripgrep")
        args = _grep_args(self.rules, query)
        matcher = query.matcher
        if matcher is None or not scope.is_dir:
            await self._search_paths(args, scope, [scope.rel or "."], matches)
        elif matcher.basename:
            args += ["--type-add", f"codiveglob:{matcher.pattern}", "--type", "codiveglob"]
            await self._search_paths(args, scope, [scope.rel or "."], matches)
        else:
            # A glob with folders: rg's own --glob would override .gitignore, so list the files
            # that rg does not skip, keep those the glob matches, and search them by name.
            for batch in _batches(await self._chosen(scope, matcher)):
                await self._search_paths(args, scope, batch, matches)
                if matches.more:
                    break
        return matches

    async def _chosen(self, scope: Scope, matcher: GlobMatcher) -> list[str]:
        """The files rg does not skip that the glob matches, in path order."""
        listed = await self.files(scope)
        return sorted((rel for rel in listed if matcher(scope.under(rel))), key=sort_key)

    async def _search_paths(
        self, args: list[str], scope: Scope, paths: list[str], matches: Matches
    ) -> None:
        # rg searches in parallel only when it need not sort. So: search unsorted and sort
        # here; only when there are too many matches to hold, search again with rg's
        # `--sort path` (one thread), which stops as soon as the cap is reached.
        loose = Matches(UNSORTED_LIMIT, "ripgrep")
        await self._run(args, scope, paths, loose)
        if loose.more:
            await self._run([*args, "--sort", "path"], scope, paths, matches)
            return
        loose.items.sort(key=lambda item: (sort_key(item[0]), item[1]))
        matches.adopt(loose.items)

    async def _run(self, args: list[str], scope: Scope, paths: list[str], into: Matches) -> None:
        run = RgRun(self.rg, [*args, "--", *paths], scope.root)
        await run.run(_taker(into), self.budget)
        if run.returncode == 2:
            message = run.stderr.decode("utf-8", "replace").strip()
            if message.startswith("rg: regex parse error") or "in a regex" in message:
                raise _RegexUnsupported(message.removeprefix("rg: "))


def _grep_args(rules: IgnoreRules, query: GrepQuery) -> list[str]:
    args = [
        *base_args(rules),
        "--line-number",
        "--no-heading",
        "--color",
        "never",
        "--with-filename",
        "--null",
        "--crlf",
    ]
    if query.ignore_case:
        args.append("--ignore-case")
    return [*args, "--regexp", query.pattern]


def _taker(into: Matches) -> Callable[[bytes], bool]:
    """An rg output handler that adds each match to `into`; False once it is full."""

    def take(line: bytes) -> bool:
        found = _parse_match(line)
        return found is None or into.add(*found)

    return take


def _parse_match(line: bytes) -> tuple[str, int, str] | None:
    """A `path NUL number:text` line of rg output as (path, number, text); None otherwise."""
    raw_path, sep, rest = line.partition(b"\0")
    if not sep:
        return None
    found = _RG_MATCH.match(rest)
    if found is None:
        return None  # "binary file matches" and other notices
    text = rest[found.end() :]
    if text.endswith(b"\r"):
        text = text[:-1]
    return relative(raw_path), int(found.group(1)), text.decode("utf-8", "replace")


def _batches(rels: list[str]) -> Iterator[list[str]]:
    """`rels` cut into runs whose names fit on one command line."""
    batch: list[str] = []
    size = 0
    for rel in rels:
        if batch and size + len(rel) + 1 > _MAX_ARG_BYTES:
            yield batch
            batch, size = [], 0
        batch.append(rel)
        size += len(os.fsencode(rel)) + 1
    if batch:
        yield batch
