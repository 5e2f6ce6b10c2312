"""The `paperfeed` command as cron and people use it: output, exit codes, environment settings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from paperfeed.settings import Settings
from paperfeed.storage import migrate
from tests.conftest import CARDS, RECENT


def run(
    settings: Settings, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    # Imports here leave embedding to 'paperfeed index' (tests/test_search.py runs it on purpose).
    base = os.environ | settings.environment() | {"PAPERFEED_EMBED_ON_INGEST_MAX": "0"}
    return subprocess.run(
        [sys.executable, "-m", "paperfeed.cli", *args],
        env=base | (env or {}),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_ingest_index_and_search(settings: Settings) -> None:
    done = run(settings, "ingest", "snapshot", str(RECENT))
    assert done.returncode == 0, done.stderr
    assert "read 304, new 304, updated 0, unchanged 0, rejected 0" in done.stdout
    assert "keyword index: 304 papers (re)indexed" in done.stdout
    assert "304 papers wait to be embedded: run 'paperfeed index'" in done.stdout
    again = run(settings, "ingest", "snapshot", str(RECENT))
    assert "read 304, new 0, updated 0, unchanged 304, rejected 0" in again.stdout
    found = run(settings, "search", "sparse delta memory", "--limit", "3", "--json")
    results = [json.loads(line) for line in found.stdout.splitlines()]
    assert results[0]["id"] == "2607.07386"
    assert results[0]["title"] == "Sparse Delta Memory: Scaling the State of Linear RNNs through Sparsity"
    assert len(results) == 3 and results[0]["score"] >= results[1]["score"] >= results[2]["score"]


def test_rejected_records_give_exit_code_3(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "cards.jsonl"
    path.write_text(CARDS.read_text().splitlines()[0] + "\n{oops\n")
    done = run(settings, "ingest", "cards", str(path))
    assert done.returncode == 3
    assert "rejected: cards.jsonl line 2: broken JSON" in done.stderr
    assert "new 1" in done.stdout


def test_missing_file_is_a_usage_error(settings: Settings) -> None:
    done = run(settings, "ingest", "snapshot", "/nonexistent.jsonl")
    assert done.returncode == 2 and "does not exist" in done.stderr


def test_settings_lists_every_setting_and_masks_secrets(settings: Settings) -> None:
    done = run(settings, "settings", env={"PAPERFEED_SECRET_KEY": "hunter2"})
    assert "hunter2" not in done.stdout and "PAPERFEED_SECRET_KEY=********" in done.stdout
    for name in Settings.model_fields:
        assert f"PAPERFEED_{name.upper()}=" in done.stdout
    assert f"PAPERFEED_DATABASE_URL={settings.database_url}" in done.stdout


def test_migrate_reports_the_revision(settings: Settings) -> None:
    newest = migrate.head()
    assert newest is not None and int(newest) >= 2
    done = run(settings, "migrate")
    assert done.returncode == 0 and f"database at revision {newest} (newest: {newest})" in done.stdout
