# Two commands set everything up: `make run` and `make test`. The virtualenv is ours.
# `make run` installs what the service needs; `make test` (and lint, format, bench) adds the
# test extras. Each install has its own stamp, so either order works.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: run test test-fast bench lint format screenshots clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

# The dev install includes the service's own dependencies: it is a run install too.
$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(RUN_STAMP)

run: $(RUN_STAMP)
	$(BIN)/baas run

test: $(DEV_STAMP)
	$(BIN)/pytest -q $(PYTEST_ARGS)

# The pure core's unit tests: no store, no process.
test-fast: $(DEV_STAMP)
	$(BIN)/pytest -q tests/unit $(PYTEST_ARGS)

# PNGs of every console page, desktop and phone width, from the browser tests' data (Chromium:
# apt-get install chromium).
screenshots: $(DEV_STAMP)
	CONSOLE_SCREENSHOTS_DIR=docs/img $(BIN)/pytest -q -rs tests/console/test_console_browser.py -k screenshots

bench: $(DEV_STAMP)
	$(BIN)/python -m bench

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(DEV_STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) var .pytest_cache
