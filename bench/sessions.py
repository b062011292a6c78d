"""Benchmark: `/sessions` and `--resume` with few and many saved sessions and messages.

`/sessions` is `SessionStore.list(workspace, limit=20)` in this process, with 10 and with 5,000
short sessions of one workspace (written as files, the way an older codive left them; the
first listing builds the index, and is timed apart). `--resume` is the time from starting
`codive chat --resume ID` on a pseudo-terminal to its prompt, for a 10- and a 5,000-message
session, among 10 and among 5,000 sessions. Target: at most 2x the time with 10.

    python bench/sessions.py
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pexpect

from codive_cli.conversation.session import SessionStore

TARGET = 2.0
CODIVE = str(Path(sys.executable).parent / "codive")


def write_session(root: Path, workspace: Path, number: int, messages: int) -> str:
    """A session file as codive writes it, `messages` long, with tool calls and Markdown."""
    name = f"20250101-{number // 10000:06d}-{number % 10000:04x}"
    header = {"type": "session", "version": 1, "id": name, "created": "2025-01-01T00:00:00+00:00"}
    lines = [{**header, "workspace": str(workspace)}]
    message: dict[str, Any]
    for n in range(messages):
        if n % 4 == 0:
            message = {"role": "user", "content": f"question {n}: what does `app.py` do?"}
        elif n % 4 == 1:
            call = {"id": f"c{n}", "name": "read_file", "arguments": {"path": "app.py"}}
            message = {"role": "assistant", "content": "Let me look.", "tool_calls": [call]}
        elif n % 4 == 2:
            message = {
                "role": "tool",
                "content": "def greet():\n    return 1\n",
                "tool_call_id": f"c{n - 1}",
            }
        else:
            message = {
                "role": "assistant",
                "content": f"## Answer {n}\n\n- it **greets**\n- returns 1",
            }
        lines.append({"type": "message", "message": message})
    text = "".join(json.dumps(line) + "\n" for line in lines)
    (root / f"{name}.jsonl").write_text(text)
    stamp = time.time() - 100_000 + number
    os.utime(root / f"{name}.jsonl", (stamp, stamp))
    return name


def folder(base: Path, sessions: int, last_messages: int) -> tuple[Path, str]:
    """A data folder with `sessions` sessions of `base/work`; the newest has `last_messages`."""
    work = base / "work"
    work.mkdir(parents=True)
    root = base / "data" / "codive" / "sessions"
    root.mkdir(parents=True)
    for number in range(sessions - 1):
        write_session(root, work.resolve(), number, 4)
    newest = write_session(root, work.resolve(), sessions, last_messages)
    return work, newest


def settle(root: Path) -> None:
    stamp = time.time() - 60  # the folder's mtime past the index's racy window
    os.utime(root, (stamp, stamp))


def timed(action: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_list(sessions: int) -> tuple[float, float]:
    """(first listing, which builds the index; a listing after that), in seconds."""
    with tempfile.TemporaryDirectory() as temporary:
        work, _ = folder(Path(temporary), sessions, 4)
        store = SessionStore(Path(temporary) / "data" / "codive" / "sessions")
        settle(store.root)
        start = time.perf_counter()
        store.list(work, limit=20)
        first = time.perf_counter() - start
        settle(store.root)
        store.list(work, limit=20)
        return first, timed(lambda: store.list(work, limit=20), 200)


def to_prompt(base: Path, work: Path, session_id: str) -> tuple[float, int]:
    """(seconds from start to the prompt, characters printed) of `codive chat --resume`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CODIVE_", "ANTHROPIC_"))}
    env |= {"HOME": str(base / "home"), "XDG_DATA_HOME": str(base / "data")}
    env |= {"XDG_CONFIG_HOME": str(base / "config"), "ANTHROPIC_API_KEY": "bench", "TERM": "xterm"}
    env["PROMPT_TOOLKIT_NO_CPR"] = "1"
    arguments = ["chat", "-p", "anthropic", "--base-url", "http://127.0.0.1:9", "--resume"]
    start = time.perf_counter()
    child = pexpect.spawn(
        CODIVE,
        [*arguments, session_id],
        cwd=str(work),
        env=env,
        encoding="utf-8",
        timeout=60,
        dimensions=(40, 100),
    )
    child.expect("/help for commands")
    printed = len(child.before or "") + len(child.after or "")
    child.expect("›")
    elapsed = time.perf_counter() - start
    printed += len(child.before or "")
    child.sendeof()
    child.expect(pexpect.EOF)
    child.close()
    return elapsed, printed


def bench_resume(sessions: int, messages: int) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as temporary:
        base = Path(temporary)
        work, newest = folder(base, sessions, messages)
        to_prompt(base, work, newest)  # warm: the index built, the page cache full
        runs = [to_prompt(base, work, newest) for _ in range(3)]
        return statistics.median(t for t, _ in runs), runs[0][1]


def verdict(small: float, large: float) -> str:
    ratio = large / small
    return f"{ratio:5.2f}x  {'ok' if ratio <= TARGET else 'OVER TARGET'}"


def main() -> None:
    first_small, small = bench_list(10)
    first_large, large = bench_list(5_000)
    for count, (first, steady) in ((10, (first_small, small)), (5_000, (first_large, large))):
        print(
            f"/sessions, {count:>5,} sessions: {steady * 1e3:7.3f} ms"
            f" (the first listing, building the index: {first * 1e3:,.1f} ms)"
        )
    print(f"/sessions ratio:            {verdict(small, large)}")
    base, printed = bench_resume(10, 10)
    for sessions, messages in ((10, 5_000), (5_000, 10), (5_000, 5_000)):
        seconds, shown = bench_resume(sessions, messages)
        print(
            f"--resume, {messages:>5,} messages among {sessions:>5,} sessions: {seconds:6.3f} s"
            f" to the prompt, {shown:,} characters printed"
            f" (10 among 10: {base:.3f} s, {printed:,})  {verdict(base, seconds)}"
        )


if __name__ == "__main__":
    main()
