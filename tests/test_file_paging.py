"""Big files: read_file pages through a sparse line index checked against the file's version,
and edit_file keeps one copy of the file, diffing only the changed regions."""

from __future__ import annotations

import difflib
import os
import random
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from codive_cli.policy.guard import WorkspaceGuard
from codive_cli.tools.base import ToolContext, ToolError, ToolResult
from codive_cli.tools.files import MAX_LINE_CHARS, EditFileTool, ReadFileTool
from codive_cli.tools.files import line_index as line_index_module
from codive_cli.tools.files.common import TextFile, diff
from codive_cli.tools.files.edit import _edit
from codive_cli.tools.files.line_index import INDEXES, build
from codive_cli.tools.files.matching import apply_edit, numbered
from codive_cli.tools.files.regions import region_diff

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def ctx(tmp_path: Path) -> ToolContext:
    INDEXES.clear()
    return ToolContext(root=tmp_path, guard=WorkspaceGuard(tmp_path))


@pytest.fixture
def tiny_granules(monkeypatch: pytest.MonkeyPatch) -> None:
    """Checkpoints every few bytes, so they fall inside lines, CRLFs and characters."""
    monkeypatch.setattr(line_index_module, "MIN_GRANULE", 7)
    monkeypatch.setattr(line_index_module, "_READ_BYTES", 50)


async def read(ctx: ToolContext, **arguments: Any) -> ToolResult:
    return await ReadFileTool().run(arguments, ctx)


def reference(data: bytes) -> list[str]:
    """The lines read_file shows, computed the plain way: the whole file split on "\\n"."""
    text = data.decode("utf-8").removeprefix("\ufeff")
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    shown = []
    for line in lines:
        line = line.removesuffix("\r")
        if len(line) > MAX_LINE_CHARS:
            line = line[:MAX_LINE_CHARS] + f"… [line truncated: {len(line)} characters"
        shown.append(line)
    return shown


def random_file(rng: random.Random) -> bytes:
    pieces = ["a", "bc", "  indent", "ünïcødé ✓", "\t", "x" * rng.choice([1, 50, 300])]
    lines = []
    for _ in range(rng.choice([0, 1, 2, 30, 400])):
        kind = rng.random()
        if kind < 0.02:
            lines.append("L" * rng.choice([3000, 70_000]))  # past MAX_LINE_CHARS, the read cap
        elif kind < 0.1:
            lines.append("")
        else:
            lines.append("".join(rng.choice(pieces) for _ in range(rng.randint(1, 6))))
    ending = rng.choice(["\n", "\r\n"])
    text = ending.join(lines) + rng.choice(["", ending])
    return (b"\xef\xbb\xbf" if rng.random() < 0.2 else b"") + text.encode("utf-8")


async def check_paging(ctx: ToolContext, data: bytes, rng: random.Random) -> None:
    (ctx.root / "f.txt").write_bytes(data)
    expected = reference(data)
    if not expected:
        result = await read(ctx, path="f.txt", offset=rng.randint(1, 3))
        assert result.content == "f.txt is empty (0 lines)."
        return
    offset = 1
    while offset <= len(expected):
        limit = rng.choice([1, 7, 100, 2000])
        result = await read(ctx, path="f.txt", offset=offset, limit=limit)
        first, last = result.metadata["first_line"], result.metadata["last_line"]
        assert (first, result.metadata["total_lines"]) == (offset, len(expected))
        body = result.content.split("\n... ")[0].split("\n")
        want = numbered(expected[first - 1 : last], first).split("\n")
        # (the count in a truncation note is approximate: bytes past the read cap, CR included)
        assert [line[:2020] for line in body] == [line[:2020] for line in want]
        if last < len(expected):
            note = f"... {len(expected) - last} more line"
            assert note in result.content and f"offset={last + 1} " in result.content
            if last < offset + limit - 1:
                assert "(output size limit reached)" in result.content
        offset = last + 1 if rng.random() < 0.7 else rng.randint(1, len(expected))
        if rng.random() < 0.3:
            INDEXES.clear()  # a cold read, which builds the index from the offset asked
    with pytest.raises(ToolError, match="past the end"):
        await read(ctx, path="f.txt", offset=len(expected) + 1)


@pytest.mark.parametrize("seed", range(12))
async def test_paging_matches_a_plain_split(ctx: ToolContext, seed: int) -> None:
    rng = random.Random(seed)
    await check_paging(ctx, random_file(rng), rng)


@pytest.mark.parametrize("seed", range(12))
async def test_paging_with_checkpoints_inside_lines(
    ctx: ToolContext, tiny_granules: None, seed: int
) -> None:
    rng = random.Random(1000 + seed)
    await check_paging(ctx, random_file(rng), rng)


async def test_edge_files(ctx: ToolContext, tiny_granules: None) -> None:
    rng = random.Random(7)
    for data in [
        b"",
        b"\xef\xbb\xbf",
        b"\n",
        b"\r\n\r\n",
        b"no newline",
        b"a\nb",
        "é\n".encode() * 50,
        b"\xef\xbb\xbfx\r\ny\r\n",
        b"z" * 100_000,
    ]:
        INDEXES.clear()
        await check_paging(ctx, data, rng)


async def test_a_changed_file_is_indexed_again(ctx: ToolContext) -> None:
    path = ctx.root / "f.txt"
    path.write_text("".join(f"line {n:03}\n" for n in range(1, 301)))
    assert (await read(ctx, path="f.txt", offset=250, limit=1)).content.startswith(
        "   250\tline 250"
    )
    info = path.stat()
    # The same size, other content, and the modification time put back as it was.
    path.write_text("".join(f"LINE {n:03}\n" for n in range(300, 0, -1)))
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))
    result = await read(ctx, path="f.txt", offset=250, limit=1)
    assert result.content.startswith("   250\tLINE 051")
    # The same size and another modification time: lines of other lengths.
    path.write_text("".join(f"{'x' * (n % 20)}\n" for n in range(1, 2701 - 1000)))
    path.write_bytes(path.read_bytes()[: info.st_size].ljust(info.st_size, b"\n"))
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns + 5_000_000_000))
    want = reference(path.read_bytes())
    result = await read(ctx, path="f.txt", offset=250, limit=1)
    assert result.content.startswith(f"   250\t{want[249]}")
    assert result.metadata["total_lines"] == len(want)
    # Truncated, then appended to.
    path.write_text("one\ntwo\n")
    with pytest.raises(ToolError, match=r"offset 250 is past the end of f\.txt, which has 2 lines"):
        await read(ctx, path="f.txt", offset=250)
    with path.open("a") as f:
        f.write("".join(f"more {n}\n" for n in range(3, 400)))
    result = await read(ctx, path="f.txt", offset=250, limit=2)
    assert result.content.startswith("   250\tmore 250\n   251\tmore 251\n... 148 more lines")


async def test_an_index_the_file_does_not_match_is_not_trusted(
    ctx: ToolContext, tiny_granules: None
) -> None:
    """Even an index filed under the file's current version is checked against its bytes."""
    path = ctx.root / "f.txt"
    path.write_text("".join(f"{n}\n" for n in range(1, 200)))
    await read(ctx, path="f.txt", offset=100)
    with path.open("rb") as f:
        wrong = build(f, 0, path.stat().st_size)
    path.write_text("".join(f"{n * 1000}\n" for n in range(1, 200)))
    key = line_index_module.file_key(path.stat())
    INDEXES.put(key, line_index_module.LineIndex(0, wrong.granule, wrong.before, 199))
    result = await read(ctx, path="f.txt", offset=150, limit=1)
    assert result.content.startswith("   150\t150000")


async def test_the_index_memory_is_bounded(ctx: ToolContext, monkeypatch: Any) -> None:
    monkeypatch.setattr(line_index_module, "GRANULES", 16)
    monkeypatch.setattr(line_index_module, "MIN_GRANULE", 1)
    for number in range(line_index_module.CACHED_FILES + 5):
        path = ctx.root / f"f{number}.txt"
        path.write_text("".join(f"{n}\n" for n in range(5000 + number * 100)))
        result = await read(ctx, path=path.name, offset=4000, limit=1)
        assert result.content.startswith("  4000\t3999")
    assert len(INDEXES) == line_index_module.CACHED_FILES
    assert max(INDEXES.sizes()) <= 16 + 2
    # A new version of a file replaces its old index rather than adding one.
    INDEXES.clear()
    path = ctx.root / "f0.txt"
    for extra in range(5):
        with path.open("a") as f:
            f.write(f"extra {extra}\n")
        await read(ctx, path="f0.txt", offset=2)
    assert len(INDEXES) == 1


# -- edit_file on big files ------------------------------------------------------------------


def _random_text(rng: random.Random, lines: int) -> str:
    return "".join(f"line {n} {rng.choice(['a', 'b', 'cc'])}\n" for n in range(lines))


@pytest.mark.parametrize("seed", range(20))
def test_region_diff_is_the_whole_file_diff(seed: int) -> None:
    rng = random.Random(seed)
    text = _random_text(rng, rng.choice([1, 5, 40, 200]))
    lines = text.split("\n")
    start = rng.randrange(len(lines) - 1)
    old = "\n".join(lines[start : start + rng.randint(1, 4)])
    new = rng.choice(["", "new line", "x\ny\nz", old + "\nadded"])
    if old == new or text.count(old) != 1:
        return
    outcome = apply_edit("f.txt", text, old, new, False)
    assert region_diff(text, outcome.text, outcome.spans, "f.txt") == diff(
        text, outcome.text, "f.txt"
    )


@pytest.mark.parametrize("gap", [0, 1, 5, 6, 7, 8, 20])
def test_region_diff_of_replace_all_merges_like_difflib(gap: int) -> None:
    text = (
        "".join(f"{n}\n" for n in range(10))
        + ("key\n" + "".join(f"g{n}\n" for n in range(gap))) * 3
    )
    outcome = apply_edit("f.txt", text, "key", "KEY\nmore", True)
    assert outcome.count == 3
    expected = diff(text, outcome.text, "f.txt")
    assert region_diff(text, outcome.text, outcome.spans, "f.txt") == expected
    assert expected == "\n".join(
        difflib.unified_diff(
            text.splitlines(), outcome.text.splitlines(), "a/f.txt", "b/f.txt", lineterm=""
        )
    )


def test_tolerant_edit_diff_is_the_whole_file_diff() -> None:
    text = "def f():\n    a = 1   \n    b = 2\n    return a\n" * 1 + "tail\n" * 10
    outcome = apply_edit("f.py", text, "a = 1\nb = 2", "a = 3", False)
    assert outcome.tolerant
    assert region_diff(text, outcome.text, outcome.spans, "f.py") == diff(
        text, outcome.text, "f.py"
    )


@pytest.mark.parametrize("size", [1, 3, 1000])
def test_text_is_written_back_in_pieces(size: int) -> None:
    text = "a\nb\r\nc\n\nü✓\n" * 7 + "end"
    for bom in (False, True):
        for crlf in (False, True):
            piece = TextFile("", bom, crlf, 0o644)
            whole = text.replace("\r\n", "\n").replace("\n", "\r\n") if crlf else text
            want = (b"\xef\xbb\xbf" if bom else b"") + whole.encode()
            assert b"".join(piece.chunks(text, size)) == want


def test_edit_keeps_memory_within_a_small_multiple_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "big.py"
    body = "".join(f"    value_{n} = compute({n})\n" for n in range(120_000))
    path.write_text(body + "MARKER = 1\n" + body)
    size = path.stat().st_size
    tracemalloc.start()
    try:
        result = _edit(path, "big.py", "big.py", ("MARKER = 1", "MARKER = 2", False))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.display is not None and "+MARKER = 2" in result.display
    assert len(result.display) < 2000  # the changed region, not the file
    assert path.read_text().count("MARKER = 2") == 1
    assert peak < 3 * size, f"peak {peak / size:.1f}x the file"


async def test_edit_of_a_crlf_file_with_a_bom_round_trips(ctx: ToolContext) -> None:
    path = ctx.root / "w.txt"
    lines = [f"row {n}" for n in range(5000)]
    path.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode() + b"\r\n")
    arguments = {"path": "w.txt", "old_string": "row 4000\nrow 4001", "new_string": "x\ny\nz"}
    result = await EditFileTool().run(arguments, ctx)
    lines[4000:4002] = ["x", "y", "z"]
    assert path.read_bytes() == b"\xef\xbb\xbf" + "\r\n".join(lines).encode() + b"\r\n"
    assert "  4001\tx" in result.content
    assert result.display is not None and "@@ -3998,8 +3998,9 @@" in result.display
