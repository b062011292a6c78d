"""Files codive reads on its own initiative obey the workspace guard, the secret and deny rules.

Threat: a hostile repository makes AGENTS.md (or CODIVE.md, or a file the person @mentions)
a symlink to /proc/self/environ, to a file outside the workspace, or to a secret file, or
makes it a FIFO; codive would put the person's keys into the system prompt of every request,
in every permission mode. Rule: those reads go through `WorkspaceGuard.read_own` (resolve,
refuse secrets and non-regular files, open without following a swapped-in link), deny rules
apply as to read_file, and what is sent is redacted of every credential codive knows.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from codive_cli.policy.guard import WorkspaceGuard
from codive_cli.tools.base import ToolError
from tests.helpers import isolated_env
from tests.scripted_server import ScriptedServer

CODIVE = str(Path(sys.executable).parent / "codive")
KEY = "sk-test-SECRET123"
AWS = "AKIAEXAMPLESECRETKEY99"
MODES = ["read-only", "ask", "accept-edits", "full"]


def setup(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    work = tmp_path / "work"
    (work / ".git").mkdir(parents=True)
    env = isolated_env(
        tmp_path, OPENAI_API_KEY=KEY, AWS_SECRET_ACCESS_KEY=AWS, MY_SERVICE_TOKEN="tok-0123456789"
    )
    return work, env


def complete(work: Path, env: dict[str, str], *args: str) -> tuple[Any, str]:
    """Run `codive complete`; return the result and everything the model was sent."""
    with ScriptedServer([{"text": "ok"}]) as server:
        result = subprocess.run(
            [CODIVE, "complete", "--base-url", server.base_url + "/v1", "--no-stream", *args],
            capture_output=True,
            text=True,
            cwd=work,
            env=env,
            stdin=subprocess.DEVNULL,
            timeout=60,
        )
        sent = "\n".join(str(request["json"]) for request in server.model_requests)
    return result, sent


def assert_nothing_secret(sent: str) -> None:
    for secret in (KEY, AWS, "tok-0123456789", "AWS_SECRET_ACCESS_KEY=", "OPENAI_API_KEY="):
        assert secret not in sent


@pytest.mark.parametrize("mode", MODES)
def test_instructions_linked_to_proc_environ_are_refused_in_every_mode(
    tmp_path: Path, mode: str
) -> None:
    work, env = setup(tmp_path)
    (work / "AGENTS.md").symlink_to("/proc/self/environ")
    result, sent = complete(work, env, "--permission-mode", mode, "hi")
    assert result.returncode == 0, result.stderr
    assert_nothing_secret(sent)
    assert "AGENTS.md was not read" in result.stderr


@pytest.mark.parametrize(
    "plant",
    [
        "outside",  # a file outside the workspace
        "proc-dir",  # a folder link into /proc, then environ inside it
        "secret",  # .env in the workspace
        "fifo",  # would block forever
        "device",  # /dev/zero never ends
        "loop",  # a symlink loop
        "codive-md",  # the second name, same trick
    ],
)
def test_every_way_of_pointing_instructions_elsewhere_is_refused(
    tmp_path: Path, plant: str
) -> None:
    work, env = setup(tmp_path)
    target = work / "AGENTS.md"
    if plant == "outside":
        (tmp_path / "private.txt").write_text(f"OPENAI_API_KEY={KEY}\n")
        target.symlink_to(tmp_path / "private.txt")
    elif plant == "proc-dir":
        (work / "docs").symlink_to("/proc/self")
        target.symlink_to("docs/environ")
    elif plant == "secret":
        (work / ".env").write_text(f"AWS_SECRET_ACCESS_KEY={AWS}\n")
        target.symlink_to(".env")
    elif plant == "fifo":
        os.mkfifo(target)
    elif plant == "device":
        target.symlink_to("/dev/zero")
    elif plant == "loop":
        target.symlink_to("AGENTS.md")
    elif plant == "codive-md":
        (work / "CODIVE.md").symlink_to("/proc/self/environ")
    result, sent = complete(work, env, "hi")
    assert result.returncode == 0, result.stderr
    assert_nothing_secret(sent)
    assert "was not read" in result.stderr
    assert "\\x00" not in sent


def test_a_plain_instruction_file_is_read_and_redacted(tmp_path: Path) -> None:
    work, env = setup(tmp_path)
    (work / "AGENTS.md").write_text(f"Run make lint. Example key: {KEY}. AWS: {AWS}.\n")
    result, sent = complete(work, env, "hi")
    assert result.returncode == 0, result.stderr
    assert "Run make lint." in sent
    assert "[REDACTED]" in sent
    assert_nothing_secret(sent)


def test_a_deny_rule_keeps_the_instruction_file_out(tmp_path: Path) -> None:
    work, env = setup(tmp_path)
    (work / "AGENTS.md").write_text("Internal notes: do not share.\n")
    config = tmp_path / "xdg_config_home" / "codive"
    config.mkdir(parents=True)
    (config / "codive.toml").write_text('[agent]\ndeny = ["read_file(AGENTS.md)"]\n')
    result, sent = complete(work, env, "hi")
    assert "Internal notes" not in sent
    assert "AGENTS.md was not read: a deny rule" in result.stderr


def test_the_prompt_itself_is_redacted(tmp_path: Path) -> None:
    work, env = setup(tmp_path)
    result, sent = complete(work, env, f"my key is {KEY}, explain it")
    assert result.returncode == 0
    assert KEY not in sent and "my key is [REDACTED]" in sent


# --- the guard's own-read, directly ---------------------------------------------------------


def test_read_own_refuses_what_read_file_would_and_more(tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text("hello")
    (tmp_path / "id_rsa").write_text("-----BEGIN OPENSSH PRIVATE KEY-----")
    (tmp_path / "innocent.md").symlink_to("id_rsa")
    os.mkfifo(tmp_path / "pipe.md")
    guard = WorkspaceGuard(tmp_path)
    assert guard.read_own("notes.md", 100) == "hello"
    assert guard.read_own("notes.md", 3) == "hel"
    for name, why in [
        ("id_rsa", "secrets"),
        ("innocent.md", "secrets"),
        ("pipe.md", "not a regular file"),
        ("../etc/passwd", "outside"),
        ("/proc/self/environ", "outside"),
    ]:
        with pytest.raises(ToolError, match=why):
            guard.read_own(name, 100)


def test_proc_is_secret_even_when_the_workspace_contains_it() -> None:
    guard = WorkspaceGuard(Path("/"))
    with pytest.raises(ToolError, match="secrets"):
        guard.read_own("proc/self/environ", 100)
    assert guard.is_secret(Path("/proc/1/mem"))


def test_a_hard_link_to_a_secret_is_not_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("API_KEY=sk-hardlinked\n")
    os.link(tmp_path / ".env", tmp_path / "AGENTS.md")
    with pytest.raises(ToolError, match="hard links"):
        WorkspaceGuard(tmp_path).read_own("AGENTS.md", 100)
