"""The crash test's victim: sessions appended in a tight loop until SIGKILL.

Run as `python tests/session_writer.py`; it reads one command per line on stdin,
`<dir> <seed>`, and forks a writer that creates a session in <dir>, prints
`started <pid> <session id>`, then appends `message(seed, i)` for i = 0, 1, ... (printing
`wrote <i>` once each append has returned, syncing every 16th), until it is killed. The server
waits for it and prints `ended <pid> <status>`. Forking from one warm process makes a kill
cycle cost milliseconds instead of a Python start-up.
"""

from __future__ import annotations

import os
import random
import sys
import traceback
from pathlib import Path

from codive_cli.conversation.session import SessionStore
from codive_cli.provider import ChatMessage

MAX_SIZE = 50_000


def size(seed: int, i: int) -> int:
    """Mostly small messages, one in eight up to 50 KB (a big tool output)."""
    rng = random.Random(seed * 1_000_003 + i)
    return rng.randrange(MAX_SIZE) if rng.random() < 0.125 else rng.randrange(2_000)


def message(seed: int, i: int) -> ChatMessage:
    """The i-th message of the writer with this seed: the same every time."""
    filler = "é" if i % 3 == 0 else "x"  # two-byte characters, so a tear can split one
    content = f"msg {i} " + filler * size(seed, i)
    return ChatMessage("user", content) if i % 2 == 0 else ChatMessage("assistant", content)


def say(line: str) -> None:
    os.write(1, (line + "\n").encode())  # one small write: lines of writer and server never mix


def write_forever(root: Path, seed: int) -> None:
    session = SessionStore(root).create(root, seed=seed)
    say(f"started {os.getpid()} {session.id}")
    i = 0
    while True:
        session.append(message(seed, i))
        say(f"wrote {i}")
        if i % 16 == 15:
            session.sync()
        if i % 5 == 4:
            session.record("usage", input_tokens=i, output_tokens=1)
        i += 1


def serve() -> None:
    for command in sys.stdin:
        root, seed = command.split()
        pid = os.fork()
        if pid == 0:
            try:
                write_forever(Path(root), int(seed))
            except BaseException:
                traceback.print_exc()
            os._exit(1)
        _, status = os.waitpid(pid, 0)
        say(f"ended {pid} {status}")


if __name__ == "__main__":
    serve()
