"""Whether a repository's own git configuration could make a read-only git command run code.

Git has many doors from configuration to a program: `core.fsmonitor` runs on `git status`,
`diff.external` and `diff.<driver>.textconv` on `git diff` and `git log -p`, `gpg.program`
with `log.showSignature`, filter drivers, pagers, hooks, includes that pull in more. A
repository that arrives with such a `.git/config` (or a model that wrote one) would turn
`git status` into code execution. Rather than list the doors, this module lists what is
known to be harmless: a repository config with any other key (or an include) means git
commands are not auto-allowed; they ask. The person's own global and system files are theirs.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

# section -> keys (lower case) that name no program and point nowhere else.
_HARMLESS: dict[str, frozenset[str]] = {
    "core": frozenset(
        {
            "repositoryformatversion",
            "filemode",
            "bare",
            "logallrefupdates",
            "ignorecase",
            "precomposeunicode",
            "symlinks",
            "autocrlf",
            "eol",
            "safecrlf",
            "quotepath",
            "checkstat",
            "trustctime",
            "untrackedcache",
            "commitgraph",
            "multipackindex",
            "sparsecheckout",
            "sparsecheckoutcone",
            "abbrev",
            "compression",
            "loosecompression",
            "preloadindex",
            "splitindex",
            "longpaths",
            "whitespace",
            "fscache",
        }
    ),
    "remote": frozenset({"url", "pushurl", "fetch", "push", "tagopt", "prune", "mirror"}),
    "branch": frozenset({"remote", "merge", "rebase", "pushremote", "description"}),
    "user": frozenset({"name", "email", "useconfigonly"}),
    "init": frozenset({"defaultbranch"}),
    "pull": frozenset({"rebase", "ff"}),
    "push": frozenset({"default", "autosetupremote"}),
    "fetch": frozenset({"prune", "prunetags", "writecommitgraph"}),
    "extensions": frozenset({"objectformat", "worktreeconfig", "preciousobjects"}),
    "submodule": frozenset({"url", "active"}),
    "lfs": frozenset({"repositoryformatversion"}),
    "index": frozenset({"version", "threads", "skiphash"}),
    "gc": frozenset({"auto", "autodetach"}),
    "maintenance": frozenset({"auto", "strategy"}),
    "color": frozenset({"ui", "diff", "status", "branch"}),
}
_SECTION = re.compile(r'^\s*\[\s*([A-Za-z0-9.-]+)(?:\s+"(?:[^"\\]|\\.)*")?\s*\]\s*(.*)$')
_KEY = re.compile(r"^\s*([A-Za-z][A-Za-z0-9-]*)\s*(?:=|$)")


def program_keys(workspace: Path) -> list[str]:
    """The keys of the repository's own git configuration that codive does not know to be
    harmless (`section.key`), or ["<why>"] when the configuration cannot be read safely."""
    if all((workspace / part).exists() for part in ("HEAD", "objects", "refs")):
        return ["the workspace is itself a git dir"]  # git takes it as one: its config rules
    gitdir = git_dir(workspace)
    if gitdir is None:
        return []
    found: list[str] = _hooks(gitdir) + _submodules(workspace, gitdir)
    for name in ("config", "config.worktree"):
        path = gitdir / name
        try:
            text = _read(path)
        except FileNotFoundError:
            continue
        except OSError:
            return [f"{path} (unreadable)"]
        found += _unknown_keys(text)
    common = _common_dir(gitdir)
    if common is not None and common != gitdir:
        found += [key for key in program_keys_of_dir(common) if key not in found]
    return found


def program_keys_of_dir(gitdir: Path) -> list[str]:
    try:
        return _unknown_keys(_read(gitdir / "config"))
    except FileNotFoundError:
        return []
    except OSError:
        return [f"{gitdir / 'config'} (unreadable)"]


def _unknown_keys(text: str) -> list[str]:
    found: list[str] = []
    section = ""
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].split(";", 1)[0] if '"' not in raw else raw
        if not line.strip():
            continue
        header = _SECTION.match(line)
        if header:
            section = header.group(1).lower()
            line = header.group(2)  # `[core] fsmonitor = x` on one line
            if not line.strip():
                continue
        key = _KEY.match(line)
        if key is None:
            if raw.strip().startswith(("#", ";")):
                continue
            found.append(f"{section or '?'}: unparsed line")  # continuation lines and the like
            continue
        name = key.group(1).lower()
        base = section.split(".", 1)[0]
        if name not in _HARMLESS.get(base, frozenset()):
            found.append(f"{section}.{name}")
    return found


# Hooks that status, diff, log and show never run (they belong to commits, merges, pushes,
# checkouts and servers): a pre-commit set-up does not make `git status` ask. Any other
# executable hook (post-index-change runs on `git status`) does.
_QUIET_HOOKS = frozenset(
    {
        "applypatch-msg",
        "pre-applypatch",
        "post-applypatch",
        "pre-commit",
        "pre-merge-commit",
        "prepare-commit-msg",
        "commit-msg",
        "post-commit",
        "pre-rebase",
        "post-checkout",
        "post-merge",
        "pre-push",
        "pre-receive",
        "update",
        "proc-receive",
        "post-receive",
        "post-update",
        "push-to-checkout",
        "post-rewrite",
        "sendemail-validate",
    }
)


def _hooks(gitdir: Path) -> list[str]:
    """Executable hooks that a read-only git command may run."""
    folder = gitdir / "hooks"
    try:
        names = sorted(
            entry.name
            for entry in folder.iterdir()
            if entry.name not in _QUIET_HOOKS
            and not entry.name.endswith(".sample")
            and os.access(entry, os.X_OK)
        )
    except OSError:
        return []
    return [f"hooks/{name}" for name in names]


def _submodules(workspace: Path, gitdir: Path) -> list[str]:
    """Submodules bring configuration of their own that git status and diff obey."""
    if (workspace / ".gitmodules").exists() or (gitdir / "modules").exists():
        return ["submodules (their own git configuration applies)"]
    return []


def _read(path: Path) -> str:
    """A regular file's text (a FIFO planted as .git/config must not hang the judge)."""
    from codive_cli.policy.regular import open_regular

    with open_regular(path) as handle:
        return handle.read(1 << 20).decode("utf-8", errors="replace")


def git_dir(workspace: Path) -> Path | None:
    """The repository's git dir: `.git` in the workspace or an ancestor, or its `gitdir:`."""
    for folder in (workspace, *workspace.parents):
        dot_git = folder / ".git"
        if dot_git.is_dir():
            return dot_git
        if dot_git.is_file():
            try:
                first = _read(dot_git).splitlines()[0]
            except (OSError, IndexError):
                return dot_git
            if first.startswith("gitdir:"):
                target = Path(first[len("gitdir:") :].strip())
                return target if target.is_absolute() else folder / target
            return dot_git
    return None


def _common_dir(gitdir: Path) -> Path | None:
    try:
        text = _read(gitdir / "commondir").strip()
    except OSError:
        return None
    path = Path(text)
    return path if path.is_absolute() else gitdir / path


_TRACKED: dict[tuple[object, ...], tuple[str, ...]] = {}


def tracked_secrets(workspace: Path, is_secret: Callable[[Path], bool]) -> tuple[str, ...]:
    """The files the index or the current commit holds whose names say they may hold
    secrets (git prints them without naming them: `git show`, `git log -p`, `git diff`);
    ("?",) when git cannot list them. Call it only once `program_keys` found nothing: it
    runs git. Cached while the index and HEAD stay as they are."""
    gitdir = git_dir(workspace)
    if gitdir is None:
        return ()
    key = _state(gitdir)
    if key not in _TRACKED:
        names = _git_lines(workspace, "ls-files", "-z")
        if names is not None and (gitdir / "HEAD").exists() and _has_commit(workspace):
            committed = _git_lines(workspace, "ls-tree", "-r", "-z", "--name-only", "HEAD")
            names = None if committed is None else [*names, *committed]
        found = ("?",) if names is None else tuple(n for n in names if is_secret(Path(n)))
        _TRACKED.clear()  # one repository at a time is plenty
        _TRACKED[key] = found
    return _TRACKED[key]


def _state(gitdir: Path) -> tuple[object, ...]:
    """What changes when the index or the commit HEAD names changes."""
    stamps: list[object] = [str(gitdir)]
    try:
        head = _read(gitdir / "HEAD")
    except OSError:
        head = ""
    ref = head[len("ref:") :].strip() if head.startswith("ref:") else ""
    stamps.append(head)
    for path in (gitdir / "index", gitdir / "packed-refs", gitdir / ref if ref else None):
        try:
            info = path.stat() if path is not None else None
        except OSError:
            info = None
        stamps.append((info.st_mtime_ns, info.st_size, info.st_ino) if info else None)
    return tuple(stamps)


def _has_commit(workspace: Path) -> bool:
    return _git_lines(workspace, "rev-parse", "-q", "--verify", "HEAD^{commit}") is not None


def _git_lines(workspace: Path, *args: str) -> list[str] | None:
    """git's output split on NULs (or lines); None when git fails."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "LC_ALL": "C",
    }
    command = ["git", "-c", "core.fsmonitor=false", *args]
    try:
        done = subprocess.run(
            command, cwd=workspace, env=env, capture_output=True, timeout=5, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    text = done.stdout.decode("utf-8", "replace")
    return [name for name in text.replace("\n", "\0").split("\0") if name]
