# Every target the README shows. Each one brings .venv up to date with pyproject.toml first;
# when nothing changed that is a timestamp check and costs nothing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Two installs: running needs only the project's dependencies; testing, linting and the
# browser journeys need the dev extras too (most of a cold start's download).
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev
HOST ?= 127.0.0.1
PORT ?= 8000
SANDBOX_PORT ?= 8765

# `make run` and `make sandbox` are for development: DEBUG on, a development secret key,
# the embedded sandbox. Anything already set in the environment wins. Tests and the
# bench run with production settings of their own.
run sandbox: export DJANGO_DEBUG ?= 1

.PHONY: run test lint format bench sandbox clean

$(RUN_STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	@touch $@

# The dev install includes everything running needs, so it stamps both.
$(DEV_STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@ $(RUN_STAMP)

run: $(RUN_STAMP)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py runserver $(HOST):$(PORT)

sandbox: $(RUN_STAMP)
	$(PY) manage.py runsandbox $(HOST):$(SANDBOX_PORT) --simulate

# .ci/chromium finds or fetches a Chromium for the browser journeys, or stops with one
# line saying what to run: the browser tests are never skipped.
test: $(DEV_STAMP)
	@chromium=$$(PY=$(PY) .ci/chromium) && \
	  echo "CHROMIUM_PATH=$$chromium $(PY) -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS)" && \
	  CHROMIUM_PATH=$$chromium $(PY) -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(DEV_STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: $(RUN_STAMP)
	$(PY) -m bench

clean:
	rm -rf $(VENV) var staticfiles
