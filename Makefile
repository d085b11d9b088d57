# The two commands: `make demo` and `make test`. Everything runs from .venv (created on first use).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/test
# The newest interpreter >= 3.12 for the Django 6 leg: on PATH, or under pyenv.
PY_NEW ?= $(shell for v in 3.14 3.13 3.12; do \
	  p=$$(command -v python$$v 2>/dev/null) && $$p -c '' 2>/dev/null && { echo $$p; exit; }; \
	  for d in $${PYENV_ROOT:-$$HOME/.pyenv}/versions/$$v*/bin/python$$v; do [ -x "$$d" ] && { echo $$d; exit; }; done; \
	done)

.PHONY: install demo test test-python test-js test-postgres test-django6 test-e2e test-faults lint format bench bench-quick clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

## make demo [PORT=8001]: migrate, create alice/bob/admin, serve http://127.0.0.1:$(PORT) through daphne.
PORT ?= 8000
demo: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py demo_setup
	@echo "Serving the demo on http://127.0.0.1:$(PORT) (Ctrl-C to stop)"
	$(BIN)/daphne -b 127.0.0.1 -p $(PORT) project.asgi:application

## make test: the whole suite (Python on SQLite + Redis, browser tests when Chromium exists, JS units).
test: test-python test-js

test-python: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-js:
	@if command -v node >/dev/null 2>&1 && ls tests/js/*.test.mjs >/dev/null 2>&1; then \
		node --test tests/js/; \
	else echo "test-js: skipped (node or tests/js missing)"; fi

## The PostgreSQL and Django 6 legs run every test but the browser ones; LEG_MARKS="not e2e and not slow"
## (say) narrows them further, as .ci/run does.
LEG_MARKS ?= not e2e
test-postgres: install
	DATABASE_URL=$(POSTGRES_URL) $(BIN)/python -m pytest -m "$(LEG_MARKS)" $(PYTEST_ARGS)

test-e2e: install
	$(BIN)/python -m pytest -m e2e $(PYTEST_ARGS)

## The fault suite (tests/faults): Redis and daphne killed, paused and restarted under live sockets.
## Minutes long, so not part of `make test`; CI runs it.
test-faults: install
	$(BIN)/python -m pytest -m faults $(PYTEST_ARGS) tests/faults

## The suite on the newest Django 6 with the newest Python >= 3.12, where one exists.
test-django6:
	@if [ -z "$(PY_NEW)" ]; then echo "test-django6: skipped (no python3.12+ found)"; exit 0; fi; \
	set -e; \
	[ -x .venv-django6/bin/python ] || $(PY_NEW) -m venv .venv-django6; \
	.venv-django6/bin/pip install -q --upgrade pip; \
	.venv-django6/bin/pip install -q -e ".[test]" "django>=6,<7"; \
	.venv-django6/bin/python -c 'import django, sys; print("Django", django.__version__, "on Python", sys.version.split()[0])'; \
	.venv-django6/bin/python -m pytest -m "$(LEG_MARKS)" $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	@# A model change without its migration fails here. tests.settings covers every app with
	@# migrations (the test app too); an in-memory database leaves no file behind.
	DATABASE_URL=sqlite://:memory: $(BIN)/python manage.py makemigrations --check --dry-run \
		--skip-checks --settings=tests.settings

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## make bench: ours against the tutorial-style app (bench/README.md); BENCH_ARGS="--users 500 ...".
BENCH_ARGS ?=
bench: install
	$(BIN)/python bench/run.py $(BENCH_ARGS)

## make bench-quick: N = 100, one round, for CI: fails on a crash or a lost or duplicated notification.
bench-quick: install
	$(BIN)/python bench/run.py --quick --json bench/results/quick.json $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .venv-django6 db.sqlite3* staticfiles
