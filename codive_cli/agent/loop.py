"""The agent loop: stream a reply, run the tool calls it makes, send the results, repeat.

Every tool call in the conversation gets a result, whatever happens (denied, failed,
interrupted, step limit), so the next request is valid for every wire format.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from codive_cli.agent import compaction
from codive_cli.agent.events import (
    AgentEvent,
    Compacted,
    Driver,
    MessageAdded,
    ToolFinished,
    ToolStarted,
    Unattended,
)
from codive_cli.policy.permissions import ApprovalRequest, Policy
from codive_cli.provider import (
    ChatMessage,
    CompletionRequest,
    CompletionResponse,
    Done,
    Image,
    Provider,
    ResponseBuilder,
    StopReason,
    StreamEvent,
    TextDelta,
    ThinkingDelta,
    ToolCall,
    ToolCallStart,
    Usage,
)
from codive_cli.tools.base import (
    Tool,
    ToolContext,
    ToolError,
    ToolResult,
    check_arguments,
    redact,
    truncate,
)


@dataclass
class ToolRecord:
    call: ToolCall
    result: ToolResult


@dataclass
class RunResult:
    content: str
    stop_reason: StopReason
    usage: Usage
    model: str
    tool_calls: list[ToolRecord] = field(default_factory=list)
    steps: int = 0
    stopped_by: str | None = None  # "max_steps" or "max_cost" when the loop was cut short
    truncated_tool_calls: list[str] = field(default_factory=list)


async def run_step(
    provider: Provider,
    request: CompletionRequest,
    on_event: Callable[[AgentEvent], None],
    *,
    stream: bool = True,
    builder: ResponseBuilder | None = None,
) -> CompletionResponse:
    """One model call. Every event reaches `on_event` before it is folded (into `builder`,
    if given, so a caller can keep the partial text of an interrupted answer)."""
    if not stream:
        response = await provider.complete(request)
        for event in _events_of(response):
            on_event(event)
        return response
    builder = builder or ResponseBuilder()
    async for event in provider.stream(request):
        on_event(event)
        builder.feed(event)  # raises the ProviderError of a StreamError
    return builder.build()


def _events_of(response: CompletionResponse) -> list[StreamEvent]:
    events: list[StreamEvent] = [ThinkingDelta(t.text) for t in response.thinking if t.text]
    if response.content:
        events.append(TextDelta(response.content))
    events.extend(ToolCallStart(call.id, call.name) for call in response.tool_calls)
    events.append(Done(response.stop_reason, response.usage, response.id, response.model))
    return events


INTERRUPTED = "[the user interrupted this answer]"
_IMAGES_LEFT_OUT = "attached image(s) {names} left out: the current model does not take images"


class Agent:
    """Runs requests against a provider with tools, under a permission policy."""

    def __init__(
        self,
        provider: Provider,
        tools: Sequence[Tool],
        context: ToolContext,
        *,
        policy: Policy | None = None,
        system: str | None = None,
        max_steps: int = 50,
        max_cost: float | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        stream: bool = True,
        assumed_context_window: int = compaction.ASSUMED_CONTEXT_WINDOW,
        compact_steps: bool = True,
    ) -> None:
        self.provider = provider
        self.tools = {tool.name: tool for tool in tools}
        self.context = context
        self.policy = policy or Policy()
        self.max_steps = max_steps
        self.max_cost = max_cost
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.stream = stream
        self.messages: list[ChatMessage] = [ChatMessage("system", system)] if system else []
        self.driver: Driver = Unattended()  # the driver of the run in progress
        self.usage = Usage()
        self.last_input_tokens = 0  # the size of the context the model last saw
        self.assumed_context_window = assumed_context_window  # 0: none
        # Compact the older steps of a long run (a `complete`, a chat turn that runs many
        # tools) between two of them when the context window fills; a chat also compacts
        # older turns between turns.
        self.compact_steps = compact_steps
        self.compactions = 0  # how often runs compacted their steps (a chat's turn asks)
        self._without_images: dict[int, tuple[ChatMessage, ChatMessage]] = {}

    def add(self, message: ChatMessage, *, interrupted: bool = False) -> None:
        """Append to the conversation, and tell the driver (a chat saves it)."""
        self.messages.append(message)
        self.driver.emit(MessageAdded(message, interrupted))

    def context_window(self) -> tuple[int | None, bool]:
        """The model's context window in tokens, and whether it is only assumed (the model's
        own is unknown); (None, False) when unknown and nothing is assumed."""
        info = self.provider.model_info()
        if info is not None and info.context_window:
            return info.context_window, False
        return (self.assumed_context_window or None), bool(self.assumed_context_window)

    def drop_tools(self, system: str | None) -> None:
        """Go on without tools (the model cannot call them), with a system prompt saying so."""
        self.tools = {}
        if system and self.messages and self.messages[0].role == "system":
            self.messages[0] = ChatMessage("system", system)

    async def run(
        self, prompt: str, driver: Driver | None = None, *, images: Sequence[Image] = ()
    ) -> RunResult:
        """Answer one user message (with `images` attached, if any), calling tools until the
        model stops or the limit hits; every event goes to `driver`, which also answers
        approval requests."""
        self.driver = driver if driver is not None else Unattended()
        try:
            return await self._run(prompt, tuple(images))
        finally:
            self.driver = Unattended()

    async def _run(self, prompt: str, images: tuple[Image, ...]) -> RunResult:
        self.add(ChatMessage("user", redact(prompt, self.context.secrets), images=images))
        records: list[ToolRecord] = []
        usage = Usage()
        response: CompletionResponse | None = None
        for step in range(1, self.max_steps + 1):
            if response is not None and self._over_budget(usage, response.usage):
                return self._result(response, usage, records, step - 1, stopped_by="max_cost")
            response = await self._step()
            usage += response.usage
            self.usage += response.usage
            seen = response.usage.input_tokens + response.usage.cache_read_tokens
            self.last_input_tokens = seen or compaction.estimate_tokens(self.messages)
            self.add(response.to_message())
            if not response.tool_calls:
                return self._result(response, usage, records, step)
            records += await self._run_calls(response.tool_calls)
            if step < self.max_steps:
                usage += await self._compact_if_needed()
        assert response is not None
        return self._result(response, usage, records, self.max_steps, stopped_by="max_steps")

    async def _compact_if_needed(self) -> Usage:
        """Between two steps of a long run, summarise the older ones when the last request
        used most of the context window; what the summary cost."""
        window, _ = self.context_window()
        if not (self.compact_steps and window):
            return Usage()
        if not compaction.needs_compaction(self.last_input_tokens, window):
            return Usage()
        done = await compaction.compact_steps(self.provider, self.messages)
        if done is None:
            return Usage()
        self.usage += done.usage
        self.compactions += 1
        self.messages = done.messages
        self.last_input_tokens = compaction.estimate_tokens(self.messages)
        self.driver.emit(Compacted(done.summary, done.kept))
        return done.usage

    def _over_budget(self, spent: Usage, last: Usage) -> bool:
        """Whether another call like the last one would take the spend past --max-cost."""
        if self.max_cost is None:
            return False
        info = self.provider.model_info()
        if info is None or info.cost(spent) is None:
            return False  # unpriced: cannot be capped (the CLI says so up front)
        return (info.cost(spent) or 0) + (info.cost(last) or 0) > self.max_cost

    async def _step(self) -> CompletionResponse:
        builder = ResponseBuilder()
        try:
            return await run_step(
                self.provider,
                self._request(),
                self.driver.emit,
                stream=self.stream,
                builder=builder,
            )
        except (asyncio.CancelledError, KeyboardInterrupt):
            # Keep what the person already saw, and tell the model it was cut: the next
            # request then says so in every wire format (and the turns still alternate).
            partial = "".join(builder.text).rstrip()
            marked = f"{partial}\n\n{INTERRUPTED}" if partial else INTERRUPTED
            self.add(ChatMessage("assistant", marked), interrupted=True)
            raise

    def _request(self) -> CompletionRequest:
        definitions = [tool.definition() for tool in self.tools.values()]
        messages = list(self.messages)
        if any(m.images for m in messages) and not self.provider.supports_images():
            messages = [self._imageless(m) if m.images else m for m in messages]
        return CompletionRequest(
            messages,
            definitions,
            max_tokens=self.max_tokens,
            temperature=self.temperature,
        )

    def _imageless(self, message: ChatMessage) -> ChatMessage:
        """`message` without its images, for a model that takes none (a conversation that
        had them before /model switched): the same object each time, so it is encoded once."""
        kept = self._without_images.get(id(message))
        if kept is not None and kept[0] is message:
            return kept[1]
        names = ", ".join(image.name or image.media_type for image in message.images)
        text = f"{message.content}\n\n[{_IMAGES_LEFT_OUT.format(names=names)}]"
        plain = dataclasses.replace(message, content=text.lstrip(), images=())
        self._without_images[id(message)] = (message, plain)
        return plain

    def _result(
        self,
        response: CompletionResponse,
        usage: Usage,
        records: list[ToolRecord],
        steps: int,
        stopped_by: str | None = None,
    ) -> RunResult:
        return RunResult(
            content=response.content,
            stop_reason=response.stop_reason,
            usage=usage,
            model=response.model or self.provider.config.model,
            tool_calls=records,
            steps=steps,
            stopped_by=stopped_by,
            truncated_tool_calls=response.truncated_tool_calls,
        )

    # --- tools ------------------------------------------------------------------------------

    async def _run_calls(self, calls: Sequence[ToolCall]) -> list[ToolRecord]:
        """Permission first (one question at a time), then run; results in call order."""
        results: dict[str, ToolResult] = {}
        approved: list[ToolCall] = []
        running: dict[str, ToolContext] = {}
        try:
            for call in calls:
                refusal = await self._permit(call)
                if refusal is None:
                    approved.append(call)
                else:
                    refusal.content = redact(refusal.content, self.context.secrets)
                    results[call.id] = refusal
                    self.driver.emit(ToolFinished(call, refusal))
            if all(self.tools[c.name].kind == "read" for c in approved):
                outcomes = await asyncio.gather(*(self._execute(c, running) for c in approved))
                results.update(zip((c.id for c in approved), outcomes, strict=True))
            else:
                for call in approved:
                    results[call.id] = await self._execute(call, running)
        except (asyncio.CancelledError, KeyboardInterrupt):
            for call in calls:
                if call.id not in results:
                    results[call.id] = _interrupted(running.get(call.id))
            raise
        finally:
            self._answer_calls(calls, results)
        return [ToolRecord(call, results[call.id]) for call in calls]

    def _answer_calls(self, calls: Sequence[ToolCall], results: dict[str, ToolResult]) -> None:
        """Every call gets its result in the conversation, in call order."""
        answers = []
        for call in calls:
            result = results.get(call.id) or ToolResult("cancelled", is_error=True)
            answers.append((call, redact(result.content, self.context.secrets), result.is_error))
        for call, content, is_error in answers:
            self.add(ChatMessage("tool", content, tool_call_id=call.id, is_error=is_error))

    async def _permit(self, call: ToolCall) -> ToolResult | None:
        """None when the call may run, else the error result the model gets instead."""
        tool = self.tools.get(call.name)
        if tool is None:
            known = ", ".join(self.tools) or "none"
            return ToolResult(f"unknown tool {call.name!r}; available tools: {known}", True)
        if call.arguments_error:
            return ToolResult(f"invalid arguments for {call.name}: {call.arguments_error}", True)
        problem = check_arguments(tool, call.arguments)
        if problem:
            return ToolResult(f"invalid arguments for {call.name}: {problem}", True)
        verdict = self.policy.decide(tool, call.arguments)
        if verdict.decision == "deny":
            return ToolResult(f"permission denied: {verdict.reason}", True)
        if verdict.decision == "ask":
            preview = await asyncio.to_thread(tool.preview, call.arguments, self.context)
            request = ApprovalRequest(call.name, call.arguments, verdict.reason, preview)
            answer = await self.driver.approve(request)
            if not answer.allowed:
                reason = f": {answer.reason}" if answer.reason else ""
                return ToolResult(f"the user did not allow this call{reason}", True)
            if answer.always and not verdict.once:
                self.policy.remember(tool, call.arguments)
        return None

    async def _execute(self, call: ToolCall, running: dict[str, ToolContext]) -> ToolResult:
        tool = self.tools[call.name]
        context = dataclasses.replace(self.context, progress=None)
        running[call.id] = context
        self.driver.emit(ToolStarted(call, output=lambda: _output_so_far(context)))
        try:
            result = await tool.run(call.arguments, context)
        except ToolError as error:
            result = ToolResult(str(error), is_error=True)
        except (OSError, ValueError, UnicodeError) as error:
            result = ToolResult(f"{call.name} failed: {error}", is_error=True)
        result.content = truncate(redact(result.content, self.context.secrets))
        if result.display is not None:
            result.display = redact(result.display, self.context.secrets)
        self.driver.emit(ToolFinished(call, result))
        return result


def _output_so_far(context: ToolContext) -> str:
    """What a running tool has printed so far (commands report it; others print nothing),
    without the secrets codive knows."""
    if context.progress is None:
        return ""
    return redact(context.progress.text(), context.secrets)


def _interrupted(context: ToolContext | None) -> ToolResult:
    partial = ""
    if context is not None and context.progress is not None:
        partial = context.progress.text()
    text = "interrupted by the user"
    if partial:
        text += f"; output so far:\n{truncate(partial, keep='tail')}"
    return ToolResult(text, is_error=True)
