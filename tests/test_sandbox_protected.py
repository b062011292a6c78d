"""The sandbox against commands that CREATE git's or codive's configuration where there was
none (a mount only protects what exists): what they create is moved aside after them, the tool
result says so, and the person's next `git status` runs nothing.

Like tests/test_sandbox.py, each command runs through the bash tool with the judge out of the
way, against the real kernel.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from codive_cli.policy.protected import Finder
from codive_cli.policy.sandbox import Sandbox
from tests.test_sandbox import WRITABLE, bwrap, home, run, sandbox_for  # noqa: F401

GIT = ("git", "-c", "user.email=a@b.c", "-c", "user.name=A")


@pytest.fixture
def repo(tmp_path: Path, home: Path) -> Path:  # noqa: F811
    work = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(work)], check=True)
    subprocess.run([*GIT, "-C", str(work), "commit", "-q", "--allow-empty", "-m", "0"], check=True)
    return work


def git_status_runs_nothing(work: Path, marker: Path) -> None:
    subprocess.run(["git", "-C", str(work), "status"], capture_output=True, check=False)
    assert not marker.exists()


@pytest.mark.parametrize("mode", WRITABLE)
def test_the_red_team_commondir_attack_is_undone(
    repo: Path,
    bwrap: Path,  # noqa: F811
    tmp_path: Path,
    mode: str,
) -> None:
    marker = tmp_path / "PWNED"
    command = (
        "mkdir evil; ln -s ../.git/objects evil/objects; ln -s ../.git/refs evil/refs; "
        f"printf '[core]\\n\\tfsmonitor = \"touch {marker}; false\"\\n' > evil/config; "
        "echo ../evil > .git/commondir"
    )
    result = run(repo, command, mode, sandbox_for(repo, bwrap))
    assert not (repo / ".git" / "commondir").exists()
    assert "codive moved .git/commondir" in result.content
    aside = list((repo / ".git").glob("commondir.codive-removed-*"))  # inert, and nothing lost
    assert [p.read_text() for p in aside] == ["../evil\n"]
    assert "commands may not create git's or codive's configuration" in result.content
    assert result.metadata["protected_removed"]
    git_status_runs_nothing(repo, marker)
    run(repo, command, mode, None)  # without the sandbox: harm
    subprocess.run(["git", "-C", str(repo), "status"], capture_output=True, check=False)
    assert marker.exists()


@pytest.mark.parametrize(
    "target",
    [
        ".gitattributes",
        "new/deep/.gitattributes",
        ".GitAttributes",
        "codive.toml",
        "sub/codive.toml",
        ".git/config.worktree",
        ".git/modules/x/config",
        ".git/worktrees/w/commondir",
        ".git/hooks/pre-commit",
        "sub/.git",  # a `gitdir:` file making a nested repository
    ],
)
def test_created_protected_paths_are_removed(repo: Path, bwrap: Path, target: str) -> None:  # noqa: F811
    (repo / "sub").mkdir()
    subprocess.run(["rm", "-rf", str(repo / ".git" / "hooks")], check=True)
    command = f"mkdir -p $(dirname {target}) && echo 'gitdir: ../evil' > {target} && echo made"
    result = run(repo, command, "accept-edits", sandbox_for(repo, bwrap))
    assert "made" in result.content and not (repo / target).exists(), result.content
    assert "codive moved" in result.content


def test_links_and_folders_are_removed_without_following(
    repo: Path,
    bwrap: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    outside = tmp_path / "outside"
    (outside / "keep").mkdir(parents=True)
    command = (
        f"ln -s {outside} codive.toml; mkdir -p .git/modules/m; ln -s {outside} .git/modules/m/l"
    )
    run(repo, command, "accept-edits", sandbox_for(repo, bwrap))
    assert not (repo / "codive.toml").is_symlink() and not (repo / ".git" / "modules").exists()
    assert (outside / "keep").is_dir()


def test_a_file_created_after_an_earlier_command_is_still_protected(
    repo: Path,
    bwrap: Path,  # noqa: F811
) -> None:
    sandbox = sandbox_for(repo, bwrap)
    run(repo, "true", "ask", sandbox)  # the first command: nothing to protect yet
    (repo / "codive.toml").write_text("[agent]\n")  # the person adds one
    (repo / "new").mkdir()
    (repo / "new" / ".gitattributes").write_text("*.md text\n")
    result = run(
        repo, "echo pwned >> codive.toml; echo pwned >> new/.gitattributes", "ask", sandbox
    )
    assert "Read-only file system" in result.content
    assert (repo / "codive.toml").read_text() == "[agent]\n"
    assert (repo / "new" / ".gitattributes").read_text() == "*.md text\n"
    result = run(repo, "echo '* filter=x' > .gitattributes", "ask", sandbox)
    assert not (repo / ".gitattributes").exists() and "moved .gitattributes aside" in result.content


def test_background_writers_die_with_the_command(repo: Path, bwrap: Path) -> None:  # noqa: F811
    command = (
        "(while :; do echo ../evil > .git/commondir; done) 2>/dev/null & "
        "(setsid sh -c 'sleep 0.3; echo x > codive.toml' &); sleep 0.1"
    )
    run(repo, command, "accept-edits", sandbox_for(repo, bwrap))
    subprocess.run(["sleep", "0.5"], check=True)
    assert not (repo / ".git" / "commondir").exists() and not (repo / "codive.toml").exists()


def test_a_moved_folder_keeps_its_gitattributes(repo: Path, bwrap: Path) -> None:  # noqa: F811
    (repo / "a").mkdir()
    (repo / "a" / ".gitattributes").write_text("*.md text\n")
    result = run(repo, "mv a b && echo moved", "accept-edits", sandbox_for(repo, bwrap))
    assert "moved" in result.content and "codive moved" not in result.content
    assert (repo / "b" / ".gitattributes").read_text() == "*.md text\n"


def test_a_nested_repository_loses_its_configuration(
    repo: Path,
    bwrap: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    """An embedded repository added as a gitlink: the person's `git status` runs `git
    status` inside it, with its configuration."""
    marker = tmp_path / "PWNED"
    command = (
        f"git init -q nested && {' '.join(GIT)} -C nested commit -q --allow-empty -m n && "
        f"printf '[core]\\n\\tfsmonitor = \"touch {marker}; false\"\\n' >> nested/.git/config && "
        "git add nested 2>/dev/null; echo done"
    )
    result = run(repo, command, "accept-edits", sandbox_for(repo, bwrap))
    assert "done" in result.content and "nested/.git/config" in result.content
    git_status_runs_nothing(repo, marker)


@pytest.mark.parametrize("mode", WRITABLE)
def test_git_still_works_in_the_sandbox(tmp_path: Path, bwrap: Path, mode: str) -> None:  # noqa: F811
    work = tmp_path / "fresh"
    work.mkdir()
    git = " ".join(GIT)
    command = (
        f"git init -q . && echo one > a.txt && git add a.txt && {git} commit -q -m first && "
        f"echo two >> a.txt && {git} commit -qam second && git status --short && "
        "git diff HEAD~1 --stat && git log --oneline && echo ALL-OK"
    )
    result = run(work, command, mode, sandbox_for(work, bwrap))
    assert "ALL-OK" in result.content, result.content
    assert "moved .git/config" in result.content  # git init's own: a command may not make it
    log = subprocess.run(
        ["git", "-C", str(work), "log", "--oneline"], capture_output=True, text=True
    )
    assert "second" in log.stdout and "first" in log.stdout
    again = run(
        work,
        f"echo 3 >> a.txt && {git} commit -qam third && echo OK",
        mode,
        sandbox_for(work, bwrap),
    )
    assert "OK" in again.content and "codive moved" not in again.content, again.content


def test_the_look_lists_again_only_what_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("codive_cli.policy.protected.SETTLED_NS", 0)
    root = tmp_path / "tree"
    for index in range(30):
        (root / f"d{index}").mkdir(parents=True)
    time.sleep(0.05)  # past the clock tick of the last change
    finder = Finder(root)
    assert finder.paths() == Sandbox(root, None).guarded()
    assert len(finder._listings) == 31
    time.sleep(0.05)
    (root / "d7" / ".gitattributes").write_text("* text\n")  # moves d7's ctime on
    assert root / "d7" / ".gitattributes" in finder.paths()


@pytest.mark.parametrize("link", [".gitattributes", "codive.toml", "sub/codive.toml"])
def test_a_dangling_protected_link_cannot_be_given_a_target(
    repo: Path,
    bwrap: Path,  # noqa: F811
    link: str,
) -> None:
    """A repository ships `.gitattributes -> attrs.txt` with no attrs.txt: no mount covers a
    missing target, so a command could write it and change what git reads, link untouched."""
    (repo / link).parent.mkdir(parents=True, exist_ok=True)
    (repo / link).symlink_to("../attrs.txt" if "/" in link else "attrs.txt")
    result = run(
        repo, "echo '* filter=x' > attrs.txt; echo done", "accept-edits", sandbox_for(repo, bwrap)
    )
    assert "done" in result.content and "codive moved attrs.txt aside" in result.content
    assert not (repo / "attrs.txt").exists() and (repo / link).is_symlink()
    (repo / "attrs.txt").write_text("*.md text\n")  # the person gives it one: read-only now
    result = run(repo, "echo '* filter=x' >> attrs.txt", "accept-edits", sandbox_for(repo, bwrap))
    assert "Read-only file system" in result.content
    assert (repo / "attrs.txt").read_text() == "*.md text\n"
