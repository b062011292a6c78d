"""Third-party providers: the guide's example plugin, found through its entry point."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

import pytest

from codive_cli.errors import ConfigError
from codive_cli.provider import ChatMessage, CompletionRequest, ProviderConfig, TextDelta
from codive_cli.providers import create_provider, provider_class, provider_names
from tests.scripted_server import ScriptedServer

ROOT = Path(__file__).parent.parent
PLUGIN = ROOT / "examples" / "local_llm_plugin"
GUIDE = ROOT / "docs" / "custom-providers.md"


def install_plugin(site: Path) -> None:
    """What `pip install` leaves behind: the package plus dist-info with entry points."""
    dist = site / "codive_local_llm-0.1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: codive-local-llm\nVersion: 0.1.0\n"
    )
    (dist / "entry_points.txt").write_text(
        "[codive.providers]\nmy_local_llm = codive_local_llm:LocalLlmProvider\n"
    )
    (site / "codive_local_llm").symlink_to(PLUGIN / "codive_local_llm")


def run_codive(site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CODIVE_", "ANTHROPIC_"))}
    env["PYTHONPATH"] = str(site)
    code = "import sys; from codive_cli.cli import main; sys.argv[0] = 'codive'; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )


def test_plugin_is_found_through_its_entry_point(tmp_path: Path) -> None:
    install_plugin(tmp_path)
    with ScriptedServer([{"text": "Hello from the plugin.", "chunks": 4}]) as server:
        result = run_codive(
            tmp_path, "complete", "-p", "my_local_llm", "--base-url", server.base_url, "hi"
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout == "Hello from the plugin.\n"
        [request] = server.model_requests
        assert request["path"] == "/v1/chat/completions"
    listed = run_codive(tmp_path, "models", "-p", "my_local_llm", "--json")
    assert listed.returncode == 0, listed.stderr
    assert '"local-13b"' in listed.stdout
    unknown = run_codive(tmp_path, "models", "-p", "nope")
    assert unknown.returncode == 2
    assert "my_local_llm" in unknown.stderr  # the known names include the plugin


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError) as caught:
        provider_class("nope")
    assert "anthropic, openai, local_llm" in caught.value.hint
    assert provider_names()[:3] == ["anthropic", "openai", "local_llm"]


@pytest.fixture
def example_module() -> object:
    sys.path.insert(0, str(PLUGIN))
    try:
        import codive_local_llm

        yield codive_local_llm
    finally:
        sys.path.remove(str(PLUGIN))


async def test_example_streams_completes_and_reports_errors(example_module: object) -> None:
    from codive_cli.errors import ApiError

    provider_cls = example_module.LocalLlmProvider  # type: ignore[attr-defined]
    request = CompletionRequest([ChatMessage("user", "Count to 5")], max_tokens=100)
    replies: list[dict[str, Any]] = [
        {"text": "1 2 3 4 5", "chunks": 5},
        {"text": "Hello!"},
        {"tool_calls": [{"id": "c1", "name": "read_file", "arguments": {"path": "x"}}]},
        {"status": 500, "body": {"error": {"message": "boom"}}},
        {"text": "partial", "cut": True, "framing": "close"},
    ]
    with ScriptedServer(replies) as server:
        provider = provider_cls(ProviderConfig("my_local_llm", base_url=server.base_url))
        async with provider:
            events = [e async for e in provider.stream(request)]
            assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "1 2 3 4 5"
            assert (await provider.complete(request)).content == "Hello!"
            called = await provider.complete(request)
            assert called.tool_calls[0].arguments == {"path": "x"}
            assert called.stop_reason == "tool_use"
            with pytest.raises(ApiError):
                await provider.complete(request)
            from codive_cli.errors import NetworkError

            with pytest.raises(NetworkError):
                await provider.complete(request)
        assert server.model_requests[0]["json"]["model"] == "local-7b"


def test_guide_shows_the_tested_example() -> None:
    """The code in docs/custom-providers.md is the code these tests run."""
    guide = GUIDE.read_text()
    source = (PLUGIN / "codive_local_llm" / "__init__.py").read_text()
    assert f"```python\n{source}```" in guide
    entry_points = (PLUGIN / "pyproject.toml").read_text()
    assert 'my_local_llm = "codive_local_llm:LocalLlmProvider"' in entry_points
    assert 'my_local_llm = "codive_local_llm:LocalLlmProvider"' in guide


def test_create_provider_builds_the_builtins() -> None:
    for name in ("anthropic", "openai", "local_llm"):
        assert create_provider(ProviderConfig(name)).name == name


def fresh_venv_seeing_this_one(venv: Path) -> Path:
    """A venv with no packages of its own that sees this environment's (codive, pip, and
    the setuptools the dev extra declares), however this one was made: `--system-site-packages`
    would show the base interpreter's instead when the tests run in a venv, and a venv's own
    bundled setuptools is too old to build wheels."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    query = "import sysconfig; print(sysconfig.get_path('purelib'))"
    site = subprocess.run([python, "-c", query], capture_output=True, text=True, check=True)
    ours = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    line = "; ".join(f"site.addsitedir({path!r})" for path in sorted(ours))
    (Path(site.stdout.strip()) / "_outer_environment.pth").write_text(f"import site; {line}\n")
    return python


def test_plugin_installed_with_pip_into_a_fresh_environment(tmp_path: Path) -> None:
    """pip builds and installs the example package; codive finds it with no change."""
    python = fresh_venv_seeing_this_one(tmp_path / "venv")
    source = tmp_path / "plugin"  # build from a copy: pip leaves build/ beside the sources
    shutil.copytree(PLUGIN, source, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    install = subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stderr
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CODIVE_", "PYTHONPATH"))}
    code = "import sys; from codive_cli.cli import main; sys.argv[0] = 'codive'; main()"
    with ScriptedServer([{"text": "Installed and working."}]) as server:
        result = subprocess.run(
            [
                str(python),
                "-c",
                code,
                "complete",
                "-p",
                "my_local_llm",
                "--base-url",
                server.base_url,
                "--no-tools",
                "hi",
            ],
            capture_output=True,
            text=True,
            env=env,
            stdin=subprocess.DEVNULL,
            timeout=60,
            cwd=tmp_path,
        )
        listed = subprocess.run(
            [str(python), "-c", code, "models", "-p", "my_local_llm", "--json"],
            capture_output=True,
            text=True,
            env=env,
            stdin=subprocess.DEVNULL,
            timeout=60,
            cwd=tmp_path,
        )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Installed and working.\n"
    assert listed.returncode == 0, listed.stderr
    models = json.loads(listed.stdout)
    assert models and {m["provider"] for m in models} == {"my_local_llm"}  # whose they are
