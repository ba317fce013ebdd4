# Every target the README shows. Each one brings .venv up to date with the lock files
# first; when nothing changed that is a timestamp check and costs nothing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Two installs, each exactly what its lock file pins, hashes checked (see "Dependencies"
# below): running needs requirements.txt (the dependencies and the [scale] extra, so
# `make serve` can use PostgreSQL and Redis); testing, linting and the browser journeys
# need requirements-dev.txt (the same pins plus the [loadtest] and [dev] extras: most of a
# cold start's download). Taskdeck itself is not installed: every command runs from here.
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev
PIP_INSTALL = $(PY) -m pip install --quiet --disable-pip-version-check --require-hashes
HOST ?= 127.0.0.1
PORT ?= 8000
SANDBOX_PORT ?= 8765

# `make run` and `make sandbox` are for development: DEBUG on, a development secret key,
# the embedded sandbox. Anything already set in the environment wins; an empty value is
# unset, as everywhere in Taskdeck. Tests and the bench run with production settings of
# their own.
run sandbox: export DJANGO_DEBUG := $(or $(DJANGO_DEBUG),1)

# The Host names `make run` and `make serve` answer to, unless DJANGO_ALLOWED_HOSTS says:
# HOST and the loopback names; with HOST=0.0.0.0 (or ::), listening on every address, any
# name, since nobody can list in advance the names a machine is reached by (its addresses,
# DNS names, a forwarded port, a container's mapping) and a wrong guess answers 400.
comma := ,
ANY_ADDRESS := $(filter 0.0.0.0 :: [::],$(HOST))
SERVED_HOSTS := $(or $(DJANGO_ALLOWED_HOSTS),$(if $(ANY_ADDRESS),*,$(HOST)$(comma)127.0.0.1$(comma)localhost$(comma)[::1]))
ANY_HOST = HOST=$(HOST) answers any Host name (DJANGO_ALLOWED_HOSTS=*); set \
	DJANGO_ALLOWED_HOSTS to the names to accept.
ANY_HOST_NOTE := $(if $(DJANGO_ALLOWED_HOSTS),,$(if $(ANY_ADDRESS),@echo "make $$@: $(ANY_HOST)"))
run serve: export DJANGO_ALLOWED_HOSTS := $(SERVED_HOSTS)

.PHONY: run test lint format bench sandbox clean

$(RUN_STAMP): requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) -r requirements.txt
	@touch $@

# The dev lock holds every pin of the runtime lock, so it stamps both.
$(DEV_STAMP): requirements-dev.txt requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) -r requirements-dev.txt
	@touch $@ $(RUN_STAMP)

run: $(RUN_STAMP)
	$(ANY_HOST_NOTE)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py worker & trap 'kill $$!' EXIT; $(PY) manage.py runserver $(HOST):$(PORT)

sandbox: $(RUN_STAMP)
	$(PY) manage.py runsandbox $(HOST):$(SANDBOX_PORT) --simulate

# .ci/chromium finds or fetches a Chromium for the browser journeys, .ci/nginx an nginx for
# the proxy tests, or each stops with one line saying what to run: no test is skipped.
# TEST_WORKERS: pytest-xdist workers. On a quiet two-core machine two workers run the suite
# in 11 to 12 min; four were slower (18 min against 15 to 16 in one comparison: four
# Chromiums and their servers compete for the cores), and only helped while other work
# already loaded the machine.
TEST_WORKERS ?= 2
test: $(DEV_STAMP)
	@chromium=$$(PY=$(PY) .ci/chromium) && nginx=$$(.ci/nginx) && \
	  echo "CHROMIUM_PATH=$$chromium NGINX_PATH=$$nginx $(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)" && \
	  CHROMIUM_PATH=$$chromium NGINX_PATH=$$nginx $(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/djlint --lint --profile=django templates

format: $(DEV_STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# `make bench BENCH_ARGS=--quick` (or --strict, --profile...: python -m bench --help).
# `make bench BENCH_ARGS=--browser`: the task table in Chromium beside the floor's; that
# needs the dev set (Playwright) and a Chromium, found or fetched as for `make test`.
BENCH_BROWSER := $(findstring --browser,$(BENCH_ARGS))
bench: $(if $(BENCH_BROWSER),$(DEV_STAMP),$(RUN_STAMP))
	@$(if $(BENCH_BROWSER),chromium=$$(PY=$(PY) .ci/chromium) && export CHROMIUM_PATH=$$chromium && )\
	  echo "$(PY) -m bench $(BENCH_ARGS)" && $(PY) -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var staticfiles

# --- Dependencies ------------------------------------------------------------------------
# pyproject.toml says what Taskdeck needs, in ranges: it is the source of truth. The lock
# files pin every package, with its hashes, to one tested set: requirements.txt (the
# dependencies and [scale]) and requirements-dev.txt (also [loadtest] and [dev], with the
# runtime lock's pins as constraints, so both hold the same versions).
# To add a dependency: add it to pyproject.toml (`dependencies`, or the extra it belongs
# to), run `make lock`, commit pyproject.toml with both lock files. `make lock` changes only
# what pyproject.toml's edits require; `make upgrade` moves every pin to the newest release
# the ranges allow, and `make lock LOCK_ARGS='--upgrade-package django'` one package. Lock
# with Python 3.11, the oldest Taskdeck supports. pip-compile runs from a venv of its own
# inside .venv, at the version pinned here.
PIP_TOOLS := pip-tools==7.7.0
LOCK_VENV := $(VENV)/lock-tools
PIP_COMPILE = CUSTOM_COMPILE_COMMAND="make lock" $(LOCK_VENV)/bin/pip-compile --quiet \
	--generate-hashes --allow-unsafe --strip-extras \
	--no-emit-index-url --no-emit-find-links --no-emit-trusted-host \
	$(if $(filter upgrade,$@),--upgrade) $(LOCK_ARGS)
.PHONY: lock upgrade

$(LOCK_VENV)/.installed: Makefile
	@test -x $(LOCK_VENV)/bin/python || $(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install --quiet --disable-pip-version-check $(PIP_TOOLS)
	@touch $@

lock upgrade: $(LOCK_VENV)/.installed
	$(PIP_COMPILE) --extra scale --output-file requirements.txt pyproject.toml
	$(PIP_COMPILE) --extra scale --extra loadtest --extra dev --constraint requirements.txt \
	  --output-file requirements-dev.txt pyproject.toml

# --- Running at scale (README, "Running at scale") ---------------------------------------
# `make serve`: Taskdeck as production runs it, on this machine: static files collected,
# migrations applied, gunicorn (gunicorn.conf.py) and one worker for bulk jobs. Plain HTTP
# on 127.0.0.1, so the HTTPS redirect and secure cookies are off unless already set; a
# secret key is generated once into var/. `make worker`: one more worker (bulk jobs on RQ
# when REDIS_URL or TASKDECK_TASKS_BACKEND=rq says so, else on the database; and the
# fleet's duties, each held by one worker at a time). Each worker serves its metrics on
# TASKDECK_WORKER_METRICS_PORT (8001): give a second one on this machine another port.
.PHONY: serve worker loadtest
serve worker: export DJANGO_SECURE_SSL_REDIRECT := $(or $(DJANGO_SECURE_SSL_REDIRECT),0)
serve worker: export DJANGO_SECURE_COOKIES := $(or $(DJANGO_SECURE_COOKIES),0)
# No SSO proxy stands in front of `make serve`: unless TASKDECK_SSO_TRUSTED_PROXIES names
# one (e.g. 127.0.0.1/32, with the identity headers sent by something on this machine),
# everyone acts as the development user, TASKDECK_DEV_USER, and every page says so.
SSO_DISABLED := $(or $(TASKDECK_SSO_DISABLED),$(if $(TASKDECK_SSO_TRUSTED_PROXIES),0,1))
serve worker: export TASKDECK_SSO_DISABLED := $(SSO_DISABLED)
NO_SSO = make serve: no SSO proxy (TASKDECK_SSO_TRUSTED_PROXIES is unset), so everyone acts \
	as the development user and every page says so.
NO_SSO_NOTE := $(if $(TASKDECK_SSO_DISABLED)$(TASKDECK_SSO_TRUSTED_PROXIES),,@echo "$(NO_SSO)")
WORKER_CMD = exec $(PY) manage.py worker
SECRET_KEY_FILE := var/secret-key

$(SECRET_KEY_FILE):
	@mkdir -p var
	@$(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(50))' > $@

serve: $(RUN_STAMP) $(SECRET_KEY_FILE)
	$(ANY_HOST_NOTE)
	$(NO_SSO_NOTE)
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
