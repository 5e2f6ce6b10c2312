"""``paper.followed`` webhooks (#16): a new paper matching one of the owner's follows (an author however
spelled, an organization, a category, a saved search with its filters) reaches the endpoint once, signed,
through the worker's job and its ledger, whatever number of follows it matches and however often the job
runs; other members' follows and papers that only resemble one do not. Webhook categories are checked as
the feed checks them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from paperfeed.models import Organization, Version
from paperfeed.settings import Settings
from paperfeed.storage import Database, open_database
from paperfeed.storage import orgs as org_store
from paperfeed.storage import papers as paper_store
from paperfeed.web.app import create_app
from tests.digest_helpers import paper
from tests.test_webhooks import Receiver, hook_settings, member, register, run_job, until


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[Settings, Database, TestClient]]:
    settings = hook_settings(tmp_path)
    db = open_database(settings.database_url)
    with TestClient(create_app(settings)) as client:
        yield settings, db, client
    db.close()


def test_new_papers_matching_follows_are_delivered_once(site: tuple[Settings, Database, TestClient]) -> None:
    settings, db, client = site
    ada, ada_auth = member(db, "ada")
    _bob, bob_auth = member(db, "bob")
    org_store.create_org(db, "acme", "Acme Research", ada.id, datetime.now(UTC))
    for kind, value in (
        ("author", "Grace Hopper"),
        ("organization", "acme"),
        ("category", "cs.CL"),
        ("search", "q=sparse attention&category=cs.LG"),
    ):
        made = client.post("/api/follows", headers=ada_auth, json={"kind": kind, "value": value})
        assert made.status_code == 201, made.text
    assert (
        client.post("/api/follows", headers=bob_auth, json={"kind": "category", "value": "cs.CV"}).status_code
        == 201
    )
    with Receiver(fail_first=1) as receiver:
        register(client, ada_auth, receiver, "/json", events=["paper.followed"])
        register(client, ada_auth, receiver, "/slack", events=["paper.followed"], format="slack")
        run_job(db, settings)  # the first look

        acme = Organization("acme", "Acme Research")
        new = [
            paper("2610.00001", "On compilers", authors=["GRACE  hopper"], categories=["cs.PL"]),
            paper("2610.00002", "A lab's paper", organization=acme, categories=["cs.AI"]),
            paper("2610.00003", "Parsing", authors=["Grace Hopper"], categories=["cs.CL"]),  # two follows
            paper("2610.00004", "Sparse attention for long documents", categories=["cs.LG"]),
            paper("2610.00005", "Sparse attention in images", categories=["cs.CV"]),  # search: not cs.LG
            paper("2610.00006", "Dense attention", categories=["cs.LG"]),  # search: not every word
            paper("2610.00007", "Vision", categories=["cs.CV"]),  # bob's follow only
        ]
        paper_store.upsert_papers(db, [replace(p, versions=[Version(1, p.published_at)]) for p in new])  # type: ignore[arg-type]
        expected = [("paper.followed", f"2610.0000{i}") for i in (1, 2, 3, 4)]
        until(lambda: len(receiver.events("/json")) >= 4, lambda: run_job(db, settings))
        # A new version of a followed paper is no new paper; later runs change nothing.
        paper_store.upsert_papers(db, [replace(new[0], version=2, title="On compilers, revised")])
        for _ in range(3):
            run_job(db, settings)
        assert receiver.events("/json") == expected
        assert receiver.bad_signatures == 0 and not receiver.after_ack
        bodies = {b["data"]["id"]: b["data"] for p, b in receiver.processed.values() if p == "/json"}
        assert bodies["2610.00003"]["matched"] == [
            {"kind": "author", "value": "Grace Hopper"},
            {"kind": "category", "value": "cs.CL"},
        ]
        assert bodies["2610.00004"]["matched"] == [
            {"kind": "search", "value": "q=sparse+attention&category=cs.LG"}
        ]
        assert bodies["2610.00002"]["url"].endswith("/papers/2610.00002")
        slack = [b for p, b in receiver.processed.values() if p == "/slack"]
        assert len(slack) == 4 and any("author Grace Hopper" in str(b) for b in slack)


def test_webhook_categories_are_checked(site: tuple[Settings, Database, TestClient]) -> None:
    _settings, db, client = site
    _ada, auth = member(db, "ada")
    url = "http://127.0.0.1:9/hook"
    for categories, bad in ((["cs.CL", "cs CL"], "'cs CL'"), (["cs.CL,cs.LG"], "'cs.CL,cs.LG'"), ([7], "7")):
        answer = client.post(
            "/api/webhooks",
            headers=auth,
            json={"url": url, "events": ["paper.new"], "categories": categories},
        )
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"].startswith(f"categories: {bad} is not an arXiv category"), answer.text
    many = [f"cs.A{chr(65 + i)}" for i in range(21)]
    answer = client.post(
        "/api/webhooks", headers=auth, json={"url": url, "events": ["paper.new"], "categories": many}
    )
    assert answer.status_code == 400 and "at most 20" in answer.json()["error"]
    fine = client.post(
        "/api/webhooks",
        headers=auth,
        json={"url": url, "events": ["paper.new", "paper.followed"], "categories": ["hep-th", "cs.CL"]},
    )
    assert fine.status_code == 201, fine.text
