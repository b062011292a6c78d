"""Taking a prompt back: /edit (Esc Esc at an empty prompt) sends a new version of the last
prompt in its place, and a prompt whose turn failed before the model answered leaves the
conversation and goes back into the input.

Either way the conversation is cut to just before that prompt, in memory and in the session
file (a `rewind` record that leaves the files alone), so the next request alternates user and
assistant messages as both wire formats expect; files are never put back behind the person's
back (/undo does that, when asked).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from codive_cli.conversation import commands
from codive_cli.conversation.checkpoints.commands import turn_starts
from codive_cli.errors import CodiveError
from codive_cli.provider import ChatMessage

if TYPE_CHECKING:
    from codive_cli.conversation.chat import Chat

ATTACHED = '\n\n<file path="'  # where attach_mentions adds files to what was typed
NOTE = "[codive: "  # how a note for the model starts (added after the attachments)
KEPT_FILES = (
    "[codive: the person edited their previous message, so your answer to the earlier version"
    " was dropped; the file changes made while answering it are still in the workspace]"
)


@dataclass(frozen=True)
class Draft:
    """Text the next read puts in the input. `replaces`: sending it replaces the last prompt
    (/edit); otherwise it is a prompt of its own (one that was not sent)."""

    text: str
    replaces: bool = False


@dataclass(frozen=True)
class Prompt:
    """A person's prompt in the conversation: where it is and what they typed."""

    at: int  # its index in the conversation
    typed: str  # without the files attached to it or codive's notes for the model
    notes: list[str]  # those notes


def last_prompt(messages: list[ChatMessage]) -> Prompt | None:
    starts = turn_starts(messages)
    if not starts:
        return None
    at = starts[-1][0]
    typed, notes = taken_apart(messages[at].content)
    return Prompt(at, typed, notes)


def taken_apart(content: str) -> tuple[str, list[str]]:
    """(what the person typed, codive's notes for the model) of a prompt as it was sent; the
    files attached to it are left out: sending it again attaches them as they are then."""
    paragraphs = content.split("\n\n")
    notes: list[str] = []
    while len(paragraphs) > 1 and paragraphs[-1].startswith(NOTE) and paragraphs[-1][-1:] == "]":
        notes.insert(0, paragraphs.pop())
    text = "\n\n".join(paragraphs)
    cut = text.find(ATTACHED)
    return (text if cut < 0 else text[:cut]), notes


class Retake:
    """/edit for one chat, and what becomes of a prompt whose turn failed."""

    def __init__(self, chat: Chat) -> None:
        self.chat = chat

    async def edit(self, argument: str) -> None:
        """/edit: the last prompt back in the input, to replace it when sent; /edit TEXT
        replaces it with TEXT at once (the way to edit from a pipe)."""
        chat = self.chat
        prompt = last_prompt(chat.session.messages)
        if prompt is None:
            chat.note("nothing to edit yet")
        elif argument:
            await self.replace(argument)
        else:
            chat.draft = Draft(prompt.typed, replaces=True)
            chat.note(
                "editing your last prompt: Enter sends it in place of the old one, whose"
                " answer is dropped; Ctrl-C keeps the conversation as it is"
                if chat.editable
                else "the next line replaces your last prompt"
            )

    async def replace(self, text: str) -> None:
        """Cut the conversation to just before the last prompt, then send `text` instead."""
        chat = self.chat
        prompt = last_prompt(chat.session.messages)
        if prompt is None or commands.is_command(text):
            chat.note("nothing to edit yet" if prompt is None else "a prompt cannot be a command")
            return
        tracker = chat.checkpoints
        changed = tracker is not None and any(
            c.at is not None and c.at >= prompt.at for c in tracker.list
        )
        self.cut(prompt.at)
        chat.to_model.extend(prompt.notes)
        if changed:
            chat.to_model.append(KEPT_FILES)
            chat.note(
                "dropped the answer to your last prompt; the files it changed stay as they"
                " are (/undo puts them back)"
            )
        else:
            chat.note("dropped the answer to your last prompt")
        await chat.handle(text)

    def unanswered(self, start: int) -> bool:
        """Whether the turn that began at `start` has nothing but its prompt."""
        return all(message.role == "user" for message in self.chat.session.messages[start:])

    def cut(self, at: int) -> None:
        """The conversation back to its first `at` messages; the files stay as they are."""
        chat = self.chat
        chat.session.rewind(at, files=False)
        chat.agent.messages = list(chat.session.messages)

    def not_sent(self, start: int, prompt: str, error: CodiveError) -> None:
        """The turn that began at `start` with `prompt` failed with `error`. Once the model
        has answered (and maybe run tools) the turn is kept; before that, the prompt is taken
        out of the conversation, so the next one does not follow it unanswered."""
        if not self.unanswered(start):
            self.chat.error(error)
            return
        if len(self.chat.session.messages) > start:
            self.cut(start)
        self.chat.error(error, before="not sent: ", after=self.put_back(prompt))

    def put_back(self, prompt: str) -> str:
        """Put a prompt that was not sent back in the input (its notes for the model go with
        the next one); what to tell the person about it."""
        typed, notes = taken_apart(prompt)
        self.chat.to_model[:0] = notes
        if not self.chat.editable:
            return ""
        self.chat.draft = Draft(typed)
        return "; the prompt is back in the input"
