# Two commands on a fresh clone: `make demo` and `make test`. Everything else here serves them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export PREFECT_SERVER_ANALYTICS_ENABLED ?= false
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS ?= 60
export DO_NOT_TRACK ?= 1

.PHONY: install demo test lint typecheck pytest bench clean

install: $(STAMP)

# The simulator is a distribution of its own (src/retell_sim): installing it from there in the same
# command is what satisfies campaigner's `sim` extra.
$(STAMP): pyproject.toml src/retell_sim/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ./src/retell_sim -e '.[dev,sim]'
	touch $(STAMP)

demo: install
	$(BIN)/python -m flows.demo

# Only the code folders that exist: flows/ arrives with the Prefect flows.
CODE_DIRS := $(wildcard src tests flows bench)

lint: install
	$(BIN)/ruff check $(CODE_DIRS)
	$(BIN)/ruff format --check $(CODE_DIRS)
	$(BIN)/lint-imports --no-cache

typecheck: install
	$(BIN)/mypy

pytest: install
	$(BIN)/pytest

test: lint typecheck pytest

bench: install
	$(BIN)/python bench/simulator_throughput.py
	$(BIN)/python bench/dialer_direct.py
	$(BIN)/python bench/ingest_throughput.py
	$(BIN)/python bench/report_throughput.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
