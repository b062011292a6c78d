"""Requests over time: connections, bytes and step cost of long runs against a local server.

Run with `python bench/requests.py [--steps 20,300] [--turns 600] [--source DIR]`. Each case
runs the real `codive` as a process against the scripted server on 127.0.0.1, which counts
the TCP connections and the body bytes it receives and stamps each request's arrival:

- tool steps: `codive complete` calling read_file K times in one run (OpenAI wire format, a
  model codive does not know, so the assumed context window applies);
  the step time is the gap between two requests (the tool, encoding, the round trip). A long
  run compacts its older steps (the summary request takes the next scripted reply, a tool
  call, so its summary is empty and the run has that many fewer steps: the bytes and
  connections are what is measured).
- chat turns: `codive chat` with N prompts piped in, on a model codive does not know (so no
  known context window); the turn time is the gap between two requests.

Targets: 20 steps open 1 connection; the chat compacts and its last turns take at most 1.5x
its first (medians of 50). `--source` runs another checkout's codive (before/after).
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.scripted_server import ScriptedServer  # noqa: E402

SUMMARY_START = "You summarise a coding session"
FILE_TEXT = "a line of the file being read, about sixty characters long.\n" * 20
ANSWER = "Here is an answer of a few sentences, as a model might give. " * 6
WINDOW = 20  # requests in the step medians compared
TURN_WINDOW = 50  # turns in the chat medians compared (a loaded machine is noisy)


def run_codive(source: Path, work: Path, server: ScriptedServer, *args: str, stdin: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CODIVE_", "ANTHROPIC_"))}
    home = work.parent / "home"
    env.update(
        PYTHONPATH=str(source),
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local/share"),
        XDG_STATE_HOME=str(home / ".local/state"),
        XDG_CACHE_HOME=str(home / ".cache"),
        OPENAI_API_KEY="bench-key",
        NO_COLOR="1",
    )
    base = server.base_url + "/v1"
    command = [sys.executable, "-m", "codive_cli", args[0], "-p", "openai", "--base-url", base]
    result = subprocess.run(
        [*command, *args[1:]], cwd=work, env=env, input=stdin, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise SystemExit(f"codive failed ({result.returncode}): {result.stderr[-2000:]}")


def workspace() -> Path:
    work = Path(tempfile.mkdtemp(prefix="codive-bench-")) / "work"
    (work / ".git").mkdir(parents=True)
    (work / "a.txt").write_text(FILE_TEXT)
    return work


def gaps_ms(requests: list[dict[str, Any]]) -> list[float]:
    times = [r["at"] for r in requests]
    return [(b - a) * 1000 for a, b in itertools.pairwise(times)]


def verdict(ok: bool) -> str:
    return "ok" if ok else "OVER TARGET"


def summaries_in(requests: list[dict[str, Any]]) -> int:
    """How many of the requests asked for a compaction's summary."""
    first = (str(r["json"]["messages"][0].get("content", "")) for r in requests)
    return sum(1 for content in first if content.startswith(SUMMARY_START))


def tool_steps(source: Path, steps: int) -> bool:
    calls = [
        {"tool_calls": [{"id": f"c{n}", "name": "read_file", "arguments": {"path": "a.txt"}}]}
        for n in range(steps)
    ]
    with ScriptedServer([*calls, {"text": "done"}]) as server:
        started = time.perf_counter()
        limit = str(steps + 1)
        args = ["-m", "unknown-model", "-y", "--max-steps", limit, "read a.txt again and again"]
        run_codive(source, workspace(), server, "complete", *args, stdin="")
        wall = time.perf_counter() - started
        requests, stats = server.model_requests, server.stats()
    gaps = gaps_ms(requests)
    first, last = statistics.median(gaps[:WINDOW]), statistics.median(gaps[-WINDOW:])
    ok = stats["connections"] == 1
    largest = max(len(str(r["json"])) for r in requests)
    print(
        f"{steps:>4} tool steps: {stats['requests']} requests on {stats['connections']} "
        f"connection(s), {stats['bytes_received'] / 1e6:.2f} MB sent, largest body "
        f"{largest / 1e3:.0f} kB, compacted {summaries_in(requests)} time(s), {wall:.1f} s; "
        f"step {first:.1f} -> {last:.1f} ms ({last / first:.2f}x)  "
        f"connections {verdict(ok if steps <= 20 else stats['connections'] <= 2)}"
    )
    return ok or steps > 20


def chat_turns(source: Path, turns: int) -> bool:
    replies = [{"text": ANSWER} for _ in range(turns * 2)]  # summaries take replies too
    prompts = "".join(f"question {n}: what does line {n} of a.txt say?\n" for n in range(turns))
    with ScriptedServer(replies) as server:
        started = time.perf_counter()
        run_codive(source, workspace(), server, "chat", "-m", "unknown-model", stdin=prompts)
        wall = time.perf_counter() - started
        requests, stats = server.model_requests, server.stats()
    summaries = summaries_in(requests)
    gaps = gaps_ms(requests)
    first, last = statistics.median(gaps[:TURN_WINDOW]), statistics.median(gaps[-TURN_WINDOW:])
    largest = max(len(str(r["json"])) for r in requests)
    ratio = last / first
    print(
        f"{turns:>4} chat turns: {stats['requests']} requests on {stats['connections']} "
        f"connection(s), {stats['bytes_received'] / 1e6:.2f} MB sent, largest body "
        f"{largest / 1e3:.0f} kB, {wall:.1f} s; compacted {summaries} time(s) "
        f"{verdict(summaries > 0)}; turn {first:.1f} -> {last:.1f} ms ({ratio:.2f}x, target "
        f"<= 1.5x) {verdict(ratio <= 1.5)}"
    )
    return summaries > 0 and ratio <= 1.5


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", default="20,300", help="tool steps per run, comma separated")
    parser.add_argument("--turns", type=int, default=600, help="chat turns (0: skip)")
    parser.add_argument("--source", type=Path, default=ROOT, help="the codive checkout to run")
    args = parser.parse_args()
    ok = all(tool_steps(args.source, int(k)) for k in args.steps.split(",") if k)
    if args.turns:
        ok = chat_turns(args.source, args.turns) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
