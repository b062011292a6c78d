"""The built-in read-only commands, and the options by which a program writes or executes.

A prefix rule (`git diff:*`) does not cover a form that is known to write or execute
(`git diff --output=x`, `find -exec`, `sed -i`, `rg --pre`): `unsafe_reason` names those.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from codive_cli.policy.shell.parse import SimpleCommand, split_command
from codive_cli.policy.shell.programs import GIT_GLOBAL_WITH_ARG, basename

READ_ONLY_COMMANDS = frozenset(
    {
        "basename",
        "cat",
        "cut",
        "date",
        "df",
        "dirname",
        "du",
        "echo",
        "file",
        "find",
        "grep",
        "head",
        "ls",
        "pwd",
        "realpath",
        "rg",
        "sort",
        "stat",
        "tail",
        "tr",
        "tree",
        "true",
        "uniq",
        "wc",
        "which",
        "whoami",
    }
)
_READ_ONLY_GIT = frozenset({"status", "diff", "log", "show"})
_FIND_UNSAFE = ("-exec", "-execdir", "-ok", "-okdir", "-delete", "-fprint", "-fls")
# Programs that read file names from data with `--files0-from` (a pipe: no word names them).
_READS_FILES0 = frozenset({"sort", "wc", "du", "find"})


def _long_option_is(word: str, names: Iterable[str]) -> bool:
    """`--out=x` is `--output` to getopt_long (unique prefixes count): fail closed on those."""
    if not word.startswith("--") or word == "--":
        return False
    given = word[2:].split("=", 1)[0]
    return bool(given) and any(name.startswith(given) for name in names)


def _short_flags(word: str, with_arg: str) -> str:
    """The flags of a short-option cluster (`-nro` -> `nro`), up to one that takes a value."""
    if not word.startswith("-") or word.startswith("--") or word == "-":
        return ""
    flags = []
    for ch in word[1:]:
        flags.append(ch)
        if ch in with_arg:
            break
    return "".join(flags)


# --- one checker per program: why its arguments write or execute, if they do ------------


def _files0_from(args: tuple[str, ...]) -> str | None:
    for word in args:
        if _long_option_is(word, ("files0-from",)) or word.startswith("-files0-from"):
            return "--files0-from reads file names from data"
    return None


def _git_global_is_unsafe(word: str) -> bool:
    return (
        word in GIT_GLOBAL_WITH_ARG
        or word.startswith(("--config-env", "--exec-path", "--git-dir", "--work-tree"))
        or (word.startswith("-c") and not word.startswith("--"))
        or (word.startswith("-C") and not word.startswith("--"))
    )


def _git(args: tuple[str, ...]) -> str | None:
    in_globals = True
    for word in args:
        if in_globals and not word.startswith("-"):
            in_globals = False  # the subcommand
        if in_globals and _git_global_is_unsafe(word):
            return "git configuration, programs or repository from the command line"
        if _long_option_is(word, ("output", "ext-diff")):
            return "git --output / --ext-diff"
        if _long_option_is(word, ("no-index",)):
            return "git diff --no-index reads any two paths"
    return None


def _find(args: tuple[str, ...]) -> str | None:
    for word in args:
        if word.startswith(_FIND_UNSAFE):
            return f"find {word}"
    return None


def _sed(args: tuple[str, ...]) -> str | None:
    for word in args:
        if word.startswith(("-i", "--in-place")) or _long_option_is(word, ("in-place",)):
            return "sed -i"
        flags = _short_flags(word, "ef")
        if "i" in flags:
            return "sed -i"
        if "f" in flags or _long_option_is(word, ("file",)):
            return "sed -f: a script not on the command line"
        if re.search(r"[wWe]", word):
            return "a sed script that may write or execute (w, W, e)"
    return None


def _rg(args: tuple[str, ...]) -> str | None:
    for word in args:
        if _long_option_is(word, ("pre", "pre-glob", "hostname-bin")):
            return "rg --pre / --hostname-bin run programs"
    return None


def _sort(args: tuple[str, ...]) -> str | None:
    for word in args:
        if _long_option_is(word, ("output", "compress-program")):
            return "sort --output / --compress-program"
        if "o" in _short_flags(word, "kStTo"):
            return "sort -o"
    return None


def _uniq(args: tuple[str, ...]) -> str | None:
    # A second operand is the output file.
    positional = 0
    skip = False
    options = True
    for word in args:
        if skip:
            skip = False
        elif options and word == "--":
            options = False
        elif options and word in ("-f", "-s", "-w", "--skip-fields", "--skip-chars"):
            skip = True
        elif options and word.startswith("-") and word != "-":
            if word == "--check-chars":
                skip = True
        else:
            positional += 1
    return "uniq with an output file" if positional > 1 else None


def _tree(args: tuple[str, ...]) -> str | None:
    # tree reads a cluster letter by letter and takes option values from the next words, so
    # `-Lo 1 x` is -L 1 and -o x: any `o` or `R` in a cluster counts, wherever it stands.
    for word in args:
        cluster = word[1:] if word.startswith("-") and not word.startswith("--") else ""
        if set("oR") & set(cluster) or _long_option_is(word, ("output",)):
            return "tree -o / -R write files"
    return None


def _date(args: tuple[str, ...]) -> str | None:
    for word in args:
        if "s" in _short_flags(word, "dfrIs") or _long_option_is(word, ("set",)):
            return "date --set"
    return None


def _file(args: tuple[str, ...]) -> str | None:
    for word in args:
        flags = _short_flags(word, "efFmP")
        if "C" in flags or _long_option_is(word, ("compile",)):
            return "file --compile writes"
        if "f" in flags or _long_option_is(word, ("files-from",)):
            return "file --files-from reads file names from data"
    return None


_CHECKERS: dict[str, Callable[[tuple[str, ...]], str | None]] = {
    "git": _git,
    "find": _find,
    "sed": _sed,
    "rg": _rg,
    "sort": _sort,
    "uniq": _uniq,
    "tree": _tree,
    "date": _date,
    "file": _file,
}


def unsafe_reason(words: tuple[str, ...]) -> str | None:
    """Why this command (by its program) writes or executes beyond its output, if it does."""
    if not words:
        return "empty"
    name = basename(words[0])
    args = words[1:]
    if name in _READS_FILES0 and (reason := _files0_from(args)) is not None:
        return reason
    checker = _CHECKERS.get(name)
    return checker(args) if checker is not None else None


def is_read_only_command(command: SimpleCommand) -> bool:
    """Whether one simple command only reads: on the short built-in list, by its bare name,
    with no option that writes or executes and no output redirection to a file."""
    if command.redirects_output or not command.words:
        return False
    name = command.words[0]
    if name == "git":
        if len(command.words) < 2 or command.words[1] not in _READ_ONLY_GIT:
            return False
    elif name not in READ_ONLY_COMMANDS:
        return False
    return unsafe_reason(command.words) is None


def is_read_only(command: str) -> bool:
    """True only if the line parses and every simple command in it is read-only."""
    parts = split_command(command)
    return bool(parts) and all(is_read_only_command(p) for p in parts or ())
