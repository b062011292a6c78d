"""Cost of the OS sandbox per command: `bash -c true` through the bash tool's argv, with and
without bubblewrap, for each sandboxed mode, counting the look for git's and codive's
configuration before the command and after it. Goal: median overhead <= 10 ms (issue 13).

Run: python bench/sandbox.py [--runs 50] [--root DIR]  (DIR: a workspace to run in, e.g. the
50,000-file tree bench/search.py generates; default an empty repository)
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from codive_cli.policy.sandbox import Sandbox, find_bwrap


def median_ms(command: list[str], cwd: Path, runs: int, sandbox: Sandbox, mode: str) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        watch = sandbox.start(command, mode)
        subprocess.run(watch.argv, cwd=cwd, stdin=subprocess.DEVNULL, check=True)
        sandbox.settle(watch)
        times.append(time.perf_counter() - start)
    return round(statistics.median(times) * 1000, 2)


def look_ms(root: Path, runs: int) -> tuple[float, float]:
    """The first look for the protected paths (a full walk), and the median later one."""
    sandbox = Sandbox(root, None)
    start = time.perf_counter()
    sandbox.guarded()
    first = time.perf_counter() - start
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        sandbox.guarded()
        times.append(time.perf_counter() - start)
    return round(first * 1000, 2), round(statistics.median(times) * 1000, 2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--root", type=Path, help="a workspace to run in (default: empty)")
    args = parser.parse_args()
    binary, problem = find_bwrap()
    if binary is None:
        sys.exit(f"no sandbox here: {problem}")
    with tempfile.TemporaryDirectory() as scratch:
        work = args.root.resolve() if args.root else Path(scratch)
        (work / ".git").mkdir(exist_ok=True)
        sandbox = Sandbox(work, binary)
        command = ["bash", "-c", "true"]
        plain = median_ms(command, work, args.runs, sandbox, "full")
        report: dict[str, object] = {"runs": args.runs, "plain_ms": plain}
        first, later = look_ms(work, args.runs)
        report |= {"first_look_ms": first, "later_look_ms": later}
        for mode in ("read-only", "ask", "accept-edits"):
            sandboxed = median_ms(command, work, args.runs, sandbox, mode)
            report[f"{mode}_ms"] = sandboxed
            report[f"{mode}_overhead_ms"] = round(sandboxed - plain, 2)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
