"""Git's and codive's configuration in the workspace, which no sandboxed command may change or
create: found afresh before each command (what exists is bound read-only) and again after it
(what the command created is moved aside, renamed beside itself to a name neither git nor
codive reads, so nothing is lost if it was the person's: `.gitattributes.codive-removed-…`).

A mount can only go over a path that exists, and a placeholder to mount over would be a stray
file in the person's tree, so a missing path is guarded by looking after the command instead.
The walk lists again only the folders whose ctime moved since the last look (no command can
set a ctime back), so a look costs one `lstat` a folder on a tree that did not change.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

# The parts of a git dir that name programs or decide which git dir, config or worktree git
# uses. The rest (objects, refs, logs, the index, HEAD, locks) stays writable for git itself.
GIT_CONTROL = ("config", "config.worktree", "hooks", "info", "commondir", "modules", "worktrees")
NAMES = (".gitattributes", "codive.toml", ".git")  # anywhere in the tree, compared in lower case
SKIPPED = ("node_modules", ".venv")
FOLDER_LIMIT = 50_000  # folders walked a look; deeper ones go unguarded (docs/security.md)
SETTLED_NS = 2_000_000_000  # a listing younger than this may miss a change in the same tick
CREATED_NOTE = (
    "codive moved {names} aside (renamed beside it to NAME.codive-removed-…), which the "
    "command created: commands may not create git's or codive's configuration"
)
ASIDE = ".codive-removed-"  # the suffix of a path moved aside, before a random tag

Identity = tuple[int, int, int]  # device, inode, file type


@dataclass(frozen=True)
class _Listing:
    ctime: int
    found: tuple[str, ...]  # entries named as in NAMES
    folders: tuple[str, ...]  # subfolders to walk


@dataclass
class Finder:
    """The protected paths under `root`, existing or not, with the folder listings kept
    between looks (by path as a string: a look must cost little more than its `lstat` calls)."""

    root: Path
    _listings: dict[str, _Listing] = field(default_factory=dict)

    def paths(self) -> list[Path]:
        root = str(self.root)
        found: list[Path] = [self.root / ".git"]  # a .git made where there was none is caught
        seen = 0
        pending = [root]
        while pending and seen < FOLDER_LIMIT:
            folder = pending.pop()
            seen += 1
            listing = self._list(folder)
            if listing is None:
                continue
            if listing.found:
                found += [Path(folder, name) for name in listing.found]
            pending += [os.path.join(folder, name) for name in listing.folders]
        paths = _with_git_control(list(dict.fromkeys(found)))
        return [*paths, *_link_targets(paths, self.root)]

    def _list(self, folder: str) -> _Listing | None:
        try:
            ctime = os.lstat(folder).st_ctime_ns
        except OSError:
            return None
        kept = self._listings.get(folder)
        if kept is not None and kept.ctime == ctime:
            return kept
        now = time.time_ns()
        found: list[str] = []
        folders: list[str] = []
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    if entry.name.lower() in NAMES:
                        found.append(entry.name)
                    elif entry.is_dir(follow_symlinks=False) and entry.name not in SKIPPED:
                        folders.append(entry.name)
        except OSError:
            return None
        listing = _Listing(ctime, tuple(found), tuple(folders))
        if ctime < now - SETTLED_NS:  # else a change in the same clock tick could hide
            self._listings[folder] = listing
        return listing


def _with_git_control(found: list[Path]) -> list[Path]:
    """`found`, where each `.git` folder stands for the control parts of that git dir, and a
    `.git` file (or link) for itself and the control parts of the git dir it points to; with
    the control parts of each git dir's common dir."""
    out: list[Path] = []
    for path in found:
        if path.name.lower() != ".git":
            out.append(path)
            continue
        if _is_dir(path):
            gitdirs = [path]
        else:
            out.append(path)
            gitdirs = _pointed_to(path)
        for gitdir in list(gitdirs):
            gitdirs += _pointed_to(gitdir / "commondir", prefix="")
        out += [gitdir / part for gitdir in gitdirs for part in GIT_CONTROL]
    return out


def _link_targets(paths: list[Path], root: Path) -> list[Path]:
    """Where protected paths that are links lead, inside the workspace: guarded as well. A
    dangling link's target does not exist yet, so no mount covers it, and a command could
    otherwise create it without touching the link."""
    top = Path(os.path.realpath(root))
    out: list[Path] = []
    for path in paths:
        if os.path.islink(path):
            target = Path(os.path.realpath(path))
            if target.is_relative_to(top) and target not in paths and target not in out:
                out.append(target)
    return out


def _pointed_to(path: Path, prefix: str = "gitdir:") -> list[Path]:
    """The folder a `.git` file (`gitdir: ...`) or a `commondir` file names, if any."""
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            return []
        first = path.read_text(encoding="utf-8", errors="replace").splitlines()[0]
    except (OSError, IndexError):
        return []
    if not first.startswith(prefix):
        return []
    target = Path(first[len(prefix) :].strip())
    return [Path(os.path.normpath(path.parent / target))]


def _is_dir(path: Path) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def identity(path: Path) -> Identity | None:
    """What is at `path` (not following a link), or None when nothing is."""
    try:
        info = os.lstat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino, stat.S_IFMT(info.st_mode)


def snapshot(paths: list[Path]) -> dict[Path, Identity | None]:
    return {path: identity(path) for path in paths}


def undo_creations(
    before: dict[Path, Identity | None], after: list[Path]
) -> tuple[list[Path], list[Path]]:
    """Remove each protected path that is there now and is nothing that was there before the
    command: the paths it created (or put in place of the person's). A protected file that
    moved with its folder (`git mv`) is the person's own, unchanged (it was bound read-only),
    and stays. Returns what it found, and what of that it could not remove."""
    known = {ident for ident in before.values() if ident is not None}
    created: list[Path] = []
    left: list[Path] = []
    for path in after:
        now = identity(path)
        if now is None or now in known:
            continue
        created.append(path)
        _move_aside(path, now)
        if identity(path) is not None:
            left.append(path)
    return created, left


def _move_aside(path: Path, now: Identity) -> None:
    """Rename `path` beside itself (the same folder: atomic, the link itself if it is one);
    where that fails, remove it, never following a link."""
    try:
        os.rename(path, path.with_name(f"{path.name}{ASIDE}{secrets.token_hex(4)}"))
        return
    except OSError:
        pass
    if stat.S_ISDIR(now[2]):
        _open_up(path)
        shutil.rmtree(path, ignore_errors=True)  # never follows a link, at any depth
    else:
        with contextlib.suppress(OSError):
            path.unlink()


def _open_up(folder: Path) -> None:
    """Give back the owner's rights on every folder under `folder` (a command may have taken
    them away, so that it could not be listed or emptied), not following links."""
    with contextlib.suppress(OSError):
        os.chmod(folder, 0o700)
    for current, folders, _ in os.walk(folder):  # lists each folder after its chmod
        for name in folders:
            inner = os.path.join(current, name)
            if not os.path.islink(inner):
                with contextlib.suppress(OSError):
                    os.chmod(inner, 0o700)


def created_note(created: list[Path], left: list[Path], root: Path) -> str:
    """What the tool result says about what a command created among the protected paths."""
    note = CREATED_NOTE.format(names=_names(created, root)) if created else ""
    if left:
        note += f"\n[codive could NOT move {_names(left, root)}: remove it before using git here]"
    return note


def _names(paths: list[Path], root: Path) -> str:
    return ", ".join(str(p.relative_to(root)) if p.is_relative_to(root) else str(p) for p in paths)
