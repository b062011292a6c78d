"""What the files an auto-allowed command would read say about running it without asking.

The shell judge (bash_rules) knows commands, not the file system. A command it allows still
asks here when it would:

- expand a glob into a word that starts with `-` (a file named `--pre=sh` turns `rg TODO *`
  into `rg TODO --pre=sh ...`), or into more words than can be checked;
- name a path (an argument, an option's value, a `rev:path`) outside the workspace, under
  the home folder (`~`), or that may hold secrets, or that a `read_file` deny rule covers
  (then it is denied);
- read a folder recursively (`grep -r`, `rg`) that holds such a file;
- run git in a repository whose own configuration names programs (codive_cli.tools.git_config).

`check` returns None when none of these hold, else the decision and the reason.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

from codive_cli.tools.base import ToolError
from codive_cli.tools.bash_rules import SimpleCommand
from codive_cli.tools.git_config import program_keys

Problem = tuple[Literal["ask", "deny"], str]
MAX_EXPANSION = 1000  # words one glob may become before the command asks
MAX_SCAN = 20_000  # entries looked at under a folder read recursively


def check(
    parts: list[SimpleCommand], guard: Any, denies_reading: Callable[[str], str]
) -> Problem | None:
    """For a command the judge allows in read-only, ask or accept-edits mode."""
    for part in parts:
        problem = _check_part(part, guard, denies_reading, check_secrets=True)
        if problem is not None:
            return problem
    return None


def check_denied(
    parts: list[SimpleCommand], guard: Any, denies_reading: Callable[[str], str]
) -> Problem | None:
    """For full mode, where everything runs but what a deny rule forbids."""
    for part in parts:
        for path in [*_path_words(list(part.words[1:])), *part.input_files]:
            denied = denies_reading(path)
            if denied:
                return "deny", f"{path}: {denied}"
    return None


def _check_part(
    part: SimpleCommand, guard: Any, denies_reading: Callable[[str], str], check_secrets: bool
) -> Problem | None:
    if not part.words:
        return None
    words = _expanded(part, guard.root)
    if isinstance(words, str):
        return "ask", words
    name = os.path.basename(part.words[0])
    if name == "git":
        keys = program_keys(guard.root)
        if keys:
            return "ask", (
                "the repository's git configuration sets "
                + ", ".join(keys[:4])
                + ": git could run a program it names"
            )
    for path in [*_path_words(words[1:]), *part.input_files]:
        problem = _check_path(path, guard, denies_reading, check_secrets)
        if problem is not None:
            return problem
    for folder in _recursive_folders(name, words[1:]):
        problem = _check_tree(
            folder, guard, denies_reading, check_secrets, _hidden_too(name, words)
        )
        if problem is not None:
            return problem
    return None


def _expanded(part: SimpleCommand, root: Path) -> list[str] | str:
    """The words after the shell's pathname expansion, or why it cannot be trusted."""
    words: list[str] = []
    for index, word in enumerate(part.words):
        if index not in part.glob_words or index == 0:
            words.append(word)
            continue
        matches = sorted(glob.glob(word, root_dir=root))  # the shell's: no dotfiles
        if len(matches) > MAX_EXPANSION:
            return f"the glob {word!r} expands to more than {MAX_EXPANSION} names"
        for match in matches:
            if match.startswith("-"):
                return (
                    f"the glob {word!r} expands to {match!r}, which the command would read "
                    "as an option"
                )
        words.extend(matches or [word])
    return words


def _path_words(words: list[str]) -> Iterator[str]:
    """Every word that could name a path: arguments, option values, `rev:path`."""
    for word in words:
        if word == "--":
            continue
        if word.startswith("--"):
            if "=" in word:
                yield word.split("=", 1)[1]
            continue
        if word.startswith("-") and len(word) > 1:
            if len(word) > 2:
                yield word[2:]  # `-f/etc/x`: a value glued to a short option
            continue
        yield word
        if ":" in word and not word.startswith("/"):
            yield word.split(":", 1)[1]  # git show HEAD:.env


def _check_path(
    path: str, guard: Any, denies_reading: Callable[[str], str], check_secrets: bool
) -> Problem | None:
    if not path:
        return None
    if path.startswith("~"):
        return "ask", f"{path} names a home folder, outside the workspace"
    try:
        real = guard.resolve(path)
    except ToolError as error:
        return "ask", str(error)
    denied = denies_reading(path) or denies_reading(guard.relative(real))
    if denied:
        return "deny", f"{path}: {denied}"
    if check_secrets and (guard.is_secret(Path(path)) or guard.is_secret(real)):
        return "ask", f"{path} may hold secrets"
    return None


_RECURSIVE_GREP = ("-r", "-R", "--recursive", "--dereference-recursive", "--directories=recurse")


def _recursive_folders(name: str, args: list[str]) -> list[str]:
    """The folders a command reads every file under: `grep -r` and `rg` (its default)."""
    positional = [word for word in args if not word.startswith("-")]
    if name == "rg":
        paths = (
            positional[1:] if not any(w in ("-e", "--regexp", "-f") for w in args) else positional
        )
        return paths or ["."]
    if name == "grep" and any(
        word in _RECURSIVE_GREP
        or (word.startswith("-") and not word.startswith("--") and set("rR") & set(word))
        for word in args
    ):
        return positional[1:] or ["."]
    return []


def _hidden_too(name: str, words: list[str]) -> bool:
    """rg skips hidden files unless told not to; grep -r reads them all."""
    if name != "rg":
        return True
    return any(
        word in ("--hidden", "-.", "--no-ignore", "--no-ignore-dot")
        or (word.startswith("-u") or word.startswith("-uu"))
        for word in words
    )


def _check_tree(
    folder: str,
    guard: Any,
    denies_reading: Callable[[str], str],
    check_secrets: bool,
    hidden: bool,
) -> Problem | None:
    try:
        top = guard.resolve(folder)
    except ToolError:
        return None  # the path check has spoken
    if not top.is_dir():
        return None
    seen = 0
    for current, folders, files in os.walk(top):
        folders[:] = [f for f in folders if f != ".git" and (hidden or not f.startswith("."))]
        for file in files:
            seen += 1
            if seen > MAX_SCAN:
                return "ask", f"{folder} holds too many files to check for secrets"
            if not hidden and file.startswith("."):
                continue
            relative = guard.relative(Path(current) / file)
            denied = denies_reading(relative)
            if denied:
                return "ask", f"it would read {relative}: {denied}"
            if check_secrets and guard.is_secret(Path(relative)):
                return "ask", f"it would read {relative}, which may hold secrets"
    return None
