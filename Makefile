# The two commands of the README are `make run` and `make test`; the others serve them and CI.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
# Tests and CI use the real services; override to point elsewhere.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/gateway
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15

.PHONY: install install-dev lock run test lint typecheck services migrations-check pytest messages bench sandbox verifier places clean

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --require-hashes -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PY) -m pip install --quiet --require-hashes -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

# The lock files: requirements*.txt compiled from requirements*.in, every package pinned with its
# hashes (pip then refuses anything else). Run after editing a .in file, commit all four.
lock: install-dev
	$(VENV)/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links -o requirements.txt requirements.in
	$(VENV)/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links -o requirements-dev.txt requirements-dev.in

install-dev: $(VENV)/.installed-dev

# The embedded default: SQLite, eager Celery (periodic tasks in beat_embedded), demo data, a server on localhost.
run: export GATEWAY_BASE_URL ?= http://$(HOST):$(PORT)
run: install
	DEBUG=1 GATEWAY_DEMO=1 $(PY) manage.py migrate --no-input
	DEBUG=1 GATEWAY_DEMO=1 $(PY) manage.py seed_demo
	@echo "Periodic tasks (access notices, retries, expiry, the sealer): manage.py beat_embedded, stopped with the server."
	@DEBUG=1 GATEWAY_DEMO=1 $(PY) manage.py beat_embedded & beat=$$!; trap 'kill $$beat 2>/dev/null' EXIT INT TERM; \
	DEBUG=1 GATEWAY_DEMO=1 $(PY) manage.py runserver $(HOST):$(PORT)

services:
	bin/ensure-services

lint: install-dev
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/lint-imports

typecheck: install-dev
	DEBUG=1 $(PY) -m mypy .

migrations-check: install-dev
	DEBUG=1 $(PY) manage.py makemigrations --check --dry-run

# Refresh the catalogues from the code and templates, then compile them: commit both the .po and
# the .mo files, so that a fresh clone runs with nothing but Python (needs GNU gettext).
MESSAGES_IGNORE := --ignore=.venv --ignore=bench --ignore=tests --ignore=var --ignore=staticfiles --ignore=docs
messages: install
	DEBUG=1 $(PY) manage.py makemessages --locale=fr --locale=en --extension=html,py,txt --add-location=file --no-obsolete $(MESSAGES_IGNORE)
	DEBUG=1 $(PY) manage.py compilemessages --locale=fr --locale=en $(MESSAGES_IGNORE)

# One test process per core (pytest-xdist); PYTEST_ARGS adds to or overrides the options, e.g.
# PYTEST_ARGS="-m 'not slow'", PYTEST_ARGS="tests/audit -n 0" (README, "Tests").
PYTEST_ARGS ?=
pytest: install-dev services
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(PY) -m pytest -n auto --dist worksteal $(PYTEST_ARGS)

test: install-dev services lint migrations-check typecheck pytest

sandbox: install
	$(PY) -m sandbox --port 8100

# The offline verifier as one file, the bytes /api/v1/audit/verifier.pyz serves: standard library only.
verifier:
	$(PYTHON) -m audit.verifier var/verifier.pyz
	sha256sum var/verifier.pyz

# INSEE place codes → names (core/data/places.tsv), from the pinned npm package and INSEE's country
# file: core/data/places/README.md says which versions and when to refresh.
places:
	cd core/data/places && npm ci --no-audit --no-fund && $(PYTHON) build.py

# Benchmarks (not part of the tests): the exchange API under wrk, then the audit trail at 1M events.
bench: install-dev services
	$(PY) bench/run.py
	$(PY) bench/audit_bench.py --events 1000000

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache .mypy_cache .ruff_cache
