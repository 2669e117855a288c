# Two entry points for a newcomer:  `make run` (install, index the seeds, serve the web chat)
# and `make test` (install everything the tests need, then run them).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: install browser office run lint test bench

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

install: $(VENV)/.installed

# The browser test drives Debian's Chromium (a browser download at test time cannot work offline);
# the CJK font makes its screenshots legible.
browser:
	@{ command -v chromium >/dev/null 2>&1 && [ -d /usr/share/fonts/opentype/noto ]; } || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; }

# .doc, .wps and .rtf are converted by LibreOffice (rag/ingest/formats/soffice.py): Debian's
# headless Writer, about 82 MB to download (docs/benchmarks.md).
office:
	@command -v soffice >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends libreoffice-writer-nogui >/dev/null; }

run: install office
	$(PY) app.py

# style and types: ruff (lint + format, settings in pyproject.toml) and mypy
lint: install
	$(PY) -m ruff check rag app.py bench tests
	$(PY) -m ruff format --check rag app.py bench tests
	$(PY) -m mypy

test: install browser office lint
	HF_HUB_OFFLINE=1 $(PY) -m pytest -q

bench: install
	$(PY) bench/embedder.py
