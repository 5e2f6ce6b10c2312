"""Abstractive summaries: the worker's ``summaries`` job asks an OpenAI-compatible endpoint
(``PAPERFEED_SUMMARY_URL``, its ``/chat/completions``) for one or two sentences about each paper that lacks
a summary of its current text, through one outbound client (``paperfeed/outbound.py``), and stores each
with the model that answered and the date (``storage/summaries.py``). Apart from ``summary.py``, which the
web imports for the extractive summary: no web module may reach an HTTP client (tests/test_outbound.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from paperfeed.ingest.http import ArxivHTTPError, PoliteClient
from paperfeed.storage import Database
from paperfeed.storage import summaries as store

PROMPT = (
    "Summarise the research paper whose title and abstract follow in one or two plain sentences (at most "
    "60 words) for a researcher deciding whether to read it. State what it does and finds; no preamble."
)
MAX_CHARS = 1000


@dataclass(slots=True)
class SummaryReport:
    made: int = 0
    refused: int = 0  # an answer without a usable summary: tried again at a later run
    unreachable: str | None = None

    def summary(self) -> str:
        return f"{self.made} summarised, {self.refused} without a usable answer"


def summarise_due(
    db: Database,
    client: PoliteClient,
    url: str,
    model: str,
    key: str,
    batch: int,
    now: datetime | None = None,
) -> SummaryReport:
    """Ask ``url``'s ``/chat/completions`` for a summary of each paper that lacks one of its current text,
    storing each with the model that answered and the time; stop at the first failed request."""
    report = SummaryReport()
    endpoint = url.rstrip("/") + "/chat/completions"
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    for paper_id, title, abstract in store.unsummarised(db, batch):
        body = {
            "model": model,
            "temperature": 0,
            "messages": [
                {"role": "system", "content": PROMPT},
                {
                    "role": "user",
                    "content": f"Title: {' '.join(title.split())}\n\nAbstract: {' '.join(abstract.split())}",
                },
            ],
        }
        try:
            answer = client.post_json(endpoint, body, headers=headers).json()
        except (ArxivHTTPError, ValueError) as exc:
            report.unreachable = str(exc)
            return report
        try:
            text = " ".join(str(answer["choices"][0]["message"]["content"]).split())
        except (KeyError, IndexError, TypeError):
            text = ""
        if not text:
            report.refused += 1
            continue
        served_by = str(answer.get("model") or model)[:200]
        made = now or datetime.now(UTC)
        store.store(db, paper_id, text[:MAX_CHARS], served_by, made, store.source_hash(title, abstract))
        report.made += 1
    return report
