"""When llama-server cannot start or dies, codive names the cause and the fix that matches it.

Each case runs codive as a process against a small fake `llama-server` (a shell script) that
fails one way: killed by a signal, a message llama.cpp prints, or not runnable at all.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from codive_cli.providers.llama_server import REBUILD_COMMAND, diagnose_exit

CODIVE = str(Path(sys.executable).parent / "codive")
GGUF = b"GGUF" + bytes(60)  # the magic is all codive checks before starting the server


def fake_server(tmp_path: Path, body: str) -> Path:
    script = tmp_path / "llama-server"
    script.write_text(
        "#!/bin/sh\nulimit -c 0\n"  # no core files from the signals below
        "echo 'main: build = 1 (abc) with cc for x86_64-linux-gnu'\n"
        "echo 'cmn  init: llama threadpool init, n_threads = 2'\n" + body + "\n"
    )
    script.chmod(0o755)
    return script


def run_codive(tmp_path: Path, server: Path, *args: str, model: Path | None = None) -> Any:
    if model is None:
        model = tmp_path / "model.gguf"
        model.write_bytes(GGUF)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CODIVE_", "OPENAI_", "ANTHROPIC_"))
    }
    env.update(
        HOME=str(tmp_path),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        XDG_DATA_HOME=str(tmp_path / "data"),
        CODIVE_PROVIDER__NAME="embedded",
        CODIVE_PROVIDERS__EMBEDDED__SERVER_PATH=str(server),
        CODIVE_PROVIDERS__EMBEDDED__MODEL_PATH=str(model),
    )
    (tmp_path / ".git").mkdir(exist_ok=True)
    return subprocess.run(
        [CODIVE, *(args or ("complete", "--no-tools", "hi"))],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def lines(result: Any) -> tuple[str, str]:
    """The error line and the hint line codive printed."""
    assert "Traceback" not in result.stderr, result.stderr
    error = next(line for line in result.stderr.splitlines() if line.startswith("error: "))
    hint = next(line for line in result.stderr.splitlines() if line.startswith("  hint: "))
    return error, hint


WRONG_WAY = ("model file", "model_path", "download")


def test_sigill_says_the_cpu_lacks_instructions_and_gives_the_rebuild_command(
    tmp_path: Path,
) -> None:
    result = run_codive(tmp_path, fake_server(tmp_path, "kill -ILL $$"))
    assert result.returncode == 1
    error, hint = lines(result)
    assert "SIGILL" in error and "CPU instructions this machine lacks" in error
    assert "rebuild your llama-server portable (cmake -DGGML_NATIVE=OFF)" in hint
    assert not any(word in hint for word in WRONG_WAY)
    assert "llama threadpool init" in result.stderr  # its last words are shown too


def test_sigill_of_codives_own_build_names_the_exact_command() -> None:
    for code in (-signal.SIGILL, 128 + signal.SIGILL):
        found = diagnose_exit(code, "llama threadpool init\n", port=8080)
        assert found.fix == f"rebuild it portable: {REBUILD_COMMAND}"
        assert REBUILD_COMMAND == "codive setup local --rebuild"


@pytest.mark.parametrize(
    ("body", "cause", "fix"),
    [
        ("kill -SEGV $$", "SIGSEGV (segmentation fault)", "rebuild your llama-server portable"),
        ("kill -BUS $$", "SIGBUS", "model file is complete"),
        ("kill -KILL $$", "out-of-memory killer", "lower [providers.embedded] ctx_size"),
        (
            "echo 'ggml_aligned_malloc: insufficient memory (attempted to allocate 9000 MB)'"
            "; exit 1",
            "ran out of memory",
            "choose a smaller model_path",
        ),
        (
            "echo 'srv  init: couldn'\\''t bind HTTP server socket, hostname: 127.0.0.1, "
            "port: 8080'; exit 1",
            "already in use",
            "--port",
        ),
        (
            "echo 'gguf_init_from_file_impl: invalid magic characters: zzzz'; exit 1",
            "not a GGUF file",
            ".gguf",
        ),
        (
            "echo 'llama_model_load: error loading model: unknown model architecture'; exit 1",
            "could not load the model",
            "download the model again",
        ),
        (
            "echo 'llama-server: error while loading shared libraries: libggml.so: cannot "
            "open shared object file'; exit 127",
            "shared library libggml.so: is missing",
            "reinstall it",
        ),
        ("exit 3", "exited with status 3 after: cmn  init", "codive doctor"),
    ],
    ids=[
        "sigsegv",
        "sigbus",
        "oom-killer",
        "oom-log",
        "port",
        "not-gguf",
        "bad-model",
        "no-library",
        "exit-status",
    ],
)
def test_each_way_of_dying_has_its_own_cause_and_fix(
    tmp_path: Path, body: str, cause: str, fix: str
) -> None:
    result = run_codive(tmp_path, fake_server(tmp_path, body))
    assert result.returncode == 1
    error, hint = lines(result)
    assert cause in error
    assert fix in hint


def test_model_missing_or_not_gguf_is_refused_before_starting_anything(tmp_path: Path) -> None:
    marker = tmp_path / "started"
    server = fake_server(tmp_path, f"touch {marker}; exit 1")
    result = run_codive(tmp_path, server, model=tmp_path / "absent.gguf")
    assert result.returncode == 2
    error, hint = lines(result)
    assert "absent.gguf not found" in error and "model_path" in hint
    text = tmp_path / "notes.gguf"
    text.write_text("just some text\n")
    result = run_codive(tmp_path, server, model=text)
    assert result.returncode == 2
    error, _ = lines(result)
    assert "is not a GGUF model file" in error
    assert not marker.exists()


def test_binary_missing_or_not_executable(tmp_path: Path) -> None:
    result = run_codive(tmp_path, tmp_path / "no-such-server")
    error, hint = lines(result)
    assert result.returncode == 1
    assert "llama-server is missing" in error and REBUILD_COMMAND in hint
    plain = tmp_path / "plain-file"
    plain.write_text("not a program\n")
    result = run_codive(tmp_path, plain)
    error, _ = lines(result)
    assert "is not executable" in error


def test_serve_on_a_taken_port_says_so_without_starting(tmp_path: Path) -> None:
    marker = tmp_path / "started"
    server = fake_server(tmp_path, f"touch {marker}; sleep 30")
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = run_codive(tmp_path, server, "serve", "--port", str(port))
    assert result.returncode == 2
    error, hint = lines(result)
    assert f"port {port} on 127.0.0.1 is already in use" in error and "--port" in hint
    assert not marker.exists()


def test_serve_reports_a_crash_while_serving(tmp_path: Path) -> None:
    # healthy for a moment (a tiny HTTP server answers /health), then killed by SIGILL
    health = tmp_path / "health.py"
    health.write_text(
        "import http.server, sys, threading, os, signal, time\n"
        "class H(http.server.BaseHTTPRequestHandler):\n"
        "    def do_GET(self):\n"
        "        self.send_response(200); self.end_headers(); self.wfile.write(b'{}')\n"
        "    def log_message(self, *a): pass\n"
        "port = int(sys.argv[sys.argv.index('--port') + 1])\n"
        "s = http.server.HTTPServer(('127.0.0.1', port), H)\n"
        "threading.Thread(target=s.serve_forever, daemon=True).start()\n"
        "time.sleep(1.5)\n"
        "os.kill(os.getpid(), signal.SIGILL)\n"
    )
    server = fake_server(tmp_path, f'exec "{sys.executable}" "{health}" "$@"')
    result = run_codive(tmp_path, server, "serve")
    assert result.returncode == 1
    error, hint = lines(result)
    assert "SIGILL" in error and "its last words (while serving)" in result.stderr
    assert "cmake -DGGML_NATIVE=OFF" in hint


def test_doctor_shows_the_embedded_check_with_the_same_diagnosis(tmp_path: Path) -> None:
    result = run_codive(tmp_path, fake_server(tmp_path, "kill -ILL $$"), "doctor")
    assert result.returncode == 1
    assert "✓ embedded server: " in result.stdout
    assert "✗ embedded answers: llama-server was killed by SIGILL" in result.stdout
    assert "fix: rebuild your llama-server portable" in result.stdout


def test_a_project_file_cannot_choose_the_server_program(tmp_path: Path) -> None:
    from codive_cli.settings import trust

    data = {"providers": {"embedded": {"server_path": "./evil", "ctx_size": 4096}}}
    kept, ignored = trust.restrict(data)
    assert ignored == ["providers.embedded.server_path"]
    assert kept["providers"]["embedded"] == {"ctx_size": 4096}
    data = {"providers": {"mine": {"kind": "embedded", "server_path": "./evil"}}}
    _, ignored = trust.restrict(data)
    assert ignored == ["providers.mine.server_path"]
