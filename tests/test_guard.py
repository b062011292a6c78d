"""The workspace guard, attacked from every side: no path argument may name anything outside.

Each path case says exactly where the path lands (relative to the root) or that it is refused
(`OUT`: OutsideWorkspace, `ERR`: a plain ToolError). The tree under test:

    tmp/
      outside/secret.txt, outside/dir/inner.txt
      rootevil/file.txt                  a sibling whose name starts with the root's
      alias -> root                      a way into the root from outside
      root/
        a.txt, sub/b.txt, sub/deep/c.txt, "with space.txt", "new\\nline.txt", café.txt (NFC),
        日本語/ファイル.txt, "~"/home.txt, "back\\slash.txt", .env, codive.toml
        link_out -> ../outside           abs_out -> <tmp>/outside
        link_in -> sub                   abs_in -> <root>/sub
        file_out -> ../outside/secret.txt                file_in -> a.txt
        dangle_in -> missing.txt         dangle_out -> ../outside/missing.txt
        dangle_abs_out -> /nonexistent-codive-guard/missing
        dangle_dir_out -> ../outside/newdir
        chain1 -> chain2 -> chain3 -> a.txt
        chain_out1 -> chain_out2 -> ../outside/secret.txt
        loop1 -> loop2 -> loop1          self_loop -> self_loop
        sub/up -> ../a.txt   sub/up_out -> ../../outside/secret.txt
        sub/updir -> ..      sub/updir2 -> ../..
        rootlink -> .        etc_link -> /etc       slash_link -> /
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from codive_cli.policy.guard import OutsideWorkspace, WorkspaceGuard
from codive_cli.tools.base import ToolError

OUT = OutsideWorkspace
ERR = ToolError
Expected = str | type[ToolError]

NFC_NAME = unicodedata.normalize("NFC", "café.txt")
NFD_NAME = unicodedata.normalize("NFD", "café.txt")
assert NFC_NAME != NFD_NAME


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    tmp = tmp_path_factory.mktemp("guard").resolve()
    outside = tmp / "outside"
    (outside / "dir").mkdir(parents=True)
    (outside / "secret.txt").write_text("top secret\n")
    (outside / "dir" / "inner.txt").write_text("inner\n")
    (tmp / "rootevil").mkdir()
    (tmp / "rootevil" / "file.txt").write_text("evil\n")

    root = tmp / "root"
    (root / "sub" / "deep").mkdir(parents=True)
    (root / "~").mkdir()
    (root / "日本語").mkdir()
    for name in (
        "a.txt",
        "sub/b.txt",
        "sub/deep/c.txt",
        "with space.txt",
        "new\nline.txt",
        NFC_NAME,
        "日本語/ファイル.txt",
        "~/home.txt",
        "back\\slash.txt",
        ".env",
        "codive.toml",
    ):
        (root / name).write_text(name + "\n")
    (tmp / "alias").symlink_to(root)

    links = {
        "link_out": "../outside",
        "abs_out": str(outside),
        "link_in": "sub",
        "abs_in": str(root / "sub"),
        "file_out": "../outside/secret.txt",
        "file_in": "a.txt",
        "dangle_in": "missing.txt",
        "dangle_out": "../outside/missing.txt",
        "dangle_abs_out": "/nonexistent-codive-guard/missing",
        "dangle_dir_out": "../outside/newdir",
        "chain1": "chain2",
        "chain2": "chain3",
        "chain3": "a.txt",
        "chain_out1": "chain_out2",
        "chain_out2": "../outside/secret.txt",
        "loop1": "loop2",
        "loop2": "loop1",
        "self_loop": "self_loop",
        "sub/up": "../a.txt",
        "sub/up_out": "../../outside/secret.txt",
        "sub/updir": "..",
        "sub/updir2": "../..",
        "rootlink": ".",
        "etc_link": "/etc",
        "slash_link": "/",
    }
    for name, target in links.items():
        (root / name).symlink_to(target)
    yield tmp, root


@pytest.fixture(scope="module")
def guard(tree: tuple[Path, Path]) -> WorkspaceGuard:
    return WorkspaceGuard(tree[1])


def p(path: str, expected: Expected, id: str | None = None) -> Any:
    return pytest.param(path, expected, id=id)


LONG_PATH = "/".join(["d" * 200] * 20) + "/" + "e" * 74  # 4094 bytes: fine alone, not under root

PATH_CASES = [
    # plain paths, ".", empty, slashes
    p("a.txt", "a.txt"),
    p("sub/b.txt", "sub/b.txt"),
    p("sub/deep/c.txt", "sub/deep/c.txt"),
    p(".", "."),
    p("./", "."),
    p("./a.txt", "a.txt"),
    p("sub/", "sub"),
    p("sub//b.txt", "sub/b.txt"),
    p(".//sub///deep//c.txt", "sub/deep/c.txt"),
    p("sub/./deep/./c.txt", "sub/deep/c.txt"),
    p("a.txt/", "a.txt"),
    p("new.txt", "new.txt"),
    p("sub/new.txt", "sub/new.txt"),
    p("newdir/deeper/new.txt", "newdir/deeper/new.txt"),
    p("", ERR, id="empty"),
    # ".." at every position
    p("..", OUT),
    p("../", OUT),
    p("../outside/secret.txt", OUT),
    p("../outside/new.txt", OUT),
    p("../root/a.txt", "a.txt"),
    p("sub/..", "."),
    p("sub/../a.txt", "a.txt"),
    p("sub/../..", OUT),
    p("sub/../../outside/secret.txt", OUT),
    p("sub/deep/../../..", OUT),
    p("sub/deep/../../a.txt", "a.txt"),
    p("sub/deep/../../sub/deep/../../..", OUT),
    p("sub/../../x", OUT),
    p("a/../../x", ERR),
    p("new/..", ERR),
    p("new/../a.txt", ERR),
    p("sub/new/../b.txt", ERR),
    p("../" * 12 + "etc/passwd", OUT, id="many-dotdot-etc-passwd"),
    p("...", "..."),
    p("..../x", "..../x"),
    p("sub/...", "sub/..."),
    p(".. /x", ".. /x"),
    p("../rootevil/file.txt", OUT),
    # absolute paths
    p("<ROOT>", "."),
    p("<ROOT>/", "."),
    p("<ROOT>/a.txt", "a.txt"),
    p("<ROOT>//sub/./b.txt", "sub/b.txt"),
    p("<ROOT>/sub/../a.txt", "a.txt"),
    p("<ROOT>/new.txt", "new.txt"),
    p("<ROOT>/..", OUT),
    p("<ROOT>/../outside/secret.txt", OUT),
    p("<ROOT>/../rootevil/file.txt", OUT),
    p("<TMP>/rootevil/file.txt", OUT),
    p("<TMP>/outside/secret.txt", OUT),
    p("<TMP>/alias/a.txt", "a.txt"),
    p("<TMP>/alias/../outside/secret.txt", OUT),
    p("/etc/..<ROOT>/a.txt", "a.txt"),
    p("/etc/passwd", OUT),
    p("/etc/shadow", OUT),
    p("/", OUT),
    p("//etc/passwd", OUT),
    p("///", OUT),
    p("/dev/null", OUT),
    p("/proc/self/root/etc/passwd", OUT),
    p("/nonexistent-codive-guard/x", OUT),
    p("<ROOT>/link_out/secret.txt", OUT),
    # "~" is an ordinary name
    p("~", "~"),
    p("~/home.txt", "~/home.txt"),
    p("~/x", "~/x"),
    p("~root", "~root"),
    p("~root/.ssh/id_rsa", "~root/.ssh/id_rsa"),
    p("~/../a.txt", "a.txt"),
    p("~/../../outside/secret.txt", OUT),
    p("$HOME/x", "$HOME/x"),
    p("${HOME}", "${HOME}"),
    # NUL bytes
    p("a.txt\x00", ERR, id="nul-end"),
    p("\x00", ERR, id="nul-only"),
    p("sub/\x00/../../etc/passwd", ERR, id="nul-middle"),
    p("<ROOT>/a.txt\x00/../../outside", ERR, id="nul-absolute"),
    # lengths (bytes, not characters)
    p("x" * 255, "x" * 255, id="name-255"),
    p("x" * 256, ERR, id="name-256"),
    p("é" * 127, "é" * 127, id="name-254-bytes-utf8"),
    p("é" * 128, ERR, id="name-256-bytes-utf8"),
    p("sub/" + "y" * 300, ERR, id="sub-name-300"),
    p("a/" * 2048, ERR, id="path-4096"),
    p("./" * 2100 + "a.txt", ERR, id="dots-4205"),
    p("../" * 1500, ERR, id="dotdot-4500"),
    p(LONG_PATH, ERR, id="resolved-too-long"),
    # symlinked folders
    p("link_out", OUT),
    p("link_out/", OUT),
    p("link_out/secret.txt", OUT),
    p("link_out/new.txt", OUT),
    p("link_out/newdir/new.txt", OUT),
    p("link_out/..", OUT),
    p("link_out/../root/a.txt", "a.txt"),
    p("abs_out/secret.txt", OUT),
    p("abs_out/dir/inner.txt", OUT),
    p("link_in", "sub"),
    p("link_in/b.txt", "sub/b.txt"),
    p("link_in/deep/c.txt", "sub/deep/c.txt"),
    p("link_in/../a.txt", "a.txt"),
    p("link_in/../../outside/secret.txt", OUT),
    p("link_in/new.txt", "sub/new.txt"),
    p("abs_in/b.txt", "sub/b.txt"),
    p("rootlink/rootlink/rootlink/a.txt", "a.txt"),
    p("etc_link/passwd", OUT),
    p("slash_link", OUT),
    p("slash_link/etc/passwd", OUT),
    p("slash_link<ROOT>/a.txt", "a.txt"),
    # symlinked files, dangling links, chains, loops, relative links with ".."
    p("file_out", OUT),
    p("file_in", "a.txt"),
    p("dangle_in", "missing.txt"),
    p("dangle_in/x", "missing.txt/x"),
    p("dangle_out", OUT),
    p("dangle_abs_out", OUT),
    p("dangle_dir_out/x.txt", OUT),
    p("chain1", "a.txt"),
    p("chain_out1", OUT),
    p("loop1", ERR),
    p("loop1/x", ERR),
    p("self_loop", ERR),
    p("sub/up", "a.txt"),
    p("sub/up_out", OUT),
    p("sub/updir", "."),
    p("sub/updir/a.txt", "a.txt"),
    p("sub/updir2", OUT),
    p("sub/updir2/outside/secret.txt", OUT),
    p("sub/updir2/root/a.txt", "a.txt"),
    # through a file
    p("a.txt/b", ERR),
    p("a.txt/..", ERR),
    p("file_in/x", ERR),
    # backslashes and URL encoding are literal characters
    p("..\\..\\etc\\passwd", "..\\..\\etc\\passwd"),
    p("..\\", "..\\"),
    p("sub\\b.txt", "sub\\b.txt"),
    p("back\\slash.txt", "back\\slash.txt"),
    p("C:\\Windows\\system32", "C:\\Windows\\system32"),
    p("\\\\server\\share\\x", "\\\\server\\share\\x"),
    p("%2e%2e/%2e%2e/etc/passwd", "%2e%2e/%2e%2e/etc/passwd"),
    p("%2e%2e%2fetc%2fpasswd", "%2e%2e%2fetc%2fpasswd"),
    p("..%2f..%2foutside", "..%2f..%2foutside"),
    p("file:///etc/passwd", "file:/etc/passwd"),
    # Unicode look-alikes of "." and "/" are ordinary characters
    p("\u2024\u2024/\u2024\u2024/etc/passwd", "\u2024\u2024/\u2024\u2024/etc/passwd"),
    p("\u2025", "\u2025"),
    p(
        "\uff0e\uff0e/\uff0e\uff0e/outside/secret.txt",
        "\uff0e\uff0e/\uff0e\uff0e/outside/secret.txt",
    ),
    p("..\u2215..\u2215outside\u2215secret.txt", "..\u2215..\u2215outside\u2215secret.txt"),
    p("..\uff0f..\uff0fetc\uff0fpasswd", "..\uff0f..\uff0fetc\uff0fpasswd"),
    p("sub\u2215b.txt", "sub\u2215b.txt"),
    p(".\u0338./x", ".\u0338./x"),
    # other unusual names
    p(NFC_NAME, NFC_NAME, id="nfc-existing"),
    p(NFD_NAME, NFD_NAME, id="nfd-distinct"),
    p("日本語/ファイル.txt", "日本語/ファイル.txt"),
    p("with space.txt", "with space.txt"),
    p(" a.txt", " a.txt"),
    p("a.txt ", "a.txt "),
    p("new\nline.txt", "new\nline.txt"),
    p("\n", "\n"),
    p("..\n", "..\n"),
    p("*", "*"),
    p("sub/*", "sub/*"),
    p("-rf", "-rf"),
    p("\udcff", "\udcff", id="surrogateescape-byte"),
    p("\ud800", ERR, id="lone-surrogate"),
    # case variations (a case-sensitive file system: new names)
    p("A.TXT", "A.TXT"),
    p("SUB/b.txt", "SUB/b.txt"),
    p("sub/B.TXT", "sub/B.TXT"),
]


def test_enough_path_cases() -> None:
    assert len(PATH_CASES) >= 100


@pytest.mark.parametrize(("path", "expected"), PATH_CASES)
def test_resolve(
    guard: WorkspaceGuard, tree: tuple[Path, Path], path: str, expected: Expected
) -> None:
    tmp, root = tree
    argument = path.replace("<ROOT>", str(root)).replace("<TMP>", str(tmp))
    if isinstance(expected, str):
        resolved = guard.resolve(argument)
        assert resolved == (root if expected == "." else root / expected)
        assert resolved == root or root in resolved.parents
        assert resolved.is_absolute()
        return
    with pytest.raises(ToolError) as info:
        guard.resolve(argument)
    assert type(info.value) is expected
    message = str(info.value)
    assert message
    if expected is OutsideWorkspace:
        assert "outside the workspace root" in message
        assert repr(argument) in message


def test_case_variation_of_a_symlink(guard: WorkspaceGuard, tree: tuple[Path, Path]) -> None:
    """On a case-insensitive file system LINK_OUT is link_out: it must then be refused."""
    root = tree[1]
    if os.path.lexists(root / "LINK_OUT"):
        with pytest.raises(OutsideWorkspace):
            guard.resolve("LINK_OUT/secret.txt")
    else:
        assert guard.resolve("LINK_OUT/secret.txt") == root / "LINK_OUT" / "secret.txt"


def test_root_is_resolved(tree: tuple[Path, Path]) -> None:
    tmp, root = tree
    guard = WorkspaceGuard(tmp / "alias")
    assert guard.root == root
    assert guard.resolve("a.txt") == root / "a.txt"
    assert guard.resolve(str(tmp / "alias" / "a.txt")) == root / "a.txt"


def test_not_a_string(guard: WorkspaceGuard) -> None:
    with pytest.raises(ToolError, match="string"):
        guard.resolve(cast(Any, 123))


def test_outside_message(guard: WorkspaceGuard, tree: tuple[Path, Path]) -> None:
    tmp, root = tree
    with pytest.raises(OutsideWorkspace) as info:
        guard.resolve("link_out/secret.txt")
    error = info.value
    assert "'link_out/secret.txt'" in str(error)
    assert "outside the workspace root" in str(error)
    assert str(root) in str(error)
    assert error.resolved == tmp / "outside" / "secret.txt"
    assert error.root == root
    assert isinstance(error, ToolError)


def test_symlink_created_after_construction(tmp_path: Path) -> None:
    """As if `bash` made a link mid-run: each call resolves afresh."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret\n")
    root = tmp_path / "root"
    (root / "swap").mkdir(parents=True)
    guard = WorkspaceGuard(root)
    root = guard.root

    assert guard.resolve("later/secret.txt") == root / "later" / "secret.txt"
    assert guard.resolve("swap/secret.txt") == root / "swap" / "secret.txt"
    assert guard.resolve("late_file") == root / "late_file"

    (root / "later").symlink_to(outside)
    (root / "swap").rmdir()
    (root / "swap").symlink_to("../outside")
    (root / "late_file").symlink_to(outside / "secret.txt")
    for path in ("later/secret.txt", "later", "swap/secret.txt", "swap/new.txt", "late_file"):
        with pytest.raises(OutsideWorkspace):
            guard.resolve(path)


def test_relative(guard: WorkspaceGuard, tree: tuple[Path, Path]) -> None:
    tmp, root = tree
    assert guard.relative(root) == "."
    assert guard.relative(root / "sub" / "b.txt") == "sub/b.txt"
    assert guard.relative(tmp / "outside" / "secret.txt") == str(tmp / "outside" / "secret.txt")
    assert guard.relative(Path("sub/b.txt")) == "sub/b.txt"


SECRET_CASES = [
    (".env", True),
    (".env.local", True),
    (".env.production", True),
    (".ENV", True),
    ("prod.env", True),
    ("config/.env", True),
    (".env.example", False),
    (".env.sample", False),
    (".env.template", False),
    (".env.local.example", False),
    ("environment.py", False),
    ("env.py", False),
    (".envrc", True),
    ("server.pem", True),
    ("tls/private.KEY", True),
    ("cert.p12", True),
    ("cert.pfx", True),
    ("release.keystore", True),
    ("app.jks", True),
    ("id_rsa", True),
    ("ID_RSA", True),
    ("id_ed25519", True),
    ("id_ecdsa", True),
    ("id_dsa", True),
    ("id_ed25519_sk", True),
    ("id_github", True),
    (".ssh/id_work.old", True),
    ("id_rsa.pub", False),
    ("id_ed25519.pub", False),
    ("id_utils.py", False),
    (".netrc", True),
    ("_netrc", True),
    (".npmrc", True),
    (".pypirc", True),
    (".git-credentials", True),
    (".pgpass", True),
    ("home/u/.aws/credentials", True),
    ("home/u/.aws/config", True),
    ("home/u/.config/gcloud/application_default_credentials.json", True),
    ("home/u/.config/gcloud/credentials.db", True),
    ("home/u/.config/gcloud/configurations/config_default", False),
    ("home/u/.azure/msal_token_cache.json", True),
    ("home/u/.docker/config.json", True),
    ("home/u/.kube/config", True),
    ("config.json", False),
    ("config", False),
    ("secrets.yaml", True),
    ("Secrets.JSON", True),
    ("credentials.json", True),
    ("client_secret_123.apps.googleusercontent.com.json", True),
    ("secret_santa.py", False),
    ("README.md", False),
    ("src/main.py", False),
    ("keys.py", False),
    ("package.json", False),
]


def test_enough_secret_cases() -> None:
    assert len(SECRET_CASES) >= 30
    assert {expected for _, expected in SECRET_CASES} == {True, False}


@pytest.mark.parametrize(("name", "expected"), SECRET_CASES)
def test_is_secret(guard: WorkspaceGuard, name: str, expected: bool) -> None:
    assert guard.is_secret(guard.root / name) is expected
    assert guard.is_secret(Path(name)) is expected


@pytest.fixture
def protected(tmp_path: Path) -> tuple[WorkspaceGuard, Path, Path, Path]:
    root = tmp_path / "repo"
    (root / "sub").mkdir(parents=True)
    (root / "codive.toml").write_text("[agent]\n")
    (root / "notes.txt").write_text("notes\n")
    config = tmp_path / "config" / "codive"
    config.mkdir(parents=True)
    (config / "codive.toml").write_text("")
    (tmp_path / "config" / "codive2").mkdir()
    trust = tmp_path / "data" / "trust.json"
    trust.parent.mkdir()
    trust.write_text("{}")
    (root / "cfg_link").symlink_to(config)
    (root / "trust_link").symlink_to(trust)
    os.link(trust, root / "innocent.json")
    guard = WorkspaceGuard(root, protected=[config, trust])
    return guard, guard.root, config, trust


PROTECTED_CASES = [
    ("<ROOT>/codive.toml", True),
    ("<ROOT>/sub/codive.toml", True),
    ("<ROOT>/CODIVE.TOML", True),
    ("<ROOT>/codive.toml.bak", False),
    ("<ROOT>/notes.txt", False),
    ("<ROOT>", False),
    ("<CONFIG>", True),
    ("<CONFIG>/codive.toml", True),
    ("<CONFIG>/new/deeper.toml", True),
    ("<CONFIG>2/x.toml", False),
    ("<TRUST>", True),
    ("<TRUST>.bak", False),
    ("<ROOT>/cfg_link/other.toml", True),
    ("<ROOT>/trust_link", True),
    ("<ROOT>/innocent.json", True),
]


@pytest.mark.parametrize(("path", "expected"), PROTECTED_CASES)
def test_is_protected(
    protected: tuple[WorkspaceGuard, Path, Path, Path], path: str, expected: bool
) -> None:
    guard, root, config, trust = protected
    real = (
        path.replace("<ROOT>", str(root))
        .replace("<CONFIG>", str(config))
        .replace("<TRUST>", str(trust))
    )
    assert guard.is_protected(Path(real)) is expected


def test_is_protected_relative_and_resolved(
    protected: tuple[WorkspaceGuard, Path, Path, Path],
) -> None:
    guard = protected[0]
    assert guard.is_protected(Path("codive.toml"))
    with pytest.raises(OutsideWorkspace):
        guard.resolve("cfg_link/codive.toml")
    assert guard.is_protected(guard.resolve("codive.toml"))
    assert not guard.is_protected(guard.resolve("notes.txt"))
