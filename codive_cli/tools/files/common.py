"""What the file tools share: paths through the guard, errors that help, text files as
edit_file and write_file see them, and diffs for display."""

from __future__ import annotations

import codecs
import difflib
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from codive_cli.policy.regular import NOT_REGULAR, open_regular
from codive_cli.tools.base import MAX_RESULT_CHARS, ToolContext, ToolError, truncate

BINARY_SNIFF_BYTES = 8192
MAX_EDIT_BYTES = 20 * 1024 * 1024  # edit_file and write_file's diff work on files up to this
MAX_DISPLAY_CHARS = 20_000
WRITE_CHUNK_CHARS = 1 << 20  # characters encoded at a time when a file is written back
# Output kept below the result bound so the closing note ("call again with offset=") survives.
OUTPUT_BUDGET = MAX_RESULT_CHARS - 1000

BOM = codecs.BOM_UTF8


def resolve(context: ToolContext, raw: str) -> tuple[Path, str]:
    """The path the guard allows for `raw`, and how to name it to the model."""
    path = Path(context.guard.resolve(raw))
    return path, str(context.guard.relative(path))


def missing(raw: str, path: Path, shown: str) -> ToolError:
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


def binary_error(shown: str, size: int, why: str) -> ToolError:
    return ToolError(
        f"{shown} is a binary file, {size} bytes ({why}); read_file and edit_file handle "
        "UTF-8 text only"
    )


def line_count(text: str) -> int:
    if not text:
        return 0
    return text.count("\n") + (0 if text.endswith("\n") else 1)


def diff(old: str, new: str, shown: str, *, created: bool = False) -> str:
    """A unified diff for a person to read, bounded."""
    lines = difflib.unified_diff(
        old.splitlines(keepends=True),
        new.splitlines(keepends=True),
        "/dev/null" if created else f"a/{shown}",
        f"b/{shown}",
        n=3,
    )
    text = "".join(line if line.endswith("\n") else line + "\n" for line in lines)
    return truncate(text.rstrip("\n"), MAX_DISPLAY_CHARS)


def check_regular(path: Path, raw: str, shown: str, *, for_write: bool = False) -> bool:
    """Whether `path` exists as a regular file; errors for folders and special files."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        if for_write:
            return False
        raise missing(raw, path, shown) from None
    except OSError as exc:
        raise ToolError(f"{shown}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(info.st_mode):
        hint = "list_dir shows its entries" if not for_write else "give a file path"
        raise ToolError(f"{shown} is a folder, not a file; {hint}")
    if not stat.S_ISREG(info.st_mode):
        raise ToolError(f"{shown} {NOT_REGULAR}")
    return True


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
        text, bom = decode_utf8(data, shown)
        return cls.normalised(text, bom, mode)

    @classmethod
    def normalised(cls, text: str, bom: bool, mode: int) -> TextFile:
        crlf_count = text.count("\r\n")
        crlf = crlf_count > 0 and crlf_count == text.count("\n")
        if crlf:
            text = text.replace("\r\n", "\n")
        return cls(text, bom, crlf, mode)

    def encode(self, text: str) -> bytes:
        return b"".join(self.chunks(text))

    def chunks(self, text: str, size: int = WRITE_CHUNK_CHARS) -> Iterator[bytes]:
        """`text` encoded as the file was, a piece at a time: no second copy of the file.
        Pieces end at a newline, so no CRLF is split between two."""
        if self.bom and not text.startswith("\ufeff"):
            yield BOM
        start = 0
        while start < len(text):
            newline = text.find("\n", start + size)
            end = len(text) if newline == -1 else newline + 1
            piece = text[start:end]
            if self.crlf:
                piece = piece.replace("\r\n", "\n").replace("\n", "\r\n")
            try:
                yield piece.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise ToolError(f"the new text cannot be written as UTF-8: {exc.reason}") from None
            start = end


def decode_utf8(data: bytes, shown: str) -> tuple[str, bool]:
    """The text of a file's bytes without its byte-order mark, and whether it had one."""
    if b"\0" in data[:BINARY_SNIFF_BYTES]:
        raise binary_error(shown, len(data), "it contains NUL bytes")
    bom = data.startswith(BOM)
    try:
        with memoryview(data) as view:  # no copy of the bytes after a BOM
            text, _ = codecs.utf_8_decode(view[len(BOM) if bom else 0 :], "strict", True)
    except UnicodeDecodeError as exc:
        raise binary_error(shown, len(data), f"not valid UTF-8 at byte {exc.start}") from None
    return text, bom


def load_text(path: Path, shown: str) -> TextFile:
    """A file to edit, bounded in size; its bytes are let go before its text is normalised."""
    info = os.stat(path)
    if info.st_size > MAX_EDIT_BYTES:
        raise ToolError(
            f"{shown} is {info.st_size} bytes, too large to edit here (limit "
            f"{MAX_EDIT_BYTES}); use bash tools (sed, a script) for a file this size"
        )
    with open_regular(path) as f:
        data = f.read()
    text, bom = decode_utf8(data, shown)
    del data
    return TextFile.normalised(text, bom, stat.S_IMODE(info.st_mode))
