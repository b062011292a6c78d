"""The permission modes: the one list the CLI, the settings, /permissions and trust read.

Kept free of imports so the CLI can offer the choices without loading the policy.
"""

from __future__ import annotations

from typing import Literal, get_args

Mode = Literal["read-only", "ask", "accept-edits", "full"]
MODES: tuple[Mode, ...] = get_args(Mode)
DEFAULT_MODE: Mode = "ask"
# Modes that let edits or commands run without asking: a repository's own codive.toml may not
# choose them for the person (settings/trust.py).
PERMISSIVE_MODES: tuple[Mode, ...] = ("accept-edits", "full")
