"""Saved conversations: one JSONL file per session, appended a line at a time, loaded forgivingly.

Each line is one JSON object whose first key is `type` (messages in the shape of
`codive_cli.agent.codec`):

    {"type":"session","version":1,"id":"20250301-141502-9f3a",
     "created":"2025-03-01T14:15:02+00:00","workspace":"/home/me/repo","model":"..."}
    {"type":"message","message":{"role":"user","content":"fix the failing test"}}
    {"type":"message","message":{"role":"assistant","content":"","tool_calls":[
     {"id":"c1","name":"read_file","arguments":{"path":"a.py"}}]}}
    {"type":"message","message":{"role":"tool","content":"...","tool_call_id":"c1"}}
    {"type":"message","message":{"role":"assistant","content":"The te"},"interrupted":true}
    {"type":"compact","summary":"The user asked ...","keep":4}
    {"type":"usage","model":"...","input_tokens":812,"output_tokens":95}
    {"type":"model","provider":"openai","model":"gpt-4o"}
    {"type":"checkpoint","before":"<commit>","after":"<commit>","at":3}
    {"type":"undo"}
    {"type":"rewind","keep":3}
    {"type":"rewind","keep":5,"files":false}

(The first and third records are wrapped here; in the file every record is one line.
`checkpoint`, `undo` and `rewind` are /undo's and /rewind's: conversation/checkpoints. A
rewind with `"files": false` cut the conversation only (/edit, a turn that failed before the
model answered): the files, and the checkpoints of the turns cut, stay.)

Writing (`writer`): every record is one whole line, handed to a single `os.write` on an
`O_APPEND` descriptor, so a killed codive never leaves half a line of its own; `sync` (once per
turn) makes the turn durable. A session is written by one codive at a time (`lock`): it holds
an exclusive lock on the file from its first write (or from `create`, or a
`load(..., lock=True)`) until it closes, and another codive that wants to go on with it gets
`SessionBusy` and can `fork` it (`store`). Loading (`records`) never fails on content: a torn
or corrupt line is skipped with a warning naming its line, two records glued on one line are
both read, and the conversation is repaired so the model APIs accept it (tool calls left
without results get error results).
"""

from codive_cli.conversation.session.records import INTERRUPTED_RESULT
from codive_cli.conversation.session.store import SessionInfo, SessionStore, default_root
from codive_cli.conversation.session.writer import Session, SessionBusy

__all__ = [
    "INTERRUPTED_RESULT",
    "Session",
    "SessionBusy",
    "SessionInfo",
    "SessionStore",
    "default_root",
]
