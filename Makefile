# VMO Workbench. Two commands do everything on a fresh machine:
#   make demo   build .venv, run the quarterly review of the bundled sample portfolio
#   make test   build/update .venv (and the browser the UI test needs), run the whole suite
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP_QUIET := --quiet --disable-pip-version-check
AS_OF ?= 2026Q3
OUT ?= reports/$(AS_OF)
HISTORY ?= reports/vmo-history.duckdb

.PHONY: demo test venv browser bench lint template sample clean help

help:
	@echo "make demo   - install into .venv and build the $(AS_OF) review packs of data/sample"
	@echo "make test   - install into .venv and run the whole test suite"
	@echo "make bench  - run the benchmarks in benchmarks/"

# The stamp is rebuilt whenever the declared dependencies change.
$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "Installing VMO Workbench and its dependencies into $(VENV) ..."
	@$(PY) -m pip install $(PIP_QUIET) --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
	@set -o pipefail; $(PY) -m pip install $(PIP_QUIET) -e '.[test]' 2>&1 | grep -v "^WARNING: Location" ; \
	  test $${PIPESTATUS[0]} -eq 0
	@touch $@

# JupyterLab in .venv opens the jupytext notebooks (notebooks/*.py) as notebooks on double-click.
LAB_OVERRIDES := $(VENV)/share/jupyter/lab/settings/overrides.json
$(LAB_OVERRIDES): jupyter/lab/settings/overrides.json $(VENV)/.installed
	@mkdir -p $(dir $@) && cp $< $@

venv: $(VENV)/.installed $(LAB_OVERRIDES)

# Debian's Chromium for the browser test and PDF packs (no browser download at run time).
browser:
	@if ! command -v chromium >/dev/null 2>&1; then \
	  echo "Installing Debian's chromium (browser test, PDF packs) ..."; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  ($$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null) \
	    || echo "warning: could not install chromium; the browser test is skipped locally and fails in CI (CI set)"; \
	fi

# The demo's history: 2025Q1-2026Q2 built by scripts/make_sample_history.py (the sample cases as known
# each quarter, with a drifting benefit, a decision not carried out and a re-baseline; skipped when
# already there), then the $(AS_OF) review recorded in it, so the packs show movement.
demo: venv
	@$(PY) scripts/make_sample_history.py --folder data/sample --history $(HISTORY)
	@$(VENV)/bin/vmo review data/sample --as-of $(AS_OF) --out $(OUT) --history $(HISTORY)

test: venv browser
	@$(PY) -m pytest -q -n 2 --dist loadgroup

bench: venv
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

lint: venv
	@$(VENV)/bin/ruff check .

template: venv
	@$(VENV)/bin/vmo template templates/business_case.xlsx --force

sample: venv
	@$(PY) scripts/make_sample_portfolio.py

clean:
	rm -rf $(VENV) reports .pytest_cache .ruff_cache .hypothesis
