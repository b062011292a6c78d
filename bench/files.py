"""Big files: read_file paging through a 200 MB file and edit_file on a 17 MB one.

Run with `python bench/files.py [--read-mb 200] [--edit-mb 17] [--pages 20]`. The files are
generated in a temporary folder, deleted afterwards. Targets: read_file's last page costs at
most 3x its first page (paging is proportional to the page, not the file), and edit_file's
peak memory stays within about 4x the file. The edit runs in a fresh subprocess, measured
twice: wall time and peak RSS above the process's baseline (resource.getrusage), then the
peak of Python allocations (tracemalloc, slower, so not timed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from codive_cli.policy.guard import WorkspaceGuard
from codive_cli.tools.base import ToolContext, ToolResult
from codive_cli.tools.files import EditFileTool, ReadFileTool
from codive_cli.tools.files.line_index import INDEXES

READ_RATIO_TARGET = 3.0
EDIT_MEMORY_TARGET = 4.0
MARKER = "codive_bench_marker = 1"


def generate(path: Path, megabytes: int, marker_at: float | None = None) -> int:
    """A text file of about `megabytes` MB of code-like lines of mixed length; returns the
    number of lines. With `marker_at`, one unique MARKER line sits at that fraction."""
    words = ["alpha", "beta", "value", "result", "handler", "request", "stream", "index"]
    block = "".join(
        f"    {words[n % 8]}_{n} = compute({words[(n * 3) % 8]}, {n * 7919 % 1000})"
        + " # note" * (n % 5)
        + "\n"
        for n in range(20_000)
    ).encode()
    blocks = max(1, megabytes * 1_000_000 // len(block))
    with open(path, "wb") as f:
        for number in range(blocks):
            if marker_at is not None and number == int(blocks * marker_at):
                f.write(MARKER.encode() + b"\n")
            f.write(block)
    return blocks * 20_000 + (1 if marker_at is not None else 0)


async def _read(context: ToolContext, **arguments: Any) -> tuple[float, ToolResult]:
    start = time.perf_counter()
    result = await ReadFileTool().run(arguments, context)
    return time.perf_counter() - start, result


async def bench_read(folder: Path, megabytes: int, pages: int) -> bool:
    path = folder / "big.txt"
    lines = generate(path, megabytes)
    context = ToolContext(root=folder, guard=WorkspaceGuard(folder))
    print(f"read_file on {path.stat().st_size / 1e6:.0f} MB, {lines} lines")
    INDEXES.clear()
    first, result = await _read(context, path="big.txt")
    assert result.metadata["total_lines"] == lines
    final = lines - result.metadata["last_line"] // 2  # a page that ends at the last line
    last, result = await _read(context, path="big.txt", offset=final)
    assert result.metadata["last_line"] == lines
    INDEXES.clear()
    cold, _ = await _read(context, path="big.txt", offset=final)
    times = []
    offset = lines // 2
    for _ in range(pages):
        seconds, result = await _read(context, path="big.txt", offset=offset)
        times.append(seconds)
        offset = result.metadata["last_line"] + 1
    page = statistics.median(times)
    ratio = last / first
    verdict = "ok" if ratio <= READ_RATIO_TARGET else "OVER TARGET"
    print(f"  first page (builds the index)      {first * 1000:8.1f} ms")
    print(f"  last page, index cached             {last * 1000:8.1f} ms")
    print(f"  last page, cold (builds the index)  {cold * 1000:8.1f} ms")
    print(f"  {pages} consecutive pages, median       {page * 1000:8.1f} ms")
    print(f"  last / first = {ratio:.2f} (target <= {READ_RATIO_TARGET}): {verdict}")
    return ratio <= READ_RATIO_TARGET


def edit_child(path: Path, traced: bool) -> dict[str, float]:
    """One edit_file call in this (fresh) process: seconds, and peak bytes above baseline."""
    folder = path.parent
    context = ToolContext(root=folder, guard=WorkspaceGuard(folder))
    warm = folder / "warm.txt"
    warm.write_text("a\nb\n")
    asyncio.run(
        EditFileTool().run({"path": "warm.txt", "old_string": "a", "new_string": "c"}, context)
    )
    arguments = {"path": path.name, "old_string": MARKER, "new_string": MARKER + "  # edited"}
    if traced:
        tracemalloc.start()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    start = time.perf_counter()
    asyncio.run(EditFileTool().run(arguments, context))
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    peak = tracemalloc.get_traced_memory()[1] if traced else 0
    return {"seconds": seconds, "rss": after - before, "rss_total": after, "traced": peak}


def _child(path: Path, traced: bool) -> dict[str, float]:
    command = [sys.executable, __file__, "--edit-child", str(path)]
    output = subprocess.run(
        [*command, "--traced"] if traced else command, check=True, capture_output=True, text=True
    ).stdout
    result: dict[str, float] = json.loads(output)
    return result


def bench_edit(folder: Path, megabytes: int) -> bool:
    path = folder / "edit.py"
    generate(path, megabytes, marker_at=0.5)
    size = path.stat().st_size
    timed = _child(path, traced=False)
    traced = _child(path, traced=True)
    rss_ratio, traced_ratio = timed["rss"] / size, traced["traced"] / size
    verdict = "ok" if max(rss_ratio, traced_ratio) <= EDIT_MEMORY_TARGET else "OVER TARGET"
    print(f"edit_file on {size / 1e6:.1f} MB (one exact replacement in the middle)")
    print(f"  time                                {timed['seconds'] * 1000:8.1f} ms")
    print(f"  peak RSS above baseline             {timed['rss'] / 1e6:8.1f} MB = {rss_ratio:.2f}x")
    print(f"  peak RSS of the process             {timed['rss_total'] / 1e6:8.1f} MB")
    traced_mb = traced["traced"] / 1e6
    print(f"  peak Python allocations (traced)    {traced_mb:8.1f} MB = {traced_ratio:.2f}x")
    print(f"  memory / file (target <= {EDIT_MEMORY_TARGET}x): {verdict}")
    return verdict == "ok"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--read-mb", type=int, default=200)
    parser.add_argument("--edit-mb", type=int, default=17)
    parser.add_argument("--pages", type=int, default=20)
    parser.add_argument("--edit-child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--traced", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.edit_child:
        print(json.dumps(edit_child(args.edit_child, args.traced)))
        return 0
    with tempfile.TemporaryDirectory(prefix="codive-bench-files-") as name:
        folder = Path(name)
        read_ok = asyncio.run(bench_read(folder, args.read_mb, args.pages))
        (folder / "big.txt").unlink()
        edit_ok = bench_edit(folder, args.edit_mb)
    return 0 if read_ok and edit_ok else 1


if __name__ == "__main__":
    sys.exit(main())
