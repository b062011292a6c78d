"""`codive chat`: turns, slash commands, sessions and context, whatever reads the input.

The line source (a prompt-toolkit prompt on a terminal, plain lines from a pipe) and the
renderer are handed in, so the same loop serves people, scripts and tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from rich.console import Console
from rich.text import Text

from codive_cli.agent import compaction as ctx
from codive_cli.agent.loop import Agent
from codive_cli.conversation.session import Session, SessionStore
from codive_cli.errors import CodiveError, ContextTooLong
from codive_cli.policy.permissions import MODES
from codive_cli.provider import ChatMessage, ModelInfo, Provider, Usage
from codive_cli.ui.report import usage_line
from codive_cli.ui.safe import plain

HELP = """\
Commands:
  /help                     this list
  /model [NAME] [-p PROV]   show or switch the model (and provider) mid-session
  /clear                    start a new conversation (the old one stays saved)
  /compact                  summarise older turns to free context
  /usage                    tokens and cost so far
  /permissions [MODE]       show or set the mode: read-only, ask, accept-edits, full
  /sessions                 saved sessions of this folder
  /save [FILE]              write the conversation as Markdown
  /exit                     leave (Ctrl-D does too)
Input: Enter sends, Esc then Enter (or Ctrl-J) adds a line; @path attaches a file.
Ctrl-C stops the answer in flight; the conversation is kept."""

MENTION = re.compile(r"(?<![\w@])@([\w./~+-]+)")
MAX_ATTACH = 100_000


class LineSource(Protocol):
    async def read(self) -> str | None:
        """The next input (None at end of input)."""
        ...


@dataclass
class Spend:
    """Tokens and cost per model, side calls (summaries) included."""

    by_model: dict[str, Usage] = field(default_factory=dict)
    info: dict[str, ModelInfo | None] = field(default_factory=dict)

    def add(self, model: str, usage: Usage, info: ModelInfo | None) -> None:
        self.by_model[model] = self.by_model.get(model, Usage()) + usage
        self.info.setdefault(model, info)

    def describe(self) -> str:
        if not self.by_model:
            return "no tokens used yet"
        lines, total, unpriced = [], 0.0, False
        for model, usage in self.by_model.items():
            info = self.info.get(model)
            cost = info.cost(usage) if info else None
            shown = f"${cost:.4f}" if cost is not None else "unpriced"
            lines.append(
                f"{model}: {usage.input_tokens:,} in · {usage.output_tokens:,} out · {shown}"
            )
            total += cost or 0
            unpriced = unpriced or cost is None
        priced = f"${total:.4f}" + (" (plus unpriced models)" if unpriced and total else "")
        lines.append("total: " + ("unpriced" if unpriced and not total else priced))
        return "\n".join(lines)


class Chat:
    """One chat: an agent, its saved session, and the commands around them."""

    def __init__(
        self,
        agent: Agent,
        session: Session,
        store: SessionStore,
        console: Console,
        *,
        switch_provider: Callable[[str | None, str | None], Awaitable[Provider]],
        new_renderer: Callable[[], object],
    ) -> None:
        self.agent = agent
        self.session = session
        self.store = store
        self.console = console
        self.switch_provider = switch_provider
        self.new_renderer = new_renderer
        self.spend = Spend()
        self.root = agent.context.root
        self.show_usage = console.is_terminal  # a line after each turn, for a person watching
        agent.on_message = self._persist

    def _persist(self, message: ChatMessage, interrupted: bool) -> None:
        self.session.append(message, interrupted=interrupted)

    async def run(self, source: LineSource) -> None:
        while True:
            line = await source.read()
            if line is None:
                break
            if not line.strip():
                continue
            if not await self.handle(line):
                break

    async def handle(self, line: str) -> bool:
        """Run one input; False when the person asked to leave."""
        text = line.strip()
        if text.startswith("/") and not text.startswith("//"):
            return await self.command(text)
        await self.turn(self.attach_mentions(line))
        return True

    # --- turns ------------------------------------------------------------------------------

    async def turn(self, prompt: str) -> None:
        await self._compact_if_needed()
        task = asyncio.ensure_future(self._answer(prompt))
        loop = asyncio.get_running_loop()
        with _sigint_cancels(loop, task):
            try:
                await task
            except asyncio.CancelledError:
                if _stopping():  # codive itself is asked to stop (SIGTERM, SIGHUP)
                    raise
                self.note("interrupted; the conversation is kept")
            except ContextTooLong:
                await self._retry_after_compaction(prompt)
            except CodiveError as error:
                self.error(error)
        self.session.sync()

    async def _answer(self, prompt: str) -> None:
        renderer = self.new_renderer()
        self.agent.on_event = renderer.on_event  # type: ignore[attr-defined]
        try:
            result = await self.agent.run(prompt)
        finally:
            renderer.close()  # type: ignore[attr-defined]
        info = self.agent.provider.model_info(result.model or None)
        model = result.model or self.agent.provider.config.model
        self.spend.add(model, result.usage, info)
        self.session.record("usage", model=result.model, **vars(result.usage))
        if self.show_usage:
            self.note(usage_line(result.usage, model, info))
        if result.stopped_by == "max_steps":
            self.note(f"stopped after {result.steps} model calls (max_steps)")
        if result.stop_reason == "max_tokens":
            self.note("the answer was cut off at the token limit")

    async def _retry_after_compaction(self, prompt: str) -> None:
        # The request that failed added the prompt; drop it, compact, and ask again once.
        if self.agent.messages and self.agent.messages[-1].role == "user":
            self.agent.messages.pop()
        self.note("the conversation no longer fits the model's context: compacting")
        if await self.compact(keep_turns=1):
            try:
                await self._answer(prompt)
                return
            except CodiveError as error:
                self.error(error)
                return
        self.note("nothing left to compact; start over with /clear")

    async def _compact_if_needed(self) -> None:
        info = self.agent.provider.model_info()
        window = info.context_window if info else None
        if ctx.needs_compaction(self.agent.last_input_tokens, window):
            self.note(f"{self.agent.last_input_tokens:,} of {window:,} context tokens used")
            await self.compact()

    async def compact(self, keep_turns: int = ctx.KEEP_TURNS) -> bool:
        try:
            with self.console.status("summarising older turns…"):
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
        self.note(f"compacted: older turns summarised, the latest {done.kept} messages kept")
        return True

    def attach_mentions(self, line: str) -> str:
        """`@path` of a workspace file attaches its text to the message, read the way
        read_file reads (guard, secret and deny rules), redacted like a tool result; each
        mention says whether it was attached and, if not, why."""
        from codive_cli.tools.base import ToolError, redact

        context = self.agent.context
        attachments = []
        for name in dict.fromkeys(MENTION.findall(line)):
            refused = self.agent.policy.denies_reading(name)
            try:
                if refused:
                    raise ToolError(refused)
                text = context.guard.read_own(name, MAX_ATTACH)
            except ToolError as error:
                self.note(f"not attached: @{name}: {error}")
                continue
            text = redact(text, context.secrets)
            attachments.append(f'<file path="{name}">\n{text}\n</file>')
            self.note(f"attached {name}")
        return "\n\n".join([line, *attachments]) if attachments else line

    # --- commands ---------------------------------------------------------------------------

    async def command(self, text: str) -> bool:
        name, _, argument = text[1:].partition(" ")
        handler = {
            "help": self._help,
            "model": self._model,
            "clear": self._clear,
            "compact": self._compact_command,
            "usage": self._usage,
            "permissions": self._permissions,
            "sessions": self._sessions,
            "save": self._save,
        }.get(name.lower())
        if name.lower() in ("exit", "quit"):
            return False
        if handler is None:
            self.note(f"unknown command /{name}; /help lists them")
            return True
        await handler(argument.strip())
        return True

    async def _help(self, argument: str) -> None:
        self.console.print(HELP, markup=False, highlight=False)

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
        self.agent.messages = []
        for message in system:
            self.agent.add(message)
        self.note(f"new conversation ({self.session.id})")

    async def _compact_command(self, argument: str) -> None:
        await self.compact(keep_turns=1)

    async def _usage(self, argument: str) -> None:
        self.console.print(self.spend.describe(), markup=False, highlight=False)

    async def _permissions(self, argument: str) -> None:
        policy = self.agent.policy
        if argument:
            if argument not in MODES:
                self.note(f"unknown mode {argument!r}; one of: {', '.join(MODES)}")
                return
            policy.mode = argument
        rules = ", ".join(
            [
                *policy.allow,
                *(f"{r.tool}({r.pattern})" if r.pattern else r.tool for r in policy.session_allow),
            ]
        )
        denied = ", ".join(policy.deny) or "none"
        self.note(f"mode {policy.mode}; allow: {rules or 'none'}; deny: {denied}")

    async def _sessions(self, argument: str) -> None:
        sessions = self.store.list(self.root)
        if not sessions:
            self.note("no saved sessions for this folder")
        for info in sessions[:20]:
            mark = "*" if info.id == self.session.id else " "
            self.console.print(
                f"{mark} {info.id}  {info.messages:>4} messages  {info.title}",
                markup=False,
                highlight=False,
            )

    async def _save(self, argument: str) -> None:
        path = self.root / (argument or f"codive-{self.session.id}.md")
        text = markdown_transcript(self.agent.messages)
        await asyncio.to_thread(path.write_text, text, encoding="utf-8")
        self.note(f"saved {path}")

    # --- output -----------------------------------------------------------------------------

    def note(self, message: str) -> None:
        self.console.print(plain(f"· {message}", "dim"), highlight=False, soft_wrap=True)

    def error(self, error: CodiveError) -> None:
        """One error line and its hint; a server's words are shown as text, never as markup,
        and without any key codive knows."""
        from codive_cli.policy.credentials import redact

        hint = f"\n  hint: {error.hint}" if error.hint else ""
        text = plain(redact(f"{error.message}{hint}", self.agent.context.secrets))
        self.console.print(Text.assemble(("error:", "red"), " ", text), highlight=False)


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
        calls = "\n".join(f"- `{c.name}` {c.arguments}" for c in message.tool_calls)
        parts.append(f"**{message.role}**\n\n{text}" + (f"\n\n{calls}" if calls else ""))
    return "\n\n".join(parts) + "\n"


def _stopping() -> bool:
    """Whether the task running the chat has been cancelled, not just the turn (Ctrl-C)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


@contextlib.contextmanager
def _sigint_cancels(loop: asyncio.AbstractEventLoop, task: asyncio.Future[None]):  # type: ignore[no-untyped-def]
    """While a turn runs, Ctrl-C cancels it instead of ending codive."""
    try:
        loop.add_signal_handler(signal.SIGINT, task.cancel)
        installed = True
    except (NotImplementedError, RuntimeError):
        installed = False
    try:
        yield
    finally:
        if installed:
            loop.remove_signal_handler(signal.SIGINT)
