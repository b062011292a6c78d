"""The `glob` and `grep` tools, and the .gitignore-aware file walk they share with `list_dir`.

Two backends give the same answers:

- ripgrep (`rg`), when `shutil.which("rg")` finds it: fast, run as a subprocess with no stdin,
  a timeout, and `--no-config` so a person's `RIPGREP_CONFIG_PATH` cannot change results;
- a Python walker (`os.scandir`, pruning ignored folders, reading .gitignore files with
  `pathspec`) and Python's `re`, used when rg is missing or switched off: set
  `search.USE_RIPGREP = False`, or `CODIVE_NO_RIPGREP=1` in the environment.

Which files count is ripgrep's rule, mirrored by the walker: hidden files are included,
`.git` is always skipped, symlinks are not followed, .gitignore files apply from the folder
that holds them down (in a git repository: from its top; outside one: from `/`), and a path
named explicitly is searched even when it is itself ignored. `.ignore`, `.rgignore`,
`.git/info/exclude` and the global git excludes are not read by either backend.

Results are ordered the way `rg --sort path` orders them (depth first, names sorted), so the
first 500 matches are the same 500 whichever backend finds them.
"""

from __future__ import annotations

import asyncio
import contextlib
import operator
import os
import re
import shutil
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from pathspec import GitIgnoreSpec

from codive_cli.tools.base import (
    MAX_RESULT_CHARS,
    NOT_REGULAR,
    Tool,
    ToolContext,
    ToolError,
    ToolKind,
    ToolResult,
    open_regular,
    require_string,
)

_T = TypeVar("_T")

# Switch ripgrep off (tests, the benchmark, or a broken rg): this, or CODIVE_NO_RIPGREP=1.
USE_RIPGREP = True
NO_RIPGREP_ENV = "CODIVE_NO_RIPGREP"

SEARCH_TIMEOUT = 60.0  # seconds for one glob or grep call
MAX_GLOB_RESULTS = 1000
MAX_GREP_MATCHES = 500
MAX_MATCH_LINE_CHARS = 400  # one grep output line's text, before "… [N more characters]"
BINARY_SNIFF_BYTES = 8192
# Output kept below the result bound so that the closing note is never cut off.
_OUTPUT_BUDGET = MAX_RESULT_CHARS - 1000
# A line of rg output longer than this is cut (a minified file); its text is truncated anyway.
_MAX_RG_LINE_BYTES = 1 << 20
# Explicit file arguments per rg run (well under the kernel's argument-size limit).
_MAX_ARG_BYTES = 96 * 1024

_BOM_UTF8 = b"\xef\xbb\xbf"
_BOM_UTF16 = (b"\xff\xfe", b"\xfe\xff")


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


# -- .gitignore rules ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Level:
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


_GROUP = re.compile(r"\(\?P<\w+>")


def _parse_gitignore(text: str) -> tuple[tuple[re.Pattern[str], bool], ...]:
    """Compile .gitignore lines with pathspec; a line it rejects is skipped, as git does."""
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


def _read_level(path: str, names: Sequence[str] | None = None) -> _Level:
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
    return _Level(path, patterns, has_git)


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

    def chain(self, folder: str) -> tuple[_Level, ...]:
        """The levels whose rules apply to entries of `folder` (outermost first)."""
        folder = os.path.realpath(folder)
        paths = [folder]
        while (parent := os.path.dirname(paths[-1])) != paths[-1]:
            paths.append(parent)
        levels = [_read_level(path) for path in reversed(paths)]
        return tuple(level for level in levels if level.patterns or level.has_git)

    def matched(
        self, path: str, is_dir: bool, chain: Sequence[_Level], start: str | None = None
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
                level = _read_level(current)
                if level.patterns or level.has_git:
                    chain = (*chain, level)
        return False


# -- the walk ---------------------------------------------------------------------------------


class _Cancelled(Exception):
    pass


class Budget:
    """A deadline and a cancel flag, checked by work running in a thread."""

    def __init__(self, timeout: float | None = None, what: str = "search") -> None:
        timeout = SEARCH_TIMEOUT if timeout is None else timeout
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout
        self.cancelled = threading.Event()
        self.what = what

    def check(self) -> None:
        if self.cancelled.is_set():
            raise _Cancelled
        if time.monotonic() > self.deadline:
            raise ToolError(
                f"{self.what} timed out after {self.timeout:g}s; "
                "narrow it with a more specific path or glob"
            )


_by_name = operator.attrgetter("name")


def walk_files(rules: IgnoreRules, start: str, budget: Budget | None = None) -> Iterator[str]:
    """Absolute paths of the files under `start` that are not ignored, in `rg --sort path`
    order. `start` itself is walked even when it is ignored; symlinks are not followed."""
    start = os.path.realpath(start)
    parent_chain = rules.chain(os.path.dirname(start)) if start != "/" else ()
    # Depth first, each folder's entries sorted by name: a stack of pending iterators.
    pending: list[Iterator[os.DirEntry[str]]] = []
    chains: list[tuple[_Level, ...]] = []

    def enter(folder: str, chain: tuple[_Level, ...]) -> None:
        try:
            with os.scandir(folder) as it:
                entries = list(it)
            entries.sort(key=_by_name)
        except OSError:
            return
        level = _read_level(folder, [entry.name for entry in entries])
        if level.patterns or level.has_git:
            chain = (*chain, level)
        pending.append(iter(entries))
        chains.append(chain)

    if budget is not None:
        budget.check()
    enter(start, parent_chain)
    checked = 0
    while pending:
        entry = next(pending[-1], None)
        if entry is None:
            pending.pop()
            chains.pop()
            continue
        checked += 1
        if budget is not None and checked % 256 == 0:
            budget.check()
        name = entry.name
        if name == ".git":
            continue
        try:
            is_dir = entry.is_dir(follow_symlinks=False)
            if not is_dir and not entry.is_file(follow_symlinks=False):
                continue  # symlinks, sockets, devices
        except OSError:
            continue
        if chains[-1] and rules.matched(entry.path, is_dir, chains[-1], start):
            continue
        if is_dir:
            enter(entry.path, chains[-1])
        else:
            yield entry.path


def _sort_key(rel: str) -> list[str]:
    return rel.split("/")


# -- glob patterns ----------------------------------------------------------------------------


def _translate_glob(pattern: str) -> str:
    """A glob (gitignore-style: `*`, `?`, `[...]`, `**`, plus `{a,b}`) as a regex body."""
    out: list[str] = []
    i = 0
    depth = 0
    n = len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            if pattern.startswith("**", i):
                at_start = i == 0 or pattern[i - 1] == "/"
                j = i + 2
                while j < n and pattern[j] == "*":
                    j += 1
                if at_start and j < n and pattern[j] == "/":
                    out.append("(?:[^/]*/)*")
                    i = j + 1
                    continue
                if at_start and j == n:
                    out.append(".*")
                    i = j
                    continue
                out.append("[^/]*")
                i = j
                continue
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            j = i + 1
            if j < n and pattern[j] in "!^":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1
            while j < n and pattern[j] != "]":
                j += 1
            if j >= n:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1 : j]
                negate = body[:1] in ("!", "^")
                if negate:
                    body = body[1:]
                chars = "".join(ch if ch == "-" else re.escape(ch) for ch in body)
                out.append(f"[^/{chars}]" if negate else f"[{chars}]")
                i = j
        elif c == "{":
            depth += 1
            out.append("(?:")
        elif c == "}" and depth:
            depth -= 1
            out.append(")")
        elif c == "," and depth:
            out.append("|")
        elif c == "\\" and i + 1 < n:
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(c))
        i += 1
    if depth:
        raise ToolError(f"glob {pattern!r} has an unclosed '{{'")
    return "".join(out)


@dataclass(frozen=True)
class GlobMatcher:
    """Matches file paths relative to the searched folder.

    A pattern without `/` matches the file name at any depth (`*.py`, `test_*.{js,ts}`); one
    with `/` matches the whole relative path (`src/**/*.rs`, `docs/*.md`); `**` spans folders.
    """

    pattern: str
    basename: bool
    regex: re.Pattern[str]

    @classmethod
    def compile(cls, pattern: str) -> GlobMatcher:
        text = pattern.strip()
        if not text:
            raise ToolError("glob pattern is empty: give one such as '*.py' or 'src/**/*.ts'")
        while text.startswith("./"):
            text = text[2:]
        text = text.lstrip("/")
        if text.endswith("/"):
            text += "**"
        if not text:
            text = "**"
        basename = "/" not in text
        try:
            regex = re.compile(_translate_glob(text), re.DOTALL)
        except re.error as exc:
            raise ToolError(f"invalid glob {pattern!r}: {exc}") from None
        return cls(text, basename, regex)

    def __call__(self, rel: str) -> bool:
        target = rel.rpartition("/")[2] if self.basename else rel
        return self.regex.fullmatch(target) is not None


# -- shared helpers --------------------------------------------------------------------------


@dataclass
class _Scope:
    root: str  # the workspace root, real path
    target: str  # the searched path, real and absolute
    rel: str  # target relative to root ("" for the root)
    is_dir: bool
    shown: str  # for messages


def _scope(arguments: dict[str, Any], context: ToolContext, *, files_ok: bool) -> _Scope:
    raw = arguments.get("path")
    if raw is None or raw == "":
        raw = "."
    if not isinstance(raw, str):
        raise ToolError("path must be a string (a folder relative to the workspace root)")
    target = Path(context.guard.resolve(raw))
    root = os.path.realpath(context.root)
    real = os.path.realpath(target)
    shown = context.guard.relative(target)
    try:
        mode = os.stat(real).st_mode
    except OSError:
        raise ToolError(
            f"{raw!r} does not exist; use list_dir or glob to find the right path"
        ) from None
    is_dir = stat.S_ISDIR(mode)
    if not is_dir and not stat.S_ISREG(mode):  # a FIFO would block the search until a writer
        wanted = "a folder or a regular file" if files_ok else "a folder"
        raise ToolError(f"{raw!r} {NOT_REGULAR}: give {wanted} to search in")
    if not is_dir and not files_ok:
        raise ToolError(f"{raw!r} is a file, not a folder: give the folder to search in")
    rel = "" if real == root else os.path.relpath(real, root)
    return _Scope(root, real, rel, is_dir, shown)


def _display_path(rel: str) -> str:
    return rel.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _optional_string(arguments: dict[str, Any], name: str) -> str | None:
    value = arguments.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ToolError(f"{name} must be a string")
    return value


async def _in_thread(work: Callable[[Budget], _T], budget: Budget) -> _T:
    """Run blocking work in a thread; if the caller is cancelled, the work stops soon after."""
    try:
        return await asyncio.to_thread(work, budget)
    except asyncio.CancelledError:
        budget.cancelled.set()
        raise
    except _Cancelled:  # pragma: no cover - only after the caller was cancelled
        raise asyncio.CancelledError from None


def _rg_base_args(rules: IgnoreRules) -> list[str]:
    args = [
        "--no-config",
        "--hidden",
        "--no-ignore-dot",
        "--no-ignore-exclude",
        "--no-ignore-global",
        "--glob",
        "!.git",
    ]
    if not rules.git:
        args.append("--no-require-git")
    return args


class _RgRun:
    """One ripgrep process, its output read line by line until the consumer has enough."""

    def __init__(self, rg: str, args: list[str], cwd: str) -> None:
        self.rg = rg
        self.args = args
        self.cwd = cwd
        self.returncode: int | None = None
        self.stderr = b""

    async def run(
        self, on_line: Callable[[bytes], bool], budget: Budget, *, whole: bool = False
    ) -> None:
        """Feed each stdout line (or, with `whole`, each chunk as read) to `on_line` until it
        returns False or the output ends."""
        proc = await asyncio.create_subprocess_exec(
            self.rg,
            *self.args,
            cwd=self.cwd,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        assert proc.stdout is not None and proc.stderr is not None
        errors = asyncio.ensure_future(_read_bounded(proc.stderr, 64 * 1024))
        finished = False
        try:
            remaining = max(0.0, budget.deadline - time.monotonic())
            try:
                pump = _chunks(proc.stdout, on_line) if whole else _pump(proc.stdout, on_line)
                finished = await asyncio.wait_for(pump, remaining)
            except TimeoutError:
                raise ToolError(
                    f"{budget.what} timed out after {budget.timeout:g}s; "
                    "narrow it with a more specific path or glob"
                ) from None
        finally:
            await asyncio.shield(self._finish(proc, kill=not finished))
            self.returncode = proc.returncode
            self.stderr = await errors

    @staticmethod
    async def _finish(proc: asyncio.subprocess.Process, *, kill: bool) -> None:
        # Kill only a process we stopped reading from: signalling one that has ended
        # would reap it behind asyncio's child watcher (which then reports exit 255).
        if kill and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
        # Read stdout to its end: wait() returns only once every pipe is closed, and a
        # reader left with a full buffer stops reading, so it would never see the end.
        assert proc.stdout is not None
        while await proc.stdout.read(1 << 16):
            pass
        await proc.wait()


async def _read_bounded(stream: asyncio.StreamReader, limit: int) -> bytes:
    kept = bytearray()
    while chunk := await stream.read(65536):
        if len(kept) < limit:
            kept += chunk[: limit - len(kept)]
    return bytes(kept)


async def _chunks(stream: asyncio.StreamReader, on_chunk: Callable[[bytes], bool]) -> bool:
    while chunk := await stream.read(1 << 16):
        if not on_chunk(chunk):
            return False
    return True


async def _pump(stream: asyncio.StreamReader, on_line: Callable[[bytes], bool]) -> bool:
    """Split `stream` into lines for `on_line`; True if the stream ended, False if stopped."""
    buffer = bytearray()
    skipping = False  # inside an over-long line whose head was already handed on
    while True:
        chunk = await stream.read(1 << 16)
        if not chunk:
            break
        buffer += chunk
        start = 0
        while (newline := buffer.find(b"\n", start)) != -1:
            line = bytes(buffer[start:newline])
            start = newline + 1
            if skipping:
                skipping = False
                continue
            if not on_line(line):
                return False
        del buffer[:start]
        if len(buffer) > _MAX_RG_LINE_BYTES:
            if not skipping and not on_line(bytes(buffer[:_MAX_RG_LINE_BYTES])):
                return False
            skipping = True
            buffer.clear()
    if buffer and not skipping:
        return on_line(bytes(buffer))
    return True


def _rg_relative(raw: bytes) -> str:
    text = os.fsdecode(raw)
    while text.startswith("./"):
        text = text[2:]
    return text


# -- glob -------------------------------------------------------------------------------------


class GlobTool(Tool):
    name: ClassVar[str] = "glob"
    description: ClassVar[str] = (
        "Find files by name pattern. Returns matching file paths relative to the workspace "
        "root, one per line, newest first (by modification time). Files ignored by .gitignore "
        "and anything under .git are skipped; hidden files are included; symlinks are not "
        "followed. The pattern is matched relative to `path` (default: the workspace root): "
        "a pattern without '/' matches file names at any depth ('*.py', 'test_*.{js,ts}'), "
        "one with '/' matches the relative path ('src/**/*.rs', 'docs/*.md'); '**' spans "
        f"folders, '{{a,b}}' gives alternatives. At most {MAX_GLOB_RESULTS} paths are "
        "returned; if there are more, the result says so: narrow the pattern or the path. "
        "Use grep to search file contents, list_dir to see one folder."
    )
    parameters: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "pattern": {
                "type": "string",
                "description": "Glob such as '**/*.py', '*.{ts,tsx}' or 'src/**/test_*.py'.",
            },
            "path": {
                "type": "string",
                "description": "Folder to search in, relative to the workspace root "
                "(default: the root).",
            },
        },
        "required": ["pattern"],
        "additionalProperties": False,
    }
    kind: ClassVar[ToolKind] = "read"

    async def run(self, arguments: dict[str, Any], context: ToolContext) -> ToolResult:
        pattern = require_string(arguments, "pattern")
        matcher = GlobMatcher.compile(pattern)
        scope = _scope(arguments, context, files_ok=False)
        rules = IgnoreRules(scope.root)
        budget = Budget(what="glob")
        rg = ripgrep()
        if rg is not None:
            files = await _rg_list_files(rg, rules, scope, budget)
        else:
            files = await _in_thread(lambda b: _walk_rel(rules, scope, b), budget)
        return await _in_thread(lambda b: _glob_result(pattern, matcher, scope, files, b), budget)


async def _rg_list_files(rg: str, rules: IgnoreRules, scope: _Scope, budget: Budget) -> list[str]:
    """Files under the scope (relative to the root) that rg does not skip."""
    chunks: list[bytes] = []

    def take(chunk: bytes) -> bool:
        chunks.append(chunk)
        return True

    run = _RgRun(rg, [*_rg_base_args(rules), "--files", "--", scope.rel or "."], scope.root)
    await run.run(take, budget, whole=True)
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


def _walk_rel(rules: IgnoreRules, scope: _Scope, budget: Budget) -> list[str]:
    cut = len(scope.root) + 1
    return [path[cut:] for path in walk_files(rules, scope.target, budget)]


def _under(scope: _Scope, rel: str) -> str:
    """`rel` (relative to the root) made relative to the searched folder."""
    return rel[len(scope.rel) + 1 :] if scope.rel else rel


def _glob_result(
    pattern: str, matcher: GlobMatcher, scope: _Scope, files: list[str], budget: Budget
) -> ToolResult:
    found: list[tuple[float, str]] = []
    for index, rel in enumerate(files):
        if index % 1024 == 0:
            budget.check()
        if not matcher(_under(scope, rel)):
            continue
        try:
            mtime = os.stat(os.path.join(scope.root, rel), follow_symlinks=False).st_mtime
        except OSError:
            continue
        found.append((-mtime, rel))
    where = "the workspace" if not scope.rel else repr(scope.shown)
    if not found:
        return ToolResult(
            f"No files match {pattern!r} in {where} (files ignored by .gitignore are "
            "skipped). Try a broader pattern such as '**/*name*'.",
            metadata={"count": 0},
        )
    found.sort()
    lines: list[str] = []
    size = 0
    for _, rel in found[:MAX_GLOB_RESULTS]:
        shown = _display_path(rel)
        if size + len(shown) + 1 > _OUTPUT_BUDGET:
            break
        lines.append(shown)
        size += len(shown) + 1
    total = len(found)
    header = f"{total} file{'s' if total != 1 else ''} match {pattern!r} in {where}"
    if len(lines) < total:
        header += (
            f"; showing the {len(lines)} most recently modified. Narrow the pattern or the "
            "path to see the others."
        )
    else:
        header += " (newest first):"
    return ToolResult(
        header + "\n" + "\n".join(lines), metadata={"count": total, "shown": len(lines)}
    )


# -- grep -------------------------------------------------------------------------------------


@dataclass
class _Matches:
    """Matching lines as (path relative to root, line number, text), up to a limit."""

    limit: int
    items: list[tuple[str, int, str]] = field(default_factory=list)
    more: bool = False

    def add(self, rel: str, number: int, text: str) -> bool:
        """Record a match (its text cut to length); False once the limit is passed."""
        if len(self.items) >= self.limit:
            self.more = True
            return False
        self.items.append((rel, number, _truncate_line(text)))
        return True


_RG_MATCH = re.compile(rb"(\d+):")
# Matches an unsorted (parallel) rg run may collect before a sorted run is needed instead.
_UNSORTED_LIMIT = 2_000


def _truncate_line(text: str) -> str:
    if len(text) <= MAX_MATCH_LINE_CHARS:
        return text
    return text[:MAX_MATCH_LINE_CHARS] + f"… [{len(text) - MAX_MATCH_LINE_CHARS} more characters]"


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


def _grep_file(path: str, rel: str, regex: re.Pattern[str], matches: _Matches) -> bool:
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


def _python_grep(
    rules: IgnoreRules,
    scope: _Scope,
    regex: re.Pattern[str],
    matcher: GlobMatcher | None,
    matches: _Matches,
    budget: Budget,
) -> None:
    cut = len(scope.root) + 1
    if not scope.is_dir:
        _grep_file(scope.target, scope.rel, regex, matches)
        return
    for index, path in enumerate(walk_files(rules, scope.target, budget)):
        if index % 64 == 0:
            budget.check()
        rel = path[cut:]
        if matcher is not None and not matcher(_under(scope, rel)):
            continue
        if not _grep_file(path, rel, regex, matches):
            return


def _compile_regex(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    try:
        return re.compile(pattern, re.IGNORECASE if ignore_case else 0)
    except re.error as exc:
        raise ToolError(
            f"invalid regex {pattern!r}: {exc}. Escape special characters such as "
            "( ) [ ] { } . * + ? | \\ to match them literally."
        ) from None
    except (RecursionError, OverflowError) as exc:  # pragma: no cover - pathological
        raise ToolError(f"invalid regex {pattern!r}: {exc}") from None


class _RegexUnsupported(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


async def _rg_grep(
    rg: str,
    rules: IgnoreRules,
    scope: _Scope,
    pattern: str,
    ignore_case: bool,
    matcher: GlobMatcher | None,
    matches: _Matches,
    budget: Budget,
) -> None:
    args = [
        *_rg_base_args(rules),
        "--line-number",
        "--no-heading",
        "--color",
        "never",
        "--with-filename",
        "--null",
        "--crlf",
    ]
    if ignore_case:
        args.append("--ignore-case")
    args += ["--regexp", pattern]

    def taker(into: _Matches) -> Callable[[bytes], bool]:
        def take(line: bytes) -> bool:
            raw_path, sep, rest = line.partition(b"\0")
            if not sep:
                return True
            found = _RG_MATCH.match(rest)
            if found is None:
                return True  # "binary file matches" and other notices
            text = rest[found.end() :]
            if text.endswith(b"\r"):
                text = text[:-1]
            rel = _rg_relative(raw_path)
            return into.add(rel, int(found.group(1)), text.decode("utf-8", "replace"))

        return take

    async def run_rg(extra: list[str], paths: list[str], into: _Matches) -> None:
        run = _RgRun(rg, [*args, *extra, "--", *paths], scope.root)
        await run.run(taker(into), budget)
        if run.returncode == 2:
            message = run.stderr.decode("utf-8", "replace").strip()
            if message.startswith("rg: regex parse error") or "in a regex" in message:
                raise _RegexUnsupported(message.removeprefix("rg: "))

    async def search(paths: list[str]) -> None:
        # rg searches in parallel only when it need not sort. So: search unsorted and sort
        # here; only when there are too many matches to hold, search again with rg's
        # `--sort path` (one thread), which stops as soon as the cap is reached.
        loose = _Matches(_UNSORTED_LIMIT)
        await run_rg([], paths, loose)
        if loose.more:
            await run_rg(["--sort", "path"], paths, matches)
            return
        loose.items.sort(key=lambda item: (_sort_key(item[0]), item[1]))
        for item in loose.items:
            if not matches.add(*item):
                return

    if matcher is None or not scope.is_dir:
        await search([scope.rel or "."])
        return
    if matcher.basename:
        args += ["--type-add", f"codiveglob:{matcher.pattern}", "--type", "codiveglob"]
        await search([scope.rel or "."])
        return
    # A glob with folders: rg's own --glob would override .gitignore, so list the files that
    # rg does not skip, keep those the glob matches, and search them by name, in batches.
    listed = await _rg_list_files(rg, rules, scope, budget)
    chosen = sorted((rel for rel in listed if matcher(_under(scope, rel))), key=_sort_key)
    batch: list[str] = []
    size = 0
    for rel in chosen:
        if batch and size + len(rel) + 1 > _MAX_ARG_BYTES:
            await search(batch)
            if matches.more:
                return
            batch, size = [], 0
        batch.append(rel)
        size += len(os.fsencode(rel)) + 1
    if batch:
        await search(batch)


class GrepTool(Tool):
    name: ClassVar[str] = "grep"
    description: ClassVar[str] = (
        "Search file contents with a regular expression. Returns matching lines as "
        "'path:line: text' (path relative to the workspace root, line numbers from 1), in "
        "path order. Searches `path` (a folder or one file; default: the whole workspace), "
        "skipping files ignored by .gitignore, anything under .git, and binary files. "
        "The regex is matched against one line at a time (ripgrep / Python syntax: escape "
        "( ) [ ] { } . * + ? | \\ to match them literally; '\\b' word boundary). `glob` "
        "limits which files are searched ('*.py', '*.{ts,tsx}', 'src/**/*.go'); "
        "`ignore_case` makes it case-insensitive. Lines longer than "
        f"{MAX_MATCH_LINE_CHARS} characters are cut; at most {MAX_GREP_MATCHES} matching "
        "lines are returned and the result says when there are more: narrow the pattern, "
        "path or glob, then read_file the file around the line you want."
    )
    parameters: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "pattern": {
                "type": "string",
                "description": "Regular expression, e.g. 'def \\w+_config' or 'TODO|FIXME'.",
            },
            "path": {
                "type": "string",
                "description": "Folder or file to search, relative to the workspace root "
                "(default: the root).",
            },
            "glob": {
                "type": "string",
                "description": "Only search files matching this glob, e.g. '*.py' or "
                "'src/**/*.ts' (relative to path).",
            },
            "ignore_case": {
                "type": "boolean",
                "description": "Case-insensitive matching (default false).",
            },
        },
        "required": ["pattern"],
        "additionalProperties": False,
    }
    kind: ClassVar[ToolKind] = "read"

    async def run(self, arguments: dict[str, Any], context: ToolContext) -> ToolResult:
        pattern = require_string(arguments, "pattern")
        if pattern == "":
            raise ToolError("pattern is empty: give a regular expression to search for")
        glob = _optional_string(arguments, "glob")
        ignore_case = arguments.get("ignore_case", False)
        if not isinstance(ignore_case, bool):
            raise ToolError("ignore_case must be true or false")
        matcher = GlobMatcher.compile(glob) if glob else None
        scope = _scope(arguments, context, files_ok=True)
        rules = IgnoreRules(scope.root)
        budget = Budget(what="grep")
        matches = _Matches(MAX_GREP_MATCHES)
        rg = ripgrep()
        backend = "python"
        if rg is not None:
            backend = "ripgrep"
            try:
                await _rg_grep(rg, rules, scope, pattern, ignore_case, matcher, matches, budget)
            except _RegexUnsupported as exc:
                # Syntax rg's engine lacks (look-around, back-references): Python's re may
                # have it; if not, the model gets rg's message, which points at the problem.
                try:
                    re.compile(pattern)
                except re.error:
                    raise ToolError(
                        f"invalid regex {pattern!r}:\n{exc.message}\nEscape special "
                        "characters such as ( ) [ ] { } . * + ? | \\ to match them literally."
                    ) from None
                backend = "python"
                matches = _Matches(MAX_GREP_MATCHES)
        if backend == "python":
            regex = _compile_regex(pattern, ignore_case)
            await _in_thread(
                lambda b: _python_grep(rules, scope, regex, matcher, matches, b), budget
            )
        hidden = _drop_secrets(matches, scope, context)
        result = _grep_result(pattern, scope, matches, backend)
        if hidden:
            result.content += (
                f"\n[matches in {', '.join(hidden)} were left out: such files may hold "
                "secrets; read_file one to ask the user for access]"
            )
        return result


def _drop_secrets(matches: _Matches, scope: _Scope, context: ToolContext) -> list[str]:
    """Leave out lines from files that may hold secrets unless the mode allows them."""
    guard = context.guard
    if context.allow_secrets or guard is None:
        return []
    hidden: dict[str, None] = {}
    kept = []
    for item in matches.items:
        if guard.is_secret(Path(scope.root) / item[0]):
            hidden[_display_path(item[0])] = None
        else:
            kept.append(item)
    matches.items = kept
    return list(hidden)


def _grep_result(pattern: str, scope: _Scope, matches: _Matches, backend: str) -> ToolResult:
    where = "the workspace" if not scope.rel else repr(scope.shown)
    if not matches.items:
        return ToolResult(
            f"No matches for {pattern!r} in {where} (files ignored by .gitignore and binary "
            "files are skipped).",
            metadata={"count": 0, "backend": backend},
        )
    lines: list[str] = []
    size = 0
    cut_by_size = False
    for rel, number, text in matches.items:
        line = f"{_display_path(rel)}:{number}: {text}"
        if size + len(line) + 1 > _OUTPUT_BUDGET:
            cut_by_size = True
            break
        lines.append(line)
        size += len(line) + 1
    body = "\n".join(lines)
    if matches.more or cut_by_size:
        body += (
            f"\n[showing the first {len(lines)} matching lines; there are more. Narrow the "
            "pattern, path or glob to see the rest.]"
        )
    return ToolResult(
        body,
        metadata={"count": len(lines), "more": matches.more or cut_by_size, "backend": backend},
    )


SEARCH_TOOLS: tuple[type[Tool], ...] = (GlobTool, GrepTool)
