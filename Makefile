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
	$(PY) manage.py worker & trap 'kill $$!' EXIT; $(PY) manage.py runserver $(HOST):$(PORT)

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

# --- Running at scale (README, "Running at scale") ---------------------------------------
# `make serve`: Taskdeck as production runs it, on this machine: static files collected,
# migrations applied, gunicorn (gunicorn.conf.py) and one worker for bulk jobs. Plain HTTP
# on 127.0.0.1, so the HTTPS redirect and secure cookies are off unless already set; a
# secret key is generated once into var/. `make worker`: one more worker (bulk jobs on RQ
# when REDIS_URL or TASKDECK_TASKS_BACKEND=rq says so, else on the database; and the
# fleet's duties, each held by one worker at a time). Each worker serves its metrics on
# TASKDECK_WORKER_METRICS_PORT (8001): give a second one on this machine another port.
.PHONY: serve worker loadtest
serve worker: export DJANGO_SECURE_SSL_REDIRECT ?= 0
serve worker: export DJANGO_SECURE_COOKIES ?= 0
serve worker: export DJANGO_ALLOWED_HOSTS ?= 127.0.0.1,localhost
WORKER_CMD = exec $(PY) manage.py worker
SECRET_KEY_FILE := var/secret-key

$(SECRET_KEY_FILE):
	@mkdir -p var
	@$(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(50))' > $@

serve: $(RUN_STAMP) $(SECRET_KEY_FILE)
	export DJANGO_SECRET_KEY="$${DJANGO_SECRET_KEY:-$$(cat $(SECRET_KEY_FILE))}"; \
	$(PY) manage.py collectstatic --noinput -v0 && $(PY) manage.py migrate --noinput && \
	{ ( $(WORKER_CMD) ) & trap 'kill $$! 2>/dev/null' EXIT; \
	GUNICORN_BIND="$${GUNICORN_BIND:-$(HOST):$(PORT)}" $(VENV)/bin/gunicorn -c gunicorn.conf.py dashboard.wsgi; }

worker: $(RUN_STAMP) $(SECRET_KEY_FILE)
	export DJANGO_SECRET_KEY="$${DJANGO_SECRET_KEY:-$$(cat $(SECRET_KEY_FILE))}"; $(WORKER_CMD)

# `make loadtest`: 100 supervisors (full pages and live refreshes, signed in through a
# stand-in SSO proxy) on 2 gunicorn instances sharing PostgreSQL and Redis on 127.0.0.1,
# against the sandbox with TaskRouter's rate limits, then again with one instance killed
# halfway; prints each figure beside its target (bench/loadtest.py).
loadtest: $(DEV_STAMP)
	$(PY) -m bench.loadtest --both $(LOADTEST_ARGS)

# --- README pictures ---------------------------------------------------------------------
# `make screenshots`: the task table and the conflict view at 1280x800, taken by Chromium
# against the embedded sandbox into docs/screenshots/. A file pytest collects only when
# named, so `make test` never spends time on it.
.PHONY: screenshots
screenshots: $(DEV_STAMP)
	@chromium=$$(PY=$(PY) .ci/chromium) && \
	  CHROMIUM_PATH=$$chromium $(PY) -m pytest -q -n 1 tests/browser/screenshots.py
