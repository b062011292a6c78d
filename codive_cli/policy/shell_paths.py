"""What the files an auto-allowed command would read say about running it without asking.

The shell judge (bash_rules) knows commands, not the file system. A command it allows still
asks here when it would:

- expand a glob into a word that starts with `-` (a file named `--pre=sh` turns `rg TODO *`
  into `rg TODO --pre=sh ...`), or into more words than can be checked;
- name a path (an argument, an option's value, a `rev:path`) outside the workspace, under
  the home folder (`~`), or that may hold secrets, or that a `read_file` deny rule covers
  (then it is denied);
- read a folder recursively (`grep -r`, `rg`) that holds such a file;
- run git in a repository whose own configuration names programs (codive_cli.policy.git_config).

`check` returns None when none of these hold, else the decision and the reason.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

from codive_cli.errors import ToolError
from codive_cli.policy.git_config import git_dir, program_keys, tracked_secrets
from codive_cli.policy.shell import SimpleCommand

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
    """For full mode, where everything runs but what a deny rule forbids: the words as the
    shell expands them, and the files a recursive read reaches."""
    for part in parts:
        if not part.words:
            continue
        words = _expanded(part, guard.root)
        if isinstance(words, str):  # cannot be checked against the rules: not without asking
            return "ask", words
        for path in [*part.words[1:], *_path_words(words[1:]), *part.input_files]:
            denied = denies_reading(path)
            if denied:
                return "deny", f"{path}: {denied}"
        problem = _check_recursive(words, guard, denies_reading, check_secrets=False)
        if problem is not None:
            return problem
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
        if _compares_any_paths(words) and git_dir(guard.root) is None:
            return "ask", "not in a git repository: git diff would read any two paths"
        keys = program_keys(guard.root)
        if keys:
            return "ask", (
                "the repository's git configuration sets "
                + ", ".join(keys[:4])
                + ": git could run a program it names"
            )
        if check_secrets and _prints_contents(words):
            tracked = tracked_secrets(guard.root, guard.is_secret)
            if tracked:
                shown = "a file git cannot list" if tracked == ("?",) else tracked[0]
                return "ask", f"the repository tracks {shown}, which may hold secrets"
    for path in [*_path_words(words[1:]), *part.input_files]:
        problem = _check_path(path, guard, denies_reading, check_secrets)
        if problem is not None:
            return problem
    return _check_recursive(words, guard, denies_reading, check_secrets)


def _check_recursive(
    words: list[str], guard: Any, denies_reading: Callable[[str], str], check_secrets: bool
) -> Problem | None:
    """What the folders a recursive read (`grep -r`, `rg`) walks would meet."""
    name = os.path.basename(words[0])
    hidden, follow = _hidden_too(name, words), _follows_links(words)
    for folder in _recursive_folders(name, words[1:]):
        problem = _check_tree(folder, guard, denies_reading, check_secrets, hidden, follow)
        if problem is not None:
            return problem
    return None


def _prints_contents(words: list[str]) -> bool:
    """Whether `git WORDS` may print what tracked files hold: show and diff do, log with a
    patch option (`-p`, `-u`, `-U3`, `--patch`, `--cc`, `-c`, `--word-diff`, in a cluster
    too) and `status -v`."""
    sub, rest = words[1:2], words[2:]
    if sub in (["show"], ["diff"]):
        return True
    clusters = [w[1:] for w in rest if w.startswith("-") and not w.startswith("--")]
    longs = [w for w in rest if w.startswith("--")]
    if sub == ["log"]:
        return any(set("pucU") & set(c) for c in clusters) or any(
            w.startswith(("--patch", "--unified", "--cc", "--word-diff", "--color-words"))
            for w in longs
        )
    if sub == ["status"]:
        return any("v" in c for c in clusters) or any(w.startswith("--verb") for w in longs)
    return False


def _compares_any_paths(words: list[str]) -> bool:
    """`git diff A B` with two paths: outside a repository git reads it as `--no-index`."""
    return words[1:2] == ["diff"] and sum(1 for w in words[2:] if not w.startswith("-")) >= 2


def _expanded(part: SimpleCommand, root: Path) -> list[str] | str:
    """The words after the shell's pathname expansion, or why it cannot be trusted."""
    words: list[str] = []
    for index, word in enumerate(part.words):
        if index not in part.glob_words or index == 0:
            words.append(word)
            continue
        matches = bash_glob(word, root)  # bash's own rules: [^x], [[:alpha:]], no dotfiles
        if matches is None:
            return f"the glob {word!r} cannot be expanded to check it"
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


def bash_glob(pattern: str, root: Path) -> list[str] | None:
    """What bash makes of an unquoted glob in `root` (nothing matching: the word itself);
    None when bash cannot be asked. bash's own matcher, not a re-implementation."""
    try:
        result = subprocess.run(
            ["bash", "-c", 'compgen -G "$1" || true', "bash", pattern],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=5,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C"},
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if result.returncode != 0:
        return None
    return sorted(line for line in result.stdout.split("\n") if line)


def _path_words(words: list[str]) -> Iterator[str]:
    """Every word that could name a path: arguments, option values, `rev:path`."""
    options = True
    for word in words:
        if options and word == "--":
            options = False  # from here on everything is an operand, `-x` included
            continue
        if options and word.startswith("--"):
            if "=" in word:
                yield word.split("=", 1)[1]
            continue
        if options and word.startswith("-") and len(word) > 1:
            for start in range(2, len(word)):
                yield word[start:]  # `-uf/etc/x`: a value glued to any flag of a cluster
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


def _recursive_folders(name: str, args: list[str]) -> list[str]:
    """The folders a command may read every file under: rg always, grep when any option
    could mean recursion (`-r`, `-R`, `-d recurse`, `--dir=recurse`, `--recur`, ...). Every
    operand counts, the pattern too (which word is the pattern depends on options, and a
    word that is not a folder costs nothing), and `.` when the command may name none."""
    if name == "grep" and not any(_recursive_grep_option(w) for w in args):
        return []
    if name not in ("grep", "rg"):
        return []
    operands, ambiguous = _operands(args, _VALUE_OPTIONS[name], _VALUE_LONG[name])
    pattern_given = any(
        word in ("-e", "-f", "--regexp", "--file") or word.startswith(("--regexp=", "--file="))
        for word in args
    )
    named = len(operands) if pattern_given else len(operands) - 1
    return [*operands, "."] if ambiguous or named < 1 else operands


# Options that take the next word as their value, per program. Only options that certainly
# do: one taken for a value-taker would hide the operand after it from the walk (grep's -T
# takes none, rg's does), while a value taken for an operand is only walked for nothing.
_VALUE_OPTIONS = {"grep": frozenset("ABCDdefmX"), "rg": frozenset("ABCdEefgjMmrTt")}
_COMMON_LONG = (
    "--max-count",
    "--after-context",
    "--before-context",
    "--context",
    "--regexp",
    "--file",
)
_VALUE_LONG = {
    "grep": (
        *_COMMON_LONG,
        "--devices",
        "--directories",
        "--include",
        "--exclude",
        "--exclude-dir",
        "--exclude-from",
        "--label",
        "--binary-files",
    ),
    "rg": (
        *_COMMON_LONG,
        "--glob",
        "--iglob",
        "--type",
        "--type-not",
        "--max-depth",
        "--threads",
        "--max-columns",
        "--encoding",
        "--replace",
        "--ignore-file",
    ),
}


def _operands(
    args: list[str], value_options: frozenset[str], value_long: tuple[str, ...]
) -> tuple[list[str], bool]:
    """The words that are not options or option values, and whether that split is unsure.
    A long option takes the next word only when written out in full: `--t` may abbreviate
    an option that takes none (grep reads it as `--text`)."""
    operands: list[str] = []
    skip = False
    for word in args:
        if skip:
            skip = False
            continue
        if word == "--":
            return operands + args[args.index("--") + 1 :], False
        if word.startswith("--"):
            skip = word in value_long  # `--max-count 5`; anything else is taken as a flag
            continue
        if word.startswith("-") and len(word) > 1:
            flags = word[1:]
            for index, flag in enumerate(flags):
                if flag in value_options:
                    skip = index == len(flags) - 1  # the value is the next word
                    break
            else:
                if not flags.isalpha():
                    return operands, True  # `-5`, `-.`: not sure what follows
            continue
        operands.append(word)
    return operands, False


def _recursive_grep_option(word: str) -> bool:
    if word.startswith("--"):
        return word[2:3] in ("r", "d")  # --recursive, --dereference-recursive, --directories
    return word.startswith("-") and bool(set("rRd") & set(word[1:]))


def _follows_links(words: list[str]) -> bool:
    """grep -R (not -r) and rg -L follow symbolic links met on the way."""
    for word in words:
        if word.startswith("--") and word[2:4] in ("de", "fo"):  # --dereference-*, --follow
            return True
        if word.startswith("-") and not word.startswith("--") and set("RL") & set(word[1:]):
            return True
    return False


def _hidden_too(name: str, words: list[str]) -> bool:
    """rg skips hidden files unless an option says otherwise (`--hidden`, `-u`, `-.`, a
    `--glob`, `--no-ignore`...); grep -r reads them all."""
    if name != "rg":
        return True
    for word in words:
        if word.startswith("--") and any(
            key in word for key in ("hid", "unr", "no-ig", "glob", "type-add")
        ):
            return True
        if word.startswith("-") and not word.startswith("--") and set(".ugt") & set(word[1:]):
            return True
    return False


def _check_tree(
    folder: str,
    guard: Any,
    denies_reading: Callable[[str], str],
    check_secrets: bool,
    hidden: bool,
    follow: bool = True,
) -> Problem | None:
    """What reading every file under `folder` would meet. Without `check_secrets` (full
    mode) only deny rules count, and a file one names is denied rather than asked about."""
    try:
        top = guard.resolve(folder)
    except ToolError:  # outside: the path check has spoken, but `..` holds the workspace
        outside = Path(os.path.realpath(Path(guard.root) / os.path.expanduser(folder)))
        if not Path(guard.root).is_relative_to(outside):
            return None
        top = Path(guard.root)
    if not top.is_dir():
        return None
    if not hidden and any(_whitelists(f) for f in (top, *top.parents)):
        hidden = True  # `!.env` in an ignore file: rg reads that hidden file after all
    seen = 0
    for current, folders, files in os.walk(top):
        if not hidden and _whitelists(Path(current)):
            return _check_tree(folder, guard, denies_reading, check_secrets, True, follow)
        folders[:] = [f for f in folders if f != ".git" and (hidden or not f.startswith("."))]
        for entry in (*folders, *files) if follow else ():
            problem = _check_link(Path(current) / entry, guard, denies_reading, check_secrets)
            if problem is not None:
                return problem
        for file in files:
            seen += 1
            if seen > MAX_SCAN:
                return "ask", f"{folder} holds too many files to check for secrets"
            if not hidden and file.startswith("."):
                continue
            relative = guard.relative(Path(current) / file)
            denied = denies_reading(relative)
            if denied:
                return ("ask" if check_secrets else "deny"), f"it would read {relative}: {denied}"
            if check_secrets and guard.is_secret(Path(relative)):
                return "ask", f"it would read {relative}, which may hold secrets"
    return None


def _check_link(
    link: Path, guard: Any, denies_reading: Callable[[str], str], check_secrets: bool
) -> Problem | None:
    """A symbolic link a recursive read follows: judged by where it leads, not its name."""
    if not link.is_symlink():
        return None
    shown = guard.relative(link)
    try:
        target = guard.resolve(shown)
    except ToolError:
        if not check_secrets:
            return None  # full mode: reading outside is allowed; deny rules name the inside
        return "ask", f"it could follow {shown} out of the workspace"
    denied = denies_reading(guard.relative(target))
    if denied:
        why = f"it would read {shown} (a link to {guard.relative(target)}): {denied}"
        return ("ask" if check_secrets else "deny"), why
    if check_secrets and guard.is_secret(target):
        return "ask", f"it would read {shown}, a link to a file that may hold secrets"
    return None


_IGNORE_FILES = (".gitignore", ".ignore", ".rgignore", ".git/info/exclude")


def _whitelists(folder: Path) -> bool:
    """Whether an ignore file in `folder` has a `!` line, which can make rg read a hidden
    file it would skip (rg searches hidden files an ignore file whitelists)."""
    for name in _IGNORE_FILES:
        try:
            with open(folder / name, "rb") as handle:
                text = handle.read(1 << 20)
        except OSError:
            continue
        if any(line.lstrip().startswith(b"!") for line in text.splitlines()):
            return True
    return False
