# The two commands: `make run` and `make test`. Everything else is a helper of theirs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Reinstall whenever pyproject.toml changes.
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: install run test lint typecheck format seed-bench bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP)

## Migrate the SQLite database, seed the small NTB demo on first run, serve on 127.0.0.1:8000.
run: install
	$(BIN)/jamsos migrate
	$(BIN)/jamsos seed --size small --if-empty
	$(BIN)/jamsos serve --host 127.0.0.1 --port 8000

## Lint, type-check, check the layer contracts, run the whole suite (PostgreSQL too when
## JAMSOS_TEST_POSTGRES_URL is set).
test: install lint typecheck
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## Load the 1M-participant benchmark dataset into a fresh PostgreSQL database and report time and memory.
seed-bench: install
	$(BIN)/python bench/seed_bench.py

## The read benchmark: this service, PostGraphile and hand-written SQL on the bench data (bench/README.md);
## writes bench/RESULTS.md. Needs PostgreSQL, wrk and Node.
bench: install
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[dev,bench]"
	cd bench && npm ci --no-audit --no-fund
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
