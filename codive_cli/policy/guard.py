"""The workspace guard: every file tool turns its `path` argument into a real path through it.

`WorkspaceGuard.resolve` walks the path one component at a time, the way the kernel does,
following every symlink it meets (a chain, a relative target with `..`, a dangling final
link) and refusing anything whose real location is outside the workspace root. It also says
which paths hold secrets (`is_secret`) and which are codive's own configuration
(`is_protected`), so the permission layer can ask before touching them.

What it does not promise: the answer is true at the moment `resolve` returns. Something that
runs afterwards (a `bash` call, another process) can swap a directory for a symlink before
the tool opens the path; the guard does not pin file descriptors (no `openat2`
`RESOLVE_BENEATH`), so that race stays open. Tools resolve again on every call, which catches
links created by earlier calls.
"""

from __future__ import annotations

import errno
import os
import stat
import unicodedata
from collections.abc import Iterable
from pathlib import Path

from codive_cli.errors import ToolError
from codive_cli.policy.secret_files import is_secret_path

# Linux limits: PATH_MAX counts the terminating NUL, so a usable path has at most 4095 bytes.
PATH_MAX = 4096
NAME_MAX = 255
# Linux gives up after 40 symlinks in one lookup (ELOOP); so do we.
MAX_SYMLINKS = 40

PROJECT_CONFIG_NAME = "codive.toml"


class OutsideWorkspace(ToolError):
    """A path whose real location is outside the workspace root."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        resolved: Path | None = None,
        root: Path | None = None,
    ) -> None:
        super().__init__(message)
        self.path = path
        self.resolved = resolved
        self.root = root


class WorkspaceGuard:
    """Keeps file tools inside `root`, and knows which files are secret or protected."""

    def __init__(self, root: Path, *, protected: Iterable[Path] = ()) -> None:
        self.root: Path = Path(os.path.realpath(os.path.abspath(root)))
        self._protected: tuple[Path, ...] = tuple(
            Path(os.path.realpath(os.path.abspath(Path(p).expanduser()))) for p in protected
        )

    # -- resolving -------------------------------------------------------------------------

    def resolve(self, path: str) -> Path:
        """The real, absolute path that the tool argument `path` names, inside the root.

        Relative paths are relative to the root; absolute paths must land inside it. `~` is an
        ordinary file name (never the home folder). Symlinks are followed wherever they occur,
        with `os.path.realpath` semantics (`..` after a symlink goes up from its target). For a
        path that does not exist yet, the deepest existing ancestor is resolved and the rest is
        appended, which must then contain no `..`. A dangling symlink resolves to its target.
        Only `/` separates components: backslashes, `%2e%2e` and Unicode look-alikes of `.` and
        `/` are ordinary characters.

        Raises `OutsideWorkspace` when the real path is outside the root, and `ToolError` for
        an empty path, NUL bytes, over-long paths or names, a symlink loop, or a path that
        goes through a file.

        The result describes the file system at the moment of the call only (no protection
        against a symlink swapped in between this check and the tool's use of the path).
        """
        _check_argument(path)
        current = self._walk(path)
        resolved = Path(current)
        if not self._inside(resolved):
            shown = "" if resolved == Path(path) else f" (it resolves to {resolved})"
            raise OutsideWorkspace(
                f"path {path!r} is outside the workspace root {self.root}{shown}",
                path=path,
                resolved=resolved,
                root=self.root,
            )
        _check_lengths(path, current)
        return resolved

    def _walk(self, path: str) -> str:
        """The real location `path` names, found one component at a time as the kernel does;
        it may be outside the root (the caller checks)."""
        current = "/" if path.startswith("/") else str(self.root)
        pending: list[str] = _components(path)
        pending.reverse()  # a stack: the next component is at the end
        followed = 0
        while pending:
            name = pending.pop()
            if name == ".":
                continue
            if name == "..":
                current = os.path.dirname(current)
                continue
            candidate = os.path.join(current, name)
            info = _lstat(path, candidate)
            if info is None:
                pending.append(name)
                return self._append_missing(path, current, pending)
            if stat.S_ISLNK(info.st_mode):
                followed += 1
                if followed > MAX_SYMLINKS:
                    raise ToolError(
                        f"path {path!r}: too many levels of symbolic links (a symlink loop?)"
                    )
                current = _push_link_target(path, candidate, current, pending)
                continue
            current = candidate
            if not stat.S_ISDIR(info.st_mode) and any(part != "." for part in pending):
                raise ToolError(
                    f"path {path!r} goes through {self.relative(Path(current))!r}, "
                    "which is a file, not a folder"
                )
        return current

    def _append_missing(self, path: str, current: str, pending: list[str]) -> str:
        """From `current` on nothing exists: the rest of the path appended as it is, which
        must hold no `..` (there is no real folder to go up from)."""
        rest = [part for part in reversed(pending) if part != "."]
        if ".." in rest:
            missing = os.path.join(current, rest[0])
            raise ToolError(
                f"path {path!r} uses '..' after {self.relative(Path(missing))!r}, "
                "which does not exist"
            )
        return os.path.join(current, *rest)

    def _inside(self, path: Path) -> bool:
        return path == self.root or self.root in path.parents

    def relative(self, path: Path) -> str:
        """`path` relative to the root, for display ("." for the root itself)."""
        path = Path(path)
        if not path.is_absolute():
            return str(path)
        try:
            rel = path.relative_to(self.root)
        except ValueError:
            return str(path)
        return str(rel) if rel.parts else "."

    def read_own(self, path: str, limit: int) -> str:
        """A file codive reads on its own initiative (AGENTS.md, an @mention), as text: at
        most `limit` characters, read as `read_own_bytes` reads."""
        return self.read_own_bytes(path, limit * 4).decode("utf-8", errors="replace")[:limit]

    def read_own_bytes(self, path: str, limit: int) -> bytes:
        """A file codive reads on its own initiative, as at most `limit` bytes.

        The same guard as the file tools (symlinks followed, nothing outside the root), and
        more: never a file that may hold secrets, never anything but a regular file (a FIFO
        would block, a device never ends), opened without following a link swapped in since.
        Raises ToolError saying why not.
        """
        real = self.resolve(path)
        if self.is_secret(Path(path)) or self.is_secret(real):
            raise ToolError(f"{path} may hold secrets")
        flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0)
        try:
            fd = os.open(real, flags | getattr(os, "O_CLOEXEC", 0))
        except OSError as exc:
            raise _os_error(path, exc) from None
        with os.fdopen(fd, "rb") as handle:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise ToolError(f"{path} is not a regular file")
            if info.st_nlink > 1:  # a hard link can give a harmless name to .env
                raise ToolError(f"{path} has other names (hard links): not read on its own")
            return handle.read(limit)

    # -- classifying -----------------------------------------------------------------------

    def is_secret(self, path: Path) -> bool:
        """Whether `path` is a file that typically holds credentials or private keys (by its
        name and folders: codive_cli.policy.secret_files)."""
        return is_secret_path(path)

    def is_protected(self, path: Path) -> bool:
        """Whether `path` is codive's own configuration, or git's, which file tools must not
        write unasked.

        That is any file named `codive.toml` (case-insensitively: on a case-insensitive file
        system `CODIVE.TOML` is the same file), anything inside a `.git` folder (or a `.git`
        file: a worktree's pointer) and any `.gitattributes` (git runs the programs they name),
        and anything at or under the `protected` paths
        given at construction, compared after following symlinks and also case- and
        normalization-insensitively (erring towards protecting). A hard link to a protected
        file is caught by comparing inodes.
        """
        path = Path(path)
        if not path.is_absolute():
            path = self.root / path
        if _is_own_or_git(path):
            return True
        try:
            real = Path(os.path.realpath(path))
        except (OSError, ValueError):
            real = path
        if _is_own_or_git(real):
            return True
        candidates = {_fold(os.path.abspath(path)), _fold(str(real))}
        for protected in self._protected:
            prefix = _fold(str(protected))
            for candidate in candidates:
                if candidate == prefix or candidate.startswith(prefix.rstrip("/") + "/"):
                    return True
        return self._hard_link_to_protected(real)

    def _hard_link_to_protected(self, path: Path) -> bool:
        try:
            info = os.stat(path)
        except (OSError, ValueError):
            return False
        if not stat.S_ISREG(info.st_mode) or info.st_nlink < 2:
            return False
        key = (info.st_dev, info.st_ino)
        for protected in (*self._protected, self.root / PROJECT_CONFIG_NAME):
            if protected.is_dir():
                if _walk_has(protected, key):
                    return True
            elif _same(str(protected), key):
                return True
        return False


# -- helpers -------------------------------------------------------------------------------


def _is_own_or_git(path: Path) -> bool:
    names = [_fold(part) for part in path.parts]
    return (
        names[-1:] == [PROJECT_CONFIG_NAME] or names[-1:] == [".gitattributes"] or ".git" in names
    )


def _check_argument(path: str) -> None:
    """Refuse what is no path at all: not a string, empty, a NUL byte, too long."""
    if not isinstance(path, str):
        raise ToolError(f"path must be a string, not {type(path).__name__}")
    if path == "":
        raise ToolError("path is empty: give a file or folder inside the workspace")
    if "\x00" in path:
        raise ToolError(f"path {path!r} contains a NUL byte")
    _check_lengths(path, path)


def _lstat(path: str, candidate: str) -> os.stat_result | None:
    """The component `candidate` itself (a link not followed), None when it does not exist."""
    try:
        return os.lstat(candidate)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise _os_error(path, exc) from None


def _push_link_target(path: str, link: str, current: str, pending: list[str]) -> str:
    """Put the components of the symlink `link`'s target on the `pending` stack; the folder
    they start from (the link's own folder `current`, or `/` for an absolute target)."""
    try:
        target = os.readlink(link)
    except OSError as exc:
        raise _os_error(path, exc) from None
    _check_lengths(path, target)
    parts = _components(target)
    parts.reverse()
    pending.extend(parts)
    return "/" if target.startswith("/") else current


def _components(path: str) -> list[str]:
    """The components of a path, split on "/" only; empty ones (from "//", a trailing "/")
    are dropped."""
    return [part for part in path.split("/") if part]


def _encode(original: str, text: str) -> bytes:
    try:
        return os.fsencode(text)
    except UnicodeEncodeError:
        raise ToolError(f"path {original!r} cannot be encoded for the file system") from None


def _check_lengths(original: str, text: str) -> None:
    encoded = _encode(original, text)
    if len(encoded) >= PATH_MAX:
        raise ToolError(
            f"path is too long ({len(encoded)} bytes; at most {PATH_MAX - 1}): {original[:80]!r}..."
        )
    for part in encoded.split(b"/"):
        if len(part) > NAME_MAX:
            shown = os.fsdecode(part)[:40]
            raise ToolError(
                f"path {original[:80]!r} has a name longer than {NAME_MAX} bytes "
                f"({len(part)} bytes: {shown!r}...)"
            )


def _os_error(path: str, exc: OSError) -> ToolError:
    if exc.errno == errno.ENAMETOOLONG:
        return ToolError(f"path {path[:80]!r} is too long")
    if exc.errno == errno.ELOOP:
        return ToolError(f"path {path!r}: too many levels of symbolic links")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return ToolError(f"path {path!r}: permission denied")
    return ToolError(f"path {path!r}: {exc.strerror or exc}")


def _fold(text: str) -> str:
    return unicodedata.normalize("NFC", text).casefold()


def _same(path: str, key: tuple[int, int]) -> bool:
    try:
        info = os.stat(path)
    except (OSError, ValueError):
        return False
    return (info.st_dev, info.st_ino) == key


def _walk_has(folder: Path, key: tuple[int, int], limit: int = 10_000) -> bool:
    """Whether a file under `folder` (looking at no more than `limit` files) is `key`."""
    seen = 0
    for parent, _dirs, files in os.walk(folder):
        for file in files:
            seen += 1
            if seen > limit:
                return False
            if _same(os.path.join(parent, file), key):
                return True
    return False
