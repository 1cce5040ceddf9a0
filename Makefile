# The two commands: `make run` starts thurac, `make test` runs the whole suite.
# Both install what they need (Debian packages via apt, Python packages into .venv).
PYTHON ?= python3
VENV ?= .venv
CONFIG ?= config/thurac.yaml
PY := $(VENV)/bin/python

.PHONY: run test test-long soak lint typecheck bench bench-peers bench-store profile deps clean install

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

# Benchmarks, not part of make test (docs/performance.md). smtp-source through a private
# Postfix: no milter, a no-op pymilter, thurac; bench-peers adds rspamd's milter proxy.
# profile: py-spy on thurac under the same load. BENCH_ARGS, e.g. --messages 1000 --rounds 3;
# PROFILE_ARGS, e.g. --messages 3000 --size 20000.
BENCH_ARGS ?=
PROFILE_ARGS ?=
$(VENV)/.bench: $(VENV)/.installed
	$(PY) -m pip install -q -e '.[test,bench]'
	touch $@

bench: deps
	./tools/install-deps.sh bench
	$(PY) bench/run.py $(BENCH_ARGS)
	$(PY) bench/dns_outage.py
	$(PY) bench/report_bench.py

# `thurac report` on a month of a busy MX: 1,000,000 generated events in SQLite and in a private
# PostgreSQL, each command timed 3 times; bench/results/report.json (docs/performance.md).
.PHONY: bench-report
bench-report: deps
	./tools/install-deps.sh test
	$(PY) bench/report_bench.py

# docs/examples/report.html and report.png from a generated store (fixed seed), the PNG by
# headless Chromium.
.PHONY: docs-example
docs-example: deps
	./tools/install-deps.sh test
	$(PY) tools/docs_example.py

bench-peers: deps
	./tools/install-deps.sh peers
	$(PY) bench/run.py --peers $(BENCH_ARGS)

profile: $(VENV)/.bench
	./tools/install-deps.sh bench
	$(PY) bench/profile.py $(PROFILE_ARGS)

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
