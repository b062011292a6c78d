"""The system prompt: what codive is, its tools, the workspace, and the project's own notes."""

from __future__ import annotations

import platform
from collections.abc import Sequence
from pathlib import Path

from codive_cli.tools.base import Tool

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


def system_prompt(root: Path, tools: Sequence[Tool], extra: str | None = None) -> str:
    if tools:
        parts = [BASE.format(root=root, system=platform.system() or "unknown")]
        parts.append("Tools: " + ", ".join(tool.name for tool in tools) + ".")
    else:
        parts = [CHAT_ONLY]
    notes = project_instructions(root)
    if notes:
        parts.append(f"Project instructions ({notes[0]}):\n{notes[1]}")
    if extra:
        parts.append(extra)
    return "\n\n".join(parts)


def project_instructions(root: Path) -> tuple[str, str] | None:
    for name in INSTRUCTION_FILES:
        path = root / name
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            if len(text) > MAX_INSTRUCTIONS:
                text = text[:MAX_INSTRUCTIONS] + "\n[truncated]"
            return name, text.strip()
    return None
