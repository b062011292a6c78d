"""Keeping a conversation inside the model's context window: compaction into a summary."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from codive_cli.provider import ChatMessage, CompletionRequest, Provider, Usage, collect

# Compact when the last request used this share of the context window.
COMPACT_AT = 0.8
# The window assumed for a model whose own is unknown (a model missing from the catalogue, a
# server that does not say): without one a conversation would never be compacted and every
# request would carry all of it. 32k is what most current models offer at least; a model
# with less answers ContextTooLong, and the chat compacts then. `[agent]
# assumed_context_window` in codive.toml changes it (its default there is this number).
ASSUMED_CONTEXT_WINDOW = 32_768
CHARS_PER_TOKEN = 4  # a rough estimate, for servers that report no token usage
KEEP_TURNS = 2  # the latest user turns kept verbatim (with their tool calls and results)
KEEP_STEPS = 2  # in one long run: the latest model calls kept (each with its tool results)
TOOL_RESULT_CHARS = 2_000
# What an attached image roughly costs (Claude: width x height / 750, about 1,600 tokens for a
# 1092x1092 picture; OpenAI's high detail is similar), for the estimate above.
IMAGE_TOKENS = 1_600

SUMMARY_INSTRUCTIONS = """\
You summarise a coding session so that it can continue without the full transcript.
Write a concise summary for the assistant that will carry on: the user's goals and
requests, decisions made, files read or changed (with paths) and what changed, commands run
and their outcomes, errors still open, and what was about to happen next. Keep exact names,
paths, identifiers and numbers. Do not invent anything. Plain text, no preamble."""

SUMMARY_PREFIX = "Summary of the earlier conversation:\n"
# A summary made inside one run ends with the request being worked on, word for word.
REQUEST_MARK = "\n\nThe request being worked on, as the user wrote it:\n"


@dataclass
class Compaction:
    messages: list[ChatMessage]  # the new conversation
    summary: str
    kept: int  # how many of the latest messages were kept verbatim
    usage: Usage


def rebuild(
    system: Sequence[ChatMessage], summary: str, recent: Sequence[ChatMessage]
) -> list[ChatMessage]:
    """The compacted conversation: the system messages, the summary, the latest messages."""
    # Two user messages in a row are fine: Anthropic's are merged by convert_messages, and
    # Chat Completions accepts them.
    return [*system, ChatMessage("user", SUMMARY_PREFIX + summary), *recent]


def needs_compaction(used_tokens: int, context_window: int | None) -> bool:
    return bool(context_window) and used_tokens >= COMPACT_AT * (context_window or 0)


def estimate_tokens(messages: Sequence[ChatMessage]) -> int:
    """Roughly how many tokens the messages take, for when the server does not say."""
    chars = 0
    for message in messages:
        chars += len(message.content)
        chars += sum(
            len(json.dumps(call.arguments)) + len(call.name) for call in message.tool_calls
        )
        chars += len(message.images) * IMAGE_TOKENS * CHARS_PER_TOKEN
    return chars // CHARS_PER_TOKEN


def split(
    messages: Sequence[ChatMessage], keep_turns: int = KEEP_TURNS
) -> tuple[list[ChatMessage], list[ChatMessage], list[ChatMessage]]:
    """(system messages, older messages to summarise, latest turns to keep).

    Turns start at a user message, so a tool call is never separated from its result.
    """
    system = [m for m in messages if m.role == "system"]
    rest = [m for m in messages if m.role != "system"]
    starts = [i for i, m in enumerate(rest) if m.role == "user"]
    if len(starts) <= keep_turns:
        return system, [], rest
    cut = starts[-keep_turns] if keep_turns else len(rest)
    return system, rest[:cut], rest[cut:]


def transcript(messages: Sequence[ChatMessage]) -> str:
    """The conversation as plain text for the summariser."""
    lines: list[str] = []
    for message in messages:
        if message.role == "tool":
            text = message.content
            if len(text) > TOOL_RESULT_CHARS:
                text = text[:TOOL_RESULT_CHARS] + " [...]"
            status = "error" if message.is_error else "result"
            lines.append(f"[tool {status}] {text}")
            continue
        if message.content:
            lines.append(f"{message.role}: {message.content}")
        for image in message.images:  # named, not shown: the summariser gets no pictures
            lines.append(f"[attached image] {image.name or image.media_type}")
        for call in message.tool_calls:
            lines.append(f"[tool call] {call.name}({json.dumps(call.arguments)[:500]})")
    return "\n\n".join(lines)


def split_steps(
    messages: Sequence[ChatMessage], keep_steps: int = KEEP_STEPS
) -> tuple[list[ChatMessage], list[ChatMessage], list[ChatMessage]]:
    """Like `split`, within one run: the latest `keep_steps` model calls are kept, each an
    assistant message with the tool results after it, so no call loses its result."""
    system = [m for m in messages if m.role == "system"]
    rest = [m for m in messages if m.role != "system"]
    starts = [i for i, m in enumerate(rest) if m.role == "assistant"]
    if len(starts) <= keep_steps or keep_steps < 1 or starts[-keep_steps] == 0:
        return system, [], rest
    cut = starts[-keep_steps]
    return system, rest[:cut], rest[cut:]


def request_of(older: Sequence[ChatMessage]) -> str | None:
    """The request a run is working on: the latest user message that is not a tool result,
    or the request an earlier summary of this run carried word for word."""
    for message in reversed(older):
        if message.role != "user":
            continue
        text = message.content
        if not text.startswith(SUMMARY_PREFIX):
            return text
        return text.split(REQUEST_MARK, 1)[1] if REQUEST_MARK in text else None
    return None


async def compact(
    provider: Provider, messages: Sequence[ChatMessage], keep_turns: int = KEEP_TURNS
) -> Compaction | None:
    """Summarise all but the latest turns with the model; None when there is nothing to do."""
    system, older, recent = split(messages, keep_turns)
    if not older:
        return None
    summary, usage = await _summarise(provider, older)
    return Compaction(rebuild(system, summary, recent), summary, len(recent), usage)


async def compact_steps(
    provider: Provider, messages: Sequence[ChatMessage], keep_steps: int = KEEP_STEPS
) -> Compaction | None:
    """Summarise all but the latest steps of a long run; the request it works on stays word
    for word at the end of the summary. None when there is nothing to do."""
    system, older, recent = split_steps(messages, keep_steps)
    if not older:
        return None
    summary, usage = await _summarise(provider, older)
    request = request_of(older)
    if request is not None:
        summary += REQUEST_MARK + request
    return Compaction(rebuild(system, summary, recent), summary, len(recent), usage)


async def _summarise(provider: Provider, older: Sequence[ChatMessage]) -> tuple[str, Usage]:
    request = CompletionRequest(
        [
            ChatMessage("system", SUMMARY_INSTRUCTIONS),
            ChatMessage("user", "Summarise this session:\n\n" + transcript(older)),
        ],
        max_tokens=2048,
    )
    response = await collect(provider.stream(request))
    return response.content.strip(), response.usage
