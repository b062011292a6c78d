"""Start-up cost: each `codive` case beside its reference, median wall time, ratio and target.

Run with `make bench` (or `python bench/startup.py [--runs N] [--llm PATH]`). Targets (issue 15):

  codive --version            <= 2x   python -c pass
  codive --help               <= 1.5x python -c "import typer"
  codive complete --help      <= 1.5x python -c "import typer"
  codive chat --help          <= 1.5x python -c "import typer"
  codive complete "hi"        <= 0.5x llm "hi"   (both against one loopback scripted server)

`llm` (Simon Willison's CLI) is found on PATH or given with --llm; it is not a dependency.
The commands run round-robin, one sample of each per round, so a change in the machine's
load touches every case alike. The `codive` script runs with this checkout first on
PYTHONPATH, in a fresh HOME and working folder, so no configuration leaks in, and with
bytecode cached as after an install (a PYTHONDONTWRITEBYTECODE in the environment is
dropped; the uncounted first round writes the cache).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.scripted_server import ScriptedServer  # noqa: E402

REPLY = {"text": "hello there"}


@dataclass(frozen=True)
class Case:
    name: str
    reference: str
    target: float


CASES = (
    Case("codive --version", "python -c pass", 2.0),
    Case("codive --help", 'python -c "import typer"', 1.5),
    Case("codive complete --help", 'python -c "import typer"', 1.5),
    Case("codive chat --help", 'python -c "import typer"', 1.5),
    Case('codive complete "hi"', 'llm "hi"', 0.5),
)


def codive_script() -> str:
    # The console script beside this interpreter, not a shim that re-resolves it.
    beside = Path(sys.executable).parent / "codive"
    found = str(beside) if beside.exists() else shutil.which("codive")
    if found is None:
        sys.exit("codive is not on PATH: run `make install` first")
    return found


def clean_env(home: Path) -> dict[str, str]:
    vendors = ("CODIVE_", "ANTHROPIC_", "OPENAI_", "LLM_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(vendors)}
    # As installed: pip compiles bytecode, and an editable install caches it on the first
    # run (the warm-up round). Without this, each run would compile codive from source.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    path = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env.update(PYTHONPATH=path, HOME=str(home), NO_COLOR="1", LLM_USER_PATH=str(home / "llm"))
    for name in ("CONFIG", "DATA", "CACHE", "STATE"):
        env[f"XDG_{name}_HOME"] = str(home / name.lower())
    return env


def llm_setup(home: Path, base_url: str) -> None:
    """An `llm` model named `loopback` at the scripted server (its extra-openai-models)."""
    (home / "llm").mkdir(parents=True)
    (home / "llm" / "extra-openai-models.yaml").write_text(
        f'- model_id: loopback\n  model_name: scripted-model\n  api_base: "{base_url}/v1"\n'
    )


def commands(base_url: str, llm: str | None) -> dict[str, list[str]]:
    py, codive = sys.executable, codive_script()
    found = {
        "python -c pass": [py, "-c", "pass"],
        'python -c "import typer"': [py, "-c", "import typer"],
        "codive --version": [codive, "--version"],
        "codive --help": [codive, "--help"],
        "codive complete --help": [codive, "complete", "--help"],
        "codive chat --help": [codive, "chat", "--help"],
        'codive complete "hi"': [
            codive,
            "complete",
            "-p",
            "local_llm",
            "--base-url",
            base_url,
            "hi",
        ],
    }
    if llm is not None:
        found['llm "hi"'] = [llm, "-m", "loopback", "--key", "x", "--no-log", "hi"]
        interpreter = script_interpreter(llm)
        if interpreter:  # how much of the gap is the two environments' bare start
            found[LLM_PYTHON] = [interpreter, "-c", "pass"]
    return found


LLM_PYTHON = "llm's python -c pass"


def script_interpreter(script: str) -> str | None:
    """The Python a console script starts (its `#!` line), when it names one."""
    try:
        with open(script, "rb") as file:
            first = file.readline().decode("utf-8", "replace").strip()
    except OSError:
        return None
    command = first.removeprefix("#!").split()
    return command[0] if first.startswith("#!") and command and "python" in command[0] else None


def run_once(command: list[str], env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(
        command, capture_output=True, env=env, cwd=cwd, stdin=subprocess.DEVNULL, check=False
    )
    elapsed = (time.perf_counter() - start) * 1000
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr.decode()}")
    return elapsed


def medians(
    found: dict[str, list[str]], runs: int, env: dict[str, str], cwd: Path
) -> dict[str, float]:
    samples: dict[str, list[float]] = {name: [] for name in found}
    for round_ in range(runs + 1):  # round 0 warms the file cache and is not counted
        for name, command in found.items():
            ms = run_once(command, env, cwd)
            if round_:
                samples[name].append(ms)
    return {name: statistics.median(values) for name, values in samples.items()}


def report(results: dict[str, float], runs: int) -> None:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"median of {runs} interleaved runs, Python {sys.version.split()[0]}, load {load:.1f}")
    for case in CASES:
        ms = results[case.name]
        if case.reference not in results:
            print(f"  {case.name:24} {ms:7.1f} ms   ({case.reference}: llm not installed: skipped)")
            continue
        ref = results[case.reference]
        ratio = ms / ref
        verdict = "ok" if ratio <= case.target else "OVER TARGET"
        print(
            f"  {case.name:24} {ms:7.1f} ms   {case.reference:26} {ref:7.1f} ms"
            f"   {ratio:4.2f}x (target <= {case.target}x)  {verdict}"
        )
    if LLM_PYTHON in results:
        print(
            f"  (bare start: this python -c pass {results['python -c pass']:.1f} ms, "
            f"llm's {results[LLM_PYTHON]:.1f} ms)"
        )


@contextmanager
def scratch() -> Iterator[tuple[Path, Path]]:
    with tempfile.TemporaryDirectory(prefix="codive-bench-") as folder:
        home, work = Path(folder) / "home", Path(folder) / "work"
        (work / ".git").mkdir(parents=True)
        home.mkdir()
        yield home, work


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--llm", default=shutil.which("llm"), help="the llm command to compare")
    args = parser.parse_args()
    with scratch() as (home, work), ScriptedServer() as server:
        server.enqueue(*[REPLY] * (2 * args.runs + 2))
        if args.llm:
            llm_setup(home, server.base_url)
        found = commands(server.base_url, args.llm)
        results = medians(found, args.runs, clean_env(home), work)
    report(results, args.runs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
