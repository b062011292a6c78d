"""Search speed: the glob and grep tools with and without ripgrep, beside rg and grep -r.

Run with `python bench/search.py [--runs N] [--root DIR] [--regenerate]`. The first run
generates a tree of 50,000 files in about 2,000 folders (mixed sizes, some binary, some
ignored by .gitignore files at the top and deeper down) under the temp folder and reuses it
afterwards. Each case is run once to warm the page cache, then timed `--runs` times; the
table shows the median wall time.

`grep -r` does not read .gitignore, so it searches (and finds) more than the others.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from codive_cli.policy.guard import WorkspaceGuard
from codive_cli.tools import search
from codive_cli.tools.base import ToolContext
from codive_cli.tools.search import GlobTool, GrepTool
from codive_cli.tools.search import rg as search_rg

TREE_VERSION = "1"
TOP_FOLDERS = 20
SUB_FOLDERS = 100  # per top folder: 20 * 100 = 2,000 leaf folders
FILES_PER_FOLDER = 25  # 2,000 * 25 = 50,000 files
NEEDLE = "codive_needle_7f3a"
WORDS = [
    *("alpha", "beta", "gamma", "delta", "epsilon", "value", "result", "config"),
    *("handler", "request", "response", "parse", "render", "update", "create"),
    *("delete", "index", "token", "buffer", "stream", "client", "server"),
]


def generate(root: Path) -> None:
    """Write the tree (deterministic: the same seed gives the same files)."""
    rng = random.Random(1234)
    root.mkdir(parents=True, exist_ok=True)
    (root / ".gitignore").write_text("node_modules/\nbuild/\n*.log\n*.min.js\n")
    extensions = [".py", ".py", ".py", ".ts", ".js", ".md", ".txt", ".json", ".log", ".min.js"]
    for top in range(TOP_FOLDERS):
        top_name = "node_modules" if top == 0 else f"pkg{top:02}"
        top_dir = root / top_name
        top_dir.mkdir(exist_ok=True)
        if top % 5 == 1:
            (top_dir / ".gitignore").write_text("*.tmp\ngenerated/\n")
        for sub in range(SUB_FOLDERS):
            name = "build" if sub == 7 else ("generated" if sub == 9 else f"mod{sub:03}")
            folder = top_dir / name
            folder.mkdir(exist_ok=True)
            for index in range(FILES_PER_FOLDER):
                ext = ".tmp" if index == 24 else extensions[index % len(extensions)]
                path = folder / f"file{index:02}{ext}"
                roll = rng.random()
                if roll < 0.01:
                    path.write_bytes(bytes(rng.getrandbits(8) for _ in range(4096)) + b"\0")
                    continue
                size = 200 if roll < 0.5 else 2_000 if roll < 0.95 else 50_000
                if roll > 0.998:
                    size = 1_000_000
                path.write_text(_text(rng, size, with_needle=rng.random() < 0.005))


def _text(rng: random.Random, size: int, *, with_needle: bool) -> str:
    lines: list[str] = []
    total = 0
    while total < size:
        if rng.random() < 0.05:
            line = f"def {rng.choice(WORDS)}_handler(request):"
        else:
            line = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 12)))
        lines.append(line)
        total += len(line) + 1
    if with_needle:
        lines.insert(rng.randrange(len(lines)), f"    return {NEEDLE}()")
    return "\n".join(lines) + "\n"


def tree(root: Path | None, regenerate: bool) -> Path:
    root = root or Path(tempfile.gettempdir()) / f"codive-bench-search-v{TREE_VERSION}"
    marker = root / ".codive-bench-complete"
    if regenerate and root.exists():
        shutil.rmtree(root)
    if not marker.exists():
        print(f"generating the tree in {root} ...", file=sys.stderr)
        start = time.perf_counter()
        generate(root)
        marker.write_text("")
        print(f"  done in {time.perf_counter() - start:.1f}s", file=sys.stderr)
    return root


def count_tree(root: Path) -> tuple[int, int, int]:
    files = folders = size = 0
    for _, dirs, names in os.walk(root):
        folders += len(dirs)
        files += len(names)
    size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    return files, folders, size


def median_ms(run: Callable[[], Any], runs: int) -> tuple[float, Any]:
    result = run()  # warm-up
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        result = run()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples), result


def tool_case(
    loop: asyncio.AbstractEventLoop,
    call: Callable[[], Awaitable[Any]],
    use_rg: bool,
) -> Callable[[], Any]:
    def run() -> Any:
        search_rg.USE_RIPGREP = use_rg
        try:
            return loop.run_until_complete(call())
        finally:
            search_rg.USE_RIPGREP = True

    return run


def command_case(command: list[str], cwd: Path) -> Callable[[], Any]:
    def run() -> Any:
        done = subprocess.run(command, cwd=cwd, capture_output=True, check=False)
        return done.stdout.count(b"\n")

    return run


def describe(result: Any) -> str:
    if isinstance(result, int):
        return f"{result} lines"
    metadata = getattr(result, "metadata", {})
    count = metadata.get("count", 0)
    more = "+" if metadata.get("more") or metadata.get("shown", count) < count else ""
    return f"{count}{more} results"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--root", type=Path, default=None)
    parser.add_argument("--regenerate", action="store_true")
    args = parser.parse_args()

    root = tree(args.root, args.regenerate)
    files, folders, size = count_tree(root)
    print(f"tree: {files} files, {folders} folders, {size / 1e6:.0f} MB at {root}")
    context = ToolContext(root=root, guard=WorkspaceGuard(root))
    rg = search.ripgrep()
    loop = asyncio.new_event_loop()

    def glob(pattern: str) -> Callable[[], Awaitable[Any]]:
        return lambda: GlobTool().run({"pattern": pattern}, context)

    def grep(pattern: str, **extra: Any) -> Callable[[], Awaitable[Any]]:
        return lambda: GrepTool().run({"pattern": pattern, **extra}, context)

    cases: list[tuple[str, Callable[[], Any] | None]] = []
    for label, call in (
        ("glob '**/*.py'", glob("**/*.py")),
        ("glob 'pkg1*/**/file0?.ts'", glob("pkg1*/**/file0?.ts")),
        (f"grep {NEEDLE!r} (rare)", grep(NEEDLE)),
        (f"grep {NEEDLE!r} --glob '*.py'", grep(NEEDLE, glob="*.py")),
        ("grep 'def \\w+_handler' (capped at 500)", grep(r"def \w+_handler")),
        ("grep 'RESPONSE' -i (capped at 500)", grep("RESPONSE", ignore_case=True)),
    ):
        cases.append((f"tool {label}, ripgrep", tool_case(loop, call, True) if rg else None))
        cases.append((f"tool {label}, python", tool_case(loop, call, False)))
    if rg:
        # The tree is no git repository: --no-require-git makes rg read its .gitignore files.
        plain = [rg, "--no-require-git", "--hidden"]
        cases.append(("rg --files", command_case([*plain, "--files"], root)))
        cases.append((f"rg -n {NEEDLE}", command_case([*plain, "-n", NEEDLE], root)))
        cases.append(
            (
                "rg -n 'def \\w+_handler' (all)",
                command_case([*plain, "-n", r"def \w+_handler"], root),
            )
        )
    grep_bin = shutil.which("grep")
    if grep_bin:
        cases.append(
            (
                f"grep -rn {NEEDLE} . (no .gitignore)",
                command_case([grep_bin, "-rn", NEEDLE, "."], root),
            )
        )
        cases.append(
            (
                "grep -rnE 'def \\w+_handler' . (all)",
                command_case([grep_bin, "-rnE", r"def \w+_handler", "."], root),
            )
        )

    width = max(len(label) for label, _ in cases)
    print(f"\n{'case':<{width}}  {'median ms':>10}  result")
    print(f"{'-' * width}  {'-' * 10}  {'-' * 16}")
    for label, run in cases:
        if run is None:
            print(f"{label:<{width}}  {'n/a':>10}  rg not installed")
            continue
        ms, result = median_ms(run, args.runs)
        print(f"{label:<{width}}  {ms:>10.1f}  {describe(result)}", flush=True)
    loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
