"""What every tool is: a name, a JSON schema, a kind for permissions, and `run`."""

from __future__ import annotations

import abc
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol, TypeVar

from codive_cli.errors import ToolError as ToolError  # tools import it from here
from codive_cli.policy.credentials import redact as redact  # and this
from codive_cli.provider import ToolDefinition

if TYPE_CHECKING:  # the policy layer imports this module
    from codive_cli.policy.guard import WorkspaceGuard
    from codive_cli.policy.permissions import Policy
    from codive_cli.policy.sandbox import Sandbox

ToolKind = Literal["read", "edit", "execute"]

# Results are bounded: the model gets at most this many characters of any one result.
MAX_RESULT_CHARS = 30_000


@dataclass
class ToolResult:
    content: str
    is_error: bool = False
    # What a person sees inline (a diff for edits, a tail of output for commands);
    # None means the content itself.
    display: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


class Progress(Protocol):
    """A running tool's output so far."""

    def text(self) -> str: ...


@dataclass
class ToolContext:
    """What tools may use: the workspace (its root never comes from tool arguments)."""

    root: Path
    guard: WorkspaceGuard
    secrets: tuple[str, ...] = ()  # strings that must never appear in a result (API keys)
    progress: Progress | None = None  # a running tool's partial output, for interruptions
    policy: Policy | None = None  # the one current Policy: every permission fact is read from it
    sandbox: Sandbox | None = None  # where commands run

    @property
    def allow_secrets(self) -> bool:
        """Full mode: files that may hold secrets are searched too (follows /permissions)."""
        return self.policy is not None and self.policy.mode == "full"


class Tool(abc.ABC):
    name: ClassVar[str]
    description: ClassVar[str]
    parameters: ClassVar[dict[str, Any]]
    kind: ClassVar[ToolKind]

    def definition(self) -> ToolDefinition:
        return ToolDefinition(self.name, self.description, self.parameters)

    def paths(self, arguments: dict[str, Any]) -> list[str]:
        """The workspace paths a call touches, for permission rules (file tools)."""
        value = arguments.get("path")
        return [value] if isinstance(value, str) else []

    def preview(self, arguments: dict[str, Any], context: ToolContext) -> str:
        """What the call would change, shown before a person approves it ("" if nothing to
        show beyond the arguments): file tools give a diff or the new content."""
        return ""

    @abc.abstractmethod
    async def run(self, arguments: dict[str, Any], context: ToolContext) -> ToolResult:
        """Do the work; raise ToolError for failures the model should see."""


def truncate(text: str, limit: int = MAX_RESULT_CHARS, *, keep: str = "head") -> str:
    """Bound a result, saying how much was left out so the model can ask for more."""
    if len(text) <= limit:
        return text
    omitted = len(text) - limit
    if keep == "tail":
        return f"[{omitted} characters omitted]\n" + text[-limit:]
    return text[:limit] + f"\n[{omitted} more characters truncated]"


def describe_from(package: str, name: str, **values: object) -> str:
    """A tool's description: the Markdown file `name` beside its module, stripped, with
    `${NAME}` placeholders filled from `values` (the limits the text quotes)."""
    text = resources.files(package).joinpath(name).read_text(encoding="utf-8").strip()
    return string.Template(text).substitute(values) if values else text


# Typed access to a call's arguments. check_arguments, which the agent runs before every
# call, is the one type check the model's calls get; these hand tools typed values, and a
# direct call (a test, a plugin) with a wrong type still fails as a ToolError. Tools keep
# only the semantic checks (ranges, non-empty). check_arguments lets null through, so each
# accessor says what null means.

T = TypeVar("T")

_WORDS: dict[type, str] = {str: "a string", int: "an integer", float: "a number"}


def require_string(arguments: Mapping[str, Any], name: str) -> str:
    """A required string argument, or an error the model can act on."""
    value = arguments.get(name)
    if not isinstance(value, str):
        raise ToolError(f"{name} is required and must be a string")
    return value


def optional(arguments: Mapping[str, Any], name: str, kind: type[T]) -> T | None:
    """An optional string, integer or number argument; None when absent or null."""
    value = arguments.get(name)
    if value is None:
        return None
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)  # JSON has one number type
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ToolError(f"{name} must be {_WORDS.get(kind, kind.__name__)}, not {value!r}")
    return value


def flag(arguments: Mapping[str, Any], name: str) -> bool:
    """An optional boolean argument, false when absent; null is an error, not a guess."""
    value = arguments.get(name, False)
    if not isinstance(value, bool):
        raise ToolError(f"{name} must be true or false")
    return value


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
}


def check_arguments(tool: Tool, arguments: dict[str, Any]) -> str:
    """A light JSON-schema check: required keys, known keys, basic types."""
    schema = tool.parameters
    properties: dict[str, Any] = schema.get("properties", {})
    missing = [key for key in schema.get("required", []) if key not in arguments]
    if missing:
        return "missing required " + ", ".join(missing)
    for key, value in arguments.items():
        spec = properties.get(key)
        if spec is None:
            if schema.get("additionalProperties") is False:
                return f"unknown parameter {key!r} (expected: {', '.join(properties)})"
            continue
        expected = _JSON_TYPES.get(spec.get("type", ""), (object,))
        wrong_bool = isinstance(value, bool) and bool not in expected
        if value is not None and (not isinstance(value, expected) or wrong_bool):
            return f"{key!r} must be {spec.get('type')}, got {type(value).__name__}"
    return ""
