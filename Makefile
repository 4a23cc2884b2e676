# Redress — two commands: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test fuzz lint system-packages bench chaos clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Redress needs Python 3.11 or newer")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

## Serve on http://127.0.0.1:8000 with web, worker and clock (SQLite and an embedded Redis by default).
run: $(STAMP)
	$(BIN)/redress run

## Install what the tests need (PostgreSQL from Debian too) and run the whole suite.
test: $(STAMP) system-packages
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy
	$(BIN)/pytest -q -p no:cacheprovider

## The hostile-input tests with a big budget (thousands of examples each; `make test` runs a few dozen).
fuzz: $(STAMP) system-packages
	HYPOTHESIS_PROFILE=fuzz $(BIN)/pytest -q -p no:cacheprovider tests/connectors/test_hostile_payloads.py \
	  tests/intake/test_hostile_deliveries.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy

# Debian packages the tests use: PostgreSQL (the tests start throwaway servers of their own, so the
# cluster the package starts is stopped again) and Chromium (driven by Playwright in the browser tests).
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
system-packages:
	@need=""; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need="$$need postgresql"; \
	[ -x /usr/bin/chromium ] || need="$$need chromium"; \
	if [ -n "$$need" ]; then \
	  echo "installing Debian packages:$$need"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$need && \
	  ($(SUDO) service postgresql stop >/dev/null 2>&1 || true); \
	fi

bench: $(STAMP) system-packages
	@command -v wrk >/dev/null || (echo "installing Debian packages: wrk" && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends wrk)
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/pipeline.py
	$(BIN)/python bench/drain.py
	$(BIN)/python bench/parse.py
	$(BIN)/python bench/messages.py
	$(BIN)/python bench/crises.py
	$(BIN)/python bench/desk.py

# Real processes on PostgreSQL and Redis while workers are killed, Redis restarts, PostgreSQL stops and the
# stores storm; prints one table and fails unless nothing was lost or done twice (under 10 minutes).
chaos: $(STAMP) system-packages
	$(BIN)/python bench/chaos.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache .hypothesis
