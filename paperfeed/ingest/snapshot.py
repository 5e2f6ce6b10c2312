"""``paperfeed ingest snapshot``: arXiv's bulk metadata snapshot (``arxiv-metadata-oai-snapshot.json``, or .gz)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from paperfeed.ingest.jsonlines import Progress, Stored, import_file
from paperfeed.ingest.normalize import paper_from_snapshot
from paperfeed.models import ImportReport, Paper
from paperfeed.storage import Database


def _parse(record: Any, _now: datetime) -> Paper:
    return paper_from_snapshot(record)


def ingest_snapshot(
    db: Database, path: Path, progress: Progress | None = None, stored: Stored | None = None
) -> ImportReport:
    return import_file(db, path, _parse, progress, stored=stored)
