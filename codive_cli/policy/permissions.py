"""Who may run what: the permission mode, allow/deny rules, and what the person approved.

Evaluated in code for every call, in this order: the workspace guard (in every mode), deny
rules, then ask rules (secrets, codive's own configuration), then allow rules and the mode.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from codive_cli.errors import ToolError
from codive_cli.policy.guard import WorkspaceGuard
from codive_cli.policy.modes import DEFAULT_MODE, Mode
from codive_cli.policy.sandbox import Sandbox

Decision = Literal["allow", "deny", "ask"]

# A rule written for one file-editing tool covers the other: denying edit_file(src/**)
# must not leave write_file(src/x) open.
_RULE_FAMILIES = {"edit_file": "edit", "write_file": "edit"}
_RULE = re.compile(r"^\s*([A-Za-z_][\w.-]*)\s*(?:\((.*)\))?\s*$", re.S)


class Subject(Protocol):
    """What the policy knows of a tool (codive_cli.tools.base.Tool is one)."""

    @property
    def name(self) -> str: ...

    @property
    def kind(self) -> str: ...

    def paths(self, arguments: dict[str, Any]) -> list[str]: ...


@dataclass(frozen=True)
class _Reading:
    """Any read of one path, judged as read_file's (codive's own reads: @mentions, AGENTS.md,
    the files a shell command would read)."""

    name: str = "read_file"
    kind: str = "read"

    def paths(self, arguments: dict[str, Any]) -> list[str]:
        return [str(arguments["path"])]


_READING = _Reading()


@dataclass(frozen=True)
class Rule:
    """`tool` or `tool(pattern)`: bash takes command patterns, file tools path globs."""

    tool: str
    pattern: str | None

    @classmethod
    def parse(cls, text: str) -> Rule:
        match = _RULE.match(text) if isinstance(text, str) else None
        if not match:
            raise ValueError(
                f"bad permission rule {text!r}: expected tool or tool(pattern), "
                'e.g. "bash(git diff:*)" or "read_file(.env*)"'
            )
        return cls(match.group(1), match.group(2))

    def __str__(self) -> str:
        return f"{self.tool}({self.pattern})" if self.pattern is not None else self.tool

    def covers_tool(self, name: str) -> bool:
        if self.tool == name:
            return True
        family = _RULE_FAMILIES.get(self.tool)
        return family is not None and family == _RULE_FAMILIES.get(name)


@dataclass(frozen=True)
class Verdict:
    decision: Decision
    reason: str
    once: bool = False  # an approval may not be remembered ("always")


@dataclass(frozen=True)
class ApprovalRequest:
    tool: str
    arguments: dict[str, Any]
    reason: str
    preview: str = ""  # what would change (a diff), shown before the question


@dataclass(frozen=True)
class Approval:
    """The person's answer: once, always (for this session), or no (with a reason)."""

    allowed: bool
    always: bool = False
    reason: str = ""


Approver = Callable[[ApprovalRequest], Awaitable[Approval]]


async def deny_without_terminal(request: ApprovalRequest) -> Approval:
    """The approver when nobody can be asked: `ask` means no."""
    return Approval(
        False,
        reason=f"{request.reason}; there is no terminal to ask for approval (use "
        "--permission-mode, -y, or an allow rule in codive.toml)",
    )


@dataclass
class Policy:
    mode: Mode = DEFAULT_MODE
    allow: Sequence[str] = ()
    deny: Sequence[str] = ()
    guard: WorkspaceGuard | None = None  # secrets and codive's own files need approval
    sandbox: Sandbox | None = None  # where commands run: fail closed when unavailable
    session_allow: list[Rule] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._allow = [Rule.parse(text) for text in self.allow]
        self._deny = [Rule.parse(text) for text in self.deny]

    def decide(self, tool: Subject, arguments: dict[str, Any]) -> Verdict:
        if tool.name == "bash":
            verdict = self._decide_bash(str(arguments.get("command", "")))
            return self._with_sandbox(verdict, arguments)
        paths = self._resolved(tool, arguments)
        if any(self._matches(rule, tool, arguments, paths) for rule in self._deny):
            return Verdict("deny", f"a deny rule forbids {tool.name} here")
        sensitive = self._sensitive(paths, writing=tool.kind == "edit")
        if sensitive and self.mode != "full":
            return Verdict("ask", sensitive)
        if tool.kind == "read":
            return Verdict("allow", "reading is allowed")
        if self.mode == "read-only":
            return Verdict("deny", f"{tool.name} changes files; the mode is read-only")
        if self.mode in ("accept-edits", "full") and tool.kind == "edit":
            return Verdict("allow", f"the mode {self.mode} allows edits")
        if self.mode == "full":
            return Verdict("allow", "the mode is full")
        rules = [*self._allow, *self.session_allow]
        if any(self._matches(rule, tool, arguments, paths) for rule in rules):
            return Verdict("allow", "an allow rule matches")
        what = "file edits need" if tool.kind == "edit" else f"{tool.name} needs"
        return Verdict("ask", f"{what} approval in {self.mode} mode")

    def _decide_bash(self, command: str) -> Verdict:
        from codive_cli.policy import shell

        deny = [r.pattern or "*" for r in self._deny if r.tool == "bash"]
        allow = [r.pattern or "*" for r in [*self._allow, *self.session_allow] if r.tool == "bash"]
        if self.mode == "read-only":
            verdict = shell.judge(command, allow=[], deny=deny)
            if verdict == "allow":  # only the built-in read-only commands
                return self._paths_of(command) or Verdict("allow", "a read-only command")
            return Verdict("deny", "the mode is read-only and this command may change things")
        if self.mode == "full":  # everything runs but what a deny rule names
            denied = shell.judge(command, allow=[], deny=deny) == "deny"
            if denied:
                return Verdict("deny", "the mode is full, but a deny rule forbids this")
            return self._paths_of(command, full=True) or Verdict("allow", "the mode is full")
        verdict = shell.judge(command, allow=allow, deny=deny)
        if verdict == "allow":
            problem = self._paths_of(command)
            if problem is not None:
                return problem
        reasons = {
            "allow": "allowed by the mode, a rule, or the read-only list",
            "deny": "a deny rule forbids this command",
            "ask": f"`{_shorten(command)}` is not on the read-only list or allowed by a rule",
        }
        return Verdict(verdict, reasons[verdict])

    def _with_sandbox(self, verdict: Verdict, arguments: dict[str, Any]) -> Verdict:
        """Outside the sandbox, or with none to be had, nothing runs without asking."""
        if verdict.decision == "deny" or self.sandbox is None:
            return verdict
        if not self.sandbox.applies(self.mode):
            return verdict
        if arguments.get("unsandboxed") is True:
            return Verdict("ask", "the command would run outside the sandbox", once=True)
        if verdict.decision == "allow" and not self.sandbox.available:
            return Verdict("ask", f"there is no sandbox here ({self.sandbox.problem})")
        return verdict

    def _paths_of(self, command: str, *, full: bool = False) -> Verdict | None:
        """What the files an allowed command would read say (codive_cli.policy.shell_paths)."""
        from codive_cli.policy import shell, shell_paths

        if self.guard is None:
            return None
        if full and not any(rule.covers_tool(_READING.name) for rule in self._deny):
            return None  # full mode: only a rule on reading files stops a command here
        parts = shell.split_command(command) or []
        check = shell_paths.check_denied if full else shell_paths.check
        problem = check(parts, self.guard, self.denies_reading)
        if problem is None:
            return None
        decision, reason = problem
        return Verdict(decision, reason)

    def denies_reading(self, path: str) -> str:
        """Why a deny rule forbids reading `path` (codive's own reads, judged as read_file's),
        or "" when none does."""
        verdict = self.decide(_READING, {"path": path})
        return verdict.reason if verdict.decision == "deny" else ""

    def allowed(self) -> list[str]:
        """The allow rules in force: configured, then approved with `always` this session."""
        return [*self.allow, *(str(rule) for rule in self.session_allow)]

    def remember(self, tool: Subject, arguments: dict[str, Any]) -> None:
        """`a` (always): allow this exact command, or this tool, for the rest of the session."""
        if tool.name == "bash":
            self.session_allow.append(Rule("bash", str(arguments.get("command", ""))))
        else:
            self.session_allow.append(Rule(tool.name, None))

    def _resolved(self, tool: Subject, arguments: dict[str, Any]) -> list[str]:
        """Workspace-relative forms of the paths a call touches (the guard has run)."""
        if self.guard is None:
            return tool.paths(arguments)
        out = []
        for path in tool.paths(arguments):
            try:
                out.append(self.guard.relative(self.guard.resolve(path)))
            except ToolError:
                out.append(path)
        return out

    def _sensitive(self, paths: Iterable[str], *, writing: bool) -> str:
        if self.guard is None:
            return ""
        for path in paths:
            try:
                real = self.guard.resolve(path)
            except ToolError:
                continue
            if writing and self.guard.is_protected(real):
                return f"{path} is codive's own configuration"
            if self.guard.is_secret(real):
                return f"{path} may hold secrets"
        return ""

    def _matches(
        self, rule: Rule, tool: Subject, arguments: dict[str, Any], paths: list[str]
    ) -> bool:
        if not rule.covers_tool(tool.name):
            return False
        if rule.pattern is None or rule.pattern.strip() in ("", "*", "**"):
            return True
        if not paths:
            return False
        import pathspec

        spec = pathspec.GitIgnoreSpec.from_lines([rule.pattern])
        return any(spec.match_file(path) for path in paths)


def _shorten(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
