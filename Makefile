# The two commands of the README:
#   make demo   export the planet example, generate the config, launch the server (Docker if an engine is
#               reachable, else the embedded runtime), wait until it is AVAILABLE and smoke-test it
#   make test   the whole test suite (unit + integration against live servers on 127.0.0.1 + real Docker engine)
# Both create .venv and install the project with its extras first, so a fresh clone needs nothing else.

PYTHON ?= python3
# Test worker processes. Most of the suite waits on the server and export processes it starts, so two workers
# nearly halve its time on two cores; each file runs whole on one worker (its module fixtures are started once),
# files handed out in collection order (tests/conftest.py puts the longest first), not by their number of tests.
TEST_WORKERS ?= 2
PARALLEL := -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo down lint test test-fast bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[toolkit,dev,k8s]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/tfs export --example planet --version 1 --force
	$(BIN)/tfs up
	$(BIN)/tfs smoke
	@echo "The server keeps running; stop it with: $(BIN)/tfs down"

down: install
	$(BIN)/tfs down

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

test: install lint
	$(BIN)/python -m pytest $(PARALLEL)

test-fast: install
	$(BIN)/python -m pytest $(PARALLEL) -m "not slow"

bench: install
	$(BIN)/python benchmarks/bench_all.py
	$(BIN)/python benchmarks/bench_freeze.py
	$(BIN)/python benchmarks/bench_xla.py
	$(BIN)/python benchmarks/bench_session_run.py
	$(BIN)/python benchmarks/bench_rest.py --json bench-rest.json

clean:
	rm -rf $(VENV) deploy/.tfs deploy/models.config deploy/monitoring.config deploy/batching.config
