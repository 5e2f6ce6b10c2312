"""Extractive summaries (issue 15, item 4, offline part): sentences of the abstract, picked by the method
docs/summaries.md documents, in the API's ``ai_summary`` (read by huggingface_hub's ``paper_info``) and on
the paper page, labelled extractive. Expectations come from the bundled abstracts themselves."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from huggingface_hub import HfApi

from paperfeed.summary import MAX_WORDS, extractive_summary, sentences
from tests.conftest import RECENT, LiveServer


def test_sentences_do_not_break_at_abbreviations() -> None:
    text = "We use e.g. Transformers and CNNs (cf. Fig. 2). Results improve by 3.5 points! Is it fast? Yes."
    assert sentences(text) == [
        "We use e.g. Transformers and CNNs (cf. Fig. 2).",
        "Results improve by 3.5 points!",
        "Is it fast?",
        "Yes.",
    ]


def test_every_bundled_summary_is_one_or_two_whole_sentences_of_its_abstract() -> None:
    for line in RECENT.read_text().splitlines():
        record = json.loads(line)
        abstract = " ".join(record["abstract"].split())
        summary = extractive_summary(record["title"], record["abstract"])
        parts = sentences(summary)
        assert 1 <= len(parts) <= 2, record["id"]
        assert all(p in abstract for p in parts), record["id"]
        assert len(parts) == 1 or len(summary.split()) <= MAX_WORDS, record["id"]
        if any("://" not in s for s in sentences(abstract)):
            assert "://" not in summary, record["id"]  # a sentence pointing at code is never picked


def test_the_title_s_words_pick_the_sentence() -> None:
    abstract = (
        "Large models are costly. We study pruning of attention heads in vision transformers. "
        "Training takes days on many machines."
    )
    assert extractive_summary("Pruning attention heads", abstract).startswith("We study pruning")


def test_ai_summary_in_the_api_the_client_and_the_page(client: TestClient, live_server: LiveServer) -> None:
    api = client.get("/api/papers/2607.07386").json()
    assert api["aiSummaryMethod"] == "extractive"
    assert api["ai_summary"].startswith("Increasing the state size of linear attention")
    info = HfApi(endpoint=live_server.url).paper_info("2607.07386")
    assert info.ai_summary == api["ai_summary"]
    page = client.get("/papers/2607.07386").text
    assert 'id="summary"' in page and "extractive" in page
