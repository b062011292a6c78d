"""The system prompt: what codive is, its tools, the workspace, and the project's own notes."""

from __future__ import annotations

import os
import platform
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from codive_cli.policy.guard import WorkspaceGuard
from codive_cli.tools.base import Tool, ToolError

# Files other agents read for project instructions; the first found in the root is used.
INSTRUCTION_FILES = ("AGENTS.md", "CODIVE.md")
MAX_INSTRUCTIONS = 20_000

BASE = """\
You are codive, a coding agent working in a software repository on the user's machine.
You help by reading the code, making careful changes, and running commands to check them.

Workspace: {root} ({system}). Paths are relative to it; you cannot touch files outside it.

How to work:
- Look before you change: find the relevant code with grep and glob, read it with read_file.
- Make the smallest change that does the job, in the style of the surrounding code.
- edit_file replaces an exact snippet: copy old_string from read_file output (without the
  line-number prefix), with enough context to be unique.
- After a change, run the project's tests or build with bash when there are any.
- Some calls need the user's approval; if one is denied, do not retry it unchanged: adapt or
  explain what you need.
- Finish with a short summary of what you did and anything left to do.
"""


# Without tools (--no-tools, or a model that cannot call them) a short prompt serves better:
# small local models lose their way in a long one.
CHAT_ONLY = "You are codive, a helpful assistant for programmers. Answer clearly and concisely."


def system_prompt(
    root: Path,
    tools: Sequence[Tool],
    extra: str | None = None,
    *,
    instructions: Instructions | None = None,
) -> str:
    if tools:
        parts = [BASE.format(root=root, system=platform.system() or "unknown")]
        parts.append("Tools: " + ", ".join(tool.name for tool in tools) + ".")
    else:
        parts = [CHAT_ONLY]
    if instructions is not None and instructions.text:
        parts.append(f"Project instructions ({instructions.name}):\n{instructions.text}")
    if extra:
        parts.append(extra)
    return "\n\n".join(parts)


@dataclass(frozen=True)
class Instructions:
    """The project's instruction file, or why it was left out (`text` empty then)."""

    name: str
    text: str = ""
    refused: str = ""


def project_instructions(
    guard: WorkspaceGuard, permitted: Callable[[str], str]
) -> Instructions | None:
    """The first instruction file in the workspace root, read like a tool would read it.

    It goes through the workspace guard and the secret rules (a symlink to
    /proc/self/environ or to a file outside is refused), and `permitted(name)` gives the
    reason a deny rule forbids reading it, or "".
    """
    for name in INSTRUCTION_FILES:
        if not os.path.lexists(guard.root / name):
            continue
        refused = permitted(name)
        if refused:
            return Instructions(name, refused=refused)
        try:
            text = guard.read_own(name, MAX_INSTRUCTIONS + 1)
        except ToolError as error:
            return Instructions(name, refused=str(error))
        if len(text) > MAX_INSTRUCTIONS:
            text = text[:MAX_INSTRUCTIONS] + "\n[truncated]"
        return Instructions(name, text.strip())
    return None
