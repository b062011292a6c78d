"""Cost of the OS sandbox per command: `bash -c true` through the bash tool's argv, with and
without bubblewrap, for each sandboxed mode. Goal: median overhead <= 10 ms (issue 13).

Run: python bench/sandbox.py [--runs 50]
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


def median_ms(argv: list[str], cwd: Path, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, cwd=cwd, stdin=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - start)
    return round(statistics.median(times) * 1000, 2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    binary, problem = find_bwrap()
    if binary is None:
        sys.exit(f"no sandbox here: {problem}")
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        (work / ".git").mkdir()
        sandbox = Sandbox(work, binary)
        command = ["bash", "-c", "true"]
        plain = median_ms(command, work, args.runs)
        report: dict[str, object] = {"runs": args.runs, "plain_ms": plain}
        for mode in ("read-only", "ask", "accept-edits"):
            sandboxed = median_ms(sandbox.wrap(command, mode), work, args.runs)
            report[f"{mode}_ms"] = sandboxed
            report[f"{mode}_overhead_ms"] = round(sandboxed - plain, 2)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
