# Aether developer entry points. Everything runs through .venv/bin/... explicitly.
#
#   make test    system packages + venv, then lint, types, import contracts and the whole
#                pytest suite (with coverage, slow tests included) inside a private
#                headless desktop (scripts/with-desktop.sh: Xvfb, tray, PulseAudio, keyring)
#   make lint    ruff, ruff format --check, mypy, lint-imports (no desktop)
#   make fmt     ruff format + ruff check --fix
#   make run     start the app;  make bench  run the benchmarks
#   make bundle  one-folder app in dist/aether/ (PyInstaller, packaging/aether.spec)
#   make clean   caches and build output;  make distclean  also the venv
#
# Variables: PYTEST_ARGS="-k tray -x"   extra pytest arguments for `make test`
#            ARGS="--home /tmp/h"       arguments for `make run`

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=
ARGS ?=
COV_ARGS := --cov=aether_qt --cov-branch --cov-report=term-missing:skip-covered

.PHONY: help system venv run test lint fmt bench bundle clean distclean \
	check-ruff check-format check-types check-imports check-pytest desktop-checks

help:
	@sed -n '2,14s/^# \{0,1\}//p' $(firstword $(MAKEFILE_LIST))

system:
	@scripts/ensure-system.sh

venv:
	@scripts/ensure-venv.sh

run: system venv
	$(BIN)/aether $(ARGS)

bench: system venv
	$(BIN)/aether bench $(ARGS)

# dist/aether/aether is the app with the bundled models; tests/e2e/test_bundle_smoke.py starts it.
bundle: system venv
	$(BIN)/pyinstaller --noconfirm --log-level WARN --distpath dist --workpath build/pyinstaller \
		packaging/aether.spec

# The checks run inside one desktop session; -k runs every check even after a failure
# and still exits non-zero, so one CI log shows all problems at once.
test: system venv
	@scripts/with-desktop.sh $(MAKE) --no-print-directory -k desktop-checks

lint: venv
	@$(MAKE) --no-print-directory -k check-ruff check-format check-types check-imports

fmt: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# ---- individual checks (used by test and lint; each one is also callable alone)
desktop-checks: check-ruff check-format check-types check-imports check-pytest

check-ruff:
	$(BIN)/ruff check .

check-format:
	$(BIN)/ruff format --check .

check-types:
	$(BIN)/mypy

check-imports:
	$(BIN)/lint-imports

# pytest exits 5 when it collects no test: that is a failure here like any non-zero code.
check-pytest:
	$(BIN)/pytest $(COV_ARGS) --run-slow $(PYTEST_ARGS)

clean:
	rm -rf .mypy_cache .ruff_cache .pytest_cache .hypothesis htmlcov build dist \
		.coverage .coverage.*
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
