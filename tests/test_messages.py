"""What codive says when something is wrong: each message a new user met, checked."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from codive_cli.errors import ApiError, ModelNotFound
from codive_cli.provider import ChatMessage, CompletionRequest
from tests.helpers import Recorder, isolated_env, make_provider
from tests.scripted_server import ScriptedServer


def codive(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    return subprocess.run(
        [sys.executable, "-m", "codive_cli", *args],
        cwd=work,
        env=isolated_env(tmp_path),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )


@pytest.mark.parametrize("url", ["127.0.0.1:18001", "localhost:8080/v1"])
def test_a_base_url_without_a_scheme_is_a_configuration_error(tmp_path: Path, url: str) -> None:
    result = codive(tmp_path, "complete", "-p", "local_llm", "--base-url", url, "hi")
    assert result.returncode == 2, result.stderr
    assert f"base URL '{url}' has no scheme" in result.stderr
    assert f"http://{url}" in result.stderr
    assert "network error" not in result.stderr


def test_a_wrong_path_says_to_check_base_url_and_v1(tmp_path: Path) -> None:
    with ScriptedServer([{"text": "never"}]) as server:
        base = server.url("/wrong")
        result = codive(tmp_path, "complete", "-p", "local_llm", "--base-url", base, "hi")
    assert result.returncode == 1
    assert "base_url" in result.stderr and "/v1" in result.stderr
    assert f"({base})" in result.stderr  # where the requests went


def request() -> CompletionRequest:
    return CompletionRequest([ChatMessage("user", "hi")])


async def test_a_bare_404_is_a_wrong_path_not_a_missing_model() -> None:
    """Ollama and other Go servers answer an unknown path with `404 page not found`."""
    recorder = Recorder(httpx.Response(404, text="404 page not found"))
    provider = make_provider("local_llm", recorder, base_url="http://127.0.0.1:11434/api")
    with pytest.raises(ApiError) as caught:
        await provider.complete(request())
    assert not isinstance(caught.value, ModelNotFound)
    assert "http://127.0.0.1:11434/api" in caught.value.hint and "/v1" in caught.value.hint


async def test_a_404_naming_the_model_is_still_a_missing_model() -> None:
    body = {"error": {"message": 'model "llama3" not found, try pulling it first'}}
    recorder = Recorder(httpx.Response(404, json=body))
    provider = make_provider("local_llm", recorder, base_url="http://127.0.0.1:11434/v1")
    with pytest.raises(ModelNotFound):
        await provider.complete(request())


def test_one_model_call_is_singular(tmp_path: Path) -> None:
    loop = {"tool_calls": [{"id": "x", "name": "list_dir", "arguments": {}}]}
    with ScriptedServer([loop, loop]) as server:
        base = server.url("/v1")
        result = codive(
            tmp_path, "complete", "-p", "local_llm", "--base-url", base, "--max-steps", "1", "go"
        )
    assert "stopped after 1 model call (--max-steps)" in result.stderr


@pytest.mark.parametrize(
    ("typo", "meant"),
    [("anthropc", "anthropic"), ("local-llm", "local_llm"), ("opneai", "openai")],
)
def test_an_unknown_provider_suggests_the_near_one(tmp_path: Path, typo: str, meant: str) -> None:
    result = codive(tmp_path, "complete", "-p", typo, "hi")
    assert result.returncode == 2
    assert f"unknown provider '{typo}'; did you mean '{meant}'?" in result.stderr


def test_an_unknown_config_key_suggests_the_near_one(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "codive.toml").write_text(
        '[agent]\npermision_mode = "ask"\n\n[providers.groq]\nkind = "openai"\nbase_ur = "x"\n'
    )
    result = codive(tmp_path, "complete", "-p", "local_llm", "hi")
    assert result.returncode == 2
    assert "unknown key" in result.stderr and "did you mean" in result.stderr
    (work / "codive.toml").write_text('[providers.groq]\nkind = "openai"\nbase_ur = "x"\n')
    result = codive(tmp_path, "complete", "-p", "local_llm", "hi")
    assert "codive.toml:3: unknown key 'providers.groq.base_ur'; did you mean 'base_url'?" in (
        result.stderr
    )
    (work / "codive.toml").write_text("[agent]\nnothing_like_it = 1\n")
    result = codive(tmp_path, "complete", "-p", "local_llm", "hi")
    assert "unknown key 'agent.nothing_like_it'" in result.stderr
    assert "did you mean" not in result.stderr


def test_a_model_without_prices_passes_without_a_fix() -> None:
    from codive_cli.app.doctor import _model_check
    from codive_cli.provider import ProviderConfig
    from codive_cli.providers import create_provider

    provider = create_provider(ProviderConfig("openai", model="gpt-9-preview", api_key="k"))
    check = _model_check(provider, known=[])
    assert check.ok and not check.fix
    assert "no prices or limits" in check.detail
