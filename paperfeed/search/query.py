"""Answers a search box: an exact arXiv id first, then the keyword index's ranking, as stored papers."""

from __future__ import annotations

from paperfeed.ingest.normalize import BadRecord, parse_arxiv_id
from paperfeed.models import Paper
from paperfeed.search.keyword import KeywordIndex
from paperfeed.storage import Database
from paperfeed.storage import papers as paper_store


def search_papers(db: Database, index: KeywordIndex, query: str, limit: int = 10) -> list[Paper]:
    ids = [hit.id for hit in index.search(query, limit)]
    try:
        exact, _ = parse_arxiv_id(query)
    except BadRecord:
        exact = None
    if exact and paper_store.paper(db, exact):
        ids = [exact, *(i for i in ids if i != exact)][:limit]
    return paper_store.papers_by_ids(db, ids)
