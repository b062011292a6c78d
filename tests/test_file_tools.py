"""read_file, write_file, edit_file, list_dir: formats, bounds, encodings and atomic writes."""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from codive_cli.policy.guard import OutsideWorkspace, WorkspaceGuard
from codive_cli.policy.regular import SpecialFile, open_regular
from codive_cli.tools import files
from codive_cli.tools.base import MAX_RESULT_CHARS, ToolContext, ToolError, ToolResult
from codive_cli.tools.files import (
    EditFileTool,
    ListDirTool,
    ReadFileTool,
    WriteFileTool,
    atomic,
    atomic_write,
)
from codive_cli.tools.files import listing as list_dir_module


@pytest.fixture
def ctx(tmp_path: Path) -> ToolContext:
    return ToolContext(root=tmp_path, guard=WorkspaceGuard(tmp_path))


async def read(ctx: ToolContext, **arguments: Any) -> ToolResult:
    return await ReadFileTool().run(arguments, ctx)


async def write(ctx: ToolContext, **arguments: Any) -> ToolResult:
    return await WriteFileTool().run(arguments, ctx)


async def edit(ctx: ToolContext, **arguments: Any) -> ToolResult:
    return await EditFileTool().run(arguments, ctx)


async def listing(ctx: ToolContext, **arguments: Any) -> ToolResult:
    return await ListDirTool().run(arguments, ctx)


def leftovers(folder: Path) -> list[str]:
    return [name for name in os.listdir(folder) if name.endswith(atomic._TEMP_SUFFIX)]


# -- schemas ----------------------------------------------------------------------------------


def test_schemas() -> None:
    expected = {
        ReadFileTool: (["path"], {"path", "offset", "limit"}, "read"),
        WriteFileTool: (["path", "content"], {"path", "content"}, "edit"),
        EditFileTool: (
            ["path", "old_string", "new_string"],
            {"path", "old_string", "new_string", "replace_all"},
            "edit",
        ),
        ListDirTool: ([], {"path"}, "read"),
    }
    for tool, (required, properties, kind) in expected.items():
        schema = tool.parameters
        assert schema["type"] == "object"
        assert schema["additionalProperties"] is False
        assert schema["required"] == required
        assert set(schema["properties"]) == properties
        assert tool.kind == kind
        assert len(tool.description) > 200


# -- read_file --------------------------------------------------------------------------------


async def test_read_numbers_lines(ctx: ToolContext) -> None:
    (ctx.root / "a.py").write_text("first\n\tsecond\nthird")
    result = await read(ctx, path="a.py")
    assert result.content == "     1\tfirst\n     2\t\tsecond\n     3\tthird"
    assert result.metadata["total_lines"] == 3
    assert result.display == "read a.py: lines 1-3 of 3"


async def test_read_offset_limit_and_paging_note(ctx: ToolContext) -> None:
    (ctx.root / "a.txt").write_text("".join(f"line {n}\n" for n in range(1, 11)))
    result = await read(ctx, path="a.txt", offset=3, limit=2)
    assert result.content.splitlines() == [
        "     3\tline 3",
        "     4\tline 4",
        "... 6 more lines; call read_file again with offset=5 to continue",
    ]
    result = await read(ctx, path="a.txt", offset=9)
    assert result.content == "     9\tline 9\n    10\tline 10"
    with pytest.raises(ToolError, match=r"offset 11 is past the end of a.txt, which has 10 lines"):
        await read(ctx, path="a.txt", offset=11)
    with pytest.raises(ToolError, match="offset must be an integer >= 1"):
        await read(ctx, path="a.txt", offset=0)


async def test_read_default_limit(ctx: ToolContext) -> None:
    (ctx.root / "big.txt").write_text("".join(f"{n}\n" for n in range(1, 2501)))
    result = await read(ctx, path="big.txt")
    lines = result.content.splitlines()
    assert len(lines) == files.MAX_READ_LINES + 1
    assert lines[-2] == "  2000\t2000"
    assert lines[-1] == "... 500 more lines; call read_file again with offset=2001 to continue"


async def test_read_huge_file_is_bounded(ctx: ToolContext) -> None:
    (ctx.root / "huge.txt").write_text(("y" * 99 + "\n") * 20_000)
    result = await read(ctx, path="huge.txt")
    assert len(result.content) <= MAX_RESULT_CHARS
    last = result.content.splitlines()[-1]
    assert "more lines (output size limit reached)" in last
    shown = len(result.content.splitlines()) - 1
    assert f"offset={shown + 1}" in last
    assert result.metadata["total_lines"] == 20_000


async def test_read_truncates_long_lines(ctx: ToolContext) -> None:
    (ctx.root / "min.js").write_text("a" * 100_000 + "\nshort\n")
    result = await read(ctx, path="min.js")
    first, second = result.content.splitlines()
    assert first.startswith("     1\t" + "a" * files.MAX_LINE_CHARS + "… [line truncated")
    assert "100000 characters" in first
    assert second == "     2\tshort"


async def test_read_bom_crlf_and_empty(ctx: ToolContext) -> None:
    (ctx.root / "bom.txt").write_bytes(b"\xef\xbb\xbfhello\r\nworld\r\n")
    assert (await read(ctx, path="bom.txt")).content == "     1\thello\n     2\tworld"
    (ctx.root / "empty.txt").write_bytes(b"")
    result = await read(ctx, path="empty.txt")
    assert result.content == "empty.txt is empty (0 lines)."


async def test_read_binary(ctx: ToolContext) -> None:
    (ctx.root / "img.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00" + bytes(range(256)))
    with pytest.raises(ToolError, match=r"img.png is a binary file, 266 bytes"):
        await read(ctx, path="img.png")
    (ctx.root / "latin1.txt").write_bytes("café\n".encode("latin-1"))
    with pytest.raises(ToolError, match=r"binary file, 5 bytes \(not valid UTF-8 at byte 3\)"):
        await read(ctx, path="latin1.txt")
    # Invalid UTF-8 past the sniffed head is caught when a line that has it is shown.
    (ctx.root / "late.txt").write_bytes(b"ok\n" * 5000 + b"\xff\n")
    assert (await read(ctx, path="late.txt", limit=2)).content.startswith("     1\tok")
    with pytest.raises(ToolError, match="line 5001 is not valid UTF-8"):
        await read(ctx, path="late.txt", offset=4990)


async def test_read_errors(ctx: ToolContext) -> None:
    (ctx.root / "src").mkdir()
    (ctx.root / "src" / "main.py").write_text("x\n")
    with pytest.raises(ToolError, match=r"src is a folder.*list_dir"):
        await read(ctx, path="src")
    with pytest.raises(ToolError, match=r"src/mian.py does not exist. Did you mean: src/main.py\?"):
        await read(ctx, path="src/mian.py")
    with pytest.raises(ToolError, match=r"Did you mean: src/main.py"):
        await read(ctx, path="src/MAIN.py")
    with pytest.raises(ToolError, match="folder 'lib' does not exist"):
        await read(ctx, path="lib/main.py")


async def test_special_files_are_refused(
    ctx: ToolContext, make_fifo: Callable[[Path], Path]
) -> None:
    make_fifo(ctx.root / "pipe")
    (ctx.root / "link").symlink_to("pipe")
    refused = r"is not a regular file \(a device, socket or pipe\)"
    for name in ("pipe", "link"):
        with pytest.raises(ToolError, match=refused):
            await read(ctx, path=name)
        with pytest.raises(ToolError, match=refused):
            await edit(ctx, path=name, old_string="a", new_string="b")
        with pytest.raises(ToolError, match=refused):
            await write(ctx, path=name, content="b")
        with pytest.raises(SpecialFile, match=refused):
            open_regular(ctx.root / name)
    assert "pipe  (0 B)" in (await listing(ctx)).content  # listed, never opened


async def test_list_dir_does_not_read_a_special_gitignore(
    ctx: ToolContext, make_fifo: Callable[[Path], Path]
) -> None:
    make_fifo(ctx.root / ".gitignore")
    (ctx.root / "a.txt").write_text("x\n")
    assert "a.txt" in (await listing(ctx)).content


async def test_outside_workspace_rejected(ctx: ToolContext, tmp_path_factory: Any) -> None:
    outside = tmp_path_factory.mktemp("outside")
    (outside / "secret.txt").write_text("secret\n")
    (ctx.root / "escape").symlink_to(outside)
    attempts: list[tuple[Any, dict[str, Any]]] = [
        (read, {"path": str(outside / "secret.txt")}),
        (read, {"path": "../outside0/secret.txt"}),
        (read, {"path": "escape/secret.txt"}),
        (write, {"path": "escape/new.txt", "content": "x"}),
        (write, {"path": "/etc/codive-test", "content": "x"}),
        (edit, {"path": "escape/secret.txt", "old_string": "secret", "new_string": "x"}),
        (listing, {"path": "escape"}),
        (listing, {"path": ".."}),
    ]
    for call, arguments in attempts:
        with pytest.raises(OutsideWorkspace):
            await call(ctx, **arguments)
    assert (outside / "secret.txt").read_text() == "secret\n"
    assert not (outside / "new.txt").exists()


# -- write_file -------------------------------------------------------------------------------


async def test_write_creates_with_parents(ctx: ToolContext) -> None:
    result = await write(ctx, path="a/b/new.py", content="print(1)\nprint(2)\n")
    assert result.content == "Created a/b/new.py: 2 lines."
    assert (ctx.root / "a/b/new.py").read_text() == "print(1)\nprint(2)\n"
    assert result.display is not None and "+print(1)" in result.display
    assert result.metadata["created"] is True
    mode = stat.S_IMODE(os.stat(ctx.root / "a/b/new.py").st_mode)
    umask = os.umask(0o022)
    os.umask(umask)
    assert mode == 0o666 & ~umask
    assert leftovers(ctx.root / "a/b") == []


async def test_write_overwrites_with_diff(ctx: ToolContext) -> None:
    (ctx.root / "f.txt").write_text("one\ntwo\nthree\n")
    result = await write(ctx, path="f.txt", content="one\n2\nthree\nfour\n")
    assert result.content == "Overwrote f.txt: 4 lines, was 3."
    assert result.display is not None
    assert "--- a/f.txt" in result.display and "+++ b/f.txt" in result.display
    assert "-two" in result.display and "+2" in result.display and "+four" in result.display
    result = await write(ctx, path="f.txt", content="one\n2\nthree\nfour\n")
    assert "already has this content" in result.content


async def test_write_keeps_mode_crlf_and_bom(ctx: ToolContext) -> None:
    script = ctx.root / "run.sh"
    script.write_bytes(b"\xef\xbb\xbfecho a\r\necho b\r\n")
    script.chmod(0o755)
    result = await write(ctx, path="run.sh", content="echo c\necho d\n")
    assert script.read_bytes() == b"\xef\xbb\xbfecho c\r\necho d\r\n"
    assert stat.S_IMODE(os.stat(script).st_mode) == 0o755
    assert "CRLF line endings kept" in result.content
    assert "byte-order mark kept" in result.content
    # Content that already has CRLF (or its own BOM) is written as given.
    await write(ctx, path="run.sh", content="\ufeffx\r\ny\r\n")
    assert script.read_bytes() == b"\xef\xbb\xbfx\r\ny\r\n"


async def test_write_errors(ctx: ToolContext) -> None:
    (ctx.root / "d").mkdir()
    with pytest.raises(ToolError, match="d is a folder"):
        await write(ctx, path="d", content="x")
    with pytest.raises(ToolError, match="content is required"):
        await write(ctx, path="x.txt")
    (ctx.root / "file").write_text("")
    with pytest.raises(ToolError, match="file, not a folder"):
        await write(ctx, path="file/child.txt", content="x")


async def test_write_failure_leaves_no_temp_file(
    ctx: ToolContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = ctx.root / "keep.txt"
    target.write_text("original\n")

    def broken_replace(src: Any, dst: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(ToolError, match=r"cannot write keep.txt: No space left on device"):
        await write(ctx, path="keep.txt", content="new\n")
    with pytest.raises(ToolError, match="the file was left unchanged"):
        await edit(ctx, path="keep.txt", old_string="original", new_string="changed")
    assert target.read_text() == "original\n"
    assert os.listdir(ctx.root) == ["keep.txt"]


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt, asyncio.CancelledError])
def test_atomic_write_interrupted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, interrupt: type[BaseException]
) -> None:
    target = tmp_path / "f.txt"
    target.write_text("original\n")

    def stop(fd: int) -> None:
        raise interrupt

    monkeypatch.setattr(os, "fsync", stop)
    with pytest.raises(interrupt):
        atomic_write(target, b"half-written")
    assert target.read_text() == "original\n"
    assert os.listdir(tmp_path) == ["f.txt"]


async def test_cancelled_write_is_whole(ctx: ToolContext, monkeypatch: pytest.MonkeyPatch) -> None:
    """Cancelling the tool mid-write leaves the old or the new file, never a mix or a temp."""
    import threading

    target = ctx.root / "f.txt"
    target.write_text("old\n")
    started, release = threading.Event(), threading.Event()
    real_fsync = os.fsync

    def slow_fsync(fd: int) -> None:
        started.set()
        release.wait(5)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", slow_fsync)
    task = asyncio.ensure_future(write(ctx, path="f.txt", content="new\n"))
    await asyncio.to_thread(started.wait, 5)
    task.cancel()
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(100):  # the worker thread finishes its (atomic) write
        if not leftovers(ctx.root):
            break
        await asyncio.sleep(0.01)
    assert target.read_text() in ("old\n", "new\n")
    assert leftovers(ctx.root) == []


# -- edit_file --------------------------------------------------------------------------------


async def test_edit_exact(ctx: ToolContext) -> None:
    path = ctx.root / "m.py"
    path.write_text("def f():\n    return 1\n\n\ndef g():\n    return 2\n")
    result = await edit(ctx, path="m.py", old_string="return 2", new_string="return 3")
    assert path.read_text().endswith("def g():\n    return 3\n")
    assert result.content.startswith("Edited m.py: replaced 1 occurrence (line 6 now).")
    assert "     6\t    return 3" in result.content  # a numbered snippet of the result
    assert result.display is not None
    assert "-    return 2" in result.display and "+    return 3" in result.display
    assert result.metadata["whitespace_tolerant"] is False


async def test_edit_not_unique_and_replace_all(ctx: ToolContext) -> None:
    path = ctx.root / "c.txt"
    path.write_text("x = 1\ny = 2\nx = 1\nz = 3\nx = 1\n")
    with pytest.raises(ToolError, match=r"occurs 3 times in c.txt \(at lines 1, 3, 5\)") as info:
        await edit(ctx, path="c.txt", old_string="x = 1", new_string="x = 9")
    assert "replace_all" in str(info.value)
    assert path.read_text() == "x = 1\ny = 2\nx = 1\nz = 3\nx = 1\n"
    result = await edit(ctx, path="c.txt", old_string="x = 1", new_string="x = 9", replace_all=True)
    assert path.read_text() == "x = 9\ny = 2\nx = 9\nz = 3\nx = 9\n"
    assert result.content.startswith("Edited c.txt: replaced 3 occurrences.")


async def test_edit_argument_errors(ctx: ToolContext) -> None:
    (ctx.root / "a.txt").write_text("abc\n")
    with pytest.raises(ToolError, match="identical"):
        await edit(ctx, path="a.txt", old_string="abc", new_string="abc")
    with pytest.raises(ToolError, match=r"old_string is empty.*write_file"):
        await edit(ctx, path="a.txt", old_string="", new_string="x")
    with pytest.raises(ToolError, match=r"old_string is empty.*write_file"):
        await edit(ctx, path="b.txt", old_string="", new_string="x")  # no file made
    assert not (ctx.root / "b.txt").exists()
    with pytest.raises(ToolError, match=r"b.txt does not exist"):
        await edit(ctx, path="b.txt", old_string="a", new_string="x")
    with pytest.raises(ToolError, match=r"does not exist. Did you mean: a.txt"):
        await edit(ctx, path="a.tx", old_string="abc", new_string="x")
    with pytest.raises(ToolError, match="replace_all must be true or false"):
        await edit(ctx, path="a.txt", old_string="abc", new_string="x", replace_all="yes")
    (ctx.root / "b.bin").write_bytes(b"\x00abc")
    with pytest.raises(ToolError, match="binary file"):
        await edit(ctx, path="b.bin", old_string="abc", new_string="x")


async def test_edit_tabs_file_with_spaces_in_old_string(ctx: ToolContext) -> None:
    path = ctx.root / "main.go"
    path.write_text("func f() {\n\tif x {\n\t\treturn 1\n\t}\n\treturn 2\n}\n")
    result = await edit(
        ctx,
        path="main.go",
        old_string="    if x {\n        return 1\n    }",
        new_string=(
            "    if x {\n        log()\n        return 1\n    } else {\n            deeper()\n    }"
        ),
    )
    assert path.read_text() == (
        "func f() {\n\tif x {\n\t\tlog()\n\t\treturn 1\n\t} else {\n\t\t\tdeeper()\n\t}\n"
        "\treturn 2\n}\n"
    )
    assert result.metadata["whitespace_tolerant"] is True
    assert "re-indented" in result.content


async def test_edit_crlf_file(ctx: ToolContext) -> None:
    path = ctx.root / "win.txt"
    path.write_bytes(b"alpha\r\nbeta\r\ngamma\r\n")
    await edit(ctx, path="win.txt", old_string="alpha\nbeta\n", new_string="alpha\nBETA\nextra\n")
    assert path.read_bytes() == b"alpha\r\nBETA\r\nextra\r\ngamma\r\n"
    # old_string written with CRLF works too.
    await edit(ctx, path="win.txt", old_string="extra\r\ngamma", new_string="last")
    assert path.read_bytes() == b"alpha\r\nBETA\r\nlast\r\n"


async def test_edit_trailing_spaces_tolerated(ctx: ToolContext) -> None:
    path = ctx.root / "t.py"
    path.write_text("a = 1   \nb = 2\t\nc  =  3\nd = 4\n")
    result = await edit(ctx, path="t.py", old_string="a = 1\nb = 2\nc = 3", new_string="abc = 123")
    assert path.read_text() == "abc = 123\nd = 4\n"
    assert result.metadata["whitespace_tolerant"] is True
    assert result.metadata["first_line"] == 1


async def test_edit_keeps_bom_and_mode(ctx: ToolContext) -> None:
    path = ctx.root / "tool.sh"
    path.write_bytes(b"\xef\xbb\xbf#!/bin/sh\necho hi\n")
    path.chmod(0o755)
    await edit(ctx, path="tool.sh", old_string="echo hi", new_string="echo bye")
    assert path.read_bytes() == b"\xef\xbb\xbf#!/bin/sh\necho bye\n"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o755
    # The BOM is not part of the first line's text: matching at the start works.
    await edit(ctx, path="tool.sh", old_string="#!/bin/sh", new_string="#!/bin/bash")
    assert path.read_bytes() == b"\xef\xbb\xbf#!/bin/bash\necho bye\n"
    assert leftovers(ctx.root) == []


async def test_edit_mixed_indentation_file(ctx: ToolContext) -> None:
    """One file, two styles: each edit takes the style of the region it lands in."""
    path = ctx.root / "mixed.py"
    path.write_text(
        "class A:\n\tdef a(self):\n\t\treturn 'a'\n\n"
        "class B:\n    def b(self):\n        return 'b'\n"
    )
    await edit(
        ctx,
        path="mixed.py",
        old_string="\tdef b(self):\n\t\treturn 'b'",
        new_string="\tdef b(self):\n\t\tvalue = 'b'\n\t\treturn value",
    )
    await edit(
        ctx,
        path="mixed.py",
        old_string="  def a(self):\n    return 'a'",
        new_string="  def a(self):\n    if True:\n      return 'a'",
    )
    assert path.read_text() == (
        "class A:\n\tdef a(self):\n\t\tif True:\n\t\t\treturn 'a'\n\n"
        "class B:\n    def b(self):\n        value = 'b'\n        return value\n"
    )


async def test_edit_unindented_old_string(ctx: ToolContext) -> None:
    path = ctx.root / "u.py"
    path.write_text("def f():\n    x = 1\n    y = 2\n    return x + y\n")
    await edit(ctx, path="u.py", old_string="x = 1\ny = 2\n", new_string="x = 10\ny = 20\nz = 0\n")
    assert path.read_text() == "def f():\n    x = 10\n    y = 20\n    z = 0\n    return x + y\n"


async def test_edit_inconsistent_indentation_refused(ctx: ToolContext) -> None:
    path = ctx.root / "i.py"
    original = "def f():\n    if x:\n        return 1\n"
    path.write_text(original)
    with pytest.raises(ToolError, match=r"lines 2-3 .*cannot be re-indented safely"):
        await edit(ctx, path="i.py", old_string="if x:\nreturn 1", new_string="if y:\nreturn 2")
    assert path.read_text() == original


async def test_edit_ambiguous_tolerant_match_refused(ctx: ToolContext) -> None:
    path = ctx.root / "dup.py"
    original = "def a():\n    x = 1\n    y = 2\n\ndef b():\n\tx = 1\n\ty = 2\n"
    path.write_text(original)
    with pytest.raises(ToolError, match=r"matches 2 places \(lines 2-3, 6-7\)"):
        await edit(ctx, path="dup.py", old_string="  x = 1\n  y = 2", new_string="  z = 3")
    with pytest.raises(ToolError, match="matches 2 places"):
        await edit(
            ctx, path="dup.py", old_string="  x = 1\n  y = 2", new_string="  z", replace_all=True
        )
    assert path.read_text() == original


async def test_edit_not_found_shows_closest_region(ctx: ToolContext) -> None:
    path = ctx.root / "app.py"
    body = [f"# filler line {n}" for n in range(1, 10)]
    body += ["def load(path):", "    with open(path) as f:", "        return f.read()"]
    body += [f"# more {n}" for n in range(10)]
    path.write_text("\n".join(body) + "\n")
    with pytest.raises(ToolError) as info:
        await edit(
            ctx,
            path="app.py",
            old_string="def load(path):\n    with open(path, 'rb') as f:\n        return f.read()",
            new_string="pass",
        )
    message = str(info.value)
    assert "old_string was not found in app.py" in message
    assert "most similar region is lines 10-12" in message
    assert "    11\t    with open(path) as f:" in message
    assert "-    with open(path, 'rb') as f:" in message
    assert "+    with open(path) as f:" in message
    with pytest.raises(ToolError, match="no part of the file looks like it"):
        await edit(ctx, path="app.py", old_string="zzzz qqqq", new_string="x")


async def test_edit_delete_and_tolerant_delete(ctx: ToolContext) -> None:
    path = ctx.root / "d.txt"
    path.write_text("keep\n  drop me  \nkeep too\n")
    await edit(ctx, path="d.txt", old_string="drop me\n", new_string="")
    assert path.read_text() == "keep\nkeep too\n"


# -- list_dir ---------------------------------------------------------------------------------


async def test_list_dir(ctx: ToolContext) -> None:
    root = ctx.root
    (root / ".gitignore").write_text("build/\n*.log\n")
    (root / "src").mkdir()
    (root / "build").mkdir()
    (root / "README.md").write_text("x" * 2048)
    (root / "debug.log").write_text("")
    (root / ".env").write_text("A=1\n")
    (root / "link").symlink_to("README.md")
    result = await listing(ctx)
    assert result.content.splitlines() == [
        "./ (2 folders, 5 files; 2 ignored by .gitignore, marked [ignored])",
        ".env  (4 B)",
        ".gitignore  (13 B)",
        "build/  [ignored]",
        "debug.log  (0 B)  [ignored]",
        "link -> README.md",
        "README.md  (2.0 KB)",
        "src/",
    ]
    result = await listing(ctx, path="build")
    assert "this folder is itself ignored" in result.content
    assert "(empty folder)" in result.content


async def test_list_dir_bounded_and_errors(
    ctx: ToolContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(list_dir_module, "MAX_LIST_ENTRIES", 30)
    folder = ctx.root / "many"
    folder.mkdir()
    for index in range(list_dir_module.MAX_LIST_ENTRIES + 5):
        (folder / f"f{index:05}").write_text("")
    result = await listing(ctx, path="many")
    lines = result.content.splitlines()
    assert len(lines) == list_dir_module.MAX_LIST_ENTRIES + 2
    assert lines[-1].startswith("... 5 more entries not shown")
    (ctx.root / "file.txt").write_text("")
    with pytest.raises(ToolError, match="is a file, not a folder; use read_file"):
        await listing(ctx, path="file.txt")
    with pytest.raises(ToolError, match="Did you mean: many"):
        await listing(ctx, path="mnay")


async def test_direct_calls_with_wrong_types_fail_as_tool_errors(ctx: ToolContext) -> None:
    # The agent checks types against the schema first; a direct call still fails cleanly.
    (ctx.root / "a.txt").write_text("abc\n")
    with pytest.raises(ToolError, match="offset must be an integer, not '2'"):
        await read(ctx, path="a.txt", offset="2")
    with pytest.raises(ToolError, match="path must be a string, not 3"):
        await listing(ctx, path=3)
    with pytest.raises(ToolError, match="replace_all must be true or false"):
        await edit(ctx, path="a.txt", old_string="abc", new_string="x", replace_all=None)
    assert (await read(ctx, path="a.txt", offset=None, limit=None)).content == "     1\tabc"


def test_descriptions_come_from_markdown_with_the_limits_filled_in() -> None:
    for tool in (ReadFileTool, WriteFileTool, EditFileTool, ListDirTool):
        assert "$" not in tool.description and tool.description == tool.description.strip()
    assert f"up to {files.MAX_READ_LINES} lines" in ReadFileTool.description
    assert f"At most {files.MAX_LIST_ENTRIES} entries" in ListDirTool.description
