"""Commands that run without asking obey the guard, the secret and deny rules, and cannot be
turned into code execution by the repository's files.

Threats: `cat .env` or `grep -r PASSWORD .` read secrets a `read_file` would have asked for;
`grep ... /proc/[0-9]*/environ` reads every process's keys; a file named `--pre=sh` turns
`rg TODO *` into `sh` on every file; `-ocodive.toml` turns `sort *` into a write; a planted
`.git/config` (`core.fsmonitor`, `diff.external`, includes) runs code on `git status`.
Rules: codive_cli.policy.shell_paths and codive_cli.policy.git_config (see docs/security.md);
writes under `.git/`, to `.gitattributes` and to codive's own folders always ask.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from codive_cli.policy.guard import WorkspaceGuard
from codive_cli.policy.permissions import Policy
from codive_cli.tools.base import ToolContext
from codive_cli.tools.bash import BashTool
from codive_cli.tools.files import WriteFileTool
from tests.helpers import isolated_env
from tests.scripted_server import ScriptedServer

CODIVE = str(Path(sys.executable).parent / "codive")
GIT_ENV = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}


@pytest.fixture
def work(tmp_path: Path) -> Path:
    root = tmp_path / "work"
    root.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True, env=GIT_ENV)
    (root / ".git" / "config").write_text(
        "[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = false\n"
        '[remote "origin"]\n\turl = https://example.invalid/x.git\n'
        "\tfetch = +refs/heads/*:refs/remotes/origin/*\n"
    )
    (root / "src").mkdir()
    (root / "src" / "app.py").write_text("# TODO: more\n")
    (root / "README.md").write_text("hello\n")
    return root


def decide(work: Path, command: str, mode: str = "ask", deny: tuple[str, ...] = ()) -> str:
    policy = Policy(mode, (), deny, WorkspaceGuard(work))  # type: ignore[arg-type]
    return policy.decide(BashTool(), {"command": command}).decision


@pytest.mark.parametrize(
    "command",
    [
        "cat README.md",
        "grep -r TODO src",
        "rg TODO",
        "rg -n TODO src",
        "git status",
        "git diff HEAD",
        "git log --oneline -5",
        "ls -la",
        "wc -l src/*.py",
        "cat src/*.py | sort | uniq -c",
        "sort < README.md | head",
        "cat [.]env",  # bash does not match a leading dot with a bracket: a literal word
    ],
)
def test_ordinary_reads_still_run_without_asking(work: Path, command: str) -> None:
    (work / ".env").write_text("DB_PASSWORD=hunter2\n")  # hidden: rg skips it by default
    assert decide(work, command) == "allow"


@pytest.mark.parametrize(
    "command",
    [
        "cat .env",
        "head -n 1 .env.local",
        "grep -r PASSWORD .",
        "grep -R PASSWORD",
        "grep -rn PASSWORD src/..",
        "rg --hidden PASSWORD",
        "rg -uu PASSWORD",
        "cat src/../.env",
        "cat s*/../.env",
        "git show HEAD:.env",
        "tail -c 100 config/.env",
        "cat id_rsa",
        "cat < .env",
        "grep x 0<.env",
        "tr a-z n-za-m <.env",
        "{ cat; } < .env",
        "(cat) < .env",
        "cat < .e*",
        "wc -l < id_rsa | cat",
    ],
)
def test_reads_of_secrets_ask(work: Path, command: str) -> None:
    (work / ".env").write_text("DB_PASSWORD=hunter2\n")
    (work / ".env.local").write_text("X=1\n")
    (work / "config").mkdir()
    (work / "config" / ".env").write_text("Y=2\n")
    (work / "id_rsa").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    assert decide(work, command) == "ask"


@pytest.mark.parametrize(
    "command",
    [
        "grep -a -o -h 'API_KEY=[^[:cntrl:]]*' /proc/[0-9]*/environ",
        "cat /proc/self/environ",
        "cat /proc/1/environ | tr 'a-z' 'n-za-m'",
        "grep -f /proc/self/environ README.md",
        "grep -f/proc/self/environ README.md",
        "grep --file=/proc/self/environ README.md",
        "cat ~/.ssh/id_rsa",
        "cat ~root/.bashrc",
        "head ../outside.txt",
        "cat /etc/passwd",
        "ls /",
        "cat link-out",
        "cat proc-link/environ",
        "wc -c /dev/zero",
        "wc -l < /proc/self/environ",
        "cat < ../outside.txt",
        "cat /proc/self/cwd/README.md",
        "stat /proc/self/environ",
    ],
)
def test_reads_outside_the_workspace_ask(work: Path, command: str) -> None:
    (work.parent / "outside.txt").write_text("private\n")
    (work / "link-out").symlink_to(work.parent / "outside.txt")
    (work / "proc-link").symlink_to("/proc/self")
    for mode in ("ask", "accept-edits", "read-only"):
        assert decide(work, command, mode) == "ask", mode


def test_deny_rules_of_read_file_bind_shell_reads_in_every_mode(work: Path) -> None:
    (work / ".env").write_text("DB_PASSWORD=hunter2\n")
    deny = ("read_file(.env*)",)
    for mode in ("read-only", "ask", "accept-edits", "full"):
        assert decide(work, "cat .env", mode, deny) == "deny", mode
    assert decide(work, "grep -r PASSWORD .", "ask", deny) == "ask"
    assert decide(work, "cat README.md", "full", deny) == "allow"


@pytest.mark.parametrize(
    ("planted", "command"),
    [
        ("--pre=sh", "rg TODO *"),
        ("--pre-glob=*", "rg TODO *"),
        ("-ocodive.toml", "sort *"),
        ("--output=codive.toml", "sort *"),
        ("--compress-program=sh", "sort -S 1 *"),
        ("-exec", "find * -name x"),
        ("--hostname-bin=sh", "rg -l x *"),
        ("-R", "tree *"),
    ],
)
def test_globs_that_expand_to_options_ask(work: Path, planted: str, command: str) -> None:
    (work / planted).write_text("x\n")
    for mode in ("ask", "read-only"):
        assert decide(work, command, mode) == "ask", mode


@pytest.mark.parametrize(
    "config",
    [
        '[core]\n\tfsmonitor = "touch PWNED; false #"\n',
        "[diff]\n\texternal = sh -c 'touch PWNED' #\n",
        '[diff "x"]\n\ttextconv = touch PWNED\n',
        '[filter "x"]\n\tclean = touch PWNED\n',
        "[core]\n\tpager = touch PWNED\n",
        "[core]\n\thooksPath = .hooks\n",
        "[include]\n\tpath = ../evil.cfg\n",
        '[includeIf "gitdir:/"]\n\tpath = ../evil.cfg\n',
        "[log]\n\tshowSignature = true\n[gpg]\n\tprogram = touch\n",
        "[core]\n\tsshCommand = touch PWNED\n",
        "[alias]\n\tst = !touch PWNED\n",
        "[core] fsmonitor = touch PWNED\n",
        "[CORE]\n\tFSMonitor = touch PWNED\n",
        "[core]\n\tworktree = /\n",
    ],
)
def test_git_asks_when_the_repository_config_names_programs(work: Path, config: str) -> None:
    with (work / ".git" / "config").open("a") as handle:
        handle.write(config)
    for command in ("git status", "git diff", "git log -p", "git show"):
        assert decide(work, command) == "ask", command
    assert decide(work, "cat README.md") == "allow"


def test_a_worktree_pointer_is_followed_to_its_config(tmp_path: Path) -> None:
    real = tmp_path / "real-gitdir"
    real.mkdir()
    (real / "config").write_text('[core]\n\tfsmonitor = "touch PWNED"\n')
    work = tmp_path / "work"
    work.mkdir()
    (work / ".git").write_text(f"gitdir: {real}\n")
    assert decide(work, "git status") == "ask"


@pytest.mark.parametrize(
    "path",
    [".git/config", ".git/hooks/pre-commit", ".gitattributes", "src/.gitattributes", ".GIT/config"],
)
def test_writes_to_git_metadata_ask_in_accept_edits(work: Path, path: str) -> None:
    policy = Policy("accept-edits", (), (), WorkspaceGuard(work))
    verdict = policy.decide(WriteFileTool(), {"path": path, "content": "x"})
    assert verdict.decision == "ask"
    assert policy.decide(WriteFileTool(), {"path": "src/new.py", "content": "x"}).decision == (
        "allow"
    )


def test_codive_data_folders_are_protected_when_the_workspace_is_home(tmp_path: Path) -> None:
    data = tmp_path / ".local" / "share" / "codive"
    guard = WorkspaceGuard(tmp_path, protected=[data, tmp_path / ".cache" / "codive"])
    policy = Policy("accept-edits", (), (), guard)
    for path in (".local/share/codive/trust.json", ".cache/codive/x", ".local/share/codive"):
        verdict = policy.decide(WriteFileTool(), {"path": path, "content": "{}"})
        assert verdict.decision == "ask", path


def test_codive_folders_cover_data_cache_and_config(monkeypatch: pytest.MonkeyPatch) -> None:
    from codive_cli.app.wiring import codive_folders

    monkeypatch.setenv("XDG_DATA_HOME", "/d")
    monkeypatch.setenv("XDG_CONFIG_HOME", "/c")
    monkeypatch.setenv("XDG_CACHE_HOME", "/k")
    folders = {str(f) for f in codive_folders()}
    assert {"/d/codive", "/c/codive", "/k/codive"} <= folders


def test_secret_search_follows_the_current_mode(work: Path) -> None:
    guard = WorkspaceGuard(work)
    policy = Policy("full", (), (), guard)
    context = ToolContext(work, guard, policy=policy)
    assert context.allow_secrets
    policy.mode = "ask"  # /permissions ask
    assert not context.allow_secrets


# --- end to end: nothing planted runs ---------------------------------------------------------


def run_model_command(work: Path, command: str, mode: str) -> subprocess.CompletedProcess[str]:
    env = isolated_env(work.parent, OPENAI_API_KEY="sk-test-SECRET123")
    call = {"id": "c1", "name": "bash", "arguments": {"command": command}}
    with ScriptedServer([{"tool_calls": [call]}, {"text": "done"}]) as server:
        return subprocess.run(
            [
                *(CODIVE, "complete", "-p", "openai", "--base-url", f"{server.base_url}/v1"),
                *("--permission-mode", mode, "go"),
            ],
            capture_output=True,
            text=True,
            cwd=work,
            env=env,
            stdin=subprocess.DEVNULL,
            timeout=60,
        )


def test_planted_fsmonitor_does_not_run(work: Path) -> None:
    marker = work.parent / "PWNED"
    with (work / ".git" / "config").open("a") as handle:
        handle.write(f'[core]\n\tfsmonitor = "touch {marker}; false #"\n')
    for mode in ("read-only", "ask", "accept-edits"):
        result = run_model_command(work, "git status", mode)
        assert result.returncode == 0, result.stderr
        assert not marker.exists(), mode


def test_planted_option_file_does_not_run(work: Path) -> None:
    marker = work.parent / "PWNED"
    (work / "--pre=sh").write_text("")  # rg would run `sh FILE` for every file
    (work / "pwn").write_text(f"touch {marker}\n")
    for mode in ("read-only", "ask"):
        result = run_model_command(work, "rg TODO *", mode)
        assert result.returncode == 0, result.stderr
        assert not marker.exists(), mode


async def test_commands_get_no_credential_in_their_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GROQ_API_KEY", "gsk-groq-0123456789")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-0123456789abcdef")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_0123456789abcdef")
    monkeypatch.setenv("ODDLY_NAMED", "sk-endpoint-key-0123")  # an api_key_env codive knows
    monkeypatch.setenv("HARMLESS_SETTING", "stays")
    context = ToolContext(tmp_path, WorkspaceGuard(tmp_path), secrets=("sk-endpoint-key-0123",))
    result = await BashTool().run({"command": "env"}, context)
    for value in ("gsk-groq", "aws-0123", "ghp_0123", "sk-endpoint-key"):
        assert value not in result.content
    assert "HARMLESS_SETTING=stays" in result.content


def test_a_fifo_planted_as_git_config_does_not_hang_the_judge(tmp_path: Path) -> None:
    work = tmp_path / "w"
    (work / ".git").mkdir(parents=True)
    os.mkfifo(work / ".git" / "config")
    assert decide(work, "git status") == "ask"


# --- variants found by attacking the rules from outside ---------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        "cat .e[^x]v",  # bash's negation, not Python's
        "cat .e[[:alpha:]]v",  # a character class
        "grep -h . .[^x]nv",
        "grep -d recurse API_KEY .",
        "grep --dir=recurse API_KEY .",
        "grep --recur API_KEY .",
        "grep -r -e API_KEY -e zzzz",
        "grep -r -m 5 API_KEY",
        "grep -rm5 API_KEY",
        "grep -r --max-count 5 API_KEY",
        "rg --unrestricted --unrestricted API_KEY",
        "rg -i. API_KEY",
        "rg -g '.e*' API_KEY",
        "rg --glob=.e* API_KEY",
        "rg --hidden -m 1 API_KEY",
        "cat -- -x",
        "date -uf/etc/shadow",
        "echo x | sort --files0-from=-",
        "wc --files0-from=list",
        "git diff --no-index src .",
    ],
)
def test_outside_found_variants_ask(work: Path, command: str) -> None:
    (work / ".env").write_text("API_KEY=sk-secret123\n")
    (work / "-x").symlink_to("/etc/passwd")
    assert decide(work, command) in ("ask", "deny")


def test_a_bracket_glob_cannot_bring_back_a_planted_option(work: Path) -> None:
    (work / "--pre=sh").write_text("")
    (work / "a.txt").write_text("hi\n")
    assert decide(work, "rg hi [^a]*") == "ask"


def test_recursive_reads_that_follow_links_out_ask(work: Path, tmp_path: Path) -> None:
    (tmp_path / "private").mkdir()
    (tmp_path / "private" / "key").write_text("PRIVKEY\n")
    (work / "src" / "l").symlink_to(tmp_path / "private")
    for command in ("grep -R PRIV src", "rg -L PRIV src", "grep --dereference-recursive x src"):
        assert decide(work, command) == "ask", command
    assert decide(work, "grep -r TODO src") == "allow"  # -r does not follow links


@pytest.mark.parametrize(
    "setup",
    ["post-index-change hook", "submodule", "workspace is a git dir"],
)
def test_git_asks_for_hooks_submodules_and_bare_workspaces(work: Path, setup: str) -> None:
    if setup == "post-index-change hook":
        hook = work / ".git" / "hooks" / "post-index-change"
        hook.parent.mkdir(exist_ok=True)
        hook.write_text("#!/bin/sh\ntouch PWNED\n")
        hook.chmod(0o755)
    elif setup == "submodule":
        (work / ".gitmodules").write_text('[submodule "sm"]\n\tpath = sm\n\turl = x\n')
    else:
        for part in ("HEAD", "objects", "refs"):
            (work / part).mkdir() if part != "HEAD" else (work / part).write_text("ref: x\n")
    assert decide(work, "git status") == "ask"


def test_a_commit_hook_does_not_make_git_status_ask(work: Path) -> None:
    hook = work / ".git" / "hooks" / "pre-commit"
    hook.parent.mkdir(exist_ok=True)
    hook.write_text("#!/bin/sh\nexit 0\n")
    hook.chmod(0o755)
    assert decide(work, "git status") == "allow"
