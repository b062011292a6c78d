"""glob and grep: .gitignore rules, ordering, bounds, errors, and ripgrep/Python parity."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from codive_cli.policy.guard import OutsideWorkspace, WorkspaceGuard
from codive_cli.tools import search
from codive_cli.tools.base import MAX_RESULT_CHARS, ToolContext, ToolError, ToolResult
from codive_cli.tools.search import GlobMatcher, GlobTool, GrepTool, IgnoreRules, walk_files
from codive_cli.tools.search import budget as search_budget
from codive_cli.tools.search import glob as glob_tool
from codive_cli.tools.search import grep as grep_tool
from codive_cli.tools.search import rg as search_rg
from codive_cli.tools.search.backend import MAX_MATCH_LINE_CHARS

HAVE_RG = shutil.which("rg") is not None
needs_rg = pytest.mark.skipif(not HAVE_RG, reason="ripgrep (rg) is not installed")
BACKENDS = [
    pytest.param(True, id="ripgrep", marks=needs_rg),
    pytest.param(False, id="python"),
]


@pytest.fixture
def ctx(tmp_path: Path) -> ToolContext:
    return ToolContext(root=tmp_path, guard=WorkspaceGuard(tmp_path))


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[bool]:
    monkeypatch.setattr(search_rg, "USE_RIPGREP", request.param)
    monkeypatch.delenv(search.NO_RIPGREP_ENV, raising=False)
    yield request.param


def write(root: Path, rel: str, text: str = "x\n") -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


async def glob(ctx: ToolContext, **arguments: Any) -> ToolResult:
    return await GlobTool().run(arguments, ctx)


async def grep(ctx: ToolContext, **arguments: Any) -> ToolResult:
    return await GrepTool().run(arguments, ctx)


def paths_of(result: ToolResult) -> list[str]:
    """The file paths a glob result lists (after its header line)."""
    return result.content.splitlines()[1:]


# -- schemas ----------------------------------------------------------------------------------


def test_schemas_are_strict() -> None:
    for tool, required in ((GlobTool(), ["pattern"]), (GrepTool(), ["pattern"])):
        schema = tool.parameters
        assert schema["additionalProperties"] is False
        assert schema["required"] == required
        assert tool.kind == "read"
        assert tool.definition().name == tool.name
    assert set(GrepTool.parameters["properties"]) == {"pattern", "path", "glob", "ignore_case"}
    assert set(GlobTool.parameters["properties"]) == {"pattern", "path"}


def test_descriptions_state_the_limits() -> None:
    """The Markdown descriptions spell out the limits the code enforces."""
    assert f"At most {glob_tool.MAX_GLOB_RESULTS} paths" in GlobTool.description
    assert f"at most {grep_tool.MAX_GREP_MATCHES} matching lines" in GrepTool.description
    assert f"longer than {MAX_MATCH_LINE_CHARS} characters" in GrepTool.description


def test_backend_switches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search_rg, "USE_RIPGREP", True)
    monkeypatch.setenv(search.NO_RIPGREP_ENV, "1")
    assert search.ripgrep() is None
    monkeypatch.delenv(search.NO_RIPGREP_ENV)
    found = search.ripgrep()
    if HAVE_RG:
        assert found is not None and os.path.basename(found) == "rg"
    monkeypatch.setattr(search_rg, "USE_RIPGREP", False)
    assert search.ripgrep() is None


# -- glob patterns and .gitignore rules -------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("*.py", "a/b/c.py", True),
        ("*.py", "c.pyc", False),
        ("**/*.py", "c.py", True),
        ("**/*.py", "a/b/c.py", True),
        ("src/*.py", "src/a.py", True),
        ("src/*.py", "src/x/a.py", False),
        ("src/**/*.py", "src/a.py", True),
        ("src/**/*.py", "src/x/y/a.py", True),
        ("src/**", "src/x/y/a.txt", True),
        ("src/", "src/a.txt", True),
        ("*.{ts,tsx}", "a/b.tsx", True),
        ("*.{ts,tsx}", "a/b.js", False),
        ("test_?.py", "test_1.py", True),
        ("[ab]*.md", "b.md", True),
        ("[!ab]*.md", "b.md", False),
        ("[!ab]*.md", "c.md", True),
        ("./docs/*.md", "docs/x.md", True),
        ("/docs/*.md", "docs/x.md", True),
        ("a\\*b", "a*b", True),
        ("a\\*b", "axb", False),
    ],
)
def test_glob_matcher(pattern: str, path: str, expected: bool) -> None:
    assert GlobMatcher.compile(pattern)(path) is expected


def test_glob_matcher_errors() -> None:
    with pytest.raises(ToolError, match="unclosed"):
        GlobMatcher.compile("*.{py,js")
    with pytest.raises(ToolError, match="empty"):
        GlobMatcher.compile("  ")


def test_ignore_rules(tmp_path: Path) -> None:
    write(tmp_path, ".gitignore", "# comment\n*.log\n!keep.log\nbuild/\n/top.txt\ndocs/*.tmp\n")
    write(tmp_path, "sub/.gitignore", "*.txt\n!notes.txt\n")
    rules = IgnoreRules(str(tmp_path))
    root = str(tmp_path)
    chain = rules.chain(root)
    sub_chain = rules.chain(str(tmp_path / "sub"))

    def ignored(rel: str, is_dir: bool = False, chain_: Any = chain) -> bool:
        return rules.matched(os.path.join(root, rel), is_dir, chain_)

    assert ignored("a.log")
    assert not ignored("keep.log")
    assert ignored("build", is_dir=True)
    assert not ignored("build")  # a file named build: the pattern is for folders
    assert ignored("top.txt")
    assert not ignored("sub/top.txt")  # anchored to the root only
    assert ignored("docs/a.tmp")
    assert ignored("sub/other.txt", chain_=sub_chain)
    assert not ignored("sub/notes.txt", chain_=sub_chain)
    assert ignored("sub/x.log", chain_=sub_chain)  # the root's rules reach down
    write(tmp_path, "build/out.js")
    assert rules.ignored(tmp_path / "build" / "out.js")  # through its ignored folder
    assert not rules.ignored(tmp_path / "sub")


def test_walk_prunes_ignored_folders_and_skips_git_and_symlinks(tmp_path: Path) -> None:
    write(tmp_path, ".gitignore", "node_modules/\n")
    write(tmp_path, "node_modules/pkg/index.js")
    write(tmp_path, ".git/config")
    write(tmp_path, "src/.hidden.py")
    write(tmp_path, "src/b.py")
    write(tmp_path, "src-a.txt")
    (tmp_path / "link.py").symlink_to(tmp_path / "src" / "b.py")
    (tmp_path / "linkdir").symlink_to(tmp_path / "src")
    rules = IgnoreRules(str(tmp_path))
    found = [os.path.relpath(p, tmp_path) for p in walk_files(rules, str(tmp_path))]
    # rg --sort path order: depth first, names sorted ("src" before "src-a.txt").
    assert found == [".gitignore", "src/.hidden.py", "src/b.py", "src-a.txt"]
    inside = [
        os.path.relpath(p, tmp_path) for p in walk_files(rules, str(tmp_path / "node_modules"))
    ]
    assert inside == ["node_modules/pkg/index.js"]  # named explicitly: searched anyway


# -- glob ---------------------------------------------------------------------------------------


async def test_glob_newest_first_and_relative_to_root(ctx: ToolContext, backend: bool) -> None:
    root = ctx.root
    for index, rel in enumerate(["src/old.py", "src/pkg/mid.py", "new.py", "notes.md"]):
        path = write(root, rel)
        os.utime(path, (1_000_000 + index, 1_000_000 + index))
    result = await glob(ctx, pattern="**/*.py")
    assert paths_of(result) == ["new.py", "src/pkg/mid.py", "src/old.py"]
    assert result.content.startswith("3 files match '**/*.py'")
    assert not result.is_error
    result = await glob(ctx, pattern="*.py", path="src")
    assert paths_of(result) == ["src/pkg/mid.py", "src/old.py"]
    result = await glob(ctx, pattern="pkg/*.py", path="src")  # relative to `path`
    assert paths_of(result) == ["src/pkg/mid.py"]


async def test_glob_respects_gitignore(ctx: ToolContext, backend: bool) -> None:
    root = ctx.root
    write(root, ".gitignore", "dist/\n*.log\n")
    write(root, "pkg/.gitignore", "generated_*.py\n")
    write(root, ".git/HEAD", "ref: x\n")
    for rel in ["a.py", "a.log", "dist/b.py", "pkg/c.py", "pkg/generated_d.py", ".hidden/e.py"]:
        write(root, rel)
    result = await glob(ctx, pattern="**/*")
    assert sorted(paths_of(result)) == [
        ".gitignore",
        ".hidden/e.py",
        "a.py",
        "pkg/.gitignore",
        "pkg/c.py",
    ]
    result = await glob(ctx, pattern="*", path="dist")  # an ignored folder named explicitly
    assert paths_of(result) == ["dist/b.py"]


async def test_glob_bounded(
    ctx: ToolContext, backend: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(glob_tool, "MAX_GLOB_RESULTS", 40)
    for index in range(glob_tool.MAX_GLOB_RESULTS + 50):
        (ctx.root / f"f{index:04}.txt").write_text("")
    result = await glob(ctx, pattern="*.txt")
    assert len(paths_of(result)) == glob_tool.MAX_GLOB_RESULTS
    assert f"{glob_tool.MAX_GLOB_RESULTS + 50} files match" in result.content
    assert "Narrow the pattern" in result.content
    assert result.metadata["count"] == glob_tool.MAX_GLOB_RESULTS + 50


async def test_glob_bounded_by_size(ctx: ToolContext, backend: bool) -> None:
    folder = ctx.root / ("d" * 200)
    folder.mkdir()
    for index in range(200):
        (folder / f"{'f' * 200}{index:03}").write_text("")
    result = await glob(ctx, pattern="*")
    assert len(result.content) <= MAX_RESULT_CHARS
    assert "Narrow the pattern" in result.content


async def test_glob_errors_and_empty(ctx: ToolContext, backend: bool) -> None:
    write(ctx.root, "a.py")
    result = await glob(ctx, pattern="*.rs")
    assert result.content.startswith("No files match '*.rs'")
    with pytest.raises(ToolError, match="is a file"):
        await glob(ctx, pattern="*", path="a.py")
    with pytest.raises(ToolError, match="does not exist"):
        await glob(ctx, pattern="*", path="nope")
    with pytest.raises(OutsideWorkspace):
        await glob(ctx, pattern="*", path="..")
    with pytest.raises(ToolError, match="unclosed"):
        await glob(ctx, pattern="*.{a,b")


# -- grep -------------------------------------------------------------------------------------


async def test_grep_format_and_options(ctx: ToolContext, backend: bool) -> None:
    root = ctx.root
    write(root, "src/app.py", "import os\n\ndef Main():\n    return main()\n")
    write(root, "src/app.js", "function main() {}\n")
    write(root, "README.md", "call main\n")
    result = await grep(ctx, pattern=r"main\(")
    assert result.content.splitlines() == [
        "src/app.js:1: function main() {}",
        "src/app.py:4:     return main()",
    ]
    result = await grep(ctx, pattern=r"def main", ignore_case=True)
    assert result.content == "src/app.py:3: def Main():"
    result = await grep(ctx, pattern="main", glob="*.py")
    assert result.content == "src/app.py:4:     return main()"
    result = await grep(ctx, pattern="main", glob="src/*.{js,md}")
    assert result.content == "src/app.js:1: function main() {}"
    result = await grep(ctx, pattern="main", path="README.md")
    assert result.content == "README.md:1: call main"
    result = await grep(ctx, pattern="^import", path="src")
    assert result.content == "src/app.py:1: import os"
    result = await grep(ctx, pattern="nothing-here")
    assert result.content.startswith("No matches for 'nothing-here'")
    assert not result.is_error


async def test_grep_skips_ignored_binary_and_git(ctx: ToolContext, backend: bool) -> None:
    root = ctx.root
    write(root, ".gitignore", "*.min.js\nvendor/\n")
    write(root, "a.txt", "needle\n")
    write(root, "b.min.js", "needle\n")
    write(root, "vendor/c.txt", "needle\n")
    write(root, ".git/d.txt", "needle\n")
    (root / "e.bin").write_bytes(b"\x00\x01needle\n")
    result = await grep(ctx, pattern="needle")
    assert result.content == "a.txt:1: needle"
    result = await grep(ctx, pattern="needle", path="vendor")
    assert result.content == "vendor/c.txt:1: needle"


async def test_grep_crlf_bom_and_long_lines(ctx: ToolContext, backend: bool) -> None:
    root = ctx.root
    (root / "crlf.txt").write_bytes(b"alpha\r\nbeta\r\n")
    (root / "bom.txt").write_bytes(b"\xef\xbb\xbfgamma\n")
    write(root, "long.txt", "x" * 5000 + " needle " + "y" * 5000 + "\n")
    result = await grep(ctx, pattern="^beta$")
    assert result.content == "crlf.txt:2: beta"
    result = await grep(ctx, pattern="^gamma")
    assert result.content == "bom.txt:1: gamma"
    result = await grep(ctx, pattern="needle")
    line = result.content
    assert line.startswith("long.txt:1: xxx")
    assert len(line) < 600
    assert "more characters]" in line


async def test_grep_bounded(
    ctx: ToolContext, backend: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(grep_tool, "MAX_GREP_MATCHES", 50)
    write(ctx.root, "many.txt", "hit\n" * (grep_tool.MAX_GREP_MATCHES + 100))
    write(ctx.root, "z.txt", "hit\n")
    result = await grep(ctx, pattern="hit")
    lines = result.content.splitlines()
    assert len(lines) == grep_tool.MAX_GREP_MATCHES + 1
    assert lines[0] == "many.txt:1: hit"
    assert lines[grep_tool.MAX_GREP_MATCHES - 1] == f"many.txt:{grep_tool.MAX_GREP_MATCHES}: hit"
    assert "there are more" in lines[-1]
    assert result.metadata["more"] is True


async def test_grep_stops_a_busy_ripgrep(
    ctx: ToolContext, backend: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stopping at the cap while rg still has megabytes to write neither hangs nor leaks."""
    monkeypatch.setattr(search_rg, "UNSORTED_LIMIT", 100)  # the unsorted run is stopped too
    for index in range(4):
        write(ctx.root, f"big{index}.txt", ("hit " + "z" * 1000 + "\n") * 2000)
    for _ in range(3):
        result = await asyncio.wait_for(grep(ctx, pattern="hit"), 20)
        assert result.metadata["more"] is True


async def test_grep_bounded_by_size(ctx: ToolContext, backend: bool) -> None:
    write(ctx.root, "wide.txt", ("w" * 300 + "\n") * 300)
    result = await grep(ctx, pattern="w")
    assert len(result.content) <= MAX_RESULT_CHARS
    assert "there are more" in result.content


async def test_grep_invalid_regex(ctx: ToolContext, backend: bool) -> None:
    write(ctx.root, "a.txt", "x\n")
    with pytest.raises(ToolError, match="invalid regex 'foo\\('") as info:
        await grep(ctx, pattern="foo(")
    message = str(info.value)
    # The engine's own explanation (rg's or Python's), and a hint.
    assert "unclosed group" in message or "unterminated subpattern" in message
    assert "Escape special characters" in message
    with pytest.raises(ToolError, match="empty"):
        await grep(ctx, pattern="")
    with pytest.raises(OutsideWorkspace):
        await grep(ctx, pattern="x", path="/etc")


async def test_grep_lookaround_works_on_both_backends(ctx: ToolContext, backend: bool) -> None:
    # rg's engine has no look-around: the rg backend hands such a pattern to Python's re.
    write(ctx.root, "a.py", "foo_bar\nfoo_baz\n")
    result = await grep(ctx, pattern=r"foo_(?!bar)\w+")
    assert result.content == "a.py:2: foo_baz"
    assert result.metadata["backend"] == "python"


async def test_timeout(ctx: ToolContext, backend: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    write(ctx.root, "a.txt", "x\n")
    monkeypatch.setattr(search_budget, "SEARCH_TIMEOUT", 0.0)
    with pytest.raises(ToolError, match=r"grep timed out after 0s; narrow it"):
        await grep(ctx, pattern="x")
    with pytest.raises(ToolError, match=r"glob timed out after 0s"):
        await glob(ctx, pattern="*")


# -- FIFOs, sockets and devices: never opened (opening a FIFO blocks until a writer comes) ------

MakeFifo = Callable[[Path], Path]


async def test_special_files_named_directly_are_refused(
    ctx: ToolContext, backend: bool, make_fifo: MakeFifo
) -> None:
    make_fifo(ctx.root / "pipe")
    (ctx.root / "link").symlink_to("pipe")
    refused = r"is not a regular file \(a device, socket or pipe\): give a folder"
    for name in ("pipe", "link"):
        with pytest.raises(ToolError, match=refused):
            await grep(ctx, pattern="x", path=name)
        with pytest.raises(ToolError, match=refused):
            await glob(ctx, pattern="*", path=name)


async def test_special_files_are_skipped_when_walking(
    ctx: ToolContext, backend: bool, make_fifo: MakeFifo
) -> None:
    write(ctx.root, "a.txt", "needle\n")
    make_fifo(ctx.root / "pipe.txt")
    make_fifo(ctx.root / "sub" / "pipe.txt")
    assert (await grep(ctx, pattern="needle")).content == "a.txt:1: needle"
    assert (await grep(ctx, pattern="needle", glob="**/*.txt")).content == "a.txt:1: needle"
    assert paths_of(await glob(ctx, pattern="**/*.txt")) == ["a.txt"]


async def test_a_special_gitignore_is_not_read(ctx: ToolContext, make_fifo: MakeFifo) -> None:
    # ripgrep itself opens a FIFO .gitignore (and is stopped by the search timeout); the
    # Python walker, which list_dir shares, must not block on it.
    write(ctx.root, "sub/a.txt", "needle\n")
    make_fifo(ctx.root / "sub" / ".gitignore")
    rules = IgnoreRules(str(ctx.root))
    assert list(walk_files(rules, str(ctx.root))) == [str(ctx.root / "sub" / "a.txt")]
    assert not rules.ignored(ctx.root / "sub" / "a.txt")


@needs_rg
async def test_grep_reports_backend(ctx: ToolContext, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search_rg, "USE_RIPGREP", True)
    monkeypatch.delenv(search.NO_RIPGREP_ENV, raising=False)
    write(ctx.root, "a.txt", "x\n")
    assert (await grep(ctx, pattern="x")).metadata["backend"] == "ripgrep"
    monkeypatch.setenv(search.NO_RIPGREP_ENV, "1")
    assert (await grep(ctx, pattern="x")).metadata["backend"] == "python"


# -- ripgrep / Python parity on a generated tree ---------------------------------------------


def make_tree(root: Path, *, git: bool) -> None:
    """A tree with nested .gitignore files, negations, hidden and binary files, symlinks."""
    if git:
        (root / ".git").mkdir()
        write(root, ".git/config", "needle in git\n")
    write(root, ".gitignore", "*.log\n!important.log\nbuild/\n/root_only.txt\ncache\n*.bak\n")
    write(root, "root_only.txt", "needle root only\n")
    write(root, "important.log", "needle important\n")
    write(root, "debug.log", "needle debug\n")
    write(root, ".env.example", "NEEDLE=1\n")
    for top in range(4):
        for mid in range(3):
            folder = f"pkg{top}/mod{mid}"
            for leaf in range(4):
                word = ["needle" if (n + leaf + mid) % 7 == 0 else "hay" for n in range(30)]
                body = "".join(f"line {n} {word[n]} {top}{mid}{leaf}\n" for n in range(30))
                write(root, f"{folder}/file{leaf}.py", body)
                write(root, f"{folder}/file{leaf}.txt", body.upper())
            write(root, f"{folder}/trace.log", "needle in log\n")
            write(root, f"{folder}/build/out.py", "needle built\n")
            write(root, f"{folder}/root_only.txt", "needle nested root_only\n")
            write(root, f"{folder}/cache", "needle cache file\n")
            write(root, f"{folder}/x.bak", "needle bak\n")
    write(root, "pkg1/.gitignore", "*.txt\n!file2.txt\nmod1/\n")
    write(root, "pkg2/mod0/.gitignore", "!*.bak\nfile[01].py\n")
    write(root, "pkg3/.gitignore", "/mod2/file3.py\n**/deep/\n")
    write(root, "pkg3/mod2/deep/z.py", "needle deep\n")
    write(root, "pkg3/mod0/.hidden/h.py", "needle hidden\n")
    (root / "pkg0" / "blob.bin").write_bytes(b"needle\x00\x01\x02" * 100)
    (root / "pkg0" / "link.py").symlink_to(root / "pkg0" / "mod0" / "file0.py")
    (root / "pkg0" / "linkdir").symlink_to(root / "pkg1")
    if git:
        # A nested repository: its parent's .gitignore stops at its top.
        (root / "nested" / ".git").mkdir(parents=True)
        write(root, "nested/trace.log", "needle nested repo log\n")
        write(root, "nested/.gitignore", "*.py\n")
        write(root, "nested/n.py", "needle n\n")


GLOB_CASES: list[dict[str, str]] = [
    {"pattern": "**/*"},
    {"pattern": "*.py"},
    {"pattern": "*.{txt,log,bak}"},
    {"pattern": "pkg*/mod?/file[0-2].py"},
    {"pattern": "**/mod1/**"},
    {"pattern": "*", "path": "pkg1"},
    {"pattern": "*.py", "path": "pkg0/mod0/build"},
    {"pattern": "mod0/*.txt", "path": "pkg2"},
]
GREP_CASES: list[dict[str, Any]] = [
    {"pattern": "needle"},
    {"pattern": "NEEDLE", "ignore_case": False},
    {"pattern": "needle", "ignore_case": True},
    {"pattern": r"^line \d+ needle 1\d2$"},
    {"pattern": "needle", "glob": "*.py"},
    {"pattern": "needle", "glob": "*.{log,bak}"},
    {"pattern": "needle", "glob": "pkg2/**/*.py"},
    {"pattern": "needle", "path": "pkg3"},
    {"pattern": "needle", "path": "pkg1/mod1"},
    {"pattern": "needle", "path": "pkg0/mod0/file0.py"},
    {"pattern": "hay|needle"},
]


async def run_both(
    ctx: ToolContext, monkeypatch: pytest.MonkeyPatch, tool: Any, args: Any
) -> tuple[str, str]:
    out = []
    for use_rg in (True, False):
        monkeypatch.setattr(search_rg, "USE_RIPGREP", use_rg)
        result = await tool().run(dict(args), ctx)
        out.append(result.content)
    return out[0], out[1]


@needs_rg
@pytest.mark.parametrize("git", [False, True], ids=["plain", "git"])
async def test_ripgrep_and_python_agree(
    ctx: ToolContext, monkeypatch: pytest.MonkeyPatch, git: bool
) -> None:
    monkeypatch.delenv(search.NO_RIPGREP_ENV, raising=False)
    make_tree(ctx.root, git=git)
    for args in GLOB_CASES:
        with_rg, without = await run_both(ctx, monkeypatch, GlobTool, args)
        assert with_rg == without, args
        assert not with_rg.startswith("No files"), args
    for args in GREP_CASES:
        with_rg, without = await run_both(ctx, monkeypatch, GrepTool, args)
        assert with_rg == without, args
        assert not with_rg.startswith("No matches"), args
    # Spot checks of what both agree on.
    listed = set(paths_of(await GlobTool().run({"pattern": "**/*"}, ctx)))
    assert "important.log" in listed and "debug.log" not in listed
    assert "root_only.txt" not in listed and "pkg0/mod0/root_only.txt" in listed
    assert "pkg0/mod0/cache" not in listed and "pkg0/mod0/build/out.py" not in listed
    assert "pkg1/mod0/file2.txt" in listed and "pkg1/mod0/file1.txt" not in listed
    assert not any(p.startswith("pkg1/mod1/") for p in listed)
    assert "pkg2/mod0/x.bak" in listed and "pkg2/mod0/file0.py" not in listed
    assert "pkg3/mod2/file3.py" not in listed and "pkg3/mod2/deep/z.py" not in listed
    assert "pkg3/mod0/.hidden/h.py" in listed
    assert not any(p.startswith(".git/") for p in listed)
    assert "pkg0/blob.bin" in listed  # glob lists binary files; grep skips them
    assert "pkg0/link.py" not in listed and not any(p.startswith("pkg0/linkdir") for p in listed)
    if git:
        assert "nested/trace.log" in listed and "nested/n.py" not in listed


@needs_rg
@pytest.mark.parametrize("unsorted_limit", [10_000, 50], ids=["sorted-here", "sorted-by-rg"])
async def test_parity_when_capped(
    ctx: ToolContext, monkeypatch: pytest.MonkeyPatch, unsorted_limit: int
) -> None:
    """The first 500 matches are the same 500 on both backends, whether rg's parallel output
    is sorted here or (with more matches than that limit) rg sorts them itself."""
    monkeypatch.delenv(search.NO_RIPGREP_ENV, raising=False)
    monkeypatch.setattr(search_rg, "UNSORTED_LIMIT", unsorted_limit)
    make_tree(ctx.root, git=False)
    for args in ({"pattern": "line"}, {"pattern": "line", "glob": "pkg[12]/**/*.py"}):
        with_rg, without = await run_both(ctx, monkeypatch, GrepTool, args)
        assert with_rg == without
        assert "there are more" in with_rg


async def test_a_long_matching_line_says_how_much_was_cut(ctx: ToolContext, backend: bool) -> None:
    write(ctx.root, "min.js", "needle" + "x" * 9_994 + "\n")
    result = await grep(ctx, pattern="needle")
    assert "… [9600 more characters]" in result.content  # 10,000 characters, 400 shown
