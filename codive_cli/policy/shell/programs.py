"""What the judge knows about programs: which run other commands, which take shell text."""

from __future__ import annotations

# Programs that run their arguments (or some of them) as a command.
WRAPPERS = frozenset(
    {
        "ash",
        "bash",
        "builtin",
        "bundle",
        "busybox",
        "bwrap",
        "caffeinate",
        "chroot",
        "chrt",
        "command",
        "coproc",
        "dash",
        "direnv",
        "doas",
        "env",
        "eval",
        "exec",
        "fakeroot",
        "find",
        "firejail",
        "fish",
        "flock",
        "ionice",
        "ksh",
        "ltrace",
        "mise",
        "mksh",
        "nice",
        "nohup",
        "npx",
        "nsenter",
        "parallel",
        "pipenv",
        "pnpm",
        "poetry",
        "proxychains",
        "proxychains4",
        "runuser",
        "script",
        "setsid",
        "sg",
        "sh",
        "ssh",
        "stdbuf",
        "strace",
        "su",
        "sudo",
        "systemd-run",
        "taskset",
        "time",
        "timeout",
        "torsocks",
        "unbuffer",
        "uv",
        "uvx",
        "valgrind",
        "watch",
        "xargs",
        "yarn",
        "zsh",
    }
)
# Programs some of whose arguments are shell source text.
SHELLS = frozenset(
    {
        "ash",
        "bash",
        "busybox",
        "dash",
        "env",
        "eval",
        "fish",
        "flock",
        "ksh",
        "mksh",
        "parallel",
        "runuser",
        "script",
        "sg",
        "sh",
        "ssh",
        "su",
        "watch",
        "zsh",
    }
)
# git's global options that take the next word as their value.
GIT_GLOBAL_WITH_ARG = frozenset(
    {"-c", "-C", "--git-dir", "--work-tree", "--namespace", "--super-prefix", "--config-env"}
)


def basename(word: str) -> str:
    """The program name of a command word (`/usr/bin/git` -> `git`)."""
    return word.rsplit("/", 1)[-1]
