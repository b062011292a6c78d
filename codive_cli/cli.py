"""The `codive` entry point: answers `--version` before anything loads, then runs the commands.

`codive --version` imports nothing but this module; every other invocation goes to the Typer
app in `commands.py`.
"""

from __future__ import annotations

import gc
import os
import sys


def main() -> None:
    _hold_closed_streams()
    if sys.argv[1:] == ["--version"]:  # what Typer would print, without loading it
        from codive_cli import __version__

        sys.stdout.write(f"codive {__version__}\n")
        return
    # Start-up creates a few hundred thousand objects that live as long as the process; the
    # cyclic collector would walk them again and again while they are made. It is switched
    # back on (with them frozen out of its way) when the command starts: commands._run.
    gc.disable()
    _skip_unused_imports()
    from codive_cli.commands import PICK, app

    sys.argv[1:] = bare_resume(sys.argv[1:], PICK)
    try:
        app()
    except KeyboardInterrupt:
        sys.stderr.write("\ninterrupted\n")
        sys.exit(130)


def bare_resume(args: list[str], pick: str) -> list[str]:
    """`--resume` with no id (last, or followed by another option) becomes `--resume pick`:
    Typer has no option whose value may be left out, and `codive chat --resume` lets the
    person pick a session."""
    out: list[str] = []
    for at, arg in enumerate(args):
        if arg == "--":  # what follows is arguments, not options
            return out + args[at:]
        out.append(arg)
        following = args[at + 1] if at + 1 < len(args) else None
        if arg == "--resume" and (following is None or following.startswith("-")):
            out.append(pick)
    return out


def _skip_unused_imports() -> None:
    """Mark as absent two optional imports codive never uses, as if they were not installed.

    httpcore imports trio whenever it is installed, in case it runs under trio (codive runs on
    asyncio only), and httpx imports its own command line (click, Rich's progress bars,
    pygments) whenever those are installed; together 100+ ms of every request's start. Both
    libraries catch the ImportError this gives and carry on without them.
    """
    for name in ("trio", "httpx._main"):
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]


def _hold_closed_streams() -> None:
    """Open /dev/null on a standard stream codive was started without (`codive chat <&-`).

    Otherwise the next file or socket codive opens takes that number, and a child process
    would get it as its stdin or stdout. Output then has somewhere to go; `sys.stdin` stays
    None, so a command can tell that there is no input at all.
    """
    for fd, name in ((0, "stdin"), (1, "stdout"), (2, "stderr")):
        try:
            os.fstat(fd)
            continue
        except OSError:
            pass
        held = os.open(os.devnull, os.O_RDWR)  # the lowest free number, which is `fd`
        if name != "stdin":
            setattr(sys, name, open(held, "w", encoding="utf-8", closefd=False))  # noqa: SIM115
