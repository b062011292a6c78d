"""Session fixtures: a real llama-server for the tests marked `llama`; named pipes."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests import llama_server


@pytest.fixture(scope="session")
def llama_url() -> Iterator[str]:
    with llama_server.running_server(llama_server.test_model()) as url:
        yield url


@pytest.fixture
def make_fifo() -> Iterator[Callable[[Path], Path]]:
    """Create named pipes (FIFOs). Afterwards any reader left blocked on one (a tool that
    opened it by mistake) is let go, so that a failing test cannot hang the whole run."""
    made: list[Path] = []

    def make(path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.mkfifo(path)
        made.append(path)
        return path

    yield make
    for path in made:
        with contextlib.suppress(OSError):  # ENXIO: nobody is reading it, as it should be
            os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
