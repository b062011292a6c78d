"""`codive chat`: turns, slash commands, sessions and context, whatever reads the input.

The line source (a prompt-toolkit prompt on a terminal, plain lines from a pipe) and the
output (Rich on a terminal, plain text elsewhere, a buffer in tests) are handed in, so the
same loop serves people, scripts and tests; nothing here draws on a terminal.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractContextManager
from typing import Protocol

from codive_cli.agent import compaction as ctx
from codive_cli.agent.events import Driver
from codive_cli.agent.loop import Agent
from codive_cli.conversation import commands
from codive_cli.conversation.checkpoints import Checkpoints
from codive_cli.conversation.checkpoints.commands import CheckpointCommands
from codive_cli.conversation.driving import Saving, sigint_cancels, stopping
from codive_cli.conversation.edit import Draft, Retake
from codive_cli.conversation.mentions import Prompt, attach_mentions
from codive_cli.conversation.session import Session, SessionStore
from codive_cli.conversation.spend import Spend, usage_line
from codive_cli.errors import CodiveError, ContextTooLong
from codive_cli.policy.credentials import redact
from codive_cli.policy.modes import MODES
from codive_cli.provider import ChatMessage, Image, Provider, ToolCall

__all__ = ["Chat", "ChatOutput", "LineSource", "Saving", "TurnView", "markdown_transcript"]

HISTORY = 20  # messages /history shows


class LineSource(Protocol):
    editable: bool  # `read` puts its `default` in the input for the person to edit and send

    async def read(self, default: str = "") -> str | None:
        """The next input (None at end of input); "" when the person cleared the line."""
        ...


class TurnView(Driver, Protocol):
    """How one answer is shown: a driver for the agent, closed when the turn ends."""

    def close(self) -> None: ...


class ChatOutput(Protocol):
    """Where the chat writes: notes, errors, plain blocks, a spinner, and each turn."""

    watching: bool  # a person watches: a usage line follows each answer

    def note(self, text: str, *, fresh_line: bool = False) -> None:
        """A dim one-line note; `fresh_line`: start on a new line (after an echoed ^C)."""
        ...

    def error(self, message: str) -> None: ...

    def show(self, text: str) -> None: ...

    def diff(self, text: str) -> None: ...

    def working(self, message: str) -> AbstractContextManager[object]: ...

    def turn(self) -> TurnView: ...


class Chat:
    """One chat: an agent, its saved session, and the commands around them."""

    def __init__(
        self,
        agent: Agent,
        session: Session,
        store: SessionStore,
        output: ChatOutput,
        *,
        switch_provider: Callable[[str | None, str | None], Awaitable[Provider]],
        checkpoints: Checkpoints | None = None,
    ) -> None:
        self.agent = agent
        self.session = session
        self.store = store
        self.output = output
        self.switch_provider = switch_provider
        self.spend = Spend()
        self.root = agent.context.root
        self.checkpoints = checkpoints  # None: no /undo (tests that do not need it)
        self.to_model: list[str] = []  # notes for the model, added to the next prompt
        self.draft: Draft | None = None  # what the next read puts in the input
        self.editable = False  # the line source can put a draft in the input
        self.retake = Retake(self)
        files = CheckpointCommands(self)
        self.handlers: dict[str, Callable[[str], Awaitable[None]]] = {
            "help": self._help,
            "model": self._model,
            "clear": self._clear,
            "compact": self._compact_command,
            "edit": self.retake.edit,
            "usage": self._usage,
            "thinking": self._thinking,
            "permissions": self._permissions,
            "sessions": self._sessions,
            "history": self._history,
            "save": self._save,
            "undo": files.undo,
            "rewind": files.rewind,
            "diff": files.diff,
        }

    async def run(self, source: LineSource) -> None:
        self.editable = source.editable
        while True:
            draft, self.draft = self.draft, None
            line = await source.read(draft.text if draft else "")
            if line is None:
                break
            if not line.strip():
                continue  # a draft cleared (Ctrl-C, or deleted) is dropped
            if draft is not None and draft.replaces and not commands.is_command(line):
                await self.retake.replace(line)
            elif not await self.handle(line):
                break

    async def handle(self, line: str) -> bool:
        """Run one input; False when the person asked to leave."""
        if commands.is_command(line):
            return await self.command(line.strip())
        prompt = self.attach_mentions(line)
        await self.turn(prompt.text, prompt.images)
        return True

    # --- turns ------------------------------------------------------------------------------

    async def turn(self, prompt: str, images: Sequence[Image] = ()) -> None:
        await self._compact_if_needed()
        if self.to_model:
            prompt = "\n\n".join([prompt, *self.to_model])
            self.to_model.clear()
        start, compactions = len(self.session.messages), self.agent.compactions
        if self.checkpoints is not None:
            self.checkpoints.begin(start)
        task = asyncio.ensure_future(self._answer(prompt, images))
        loop = asyncio.get_running_loop()
        with sigint_cancels(loop, task):
            try:
                await task
            except asyncio.CancelledError:
                if stopping():  # codive itself is asked to stop (SIGTERM, SIGHUP)
                    raise
                self.output.note("interrupted; the conversation is kept", fresh_line=True)
            except CodiveError as error:
                await self._failed(error, prompt, start, images, compactions)
        if self.agent.compactions != compactions and self.checkpoints is not None:
            self.checkpoints.compacted()  # the turn's steps were compacted: indexes moved
        await self._end_checkpoint()
        self.session.sync()

    async def _failed(
        self,
        error: CodiveError,
        prompt: str,
        start: int,
        images: Sequence[Image],
        compactions: int,
    ) -> None:
        """A turn failed: compact and ask again when it no longer fits; else the prompt goes
        back to the input if the model never answered it. A turn whose own steps were
        compacted has run: it is kept, and only the error is told."""
        if self.agent.compactions != compactions:
            self.error(error)
        elif isinstance(error, ContextTooLong):
            await self._retry_after_compaction(prompt, start, images)
        else:
            self.retake.not_sent(start, prompt, error)

    def _tool_starting(self, call: ToolCall) -> None:
        """Before the turn's first call that may change files runs, snapshot the workspace."""
        tool = self.agent.tools.get(call.name)
        if self.checkpoints is not None and (tool is None or tool.kind != "read"):
            self.checkpoints.before_change()

    async def _end_checkpoint(self) -> None:
        if self.checkpoints is None:
            return
        checkpoint = await asyncio.to_thread(self.checkpoints.end)
        if checkpoint is not None:
            self.session.record("checkpoint", **checkpoint.record())
        warning = self.checkpoints.warning()
        if warning:
            self.note(warning)

    async def _answer(self, prompt: str, images: Sequence[Image] = ()) -> None:
        view = self.output.turn()
        try:
            driver = Saving(view, self.session, self._tool_starting)
            result = await self.agent.run(prompt, driver, images=images)
        finally:
            view.close()
        info = self.agent.provider.model_info(result.model or None)
        model = result.model or self.agent.provider.config.model
        self.spend.add(model, result.usage, info)
        self.session.record("usage", model=result.model, **vars(result.usage))
        if self.output.watching:
            self.note(usage_line(result.usage, model, info))
        if result.stopped_by == "max_steps":
            self.note(f"stopped after {_count(result.steps, 'model call')} (max_steps)")
        if result.stop_reason == "max_tokens":
            self.note("the answer was cut off at the token limit")

    async def _retry_after_compaction(
        self, prompt: str, start: int, images: Sequence[Image] = ()
    ) -> None:
        # The request that failed added the prompt; take it out, compact, and ask again once.
        if self.retake.unanswered(start) and len(self.session.messages) > start:
            self.retake.cut(start)
        self.note("the conversation no longer fits the model's context: compacting")
        if await self.compact(keep_turns=1):
            start = len(self.session.messages)
            try:
                await self._answer(prompt, images)
            except CodiveError as error:
                self.retake.not_sent(start, prompt, error)
            return
        self.note("nothing left to compact; start over with /clear" + self.retake.put_back(prompt))

    async def _compact_if_needed(self) -> None:
        window, assumed = self.agent.context_window()
        if window and ctx.needs_compaction(self.agent.last_input_tokens, window):
            of = (
                f"{window:,} (assumed: the model's window is unknown)" if assumed else f"{window:,}"
            )
            self.note(f"{self.agent.last_input_tokens:,} of {of} context tokens used")
            await self.compact()

    async def compact(self, keep_turns: int = ctx.KEEP_TURNS) -> bool:
        try:
            with self.output.working("summarising older turns…"):
                done = await ctx.compact(self.agent.provider, self.agent.messages, keep_turns)
        except CodiveError as error:
            self.error(error)
            return False
        if done is None:
            self.note("nothing to compact yet")
            return False
        provider = self.agent.provider
        self.spend.add(provider.config.model, done.usage, provider.model_info())
        self.agent.messages = done.messages
        self.agent.last_input_tokens = 0
        self.session.compact(done.summary, done.kept)
        if self.checkpoints is not None:
            self.checkpoints.compacted()
        turns = sum(1 for m in done.messages[len(done.messages) - done.kept :] if m.role == "user")
        self.note(f"compacted: older turns summarised; the latest {_count(turns, 'turn')} kept")
        return True

    def attach_mentions(self, line: str) -> Prompt:
        """`@path` mentions attached (conversation/mentions.py), a note for each."""
        prompt = attach_mentions(self.agent, line)
        for note in prompt.notes:
            self.note(note)
        return prompt

    # --- commands ---------------------------------------------------------------------------

    async def command(self, text: str) -> bool:
        name, _, argument = text[1:].partition(" ")
        command = commands.find(name)
        if command is None:
            self.note(f"unknown command /{name}; /help lists them")
            return True
        if command.name == "exit":
            return False
        await self.handlers[command.name](argument.strip())
        return True

    async def _help(self, argument: str) -> None:
        self.output.show(commands.help_text())

    async def _model(self, argument: str) -> None:
        words = argument.split()
        provider_name = None
        if "-p" in words:
            at = words.index("-p")
            provider_name = words[at + 1] if at + 1 < len(words) else None
            words = words[:at] + words[at + 2 :]
        model = words[0] if words else None
        if model is None and provider_name is None:
            config = self.agent.provider.config
            self.note(f"provider {config.display_name}, model {config.model}")
            return
        try:
            self.agent.provider = await self.switch_provider(provider_name, model)
        except CodiveError as error:
            self.error(error)
            return
        config = self.agent.provider.config
        self.session.record("model", provider=config.display_name, model=config.model)
        self.note(f"now using {config.display_name} / {config.model}")

    async def _clear(self, argument: str) -> None:
        system = [m for m in self.agent.messages if m.role == "system"]
        self.session.close()
        meta = dict(self.session.meta)
        self.session = self.store.create(self.root, **meta)
        self.agent.messages = list(system)
        for message in system:
            self.session.append(message)
        if self.checkpoints is not None:
            self.checkpoints.start(self.session.id)
        self.note(f"new conversation ({self.session.id})")

    async def _compact_command(self, argument: str) -> None:
        await self.compact()

    async def _thinking(self, argument: str) -> None:
        for message in reversed(self.agent.messages):
            text = "\n\n".join(block.text for block in message.thinking if block.text)
            if text:
                self.output.show(text)
                return
        self.note("no reasoning shown yet (the model did not send any)")

    async def _usage(self, argument: str) -> None:
        self.output.show(self.spend.describe())

    async def _permissions(self, argument: str) -> None:
        policy = self.agent.policy
        if argument:
            mode = next((m for m in MODES if m == argument), None)
            if mode is None:
                self.note(f"unknown mode {argument!r}; one of: {', '.join(MODES)}")
                return
            policy.mode = mode
        self.note(
            f"mode {policy.mode}; allow: {', '.join(policy.allowed()) or 'none'}; "
            f"deny: {', '.join(policy.deny) or 'none'}"
        )

    async def _sessions(self, argument: str) -> None:
        listed = self.store.list(self.root, limit=40)  # empty ones (nothing asked) are left out
        sessions = [i for i in listed if i.asked or i.id == self.session.id][:20]
        if not sessions:
            self.note("no saved sessions for this folder")
        rows = []
        for info in sessions:
            mark = "*" if info.id == self.session.id else " "
            count = _count(info.messages, "message")
            rows.append(f"{mark} {info.id}  {count:>13}  {info.title}")
        if rows:
            self.output.show("\n".join(rows))

    async def _history(self, argument: str) -> None:
        count = int(argument) if argument.isdigit() else HISTORY
        messages = [m for m in self.agent.messages if m.role != "system"]
        if not messages:
            self.note("nothing said yet")
            return
        shown = messages[-count:] if count else []
        if len(shown) < len(messages):
            self.note(f"the latest {len(shown)} of {len(messages)} messages (/save has them all)")
        self.output.show(markdown_transcript(shown).rstrip("\n"))

    async def _save(self, argument: str) -> None:
        path = self.root / (argument or f"codive-{self.session.id}.md")
        text = markdown_transcript(self.agent.messages)
        await asyncio.to_thread(path.write_text, text, encoding="utf-8")
        self.note(f"saved {path}")

    # --- output -----------------------------------------------------------------------------

    def note(self, message: str) -> None:
        self.output.note(message)

    def error(self, error: CodiveError, *, before: str = "", after: str = "") -> None:
        """One error and its hint, without any key codive knows; `before` and `after` go
        around its message."""
        hint = f"\n  hint: {error.hint}" if error.hint else ""
        text = f"{before}{error.message}{after}{hint}"
        self.output.error(redact(text, self.agent.context.secrets))


def markdown_transcript(messages: list[ChatMessage]) -> str:
    parts = []
    for message in messages:
        if message.role == "system":
            continue
        if message.role == "tool":
            label = "tool result (error)" if message.is_error else "tool result"
            parts.append(f"**{label}**\n\n```\n{message.content}\n```")
            continue
        text = message.content
        images = "\n".join(
            f"- attached image: {image.name or image.media_type}" for image in message.images
        )
        calls = "\n".join(f"- `{c.name}` {c.arguments}" for c in message.tool_calls)
        listed = "\n".join(part for part in (images, calls) if part)
        parts.append(f"**{message.role}**\n\n{text}" + (f"\n\n{listed}" if listed else ""))
    return "\n\n".join(parts) + "\n"


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")
