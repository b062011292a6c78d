"""Variants of the shell judge's rules found by attacking them (each was shown to work against
the judge before its fix): option clusters of programs that do not use getopt, an option
table shared by grep and rg, ignore files that whitelist hidden files for rg, file names read
from data, git's implicit --no-index, deny rules in full mode, links followed by a recursive
read, and git printing a tracked secret without naming it. docs/security.md lists the
threats; tests/test_security_shell_reads.py the first forms.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.test_security_shell_reads import GIT_ENV, decide, work  # noqa: F401 (the fixture)

GUARDED_MODES = ("read-only", "ask", "accept-edits")


def _secrets(root: Path) -> None:
    (root / ".env").write_text("API_KEY=sk-secret\n")
    (root / "config").mkdir(exist_ok=True)
    (root / "config" / ".env").write_text("DB_PASSWORD=hunter2\n")


@pytest.mark.parametrize(
    "command",
    [
        "tree -Lo 1 src/app.py",  # -L takes the next word; the o after it is still -o
        "tree -Po x out",
        "tree -HR x .",
        "tree -LR 1 -H x .",
        "tree -aoL x 1",
        "echo 'touch PWNED' | tree --fromfile -i --noreport -Lo 9 build.sh .",
        "tree --out=x",
    ],
)
def test_tree_clusters_that_write_ask(work: Path, command: str) -> None:  # noqa: F811
    for mode in ("ask", "accept-edits"):
        assert decide(work, command, mode) == "ask", mode
    assert decide(work, command, "read-only") == "deny"


@pytest.mark.parametrize("command", ["tree -L 2 src", "tree -a -L 1", "tree -dL 1"])
def test_tree_that_only_lists_runs(work: Path, command: str) -> None:  # noqa: F811
    assert decide(work, command) == "allow"


@pytest.mark.parametrize(
    "command",
    [
        "grep -rT PASSWORD config src",  # grep's -T takes no value (rg's does)
        "grep -r --t PASSWORD config src",  # grep reads --t as --text
        "grep -r --max PASSWORD config src",  # an abbreviation: a flag, not --max-count 5
        "grep -rTn PASSWORD config",
        "grep -r -T -e PASSWORD config",
        "grep -rT PASSWORD",
        "rg -uuT py PASSWORD config",  # rg's -T does take a value
    ],
)
def test_recursive_reads_walk_every_operand(work: Path, command: str) -> None:  # noqa: F811
    _secrets(work)
    (work / "src" / "x.txt").write_text("nothing\n")
    for mode in GUARDED_MODES:
        assert decide(work, command, mode) == "ask", mode


@pytest.mark.parametrize(
    ("ignore_file", "line"),
    [
        (".ignore", "!.env"),
        (".gitignore", "!.env"),
        (".rgignore", "  !config/.env"),
        ("config/.ignore", "!.env"),
        (".git/info/exclude", "!.env"),
    ],
)
def test_rg_asks_when_an_ignore_file_whitelists_hidden_files(
    work: Path,  # noqa: F811
    ignore_file: str,
    line: str,
) -> None:
    _secrets(work)
    (work / ignore_file).parent.mkdir(parents=True, exist_ok=True)
    (work / ignore_file).write_text(f"*.log\n{line}\n")
    for command in ("rg -e PASSWORD -e API_KEY", "rg PASSWORD config", "rg -n KEY"):
        assert decide(work, command) == "ask", command


def test_rg_without_a_whitelist_still_skips_hidden_files(work: Path) -> None:  # noqa: F811
    _secrets(work)
    (work / ".gitignore").write_text("*.log\n# !not a rule\n")
    assert decide(work, "rg -n KEY") == "allow"


@pytest.mark.parametrize(
    "command",
    [
        "echo .env | file -f -",
        "printf 'config/.env' | file -m notes.magic -f -",
        "file -bf list.txt",
        "file --files-from=list.txt",
        "file --files list.txt",
        "echo /etc/passwd | file -kf -",
    ],
)
def test_file_names_read_from_data_ask(work: Path, command: str) -> None:  # noqa: F811
    _secrets(work)
    (work / "list.txt").write_text(".env\n")
    for mode in ("ask", "accept-edits"):
        assert decide(work, command, mode) == "ask", mode
    assert decide(work, command, "read-only") == "deny"
    assert decide(work, "file src/app.py") == "allow"


def test_git_diff_of_two_paths_outside_a_repository_asks(tmp_path: Path) -> None:
    root = tmp_path / "plain"
    (root / "empty").mkdir(parents=True)
    _secrets(root)
    for command in ("git diff empty config", "git diff --stat empty config", "git diff -- a b"):
        assert decide(root, command) == "ask", command
    assert decide(root, "git diff") == "allow"  # outside a repository: an error, no read
    assert decide(root, "git status") == "allow"


def test_git_diff_of_two_paths_inside_a_repository_runs(work: Path) -> None:  # noqa: F811
    assert decide(work, "git diff src README.md") == "allow"


@pytest.mark.parametrize(
    "command",
    [
        "cat .e*",
        "cat .en?",
        "cat .[e]nv",
        "grep -r API_KEY .",
        "grep -R KEY",
        "rg --hidden API_KEY",
        "rg -uu KEY src ..",
        "cat config/.e*",
    ],
)
def test_full_mode_deny_rules_see_globs_and_recursive_reads(
    work: Path,  # noqa: F811
    command: str,
) -> None:
    _secrets(work)
    deny = ("read_file(**/.env*)",)
    assert decide(work, command, "full", deny) == "deny"


def test_full_mode_without_read_rules_checks_nothing(work: Path) -> None:  # noqa: F811
    _secrets(work)
    for index in range(30):  # a tree is not walked at all: nothing could be denied
        (work / f"d{index}").mkdir()
    assert decide(work, "grep -r API_KEY .", "full") == "allow"
    assert decide(work, "cat .e*", "full", ("bash(rm:*)",)) == "allow"
    assert decide(work, "grep -r TODO src", "full", ("read_file(**/.env*)",)) == "allow"


@pytest.mark.parametrize(
    "command",
    ["grep -R PASSWORD src", "rg -L PASSWORD", "rg -L PASSWORD src", "grep -rR x src"],
)
def test_followed_links_are_judged_by_their_target(work: Path, command: str) -> None:  # noqa: F811
    _secrets(work)
    (work / "src" / "notes.txt").symlink_to("../config/.env")
    for mode in GUARDED_MODES:
        assert decide(work, command, mode) == "ask", mode
    assert decide(work, "grep -r PASSWORD src") == "allow"  # -r does not follow links
    deny = ("read_file(config/**)",)
    assert decide(work, "grep -R x src", "full", deny) == "deny"


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, env=GIT_ENV)


def _commit(root: Path, *paths: str) -> None:
    _git(root, "add", "-f", *paths)
    _git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x")


@pytest.mark.parametrize(
    "command",
    [
        "git show HEAD",
        "git show",
        "git log -p -1",
        "git log -1p",
        "git log --patch",
        "git log -U3",
        "git log --cc",
        "git diff HEAD~0",
        "git diff",
        "git status -v",
        "git status --verbose",
    ],
)
def test_git_that_prints_a_tracked_secret_asks(work: Path, command: str) -> None:  # noqa: F811
    (work / ".env").write_text("API_KEY=sk-secret\n")
    _commit(work, "README.md", ".env")
    for mode in GUARDED_MODES:
        assert decide(work, command, mode) == "ask", mode
    for quiet in ("git log --oneline", "git status", "git log --stat -3"):
        assert decide(work, quiet) == "allow", quiet


def test_a_secret_only_in_the_index_or_only_in_the_commit_counts(work: Path) -> None:  # noqa: F811
    (work / "id_rsa").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    _commit(work, "README.md")
    assert decide(work, "git show HEAD") == "allow"  # nothing secret tracked
    _git(work, "add", "-f", "id_rsa")  # staged only: `git diff --cached` would print it
    assert decide(work, "git diff --cached") == "ask"
    _commit(work, "id_rsa")
    (work / ".git" / "index").unlink()  # gone from the index, still in HEAD
    assert decide(work, "git show HEAD") == "ask"


def test_git_that_cannot_list_what_it_tracks_asks(work: Path) -> None:  # noqa: F811
    _commit(work, "README.md")
    (work / ".git" / "index").write_bytes(b"DIRC garbage")  # git show HEAD works without it
    assert decide(work, "git show HEAD") == "ask"
