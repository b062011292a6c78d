"""The chat's slash commands: the one table that help, dispatch and completion read."""

from __future__ import annotations

from dataclasses import dataclass

from codive_cli.policy.modes import MODES


@dataclass(frozen=True)
class SlashCommand:
    name: str
    arguments: str  # as shown in /help: "[NAME] [-p PROV]"
    summary: str
    aliases: tuple[str, ...] = ()


COMMANDS: tuple[SlashCommand, ...] = (
    SlashCommand("help", "", "this list"),
    SlashCommand(
        "model", "[NAME] [-p PROV]", "show or switch the model (and provider) mid-session"
    ),
    SlashCommand("clear", "", "start a new conversation (the old one stays saved)"),
    SlashCommand("compact", "", "summarise older turns to free context"),
    SlashCommand(
        "edit", "[TEXT]", "edit the last prompt (Esc Esc too), or replace it with TEXT; resend"
    ),
    SlashCommand("usage", "", "tokens and cost so far"),
    SlashCommand("thinking", "", "the model's reasoning behind its last answer, in full"),
    SlashCommand("permissions", "[MODE]", "show or set the mode: " + ", ".join(MODES)),
    SlashCommand("sessions", "", "saved sessions of this folder"),
    SlashCommand("history", "[N]", "the latest N messages of this conversation (default 20)"),
    SlashCommand("save", "[FILE]", "write the conversation as Markdown"),
    SlashCommand("undo", "", "put back the files the latest turn that changed files changed"),
    SlashCommand("rewind", "[N]", "list the turns, or go back to before turn N (files too)"),
    SlashCommand("diff", "", "what this session changed in the files so far"),
    SlashCommand("exit", "", "leave (Ctrl-D does too)", aliases=("quit",)),
)

INPUT_HELP = """\
Input: Enter sends, Esc then Enter (or Ctrl-J) adds a line; @path attaches a file
(an image, for models that take images). Esc Esc at an empty prompt edits the last prompt
(sending it drops the old one's answer). Ctrl-C stops the answer in flight; the conversation
is kept."""


def find(name: str) -> SlashCommand | None:
    name = name.lower()
    return next((c for c in COMMANDS if name == c.name or name in c.aliases), None)


def is_command(text: str) -> bool:
    """Whether an input is a slash command (`//` starts a prompt that begins with `/`)."""
    text = text.strip()
    return text.startswith("/") and not text.startswith("//")


def completions() -> list[str]:
    """What the prompt offers after `/`."""
    return [f"/{command.name}" for command in COMMANDS]


def help_text() -> str:
    rows = [(f"/{c.name} {c.arguments}".rstrip(), c.summary) for c in COMMANDS]
    width = max(len(usage) for usage, _ in rows) + 2
    lines = ["Commands:", *(f"  {usage:<{width}}{summary}" for usage, summary in rows)]
    return "\n".join([*lines, INPUT_HELP])
