"""Checkpoints: the workspace snapshotted in a shadow git repository around each turn that
changes files, so /undo, /rewind and /diff can put files back or show what changed.

`shadow.py` runs git (hardened, never on the person's repository); `restore.py` writes files
back without leaving the workspace; `turns.py` ties snapshots to turns; `commands.py` is the
chat's /undo, /rewind and /diff.
"""

from codive_cli.conversation.checkpoints.shadow import CheckpointError
from codive_cli.conversation.checkpoints.turns import Checkpoint, Checkpoints, default_home

__all__ = ["Checkpoint", "CheckpointError", "Checkpoints", "default_home"]
