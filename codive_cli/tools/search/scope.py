"""What a glob or grep call searches: its `path` argument resolved inside the workspace."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codive_cli.policy.regular import NOT_REGULAR
from codive_cli.tools.base import MAX_RESULT_CHARS, ToolContext, ToolError

# Output kept below the result bound so that the closing note is never cut off.
OUTPUT_BUDGET = MAX_RESULT_CHARS - 1000


@dataclass
class Scope:
    root: str  # the workspace root, real path
    target: str  # the searched path, real and absolute
    rel: str  # target relative to root ("" for the root)
    is_dir: bool
    shown: str  # for messages

    def under(self, rel: str) -> str:
        """`rel` (relative to the root) made relative to the searched folder."""
        return rel[len(self.rel) + 1 :] if self.rel else rel

    @property
    def where(self) -> str:
        """The searched place, as result messages name it."""
        return "the workspace" if not self.rel else repr(self.shown)


def resolve_scope(arguments: dict[str, Any], context: ToolContext, *, files_ok: bool) -> Scope:
    """The scope named by the `path` argument (default: the workspace root)."""
    raw = arguments.get("path")
    if raw is None or raw == "":
        raw = "."
    if not isinstance(raw, str):
        raise ToolError("path must be a string (a folder relative to the workspace root)")
    target = Path(context.guard.resolve(raw))
    root = os.path.realpath(context.root)
    real = os.path.realpath(target)
    shown = context.guard.relative(target)
    try:
        mode = os.stat(real).st_mode
    except OSError:
        raise ToolError(
            f"{raw!r} does not exist; use list_dir or glob to find the right path"
        ) from None
    is_dir = stat.S_ISDIR(mode)
    if not is_dir and not stat.S_ISREG(mode):  # a FIFO would block the search until a writer
        wanted = "a folder or a regular file" if files_ok else "a folder"
        raise ToolError(f"{raw!r} {NOT_REGULAR}: give {wanted} to search in")
    if not is_dir and not files_ok:
        raise ToolError(f"{raw!r} is a file, not a folder: give the folder to search in")
    rel = "" if real == root else os.path.relpath(real, root)
    return Scope(root, real, rel, is_dir, shown)


def display_path(rel: str) -> str:
    """A path as shown to the model: undecodable bytes become U+FFFD."""
    return rel.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def optional_string(arguments: dict[str, Any], name: str) -> str | None:
    value = arguments.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ToolError(f"{name} must be a string")
    return value
