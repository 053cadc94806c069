# The two commands: `make run` and `make test`. Everything else is a helper of theirs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Reinstall whenever pyproject.toml changes.
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

# pytest-xdist workers ("auto": one per core); tests that need the whole machine take turns (tests/conftest.py).
PYTEST_WORKERS ?= auto
PYTEST := $(BIN)/pytest -n $(PYTEST_WORKERS)

# Let Python keep the bytecode it compiles (__pycache__, ignored by git). Some machines export
# PYTHONDONTWRITEBYTECODE=1; then every `jamsos` and uvicorn process the suite starts compiles the project's
# modules again, and each pytest worker rewrites every test module's asserts again.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: install run test test-fast lint typecheck node-modules format seed-bench bench clean

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
## JAMSOS_TEST_POSTGRES_URL is set) on every core, in a random order (the seed is printed first).
test: install
	$(MAKE) --no-print-directory -j3 lint typecheck node-modules
	$(PYTEST)

## The inner loop: ruff, then the suite on SQLite only, without the browser, gateway, fault and
## two-process tests (everything `make test` runs besides those).
test-fast: install
	$(BIN)/ruff check .
	JAMSOS_TEST_POSTGRES_URL= JAMSOS_TEST_REDIS_URL= CI= $(PYTEST) -m "not whole_machine and not federation and not e2e"

# The Node.js packages of the tests that run real JavaScript peers (the federation gateways, the subscription
# client, the TypeScript client), from their lockfiles. `make test` installs them beside ruff and mypy, so the
# suite's own time is not spent on `npm ci` (a test that finds its folder stale still installs it itself).
NODE_MODULES := $(addsuffix /node_modules/.package-lock.json,tests/federation tests/subscriptions clients/typescript)

node-modules: $(if $(shell command -v npm),$(NODE_MODULES))

$(NODE_MODULES): %/node_modules/.package-lock.json: %/package-lock.json
	cd $* && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error

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
