# One entry point for set-up, tests and checks; CI runs `make install` then `make test`.
PYTHON ?= python3
PIP := $(PYTHON) -m pip
# The embedded model's llama-server is built by `codive setup local`: portable CPU flags by
# default, `make install LLAMA_NATIVE=1` for a build tuned to this CPU only (docs/local-model.md).
# The first build takes 10-15 minutes on 2 cores; codive caches it under a key of its flags.
LLAMA_NATIVE ?=

.PHONY: install test test-fast lint format typecheck check bench clean

install:
	$(PIP) install --upgrade-strategy only-if-needed -e '.[dev]'
	$(PYTHON) -m codive_cli setup local $(if $(filter 1 yes true,$(LLAMA_NATIVE)),--native)

test:
	$(PYTHON) -m pytest

test-fast:
	$(PYTHON) -m pytest -m "not llama"

lint:
	$(PYTHON) -m ruff format --check .
	$(PYTHON) -m ruff check .

format:
	$(PYTHON) -m ruff format .
	$(PYTHON) -m ruff check --fix .

typecheck:
	$(PYTHON) -m mypy

check: lint typecheck test

bench:
	$(PYTHON) bench/startup.py
	$(PYTHON) bench/embedded.py
	$(PYTHON) bench/render.py
	$(PYTHON) bench/search.py
	$(PYTHON) bench/sandbox.py
	$(PYTHON) bench/sessions.py
	$(PYTHON) bench/files.py
	$(PYTHON) bench/requests.py

clean:
	rm -rf build dist *.egg-info .mypy_cache .ruff_cache
