# Two commands for a newcomer (see README.md):
#   make book   -- create .venv, install everything, build the site into _build/html
#   make test   -- create the same .venv and run every test (library tests and every chapter)
# CI (.ci/run) runs `make test`, then `make check-claims SEEDS=1`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
MATHJAX := _mathjax/site/mathjax/tex-mml-chtml.js
SEEDS ?= 1 2
# chapters executed at once by `make book` and `make check-claims` (default 2)
JOBS ?=
JOBS_FLAG := $(if $(JOBS),--jobs $(JOBS),)

.PHONY: env lint book test test-lib test-chapters check-claims mathjax browser clean clean-cache

env: $(STAMP)

$(STAMP): requirements.txt constraints.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.txt -c constraints.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

# MathJax 3 from npm, served by the site itself so maths renders offline.
# It lives outside _static/ because jupyter-book injects every .js file found there.
mathjax: $(MATHJAX)

$(MATHJAX):
	mkdir -p _mathjax
	npm install --silent --no-audit --no-fund --prefix _mathjax mathjax@3
	rm -rf _mathjax/site && mkdir -p _mathjax/site
	cp -r _mathjax/node_modules/mathjax/es5 _mathjax/site/mathjax

# Debian's Chromium, for the headless test of the built site (tests/test_site.py).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Debian's chromium for the headless site test"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

book: env mathjax
	$(PY) scripts/build_book.py $(JOBS_FLAG)

LINT_PATHS := trustworthy_lib tests scripts benchmarks

lint: env
	$(VENV)/bin/ruff check $(LINT_PATHS)
	$(VENV)/bin/ruff format --check $(LINT_PATHS)

test: env mathjax browser
	$(VENV)/bin/ruff check $(LINT_PATHS)
	$(VENV)/bin/ruff format --check $(LINT_PATHS)
	$(PY) -m scripts.ruff_chapters
	$(PY) -m pytest

test-lib: env
	$(PY) -m pytest -m "not chapters and not site"

test-chapters: env
	$(PY) -m pytest -m chapters

# Every chapter with TRUSTWORTHY_SEED set to each of $(SEEDS), models cached apart in
# _cache_seeds/ (the default _cache/ is untouched): a table chapter x seed, pass/fail.
check-claims: env
	$(PY) -m scripts.check_claims --seeds $(SEEDS) $(JOBS_FLAG)

clean:
	rm -rf _build

clean-cache:
	rm -rf _cache _cache_seeds _build/.jupyter_cache
