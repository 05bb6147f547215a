# Two commands for a fresh machine: `make dev` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install dev test test-deps lint format bench clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test]'
	@touch $(STAMP)

dev: install
	$(BIN)/energy-platform dev

# The browser test of the report and the production-instance test need Debian's chromium and
# postgresql: installed here only when missing.
test-deps:
	@sh scripts/ensure_chromium.sh
	@sh scripts/ensure_postgres.sh

test: install test-deps
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .dagster_home .emulator *.egg-info
