# Mimic: `make run` serves the portal with demo data; `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Debian packages: WeasyPrint's Pango, Cyrillic fonts, pdftoppm, and the Chromium the browser tests drive.
SYSTEM_PACKAGES := libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core poppler-utils gettext chromium

.PHONY: run test test-fast test-embedded lint format setup system-deps migrate demo audit bench clean

setup: $(STAMP)

$(STAMP): requirements.in requirements-dev.in constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements.in -r requirements-dev.in -c constraints.txt
	touch $@

system-deps:
	@missing=""; for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

migrate: setup
	$(PY) manage.py migrate --noinput

demo: migrate
	$(PY) manage.py seed_demo

run: setup
	@dpkg -s libpango-1.0-0 >/dev/null 2>&1 || $(MAKE) system-deps
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	@echo "Mimic is at http://127.0.0.1:8000/ (Ctrl-C stops it)"
	bin/serve

test: setup system-deps
	$(VENV)/bin/pytest -q

test-fast: setup
	$(VENV)/bin/pytest -q -m "not slow and not browser"

# The embedded default (SQLite, in-memory channel layer, eager Celery), whatever the environment says.
test-embedded: setup
	env -u DATABASE_URL -u REDIS_URL $(VENV)/bin/pytest -q -m "not slow" -p no:cacheprovider

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) manage.py makemigrations --check --dry-run

format: setup
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

audit: setup
	bin/audit-deps

bench: setup
	$(PY) bench/inference.py
	$(PY) bench/illustrations.py
	$(PY) bench/reports.py

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles .pytest_cache
