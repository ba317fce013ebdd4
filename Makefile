# Every target the README shows. Each one brings .venv up to date with pyproject.toml first;
# when nothing changed that is a timestamp check and costs nothing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

# `make run` and `make sandbox` are for development: DEBUG on, a development secret key,
# the embedded sandbox. Anything already set in the environment wins. Tests and the
# bench run with production settings of their own.
run sandbox: export DJANGO_DEBUG ?= 1

.PHONY: run test lint format bench sandbox clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

run: $(STAMP)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py db_worker & trap 'kill $$!' EXIT; $(PY) manage.py runserver $(HOST):$(PORT)

sandbox: $(STAMP)
	$(PY) manage.py runsandbox $(HOST):8765 --simulate

test: $(STAMP)
	$(PY) -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: $(STAMP)
	$(PY) -m bench

clean:
	rm -rf $(VENV) var staticfiles
