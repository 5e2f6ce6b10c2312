"""Extractive summaries (issue 15, item 4, offline part): sentences of the abstract, picked by the method
docs/summaries.md documents, in the API's ``ai_summary`` (read by huggingface_hub's ``paper_info``) and on
the paper page, labelled extractive. Expectations come from the bundled abstracts themselves."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from huggingface_hub import HfApi

from paperfeed.settings import Settings
from paperfeed.storage import Database
from paperfeed.storage import papers as paper_store
from paperfeed.summary import MAX_WORDS, extractive_summary, sentences
from tests.arxiv_replay import ReplayServer, Reply
from tests.community import add_papers, https_client, run_job
from tests.conftest import RECENT, LiveServer

OPENAI = Path(__file__).resolve().parent / "fixtures" / "openai"


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


# -- abstractive, against a local server replaying an OpenAI-compatible endpoint's answers --------------


def _answer(name: str, status: int = 200) -> Reply:
    return Reply((OPENAI / name).read_bytes(), status, {}, "application/json")


def test_the_summaries_job_stores_abstractive_summaries_with_provenance(
    settings: Settings, db: Database
) -> None:
    assert run_job(db, settings, "summaries").startswith("skipped: PAPERFEED_SUMMARY_URL is not set")
    add_papers(db, 3)
    with ReplayServer() as server:
        server.route(
            [_answer("chat-completion.json"), _answer("empty-choices.json"), _answer("chat-completion.json")],
            at="/v1/chat/completions",
        )
        configured = Settings(
            **{
                **settings.model_dump(),
                "summary_url": server.url + "/v1",
                "summary_model": "qwen2.5-7b-instruct",
                "summary_key": "sk-local",
            }
        )
        assert run_job(db, configured, "summaries") == "2 summarised, 1 without a usable answer"
        sent = json.loads(server.log[0].body)
        assert sent["model"] == "qwen2.5-7b-instruct" and sent["messages"][1]["content"].startswith(
            "Title: Paper"
        )
        assert server.log[0].headers["Authorization"] == "Bearer sk-local"
        with https_client(configured) as client:
            done = [
                p
                for p in paper_store.papers_by_ids(db, ["2611.00000", "2611.00001", "2611.00002"])
                if p.summary
            ]
            assert len(done) == 2
            api = client.get(f"/api/papers/{done[0].id}").json()
            assert (
                api["aiSummaryMethod"] == "abstractive"
                and api["aiSummaryModel"] == "qwen2.5-7b-instruct-q4_k_m"
            )
            assert (
                api["ai_summary"].startswith("Sparse Delta Memory scales") and "\n" not in api["ai_summary"]
            )
            assert "aiSummaryAt" in api
            page = client.get(f"/papers/{done[0].id}").text
            assert "abstractive, by qwen2.5-7b-instruct-q4_k_m" in page
        # A summarised paper is not asked again; a new arXiv version is.
        assert run_job(db, configured, "summaries") == "1 summarised, 0 without a usable answer"
        paper_store.upsert_papers(db, [dataclasses.replace(done[0], version=2, abstract="Rewritten.")])
        assert run_job(db, configured, "summaries") == "1 summarised, 0 without a usable answer"
        assert json.loads(server.log[-1].body)["messages"][1]["content"].endswith("Abstract: Rewritten.")


def test_the_summaries_job_fails_fast(settings: Settings, db: Database) -> None:
    add_papers(db, 2)
    with ReplayServer() as server:
        server.route(
            Reply(b'{"error": {"message": "model not loaded"}}', 503, {}, "application/json"),
            at="/v1/chat/completions",
        )
        configured = Settings(**{**settings.model_dump(), "summary_url": server.url + "/v1"})
        with pytest.raises(RuntimeError, match=r"summary endpoint failed: POST .*HTTP 503"):
            run_job(db, configured, "summaries")
        assert len(server.log) == 1
