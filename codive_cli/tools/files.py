"""The file tools: read_file, write_file, edit_file, list_dir.

Every path goes through the workspace guard. Writes are atomic: the new bytes go to a
temporary file in the same folder, are flushed to disk, and replace the old file with one
`os.replace`; the temporary file is removed on any failure, Ctrl-C included, so a file is
either wholly old or wholly new. A rewritten file keeps its permission bits, its line endings
(CRLF stays CRLF) and its UTF-8 byte-order mark.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import difflib
import os
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, ClassVar

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
    truncate,
)
from codive_cli.tools.matching import (
    MAX_LINE_CHARS as MAX_LINE_CHARS,  # read_file cuts lines at the same length
)
from codive_cli.tools.matching import (
    apply_edit,
    edited_snippet,
    numbered,
)
from codive_cli.tools.search import IgnoreRules

MAX_READ_LINES = 2000  # lines per read_file call, unless `limit` asks for fewer
MAX_LIST_ENTRIES = 1000
BINARY_SNIFF_BYTES = 8192
MAX_EDIT_BYTES = 20 * 1024 * 1024  # edit_file and write_file's diff work on files up to this
MAX_DISPLAY_CHARS = 20_000
# Output kept below the result bound so the closing note ("call again with offset=") survives.
_OUTPUT_BUDGET = MAX_RESULT_CHARS - 1000
_LINE_READ_CAP = 64 * 1024  # bytes of one line read at a time (a minified file's one line)
_TEMP_SUFFIX = ".codive-tmp"

_BOM = codecs.BOM_UTF8


# -- shared helpers ---------------------------------------------------------------------------


def _optional_int(arguments: dict[str, Any], name: str, minimum: int) -> int | None:
    value = arguments.get(name)
    if value is None:
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ToolError(f"{name} must be an integer >= {minimum}, not {value!r}")
    return value


def _resolve(context: ToolContext, raw: str) -> tuple[Path, str]:
    path = Path(context.guard.resolve(raw))
    return path, str(context.guard.relative(path))


def _missing(raw: str, path: Path, shown: str) -> ToolError:
    """A 'does not exist' error naming the closest names in the same folder."""
    folder = path.parent
    if not folder.is_dir():
        return ToolError(
            f"{shown} does not exist: its folder {folder.name!r} does not exist either. "
            "Use list_dir or glob to find the right path."
        )
    try:
        names = os.listdir(folder)
    except OSError:
        names = []
    lowered = {name.lower(): name for name in names}
    close = difflib.get_close_matches(path.name, names, n=3, cutoff=0.6)
    same_case = lowered.get(path.name.lower())
    if same_case and same_case not in close:
        close.insert(0, same_case)
    message = f"{shown} does not exist."
    if close:
        base = "" if str(shown).count("/") == 0 else str(shown).rsplit("/", 1)[0] + "/"
        message += " Did you mean: " + ", ".join(base + name for name in close) + "?"
    else:
        message += " Use list_dir or glob to find the right path."
    return ToolError(message)


def _binary_error(shown: str, size: int, why: str) -> ToolError:
    return ToolError(
        f"{shown} is a binary file, {size} bytes ({why}); read_file and edit_file handle "
        "UTF-8 text only"
    )


def _line_count(text: str) -> int:
    if not text:
        return 0
    return text.count("\n") + (0 if text.endswith("\n") else 1)


def _diff(old: str, new: str, shown: str, *, created: bool = False) -> str:
    diff = difflib.unified_diff(
        old.splitlines(keepends=True),
        new.splitlines(keepends=True),
        "/dev/null" if created else f"a/{shown}",
        f"b/{shown}",
        n=3,
    )
    text = "".join(line if line.endswith("\n") else line + "\n" for line in diff)
    return truncate(text.rstrip("\n"), MAX_DISPLAY_CHARS)


def _umask() -> int:
    """The process umask, read without changing it where the system allows."""
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status") as f:
        for line in f:
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)  # pragma: no cover - systems without /proc
    os.umask(mask)  # pragma: no cover
    return mask  # pragma: no cover


def atomic_write(path: Path, data: bytes, *, mode: int | None = None) -> None:
    """Replace `path` with `data` atomically: a temporary file in the same folder, written,
    flushed and fsynced, given `mode` (default: what a new file gets under the umask), then
    renamed over `path`. On any failure or interruption the temporary file is removed and
    `path` is untouched."""
    folder = path.parent
    owner: tuple[int, int] | None = None
    try:
        info = os.stat(path)
    except FileNotFoundError:
        info = None
    if info is not None:
        if mode is None:
            mode = stat.S_IMODE(info.st_mode)
        owner = (info.st_uid, info.st_gid)
    if mode is None:
        mode = 0o666 & ~_umask()
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=_TEMP_SUFFIX, dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(temp, mode)
        if owner is not None and hasattr(os, "chown"):
            info_temp = os.stat(temp)
            if (info_temp.st_uid, info_temp.st_gid) != owner:
                with contextlib.suppress(OSError):
                    os.chown(temp, *owner)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    # Make the rename itself durable (best effort: not every file system allows it).
    with contextlib.suppress(OSError):
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _write(path: Path, data: bytes, shown: str, *, mode: int | None = None) -> None:
    try:
        atomic_write(path, data, mode=mode)
    except PermissionError:
        raise ToolError(f"cannot write {shown}: permission denied") from None
    except OSError as exc:
        raise ToolError(
            f"cannot write {shown}: {exc.strerror or exc}; the file was left unchanged"
        ) from None


@dataclass
class TextFile:
    """A text file as edit_file and write_file see it: LF-normalised text plus the details
    needed to write it back the way it was (BOM, CRLF)."""

    text: str  # with "\n" line endings when the file was uniformly CRLF
    bom: bool
    crlf: bool  # every line ending was CRLF (the text above was normalised to LF)
    mode: int

    @classmethod
    def decode(cls, data: bytes, mode: int, shown: str) -> TextFile:
        if b"\0" in data[:BINARY_SNIFF_BYTES]:
            raise _binary_error(shown, len(data), "it contains NUL bytes")
        bom = data.startswith(_BOM)
        try:
            text = data[len(_BOM) if bom else 0 :].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _binary_error(shown, len(data), f"not valid UTF-8 at byte {exc.start}") from None
        crlf_count = text.count("\r\n")
        crlf = crlf_count > 0 and crlf_count == text.count("\n")
        if crlf:
            text = text.replace("\r\n", "\n")
        return cls(text, bom, crlf, mode)

    def encode(self, text: str) -> bytes:
        if self.crlf:
            text = text.replace("\r\n", "\n").replace("\n", "\r\n")
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ToolError(f"the new text cannot be written as UTF-8: {exc.reason}") from None
        if self.bom and not data.startswith(_BOM):
            data = _BOM + data
        return data


def _load_text(path: Path, shown: str) -> TextFile:
    info = os.stat(path)
    if info.st_size > MAX_EDIT_BYTES:
        raise ToolError(
            f"{shown} is {info.st_size} bytes, too large to edit here (limit "
            f"{MAX_EDIT_BYTES}); use bash tools (sed, a script) for a file this size"
        )
    with open_regular(path) as f:
        data = f.read()
    return TextFile.decode(data, stat.S_IMODE(info.st_mode), shown)


def _check_regular(path: Path, raw: str, shown: str, *, for_write: bool = False) -> bool:
    """Whether `path` exists as a regular file; errors for folders and special files."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        if for_write:
            return False
        raise _missing(raw, path, shown) from None
    except OSError as exc:
        raise ToolError(f"{shown}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(info.st_mode):
        hint = "list_dir shows its entries" if not for_write else "give a file path"
        raise ToolError(f"{shown} is a folder, not a file; {hint}")
    if not stat.S_ISREG(info.st_mode):
        raise ToolError(f"{shown} {NOT_REGULAR}")
    return True


# -- read_file --------------------------------------------------------------------------------


def _iter_lines(f: IO[bytes]) -> Iterator[tuple[bytes, int]]:
    """Lines without their "\\n", each at most _LINE_READ_CAP bytes, with how many bytes of
    the line were left unread."""
    while True:
        chunk = f.readline(_LINE_READ_CAP)
        if not chunk:
            return
        if chunk.endswith(b"\n"):
            yield chunk[:-1], 0
            continue
        if len(chunk) < _LINE_READ_CAP:
            yield chunk, 0  # the last line, with no newline
            return
        extra = 0
        while more := f.readline(_LINE_READ_CAP):
            if more.endswith(b"\n"):
                extra += len(more) - 1
                break
            extra += len(more)
        yield chunk, extra


def _count_rest(f: IO[bytes]) -> int:
    """Lines left in `f` from its position on."""
    count = 0
    last = b"\n"
    while block := f.read(1 << 20):
        count += block.count(b"\n")
        last = block[-1:]
    return count + (0 if last == b"\n" else 1)


def _read_window(path: Path, shown: str, offset: int, limit: int) -> ToolResult:
    size = os.path.getsize(path)
    with open_regular(path) as f:
        head = f.read(BINARY_SNIFF_BYTES)
        if b"\0" in head:
            raise _binary_error(shown, size, "it contains NUL bytes")
        try:
            codecs.getincrementaldecoder("utf-8")().decode(head, final=len(head) >= size)
        except UnicodeDecodeError as exc:
            raise _binary_error(shown, size, f"not valid UTF-8 at byte {exc.start}") from None
        f.seek(len(_BOM) if head.startswith(_BOM) else 0)
        shown_lines: list[str] = []
        used = 0
        number = 0
        more = stopped_for_size = False
        for raw, extra in _iter_lines(f):
            number += 1
            if number < offset:
                continue
            if len(shown_lines) >= limit:
                more = True
                break
            text = _decode_line(raw, extra > 0, shown, size, number)
            if text.endswith("\r"):
                text = text[:-1]
            full = len(text) + extra
            if full > MAX_LINE_CHARS:
                text = text[:MAX_LINE_CHARS] + (
                    f"… [line truncated: {full} characters; use grep or bash to see it all]"
                )
            entry = len(text) + 8
            if shown_lines and used + entry > _OUTPUT_BUDGET:
                more = stopped_for_size = True
                break
            shown_lines.append(text)
            used += entry
        # The line that stopped the loop was read but not shown; count it and what follows.
        remaining = 1 + _count_rest(f) if more else 0
    if number == 0:
        return ToolResult(
            f"{shown} is empty (0 lines).",
            display=f"read {shown}: empty",
            metadata={"first_line": 0, "last_line": 0, "total_lines": 0},
        )
    if not shown_lines:
        raise ToolError(
            f"offset {offset} is past the end of {shown}, which has {number} "
            f"line{'s' if number != 1 else ''}"
        )
    last = offset + len(shown_lines) - 1
    total = last + remaining
    content = numbered(shown_lines, offset)
    if remaining:
        reason = " (output size limit reached)" if stopped_for_size else ""
        content += (
            f"\n... {remaining} more line{'s' if remaining != 1 else ''}{reason}; "
            f"call read_file again with offset={last + 1} to continue"
        )
    return ToolResult(
        truncate(content),
        display=f"read {shown}: lines {offset}-{last} of {total}",
        metadata={"first_line": offset, "last_line": last, "total_lines": total},
    )


def _decode_line(raw: bytes, cut: bool, shown: str, size: int, number: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        if cut and exc.start >= len(raw) - 3:
            return raw[: exc.start].decode("utf-8")  # a character split by the read cap
        raise _binary_error(shown, size, f"line {number} is not valid UTF-8") from None


class ReadFileTool(Tool):
    name: ClassVar[str] = "read_file"
    description: ClassVar[str] = (
        "Read a UTF-8 text file from the workspace. Returns its lines, each prefixed with "
        "its line number and a tab ('     7\\tdef main():'); the prefix is not part of the "
        f"file. Reads up to {MAX_READ_LINES} lines from `offset` (1-based, default 1), or "
        "`limit` lines; when more follow, the result ends with '... N more lines; call "
        "read_file again with offset=K'. Lines longer than "
        f"{MAX_LINE_CHARS} characters are cut. Binary files and folders are errors (use "
        "list_dir for folders). Read a file before editing it, and copy old_string for "
        "edit_file from this output without the line-number prefix."
    )
    parameters: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "path": {
                "type": "string",
                "description": "File to read, relative to the workspace root.",
            },
            "offset": {
                "type": "integer",
                "minimum": 1,
                "description": "First line to return (1-based; default 1).",
            },
            "limit": {
                "type": "integer",
                "minimum": 1,
                "description": f"How many lines to return (default and maximum {MAX_READ_LINES}).",
            },
        },
        "required": ["path"],
        "additionalProperties": False,
    }
    kind: ClassVar[ToolKind] = "read"

    async def run(self, arguments: dict[str, Any], context: ToolContext) -> ToolResult:
        raw = require_string(arguments, "path")
        offset = _optional_int(arguments, "offset", 1) or 1
        limit = min(_optional_int(arguments, "limit", 1) or MAX_READ_LINES, MAX_READ_LINES)
        path, shown = _resolve(context, raw)

        def work() -> ToolResult:
            _check_regular(path, raw, shown)
            try:
                return _read_window(path, shown, offset, limit)
            except PermissionError:
                raise ToolError(f"{shown}: permission denied") from None

        return await asyncio.to_thread(work)


# -- write_file -------------------------------------------------------------------------------


class WriteFileTool(Tool):
    name: ClassVar[str] = "write_file"
    description: ClassVar[str] = (
        "Create a file, or replace a file's whole content, with `content`. Missing parent "
        "folders are created. The write is atomic (the file is never left half-written). An "
        "existing file keeps its permissions, its line endings (LF content is written with "
        "CRLF if the file used CRLF) and its UTF-8 byte-order mark. Returns whether the file "
        "was created or overwritten and its line count. To change part of an existing file, "
        "prefer edit_file; read the file first if you have not."
    )
    parameters: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "path": {
                "type": "string",
                "description": "File to write, relative to the workspace root.",
            },
            "content": {
                "type": "string",
                "description": "The complete new content of the file.",
            },
        },
        "required": ["path", "content"],
        "additionalProperties": False,
    }
    kind: ClassVar[ToolKind] = "edit"

    def preview(self, arguments: dict[str, Any], context: ToolContext) -> str:
        """The diff against the file as it is, or the new file's first lines."""
        try:
            raw = require_string(arguments, "path")
            content = require_string(arguments, "content")
            path, shown = _resolve(context, raw)
            if not _check_regular(path, raw, shown, for_write=True):
                return _diff("", content, shown, created=True)
            return _diff(_load_text(path, shown).text, content, shown) or "(no change)"
        except ToolError as error:
            return f"(cannot preview: {error})"

    async def run(self, arguments: dict[str, Any], context: ToolContext) -> ToolResult:
        raw = require_string(arguments, "path")
        content = require_string(arguments, "content")
        path, shown = _resolve(context, raw)

        def work() -> ToolResult:
            exists = _check_regular(path, raw, shown, for_write=True)
            old: TextFile | None = None
            before = b""
            if exists:
                info = os.stat(path)
                if info.st_size <= MAX_EDIT_BYTES:
                    with open_regular(path) as f:
                        before = f.read()
                    with contextlib.suppress(ToolError):  # binary: replaced as it is
                        old = TextFile.decode(before, stat.S_IMODE(info.st_mode), shown)
            else:
                try:
                    path.parent.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise ToolError(f"cannot create the folder for {shown}: {exc}") from None
            notes: list[str] = []
            fmt = TextFile("", False, False, 0)
            if old is not None:
                # LF content for a CRLF file is written with CRLF; content that already has
                # CRLF is written as it is.
                crlf = old.crlf and "\r\n" not in content
                fmt = TextFile("", old.bom, crlf, old.mode)
                if crlf and "\n" in content:
                    notes.append("CRLF line endings kept")
                if old.bom and not content.startswith("\ufeff"):
                    notes.append("UTF-8 byte-order mark kept")
            data = fmt.encode(content)
            if exists and data == before:
                return ToolResult(
                    f"{shown} already has this content; nothing was written.",
                    display=f"{shown}: unchanged",
                    metadata={"created": False, "changed": False},
                )
            _write(path, data, shown)
            lines = _line_count(content)
            plural = "s" if lines != 1 else ""
            extra = f" ({'; '.join(notes)})" if notes else ""
            if not exists:
                message = f"Created {shown}: {lines} line{plural}{extra}."
                display = _diff("", content, shown, created=True)
            elif old is not None:
                was = _line_count(old.text)
                message = f"Overwrote {shown}: {lines} line{plural}, was {was}{extra}."
                display = _diff(old.text, content.replace("\r\n", "\n"), shown)
            else:
                message = f"Overwrote {shown} (it was not UTF-8 text): {lines} line{plural}."
                display = f"{shown}: non-text content replaced by {lines} line{plural} of text"
            return ToolResult(
                message,
                display=display,
                metadata={"created": not exists, "lines": lines, "changed": True},
            )

        return await asyncio.to_thread(work)


class EditFileTool(Tool):
    name: ClassVar[str] = "edit_file"
    description: ClassVar[str] = (
        "Replace text in an existing file: old_string becomes new_string. old_string must "
        "match the file exactly (copy it from read_file output without the line-number "
        "prefix) and occur exactly once; include a few surrounding lines to make it unique, "
        "or set replace_all=true to change every occurrence. If there is no exact match, a "
        "match that ignores only whitespace (indentation, tabs vs spaces, trailing spaces, "
        "CRLF) is accepted when exactly one region matches line for line, and new_string is "
        "then re-indented to the file's indentation. On failure the error shows the most "
        "similar region with its line numbers so you can retry. The file keeps its line "
        "endings, byte-order mark and permissions. Returns the edited lines with numbers. "
        "To create a file or replace all of it, use write_file."
    )
    parameters: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "path": {
                "type": "string",
                "description": "File to edit, relative to the workspace root.",
            },
            "old_string": {
                "type": "string",
                "description": "Exact text to replace (not empty).",
            },
            "new_string": {
                "type": "string",
                "description": "Replacement text (may be empty to delete old_string).",
            },
            "replace_all": {
                "type": "boolean",
                "description": "Replace every occurrence of old_string (default false).",
            },
        },
        "required": ["path", "old_string", "new_string"],
        "additionalProperties": False,
    }
    kind: ClassVar[ToolKind] = "edit"

    def preview(self, arguments: dict[str, Any], context: ToolContext) -> str:
        """The diff the edit would make, computed the way `run` makes it, without writing."""
        try:
            raw = require_string(arguments, "path")
            old = require_string(arguments, "old_string")
            new = require_string(arguments, "new_string")
            path, shown = _resolve(context, raw)
            _check_regular(path, raw, shown)
            text = _load_text(path, shown).text
            if "\r" not in text:
                old, new = old.replace("\r\n", "\n"), new.replace("\r\n", "\n")
            outcome = apply_edit(shown, text, old, new, arguments.get("replace_all") is True)
            return _diff(text, outcome.text, shown) or "(no change)"
        except ToolError as error:
            return f"(the edit would fail: {error})"

    async def run(self, arguments: dict[str, Any], context: ToolContext) -> ToolResult:
        raw = require_string(arguments, "path")
        old = require_string(arguments, "old_string")
        new = require_string(arguments, "new_string")
        replace_all = arguments.get("replace_all", False)
        if not isinstance(replace_all, bool):
            raise ToolError("replace_all must be true or false")
        if old == "":
            raise ToolError(
                "old_string is empty. To create a file or replace its whole content use "
                "write_file; to insert text, give the line(s) next to the insertion point as "
                "old_string and repeat them in new_string."
            )
        if old == new:
            raise ToolError("old_string and new_string are identical: nothing would change")
        path, shown = _resolve(context, raw)

        def work() -> ToolResult:
            _check_regular(path, raw, shown)
            try:
                original = _load_text(path, shown)
            except PermissionError:
                raise ToolError(f"{shown}: permission denied") from None
            text = original.text
            old_s, new_s = old, new
            if original.crlf or "\r" not in text:
                # The text is LF now: match and insert LF text.
                old_s = old.replace("\r\n", "\n")
                new_s = new.replace("\r\n", "\n")
            if old_s == new_s:
                raise ToolError("old_string and new_string differ only in line endings")
            outcome = apply_edit(shown, text, old_s, new_s, replace_all)
            _write(path, original.encode(outcome.text), shown, mode=original.mode)
            if outcome.count > 1:
                summary = f"Edited {shown}: replaced {outcome.count} occurrences."
            else:
                span = (
                    f"line {outcome.first_line}"
                    if outcome.last_line <= outcome.first_line
                    else f"lines {outcome.first_line}-{outcome.last_line}"
                )
                summary = f"Edited {shown}: replaced 1 occurrence ({span} now)."
            if outcome.tolerant:
                summary += (
                    " old_string did not match exactly; it matched one region when "
                    "whitespace is ignored, and new_string was re-indented to the file's "
                    "indentation."
                )
            snippet = edited_snippet(outcome.text, outcome.first_line, outcome.last_line)
            content = summary + ("\n" + snippet if snippet and outcome.count == 1 else "")
            return ToolResult(
                truncate(content),
                display=_diff(text, outcome.text, shown),
                metadata={
                    "replacements": outcome.count,
                    "whitespace_tolerant": outcome.tolerant,
                    "first_line": outcome.first_line,
                },
            )

        return await asyncio.to_thread(work)


# -- list_dir ---------------------------------------------------------------------------------


def _size(num: int) -> str:
    if num < 1024:
        return f"{num} B"
    value = float(num)
    for unit in ("KB", "MB", "GB", "TB"):
        value /= 1024
        if value < 1024 or unit == "TB":
            return f"{value:.1f} {unit}"
    return f"{num} B"  # pragma: no cover


class ListDirTool(Tool):
    name: ClassVar[str] = "list_dir"
    description: ClassVar[str] = (
        "List one folder's entries (not recursive), sorted by name: folders end with '/', "
        "files show their size, symlinks show their target. Hidden entries are included; "
        "entries ignored by .gitignore are listed but marked '[ignored]'. At most "
        f"{MAX_LIST_ENTRIES} entries are shown. Use glob to find files by pattern across "
        "folders."
    )
    parameters: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "path": {
                "type": "string",
                "description": "Folder to list, relative to the workspace root (default '.').",
            },
        },
        "required": [],
        "additionalProperties": False,
    }
    kind: ClassVar[ToolKind] = "read"

    async def run(self, arguments: dict[str, Any], context: ToolContext) -> ToolResult:
        raw = arguments.get("path")
        if raw is None or raw == "":
            raw = "."
        if not isinstance(raw, str):
            raise ToolError("path must be a string")
        path, shown = _resolve(context, raw)
        return await asyncio.to_thread(_list, path, raw, shown, str(context.root))


def _list(path: Path, raw: str, shown: str, root: str) -> ToolResult:
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise _missing(raw, path, shown) from None
    if not stat.S_ISDIR(info.st_mode):
        raise ToolError(f"{shown} is a file, not a folder; use read_file to read it")
    try:
        with os.scandir(path) as it:
            entries = sorted(it, key=lambda e: (e.name.lower(), e.name))
    except PermissionError:
        raise ToolError(f"{shown}: permission denied") from None
    rules = IgnoreRules(root)
    folder_ignored = rules.ignored(path)
    chain = rules.chain(str(path))
    lines: list[str] = []
    dirs = files = ignored = 0
    used = 0
    for entry in entries:
        try:
            is_link = entry.is_symlink()
            is_dir = entry.is_dir(follow_symlinks=False)
        except OSError:
            is_link, is_dir = False, False
        if is_dir:
            dirs += 1
            line = entry.name + "/"
        elif is_link:
            files += 1
            try:
                target = os.readlink(entry.path)
            except OSError:
                target = "?"
            kind = "/" if entry.is_dir() else ""
            line = f"{entry.name}{kind} -> {target}"
        else:
            files += 1
            try:
                line = f"{entry.name}  ({_size(entry.stat(follow_symlinks=False).st_size)})"
            except OSError:
                line = entry.name
        if not folder_ignored and entry.name != ".git" and rules.matched(entry.path, is_dir, chain):
            ignored += 1
            line += "  [ignored]"
        if len(lines) < MAX_LIST_ENTRIES and used + len(line) + 1 <= _OUTPUT_BUDGET:
            lines.append(line)
            used += len(line) + 1
    total = len(entries)
    header = f"{shown}/ ({dirs} folder{'s' if dirs != 1 else ''}, {files} file"
    header += f"{'s' if files != 1 else ''}"
    if ignored:
        header += f"; {ignored} ignored by .gitignore, marked [ignored]"
    header += ")"
    if folder_ignored:
        header += " - this folder is itself ignored by .gitignore"
    if not entries:
        return ToolResult(header + "\n(empty folder)", metadata={"entries": 0})
    body = "\n".join(lines)
    if len(lines) < total:
        body += (
            f"\n... {total - len(lines)} more entries not shown; use glob with a pattern to "
            "find specific files"
        )
    return ToolResult(header + "\n" + body, metadata={"entries": total, "shown": len(lines)})


FILE_TOOLS: tuple[type[Tool], ...] = (ReadFileTool, WriteFileTool, EditFileTool, ListDirTool)
