"""Checkpoints: /undo, /rewind and /diff with real git and real files, and what they never do
(touch the person's git, run a program a repository names, write outside the workspace)."""

from __future__ import annotations

import io
import os
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from codive_cli.agent.loop import Agent
from codive_cli.conversation.chat import Chat
from codive_cli.conversation.checkpoints import Checkpoints
from codive_cli.conversation.checkpoints.restore import restore
from codive_cli.conversation.checkpoints.shadow import (
    MAX_FILE_BYTES,
    Change,
    ShadowRepo,
    prune_workspaces,
)
from codive_cli.conversation.session import SessionStore
from codive_cli.policy.guard import WorkspaceGuard
from codive_cli.policy.permissions import Policy, deny_without_terminal
from codive_cli.provider import Provider
from codive_cli.providers.scripted import Reply, ScriptedProvider
from codive_cli.tools.base import ToolContext
from codive_cli.tools.bash import BashTool
from codive_cli.tools.files import EditFileTool, ReadFileTool, WriteFileTool
from codive_cli.ui.chat_view import ConsoleOutput
from codive_cli.ui.render import PlainRenderer
from codive_cli.ui.turn import Turn

GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "init.defaultBranch=main"]


class Lines:
    editable = False

    def __init__(self, *lines: str) -> None:
        self.lines = list(lines)

    async def read(self, default: str = "") -> str | None:
        return self.lines.pop(0) if self.lines else None


async def no_switch(name: str | None, model: str | None) -> Provider:
    raise AssertionError("no /model here")


class Rig:
    """A chat with file tools and bash in `full` mode, checkpoints under tmp_path."""

    def __init__(self, tmp_path: Path, root: Path, provider: ScriptedProvider) -> None:
        self.tmp_path, self.root = tmp_path, root
        self.store = SessionStore(tmp_path / "sessions")
        self.home = tmp_path / "shadows"
        self.out = io.StringIO()
        policy = Policy("full")
        context = ToolContext(root, WorkspaceGuard(root), policy=policy)
        tools = [WriteFileTool(), EditFileTool(), BashTool(), ReadFileTool()]
        self.agent = Agent(provider, tools, context, policy=policy, system="sys")
        session = self.store.create(root, provider="scripted", model="scripted-model")
        for message in self.agent.messages:
            session.append(message)
        self.chat = self.chat_on(session)

    def chat_on(self, session: Any) -> Chat:
        checkpoints = Checkpoints(self.root, session.id, home=self.home, sessions=self.store.root)
        checkpoints.start(session.id, session.checkpoints)

        def turn() -> Turn:
            return Turn(PlainRenderer(io.StringIO()), deny_without_terminal)

        output = ConsoleOutput(Console(file=self.out, width=100, color_system=None), turn)
        return Chat(
            self.agent,
            session,
            self.store,
            output,
            switch_provider=no_switch,
            checkpoints=checkpoints,
        )

    async def run(self, *lines: str) -> str:
        start = len(self.out.getvalue())
        await self.chat.run(Lines(*lines))
        return self.out.getvalue()[start:]


def state(root: Path) -> dict[str, tuple[int, bytes]]:
    """Every file under root but .git: (mode, content or link target)."""
    found = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if rel == ".git" or rel.startswith(".git/"):
            continue
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode):
            found[rel] = (info.st_mode, os.readlink(path).encode())
        elif stat.S_ISREG(info.st_mode):
            found[rel] = (info.st_mode, path.read_bytes())
        else:
            found[rel] = (info.st_mode, b"")
    return found


def git(root: Path, *args: str) -> bytes:
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}
    return subprocess.run([*GIT, *args], cwd=root, env=env, check=True, capture_output=True).stdout


def person_git(root: Path) -> dict[str, bytes]:
    """What must never change: the index (its bytes and what it stages), HEAD, refs, config."""
    return {
        "index": (root / ".git" / "index").read_bytes(),
        "cached": git(root, "diff", "--cached"),
        "head": git(root, "rev-parse", "HEAD"),
        "refs": git(root, "for-each-ref"),
        "stash": git(root, "stash", "list"),
        "config": (root / ".git" / "config").read_bytes(),
    }


CHANGES = [
    ("edit_file", {"path": "app.py", "old_string": "hello", "new_string": "bonjour"}),
    ("write_file", {"path": "pkg/new.py", "content": "created = True\n"}),
    ("bash", {"command": "chmod -x run.sh && rm notes.txt && printf 'x' > staged.py"}),
]


def workspace(tmp_path: Path) -> Path:
    root = (tmp_path / "work").resolve()
    root.mkdir()
    (root / "app.py").write_text("print('hello')\r\nprint('two')\n")
    (root / "run.sh").write_text("#!/bin/sh\necho run\n")
    (root / "run.sh").chmod(0o750)
    (root / "private.txt").write_text("mine\n")
    (root / "private.txt").chmod(0o600)
    (root / "notes.txt").write_text("untracked notes\n")
    (root / "staged.py").write_text("staged = 1\n")
    return root


@pytest.mark.parametrize("repository", [True, False], ids=["git", "plain-folder"])
async def test_undo_puts_back_the_last_turn_exactly(tmp_path: Path, repository: bool) -> None:
    root = workspace(tmp_path)
    if repository:
        git(root, "init", "-q")
        git(root, "add", "app.py", "run.sh", "private.txt")
        git(root, "commit", "-q", "-m", "one")
        (root / "app.py").write_text("print('hello')\r\nprint('staged change')\n")
        git(root, "add", "app.py", "staged.py")  # staged: a change and a new file
        before_git = person_git(root)
    provider = ScriptedProvider()
    provider.enqueue(Reply("", CHANGES), "done")
    rig = Rig(tmp_path, root, provider)
    before = state(root)

    await rig.run("change things")
    assert "bonjour" in (root / "app.py").read_text()
    assert not (root / "notes.txt").exists() and (root / "pkg/new.py").exists()
    (root / "later.txt").write_text("the person's own edit after the turn\n")
    said = await rig.run("/undo")
    assert state(root) == {**before, "later.txt": state(root)["later.txt"]}
    assert not (root / "pkg").exists()  # the folder the turn created is gone too
    assert "undone: put back" in said and "removed pkg/new.py" in said
    if repository:
        assert person_git(root) == before_git
        assert not (root / ".git" / "refs" / "codive").exists()
    assert "nothing to undo" in await rig.run("/undo")
    sent = await run_next(rig, provider, "and now?")
    assert "undid the file changes" in sent


async def run_next(rig: Rig, provider: ScriptedProvider, prompt: str) -> str:
    provider.enqueue("ok")
    await rig.run(prompt)
    return provider.requests[-1].messages[-1].content


async def test_rewind_restores_files_and_conversation_and_is_saved(tmp_path: Path) -> None:
    root = workspace(tmp_path)
    provider = ScriptedProvider()
    provider.enqueue(
        Reply("", [CHANGES[0]]),
        "one",
        "just talk",
        Reply("", [("write_file", {"path": "app.py", "content": "third\n"})]),
        "three",
    )
    rig = Rig(tmp_path, root, provider)
    original = state(root)
    await rig.run("first", "second", "third")
    after_first = {
        **original,
        "app.py": (original["app.py"][0], b"print('bonjour')\r\nprint('two')\n"),
    }

    listing = await rig.run("/rewind")
    assert "1  first  (changed files)" in listing and "2  second\n" in listing
    assert "3  third  (changed files)" in listing
    said = await rig.run("/rewind 2")
    assert "rewound to before turn 2 (second)" in said
    assert state(root) == after_first
    kept = [m.content for m in rig.agent.messages if m.role == "user"]
    assert kept == ["first"]

    rig.chat.session.close()
    resumed = rig.store.load(rig.chat.session.id, lock=True)
    assert [m.content for m in resumed.messages] == [m.content for m in rig.agent.messages]
    rig.chat = rig.chat_on(resumed)  # a resumed chat can undo the turn kept
    assert "undone" in await rig.run("/undo")
    assert state(root) == original


async def test_diff_shows_what_the_session_changed(tmp_path: Path) -> None:
    root = workspace(tmp_path)
    provider = ScriptedProvider()
    provider.enqueue(Reply("", CHANGES[:2]), "done")
    rig = Rig(tmp_path, root, provider)
    assert "no file changes in this session yet" in await rig.run("/diff")
    await rig.run("go")
    shown = await rig.run("/diff")
    assert "-print('hello')" in shown and "+print('bonjour')" in shown
    assert "+++ b/pkg/new.py" in shown and "+created = True" in shown


# --- security -----------------------------------------------------------------------------


def plant(root: Path, marker: Path) -> None:
    """A repository whose config and attributes name programs: a filter, a textconv, an
    external diff, fsmonitor and hooks, each of which would create `marker`."""
    git(root, "init", "-q")
    evil = f"sh -c 'echo ran >> {marker}; cat'"
    for key, value in [
        ("filter.evil.clean", evil),
        ("filter.evil.smudge", evil),
        ("filter.evil.required", "true"),
        ("diff.evil.textconv", evil),
        ("diff.external", evil),
        ("core.fsmonitor", evil),
        ("core.pager", evil),
    ]:
        git(root, "config", key, value)
    hook = root / ".git" / "hooks" / "post-index-change"
    hook.write_text(f"#!/bin/sh\necho ran >> {marker}\n")
    hook.chmod(0o755)
    (root / ".gitattributes").write_text("* filter=evil diff=evil text eol=crlf ident\n")


async def test_planted_filters_hooks_and_attributes_run_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = workspace(tmp_path)
    marker = tmp_path / "PWNED"
    plant(root, marker)
    (root / "lf.txt").write_bytes(b"a\nb\r\n$Id$\n")
    # The person's environment may point git elsewhere; the shadow ignores every GIT_*.
    monkeypatch.setenv("GIT_DIR", str(root / ".git"))
    monkeypatch.setenv("GIT_EXTERNAL_DIFF", f"sh -c 'echo ran >> {marker}'")
    monkeypatch.setenv("GIT_CONFIG_PARAMETERS", f"'core.pager'='touch {marker}'")
    provider = ScriptedProvider()
    rewrite = ("write_file", {"path": "lf.txt", "content": "replaced\n"})
    provider.enqueue(Reply("", [CHANGES[0], rewrite]), "done")
    rig = Rig(tmp_path, root, provider)
    before = state(root)
    await rig.run("go", "/diff", "/undo")
    assert not marker.exists()
    assert state(root) == before  # bytes exact: no eol conversion, no ident, no filter
    assert not (root / ".git" / "index").exists()  # the person's git was never used
    monkeypatch.delenv("GIT_DIR")
    git(root, "add", "lf.txt")  # the plant is live: git run the ordinary way runs it
    assert marker.exists()


async def test_restore_never_follows_a_symlink_out_of_the_workspace(tmp_path: Path) -> None:
    root = workspace(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "pkg").mkdir()
    (root / "pkg" / "mod.py").write_text("original\n")
    provider = ScriptedProvider()
    provider.enqueue(
        Reply("", [("bash", {"command": f"rm -r pkg && ln -s {outside} pkg"})]),
        "done",
        Reply("", [("write_file", {"path": "pkg2/mod.py", "content": "changed\n"})]),
        "done",
    )
    rig = Rig(tmp_path, root, provider)
    before = state(root)
    await rig.run("swap the folder for a link")
    assert (root / "pkg").is_symlink()
    await rig.run("/undo")
    assert state(root) == before and not (root / "pkg").is_symlink()
    assert list(outside.iterdir()) == []

    # A link planted after the turn, where the turn's file lived: refused, nothing written.
    (root / "pkg2").mkdir()
    await rig.run("make pkg2")
    (root / "pkg2" / "mod.py").unlink()
    (root / "pkg2").rmdir()
    (root / "pkg2").symlink_to(outside)
    (outside / "mod.py").write_text("someone else's\n")
    said = await rig.run("/undo")
    assert "pkg2/mod.py: a symlink now stands where a folder was" in said
    assert (outside / "mod.py").read_text() == "someone else's\n"


def test_restore_never_writes_git_or_codive_folders(tmp_path: Path) -> None:
    root = (tmp_path / "work").resolve()
    own = root / ".local" / "share" / "codive"
    own.mkdir(parents=True)
    blob = "1" * 40
    changes = [
        Change(path, "100644", blob, "000000")
        for path in [".git/hooks/pre-commit", "sub/.GIT/config", ".local/share/codive/x.json"]
    ]
    changes.append(Change("../escape", "100644", blob, "000000"))
    done = restore(root, changes, {blob: b"#!/bin/sh\ntouch PWNED\n"}, (own,))
    assert done.written == [] and len(done.skipped) == 4
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*")) == [
        ".local",
        ".local/share",
        ".local/share/codive",
    ]


def test_snapshots_leave_out_git_and_codive_folders(tmp_path: Path) -> None:
    root = (tmp_path / "work").resolve()
    own = root / "data" / "codive"
    own.mkdir(parents=True)
    (own / "session.jsonl").write_text("{}\n")
    (root / ".git").mkdir()
    (root / ".git" / "config").write_text("[core]\n")
    (root / "kept.txt").write_text("kept\n")
    (root / "odd [name]  ").write_text("kept too\n")
    with (root / "big.bin").open("wb") as file:  # too big to snapshot: left out
        file.truncate(MAX_FILE_BYTES + 1)
    repo = ShadowRepo(tmp_path / "shadow", root, (own,))
    tree = repo.tree()
    listed = repo.git("ls-tree", "-r", "-z", "--name-only", tree).decode().split("\0")
    assert listed == ["kept.txt", "odd [name]  ", ""]


# --- failures and pruning -----------------------------------------------------------------


async def test_without_git_the_turn_goes_on_and_says_so_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = workspace(tmp_path)
    provider = ScriptedProvider()
    edit = ("write_file", {"path": "a.txt", "content": "a\n"})
    provider.enqueue(Reply("", [edit]), "one", Reply("", [edit]), "two")
    rig = Rig(tmp_path, root, provider)
    empty = tmp_path / "empty-path"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    said = await rig.run("first", "second")
    assert said.count("undo is unavailable: git is not installed") == 1
    assert "two" in rig.agent.messages[-1].content and (root / "a.txt").exists()
    assert "nothing to undo" in await rig.run("/undo")


async def test_checkpoints_are_pruned_with_their_session(tmp_path: Path) -> None:
    root = workspace(tmp_path)
    provider = ScriptedProvider()
    provider.enqueue(Reply("", [CHANGES[1]]), "done")
    rig = Rig(tmp_path, root, provider)
    await rig.run("go")
    assert rig.chat.checkpoints is not None
    repo = rig.chat.checkpoints.repo
    assert repo.git("for-each-ref").strip()
    assert repo.prune({"another-session"}) == 1  # this session's file is "gone"
    assert repo.git("for-each-ref").strip() == b""

    gone = tmp_path / "gone"
    gone.mkdir()
    stale = ShadowRepo(tmp_path / "shadows" / "stale", gone)
    stale.ensure()
    gone.rmdir()
    prune_workspaces(tmp_path / "shadows")
    assert not stale.folder.exists() and repo.folder.exists()


def test_undo_and_diff_in_a_real_terminal(tmp_path: Path) -> None:
    """`codive chat` on a pseudo-terminal: an approved edit, /diff in colour, /undo, /rewind."""
    import pexpect

    from tests.scripted_server import ScriptedServer
    from tests.test_chat_pty import EDIT, environment, say, screen, spawn

    work, env = (tmp_path / "work"), environment(tmp_path)
    work.mkdir()
    original = "def greet():\n    return 'hello'\n"
    (work / "app.py").write_text(original)
    script: list[dict[str, Any]] = [EDIT, {"text": "Done: it now says bonjour."}]
    with ScriptedServer(script) as server:
        child = spawn(server, work, env, "--permission-mode", "accept-edits")
        say(child, "make it say bonjour")
        child.expect("Done: it now says bonjour")
        child.expect("›")
        assert "bonjour" in (work / "app.py").read_text()
        say(child, "/diff")
        child.expect(r"\x1b\[[0-9;]*m\+\s*return 'bonjour'")  # coloured, like an edit
        child.expect("›")
        say(child, "/undo")
        child.expect("undone: put back app.py")
        child.expect("›")
        assert (work / "app.py").read_text() == original
        say(child, "/rewind 1")
        child.expect("rewound to before turn 1")
        child.expect("›")
        say(child, "/rewind")
        child.expect("nothing to rewind")
        child.expect("›")
        assert "Traceback" not in screen(child)
        child.sendeof()
        child.expect(pexpect.EOF)
        child.close()
    assert not (work / ".git").exists()  # a folder that is no repository stays one


def test_session_file_replays_checkpoints_undo_and_rewind(tmp_path: Path) -> None:
    from codive_cli.provider import ChatMessage

    store = SessionStore(tmp_path / "sessions")
    session = store.create(tmp_path)
    for text in ("one", "two", "three"):
        session.append(ChatMessage("user", text))
        session.append(ChatMessage("assistant", "ok"))
    for at, (before, after) in zip((0, 2, 4), [("a", "b"), ("b", "c"), ("c", "d")], strict=True):
        session.record("checkpoint", before=before, after=after, at=at)
    session.record("undo")  # drops the third turn's
    session.rewind(2)  # drops the second turn, its messages and its checkpoint
    session.close()
    loaded = store.load(session.id)
    assert [m.content for m in loaded.messages] == ["one", "ok"]
    assert [c["after"] for c in loaded.checkpoints] == ["b"]
    assert loaded.warnings == []
