"""Tool calls as text, for models or servers without native tool calling.

The model is told to write each call as a JSON object inside a `<tool_call>` tag:

    <tool_call>
    {"name": "read_file", "arguments": {"path": "src/app.py"}}
    </tool_call>

and results come back in a user message as `<tool_result>` tags. The parser is tolerant of
what small models get wrong: a missing closing tag at the end, a ```json fence inside the tag,
`parameters`/`args` instead of `arguments`, arguments given as a JSON string, trailing commas.

`TextToolsProvider` wraps the endpoint's provider (`tool_format = "text"`) and translates at
the wire, so the conversation above it keeps native tool calls and `tool` results whatever
the endpoint: that is what lets `/model` switch between text and native endpoints.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from codive_cli.provider import (
    ChatMessage,
    CompletionRequest,
    CompletionResponse,
    Done,
    ModelInfo,
    Provider,
    StreamEvent,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    ToolCallStart,
    ToolDefinition,
    arguments_problem,
)

CALL_TAG = "<tool_call>"
_CALL_ID = re.compile(r"text_call_(\d+)")

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


# --- the conversation on the way out ------------------------------------------------------


def to_text(messages: Sequence[ChatMessage], tools: Sequence[ToolDefinition]) -> list[ChatMessage]:
    """The conversation as a model without tool calling reads it: the tools in a system
    guide, each assistant's calls as `<tool_call>` text, each turn's results as one user
    message of `<tool_result>` tags. User messages go as they are, images included: the
    inner wire format sends those its own way."""
    names: dict[str | None, str] = {}
    out: list[ChatMessage] = []
    results: list[tuple[str, str, bool]] = []
    for message in messages:
        if message.role == "tool":
            name = names.get(message.tool_call_id, "unknown")
            results.append((name, message.content, message.is_error))
            continue
        if results:
            out.append(results_message(results))
            results = []
        if message.role == "assistant" and message.tool_calls:
            names.update((call.id, call.name) for call in message.tool_calls)
            message = _calls_as_text(message)
        out.append(message)
    if results:
        out.append(results_message(results))
    if tools:  # after the system prompt: many chat templates want system messages first
        leading = next((n for n, m in enumerate(out) if m.role != "system"), len(out))
        out.insert(leading, ChatMessage("system", instructions(tools)))
    return out


def _calls_as_text(message: ChatMessage) -> ChatMessage:
    calls = "\n".join(
        f"{CALL_TAG}\n"
        + json.dumps({"name": call.name, "arguments": call.arguments}, ensure_ascii=False)
        + "\n</tool_call>"
        for call in message.tool_calls
    )
    text = message.content.rstrip()
    return dataclasses.replace(
        message, content=f"{text}\n{calls}" if text else calls, tool_calls=()
    )


def results_message(results: Sequence[tuple[str, str, bool]]) -> ChatMessage:
    """All results of one turn, as (tool name, content, is_error), in one user message."""
    parts = []
    for name, content, is_error in results:
        status = ' status="error"' if is_error else ""
        parts.append(f'<tool_result name="{name}"{status}>\n{content}\n</tool_result>')
    return ChatMessage("user", "\n".join(parts))


# --- the reply on the way back ------------------------------------------------------------


class _Reply:
    """A streamed reply's text: shown up to the first `<tool_call>`, held back from there.

    A tail that may be the start of the tag (`<tool_c`) waits for the next delta.
    """

    def __init__(self, first_id: int) -> None:
        self.first_id = first_id
        self.text = ""
        self._shown = 0
        self._call_at: int | None = None

    def feed(self, delta: str) -> str:
        """The part of the text so far that can be shown now."""
        self.text += delta
        if self._call_at is not None:
            return ""
        found = self.text.find(CALL_TAG, self._shown)
        if found >= 0:
            self._call_at = end = found
        else:
            end = len(self.text) - _tag_start_length(self.text)
        shown, self._shown = self.text[self._shown : end], end
        return shown

    def finish(self, done: Done) -> list[StreamEvent]:
        """The events that close the reply: held text, or the calls as native ones."""
        if self._call_at is None:
            rest = self.text[self._shown :]
            return [TextDelta(rest), done] if rest else [done]
        events: list[StreamEvent] = []
        for call in parse(self.text[self._call_at :], self.first_id):
            # An unreadable call's error goes on as arguments that are not JSON: the
            # ResponseBuilder then gives the call an arguments_error that quotes it.
            arguments = call.arguments_error or json.dumps(call.arguments)
            events += [ToolCallStart(call.id, call.name), ToolCallDelta(call.id, arguments)]
        return [*events, dataclasses.replace(done, stop_reason="tool_use")]


def _tag_start_length(text: str) -> int:
    """How many characters at the end of `text` could begin `<tool_call>`."""
    for size in range(min(len(CALL_TAG) - 1, len(text)), 0, -1):
        if text.endswith(CALL_TAG[:size]):
            return size
    return 0


def adopt(response: CompletionResponse, first_id: int) -> CompletionResponse:
    """A whole reply with the calls its text contains as its tool calls."""
    at = response.content.find(CALL_TAG)
    if at >= 0:
        response.tool_calls = parse(response.content[at:], first_id)
        response.content = response.content[:at]
        response.stop_reason = "tool_use"
    return response


# --- the wrapper ----------------------------------------------------------------------------


class TextToolsProvider(Provider):
    """`inner` with tool calls written as text; otherwise it is `inner` (same config,
    models, notices, lifetime). It can always call tools, whatever `inner` says."""

    def __init__(self, inner: Provider) -> None:
        self.inner = inner
        on_notice = inner.on_notice
        super().__init__(inner.config)  # sets on_notice (on `inner`) and supports_tools
        self.on_notice = on_notice
        self.supports_tools = True

    @property
    def name(self) -> str:  # type: ignore[override]  # a class attribute elsewhere
        return self.inner.name

    @property
    def on_notice(self) -> Callable[[str], None] | None:
        return self.inner.on_notice

    @on_notice.setter
    def on_notice(self, value: Callable[[str], None] | None) -> None:
        self.inner.on_notice = value

    async def start(self) -> None:
        await self.inner.start()

    def available_models(self) -> list[ModelInfo]:
        return self.inner.available_models()

    async def list_models(self) -> list[ModelInfo]:
        return await self.inner.list_models()

    def model_info(self, model_id: str | None = None) -> ModelInfo | None:
        return self.inner.model_info(model_id)

    def supports_images(self, model_id: str | None = None) -> bool | None:
        return self.inner.supports_images(model_id)

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def complete(self, request: CompletionRequest) -> CompletionResponse:
        response = await self.inner.complete(_outgoing(request))
        if not request.tools:
            return response
        return adopt(response, first_id=_next_id(request.messages))

    async def stream(self, request: CompletionRequest) -> AsyncIterator[StreamEvent]:
        events = self.inner.stream(_outgoing(request))
        reply = _Reply(first_id=_next_id(request.messages)) if request.tools else None
        async for event in events:
            if reply is None:
                yield event
            elif isinstance(event, TextDelta):
                if shown := reply.feed(event.text):
                    yield TextDelta(shown)
            elif isinstance(event, Done):
                for closing in reply.finish(event):
                    yield closing
            else:
                yield event


def _outgoing(request: CompletionRequest) -> CompletionRequest:
    messages = to_text(request.messages, request.tools)
    return dataclasses.replace(request, messages=messages, tools=[])


def _next_id(messages: Sequence[ChatMessage]) -> int:
    """One past the highest `text_call_N` in the conversation: ids never repeat in it (a
    native endpoint taking the conversation over refuses duplicates)."""
    used = (
        int(match.group(1))
        for message in messages
        for call in message.tool_calls
        if (match := _CALL_ID.fullmatch(call.id))
    )
    return max(used, default=0) + 1
