# IMS — the two set-up commands are `make demo` and `make test` (see README.md).
PY := .venv/bin/python
PORT ?= 8000

.PHONY: demo test setup serve worker schedules lint check bench clean

setup:
	@./scripts/bootstrap

## The main job on the embedded default (SQLite, in-process queue) over the demo data, then the dashboard.
demo: setup
	$(PY) manage.py migrate --no-input -v 0
	$(PY) manage.py load_demo --day
	$(PY) manage.py reconcile
	@echo "Dashboard: http://127.0.0.1:$(PORT)/  (demo log-ins: see README.md)"
	$(PY) manage.py serve_demo 127.0.0.1:$(PORT)

## The whole test suite (SQLite by default; DATABASE_URL=postgres://… runs it on PostgreSQL).
test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

check: lint
	.venv/bin/lint-imports --no-cache
	$(PY) manage.py makemigrations --check --dry-run

serve: setup
	$(PY) manage.py runserver 127.0.0.1:$(PORT)

worker: setup
	$(PY) manage.py qcluster

schedules: setup
	$(PY) manage.py setup_schedules

## Benchmarks print a table with their reference measured in the same run (PostgreSQL: set DATABASE_URL).
bench: setup
	$(PY) bench/run.py $(BENCH_ARGS)

clean:
	rm -rf reports var db.sqlite3 db.sqlite3-* .pytest_cache
