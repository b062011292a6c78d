"""Session fixtures: a real llama-server for the tests marked `llama`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests import llama_server


@pytest.fixture(scope="session")
def llama_url() -> Iterator[str]:
    with llama_server.running_server(llama_server.test_model()) as url:
        yield url
