"""Tool calls as text, for models or servers without native tool calling.

The model is told to write each call as a JSON object inside a `<tool_call>` tag:

    <tool_call>
    {"name": "read_file", "arguments": {"path": "src/app.py"}}
    </tool_call>

and results come back in a user message as `<tool_result>` tags. The parser is tolerant of
what small models get wrong: a missing closing tag at the end, a ```json fence inside the tag,
`parameters`/`args` instead of `arguments`, arguments given as a JSON string, trailing commas.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from codive_cli.provider import (
    ChatMessage,
    CompletionResponse,
    ToolCall,
    ToolDefinition,
    arguments_problem,
)

_CALL = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|\Z)", re.S)
_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$")
_TRAILING_COMMA = re.compile(r",\s*([}\]])")


def instructions(tools: Sequence[ToolDefinition]) -> str:
    """The system-prompt section that teaches the format and lists the tools."""
    lines = [
        "You can call tools. To call one, write exactly this, and nothing after it:",
        "<tool_call>",
        '{"name": "TOOL_NAME", "arguments": {...}}',
        "</tool_call>",
        "You may write several calls one after another. The results come back in "
        "<tool_result> tags in the next message. When you need no tool, just answer.",
        "Tools (name: description; JSON schema of the arguments):",
    ]
    for tool in tools:
        schema = json.dumps(tool.parameters, separators=(",", ":"))
        lines.append(f"- {tool.name}: {tool.description}\n  arguments schema: {schema}")
    return "\n".join(lines)


def parse(text: str, first_id: int = 1) -> list[ToolCall]:
    """Every tool call written in `text`, in order; a malformed one keeps its error."""
    calls = []
    for n, match in enumerate(_CALL.finditer(text)):
        call_id = f"text_call_{first_id + n}"
        calls.append(_call(call_id, _FENCE.sub("", match.group(1).strip())))
    return calls


def _call(call_id: str, body: str) -> ToolCall:
    data = _loads(body)
    if not isinstance(data, dict) or not isinstance(data.get("name") or data.get("tool"), str):
        return ToolCall(call_id, "unknown", {}, f"not a JSON object with a name: {body[:200]!r}")
    name = str(data.get("name") or data.get("tool"))
    arguments: Any = next(
        (data[key] for key in ("arguments", "parameters", "args", "input") if key in data), {}
    )
    if isinstance(arguments, str):
        arguments = _loads(arguments) if arguments.strip() else {}
    if not isinstance(arguments, dict):
        return ToolCall(call_id, name, {}, f"arguments must be a JSON object: {body[:200]!r}")
    problem = arguments_problem(arguments)
    if problem:
        return ToolCall(call_id, name, {}, f"{problem}: {body[:200]!r}")
    return ToolCall(call_id, name, arguments)


def _loads(text: str) -> Any:
    for candidate in (text, _TRAILING_COMMA.sub(r"\1", text)):
        try:
            return json.loads(candidate)
        except json.JSONDecodeError:
            continue
        except RecursionError:  # nested too deeply to be a call anyone meant
            return None
    return None


def adopt(response: CompletionResponse, first_id: int) -> CompletionResponse:
    """The response with the calls its text contains as its tool calls."""
    calls = parse(response.content, first_id)
    if calls:
        response.tool_calls = calls
        response.stop_reason = "tool_use"
    return response


def results_message(results: Sequence[tuple[ToolCall, str, bool]]) -> ChatMessage:
    """All results of one turn as a single user message."""
    parts = []
    for call, content, is_error in results:
        status = ' status="error"' if is_error else ""
        parts.append(f'<tool_result name="{call.name}"{status}>\n{content}\n</tool_result>')
    return ChatMessage("user", "\n".join(parts))
