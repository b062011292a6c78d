"""The permission policy: modes, rules, secrets and codive's own files, in code."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest

from codive_cli.policy.guard import WorkspaceGuard
from codive_cli.policy.permissions import Policy, Rule
from codive_cli.tools.base import Tool, ToolContext, ToolResult
from codive_cli.tools.bash import BashTool
from codive_cli.ui.approve import parse_answer


class FileTool(Tool):
    description: ClassVar[str] = "test"
    parameters: ClassVar[dict[str, Any]] = {"type": "object", "properties": {}}

    def __init__(self, name: str, kind: str) -> None:
        self.name = name  # type: ignore[misc]
        self.kind = kind  # type: ignore[misc,assignment]

    async def run(self, arguments: dict[str, Any], context: ToolContext) -> ToolResult:
        raise AssertionError("not run here")


READ = FileTool("read_file", "read")
GREP = FileTool("grep", "read")
EDIT = FileTool("edit_file", "edit")
WRITE = FileTool("write_file", "edit")
BASH = BashTool()


@pytest.fixture
def guard(tmp_path: Path) -> WorkspaceGuard:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("")
    (tmp_path / ".env").write_text("KEY=x")
    (tmp_path / "codive.toml").write_text("")
    return WorkspaceGuard(tmp_path)


def decide(policy: Policy, tool: Tool, **arguments: Any) -> str:
    return policy.decide(tool, arguments).decision


# (mode, tool, arguments, expected)
MODE_TABLE = [
    ("read-only", READ, {"path": "src/app.py"}, "allow"),
    ("read-only", EDIT, {"path": "src/app.py"}, "deny"),
    ("read-only", WRITE, {"path": "new.py"}, "deny"),
    ("read-only", BASH, {"command": "ls -la"}, "allow"),
    ("read-only", BASH, {"command": "make test"}, "deny"),
    ("read-only", BASH, {"command": "rm -rf src"}, "deny"),
    ("ask", READ, {"path": "src/app.py"}, "allow"),
    ("ask", EDIT, {"path": "src/app.py"}, "ask"),
    ("ask", WRITE, {"path": "new.py"}, "ask"),
    ("ask", BASH, {"command": "git status"}, "allow"),
    ("ask", BASH, {"command": "make test"}, "ask"),
    ("ask", BASH, {"command": "ls > out.txt"}, "ask"),
    ("accept-edits", EDIT, {"path": "src/app.py"}, "allow"),
    ("accept-edits", WRITE, {"path": "new.py"}, "allow"),
    ("accept-edits", BASH, {"command": "make test"}, "ask"),
    ("accept-edits", BASH, {"command": "git diff"}, "allow"),
    ("full", EDIT, {"path": "src/app.py"}, "allow"),
    ("full", BASH, {"command": "make test"}, "allow"),
    ("full", BASH, {"command": "echo $(whoami)"}, "allow"),
    # secrets ask outside full, even for reading; codive's own config asks before writes
    ("ask", READ, {"path": ".env"}, "ask"),
    ("read-only", READ, {"path": ".env"}, "ask"),
    ("accept-edits", WRITE, {"path": ".env"}, "ask"),
    ("full", READ, {"path": ".env"}, "allow"),
    ("accept-edits", EDIT, {"path": "codive.toml"}, "ask"),
    ("ask", READ, {"path": "codive.toml"}, "allow"),
    ("full", EDIT, {"path": "codive.toml"}, "allow"),
]


@pytest.mark.parametrize(("mode", "tool", "arguments", "expected"), MODE_TABLE)
def test_modes(
    guard: WorkspaceGuard, mode: str, tool: Tool, arguments: dict[str, Any], expected: str
) -> None:
    policy = Policy(mode, guard=guard)  # type: ignore[arg-type]
    assert policy.decide(tool, arguments).decision == expected


def test_deny_beats_allow_and_applies_in_every_mode(guard: WorkspaceGuard) -> None:
    rules = {"allow": ["bash(git push:*)", "edit_file(src/**)"], "deny": ["bash(git push:*)"]}
    for mode in ("ask", "accept-edits", "full"):
        policy = Policy(mode, guard=guard, **rules)  # type: ignore[arg-type]
        assert decide(policy, BASH, command="git push origin main") == "deny"
        assert decide(policy, BASH, command="git status && git push") == "deny"
    policy = Policy("full", deny=["read_file(.env*)", "edit_file(src/**)"], guard=guard)
    assert decide(policy, READ, path=".env") == "deny"
    assert decide(policy, EDIT, path="src/app.py") == "deny"
    assert decide(policy, WRITE, path="src/new.py") == "deny"  # edit rules cover write_file
    assert decide(policy, EDIT, path="other.py") == "allow"


def test_allow_rules_lift_ask(guard: WorkspaceGuard) -> None:
    policy = Policy(
        "ask", allow=["bash(make test)", "bash(npm run:*)", "edit_file(src/**)"], guard=guard
    )
    assert decide(policy, BASH, command="make test") == "allow"
    assert decide(policy, BASH, command="make test && make deploy") == "ask"
    assert decide(policy, BASH, command="npm run lint") == "allow"
    assert decide(policy, EDIT, path="src/app.py") == "allow"
    assert decide(policy, WRITE, path="src/new/thing.py") == "allow"
    assert decide(policy, EDIT, path="README.md") == "ask"
    assert decide(policy, EDIT, path="src/../README.md") == "ask"  # judged on the real path
    assert decide(policy, READ, path=".env") == "ask"  # allow rules do not open secrets


def test_read_only_cannot_be_loosened_by_allow_rules(guard: WorkspaceGuard) -> None:
    policy = Policy("read-only", allow=["edit_file", "bash(make test)"], guard=guard)
    assert decide(policy, EDIT, path="src/app.py") == "deny"
    assert decide(policy, BASH, command="make test") == "deny"


def test_always_remembers_for_the_session(guard: WorkspaceGuard) -> None:
    policy = Policy("ask", guard=guard)
    assert decide(policy, BASH, command="make test") == "ask"
    policy.remember(BASH, {"command": "make test"})
    assert decide(policy, BASH, command="make test") == "allow"
    assert decide(policy, BASH, command="make deploy") == "ask"
    policy.remember(EDIT, {"path": "src/app.py"})
    assert decide(policy, EDIT, path="README.md") == "allow"


@pytest.mark.parametrize(
    ("text", "tool", "pattern"),
    [
        ("bash(git diff:*)", "bash", "git diff:*"),
        ("read_file(.env*)", "read_file", ".env*"),
        ("edit_file", "edit_file", None),
        (" grep ( src/** ) ", "grep", " src/** "),
    ],
)
def test_rule_syntax(text: str, tool: str, pattern: str | None) -> None:
    assert Rule.parse(text) == Rule(tool, pattern)


def test_bad_rule_is_an_error() -> None:
    with pytest.raises(ValueError, match="bad permission rule"):
        Rule.parse("bash(git")


@pytest.mark.parametrize(
    ("answer", "allowed", "always", "reason"),
    [
        ("y", True, False, ""),
        ("yes", True, False, ""),
        ("a", True, True, ""),
        ("n", False, False, ""),
        ("n use the test target instead", False, False, "use the test target instead"),
        ("no: too risky", False, False, "too risky"),
    ],
)
def test_approval_answers(answer: str, allowed: bool, always: bool, reason: str) -> None:
    verdict = parse_answer(answer)
    assert verdict is not None
    assert (verdict.allowed, verdict.always, verdict.reason) == (allowed, always, reason)


def test_unclear_answer_asks_again() -> None:
    assert parse_answer("maybe") is None
