# Two commands for a fresh machine: `make dev` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install dev test test-deps lint format bench lock clean

install: $(STAMP)

# Exact versions with hashes from requirements.lock (every extra: dev, test, deploy), then the
# project itself without dependencies, so nothing outside the lock gets installed. The filter
# hides only setuptools' notice that an editable install is one (pip shows it as a warning).
$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock
	PYTHONWARNINGS='ignore:Editable installation:UserWarning' \
		$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

# Rewrites both lock files from pyproject.toml, keeping every pin that still fits (uv comes
# from the dev extra). Move versions on with `make lock LOCK_ARGS=--upgrade` (everything) or
# `make lock LOCK_ARGS="--upgrade-package pandas"`. requirements-prod.lock (runtime + deploy,
# for the image) takes its versions from requirements.lock.
LOCK_ARGS ?=
UV_COMPILE := $(BIN)/uv pip compile pyproject.toml --quiet --generate-hashes --universal \
	--python-version 3.11 --custom-compile-command "make lock"
lock: $(STAMP)
	$(UV_COMPILE) $(LOCK_ARGS) --extra dev --extra test --extra deploy -o requirements.lock
	$(UV_COMPILE) --extra deploy -c requirements.lock -o requirements-prod.lock

dev: install
	$(BIN)/energy-platform dev

# The browser test of the report and the production-instance test need Debian's chromium and
# postgresql: installed here only when missing.
test-deps:
	@sh scripts/ensure_chromium.sh
	@sh scripts/ensure_postgres.sh

# The linters first (seconds), then the suite: CI (.ci/run) runs exactly this.
test: install test-deps lint
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/cfn-lint --include-checks I -- deploy/cloudformation.yaml deploy/app.yaml

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install
	$(BIN)/python -m benchmarks $(if $(ONLY),--only $(ONLY))

clean:
	rm -rf $(VENV) .dagster_home .emulator *.egg-info
