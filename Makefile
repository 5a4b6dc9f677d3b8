# Guichet: `make run` starts the product with its demo; `make test` runs the whole test suite.
# Both install what they need: Debian packages (when missing), a virtual environment, Python packages.

SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= $(shell for p in python3 python3.13 python3.12 python3.11; do $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 && { command -v $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# WeasyPrint needs Pango; libharfbuzz-subset0 makes PDF font subsetting twice as fast.
RUN_DEBS := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core
# The browser tests drive Debian's Chromium (never a downloaded browser).
TEST_DEBS := chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
export DJANGO_SETTINGS_MODULE ?= consortium.settings

.PHONY: help run test demo worker lint typecheck deploy-check clean system-deps test-system-deps

help:
	@echo "make run   - install everything, load the demo and start Guichet on http://$(HOST):$(PORT)/"
	@echo "make test  - install everything the tests need and run the whole suite"

define install_debs
	@missing=""; for pkg in $(1); do dpkg -s $$pkg >/dev/null 2>&1 || missing="$$missing $$pkg"; done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
endef

system-deps:
	$(call install_debs,$(RUN_DEBS))

test-system-deps: system-deps
	$(call install_debs,$(TEST_DEBS))

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "Python 3.11 or newer is required"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.runtime: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	@touch $@

$(VENV)/.dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	@touch $@ $(VENV)/.runtime

run: system-deps $(VENV)/.runtime
	@DEBUG=1 $(BIN)/python manage.py migrate --noinput -v0
	@DEBUG=1 $(BIN)/python manage.py load_demo
	@DEBUG=1 $(BIN)/celery -A consortium worker --beat --loglevel=WARNING --pool=solo >var/worker.log 2>&1 & \
	  worker=$$!; trap "kill $$worker 2>/dev/null" EXIT INT TERM; \
	  echo ""; echo "Guichet: http://$(HOST):$(PORT)/  (background worker pid $$worker, log var/worker.log)"; \
	  DEBUG=1 $(BIN)/python manage.py demo_accounts; \
	  DEBUG=1 $(BIN)/python manage.py runserver $(HOST):$(PORT) --noreload

test: test-system-deps $(VENV)/.dev
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy consortium partners bids pricing

deploy-check: $(VENV)/.runtime
	DJANGO_SETTINGS_MODULE=consortium.production ALLOWED_HOSTS=guichet.example.org \
	  SECRET_KEY="$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(64))')" \
	  $(BIN)/python manage.py check --deploy --fail-level WARNING

clean:
	rm -rf $(VENV) var guichet.egg-info
