# The two commands: `make run` starts thurac, `make test` runs the whole suite.
# Both install what they need (Debian packages via apt, Python packages into .venv).
PYTHON ?= python3
VENV ?= .venv
CONFIG ?= config/thurac.yaml
PY := $(VENV)/bin/python

.PHONY: run test test-long soak lint typecheck bench bench-store deps clean install

# The runtime needs thurac and its dependencies only; pytest, mypy and ruff come with the
# test extra, for the targets that use them.
$(VENV)/.runtime: pyproject.toml
	./tools/install-deps.sh run
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.installed: $(VENV)/.runtime
	$(PY) -m pip install -q -e '.[test]'
	touch $@

deps: $(VENV)/.installed

run: $(VENV)/.runtime
	$(VENV)/bin/thurac run --config $(CONFIG)

test: deps
	./tools/install-deps.sh test
	$(PY) -m pytest -q $(PYTEST_ARGS)

# Long runs, not part of make test: the sustained-load soak (200,000 messages through Postfix
# at 20 sessions, memory sampled) and every test marked long.
SOAK_ARGS ?=
soak: deps
	./tools/install-deps.sh test
	$(PY) bench/soak.py $(SOAK_ARGS)

test-long: deps
	./tools/install-deps.sh test
	$(PY) -m pytest -q -m long --run-long $(PYTEST_ARGS)
	$(PY) bench/soak.py --minutes 30 $(SOAK_ARGS)

lint: deps
	$(VENV)/bin/ruff check src tests
	$(VENV)/bin/mypy

typecheck: lint

bench: deps
	./tools/install-deps.sh test
	$(PY) bench/run.py
	$(PY) bench/dns_outage.py

# Not part of make test either: the history read and record with the store holding 0, 1M
# and 10M events, on SQLite and on a PostgreSQL the bench starts (about an hour on 2 cores,
# stores in a temp dir, removed after); bench/results/store.{json,md}, docs/performance.md.
# BENCH_STORE_ARGS='--sizes 0,100000 --backends sqlite' for a quick look.
BENCH_STORE_ARGS ?=
bench-store: deps
	./tools/install-deps.sh test
	$(PY) bench/store_bench.py $(BENCH_STORE_ARGS)

# As root: thurac as a system service under /opt/thurac with a systemd unit (docs/service.md).
# ENABLE=1 also enables and starts it; INSTALL_ROOT=DIR installs under DIR for a trial.
install:
	./tools/install.sh

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
