"""Start-up cost: median wall time of `codive --help` / `--version` beside bare Python.

Run with `make bench` (or `python bench/startup.py [--runs N]`). The target is `--help`
within 1.5x of `python -c "import typer"` measured in the same run.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def median_ms(command: list[str], runs: int) -> float:
    subprocess.run(command, capture_output=True, check=True)  # warm the file cache
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, capture_output=True, check=True)
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    # The console script beside this interpreter, not a shim that re-resolves it.
    beside = Path(sys.executable).parent / "codive"
    codive = str(beside) if beside.exists() else shutil.which("codive")
    if codive is None:
        sys.exit("codive is not on PATH: run `make install` first")
    py = sys.executable
    cases = {
        "python -c pass": [py, "-c", "pass"],
        'python -c "import typer"': [py, "-c", "import typer"],
        "codive --version": [codive, "--version"],
        "codive --help": [codive, "--help"],
        "codive complete --help": [codive, "complete", "--help"],
    }
    results = {name: median_ms(command, args.runs) for name, command in cases.items()}
    typer_ms = results['python -c "import typer"']
    print(f"median of {args.runs} runs, {sys.version.split()[0]}")
    for name, ms in results.items():
        print(f"  {name:28} {ms:7.1f} ms   {ms / typer_ms:4.2f}x import typer")
    ratio = results["codive --help"] / typer_ms
    verdict = "ok" if ratio <= 1.5 else "OVER TARGET"
    print(f"codive --help / import typer = {ratio:.2f} (target <= 1.5): {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
