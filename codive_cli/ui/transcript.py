"""The end of a saved conversation, drawn as the live view drew it (for --continue / --resume).

Only the latest turns are drawn, so resuming costs the same however long the conversation
is: user prompts (attached files and images named, not shown), answers as Markdown, tool calls as
`⏺ name(arg)` with a `⎿` summary of their result, and a note for a summary of older turns.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rich.console import Console
from rich.text import Text

from codive_cli.agent.compaction import SUMMARY_PREFIX
from codive_cli.provider import ChatMessage
from codive_cli.tools.base import ToolResult
from codive_cli.ui import tools as tool_view
from codive_cli.ui.safe import plain, visible

TURNS = 3  # the latest user prompts drawn, with what followed them
MAX_MESSAGES = 40  # and never more messages than this
_ATTACHMENT = re.compile(r'\n\n<file path="([^"\n]*)">\n.*?\n</file>(?=\n\n<file |\Z)', re.S)


def tail_start(messages: Sequence[ChatMessage], turns: int = TURNS) -> int:
    """Where the part worth drawing starts: the latest `turns` prompts, at most MAX_MESSAGES
    messages, never starting on a tool result (it is drawn with its call)."""
    floor = max(len(messages) - MAX_MESSAGES, 0)
    prompts = [i for i in range(floor, len(messages)) if messages[i].role == "user"]
    start = prompts[-turns] if len(prompts) >= turns else floor
    while start < len(messages) and messages[start].role in ("tool", "system"):
        start += 1
    return start


def show_end(
    console: Console, messages: Sequence[ChatMessage], interrupted: set[int], session_id: str
) -> None:
    """Draw the latest turns of a conversation, saying how many earlier messages there are."""
    start = tail_start(messages)
    earlier = sum(1 for message in messages[:start] if message.role != "system")
    if earlier:
        note = f"· {earlier:,} earlier messages not shown; /history shows more"
        console.print(plain(note, "dim"), highlight=False)
    results = {m.tool_call_id: m for m in messages[start:] if m.role == "tool"}
    for index in range(start, len(messages)):
        message = messages[index]
        if message.role == "user":
            _prompt(console, message)
        elif message.role == "assistant":
            _answer(console, message, results, index in interrupted)
    console.print(plain(f"· continuing session {session_id}", "dim"), highlight=False)


def _prompt(console: Console, message: ChatMessage) -> None:
    text = message.content
    if text.startswith(SUMMARY_PREFIX):
        console.print(plain("· earlier turns were summarised to save context", "dim"))
        return
    names = _ATTACHMENT.findall(text)
    console.print(plain(f"› {_ATTACHMENT.sub('', text)}", "bold"), highlight=False)
    if names:
        console.print(plain(f"  attached: {', '.join(names)}", "dim"), highlight=False)
    for image in message.images:
        name = image.name or image.media_type
        console.print(plain(f"  attached image: {name}", "dim"), highlight=False)


def _answer(
    console: Console,
    message: ChatMessage,
    results: dict[str | None, ChatMessage],
    interrupted: bool,
) -> None:
    if message.content:
        from codive_cli.ui.markdown import AnswerMarkdown

        console.print(AnswerMarkdown(visible(message.content)))
    if interrupted:
        console.print(Text("(interrupted)", style="dim italic"))
    for call in message.tool_calls:
        answer = results.get(call.id)
        if answer is None:
            continue
        result = ToolResult(answer.content, is_error=answer.is_error)
        console.print(tool_view.rich_view(call, result))
