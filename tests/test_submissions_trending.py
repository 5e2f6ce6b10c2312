"""Submissions from the web (form and ``POST /api/papers/index``): queued at once, then fetched by the worker's
``submissions`` job from the replayed arXiv API; and the trending score with upvote velocity: its order, its
documented numbers, and ``sort=trending``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from paperfeed.settings import Settings
from paperfeed.storage import Database, lists
from paperfeed.storage import papers as paper_store
from paperfeed.storage import votes as vote_store
from paperfeed.trending import why_trending
from tests.arxiv_replay import ReplayServer, atom
from tests.community import add_papers, csrf_of, https_client, member, run_job, sign_up, token_for

PAPER = "2607.07386"  # in api/id-2607.07386.xml


@pytest.fixture
def replay() -> Iterator[ReplayServer]:
    with ReplayServer() as server:
        server.route(atom(f"api/id-{PAPER}.xml"), id_list=PAPER)
        server.route(atom("api/id-2607.99999.xml"), id_list="2607.99999")
        yield server


@pytest.fixture
def arxiv_settings(settings: Settings, replay: ReplayServer) -> Settings:
    # No page cache: the daily list is read again right after the worker's run.
    return settings.model_copy(
        update={"arxiv_api_endpoint": f"{replay.url}/api/query", "page_cache_seconds": 0}
    )


def test_submit_through_the_api_then_refuse_the_duplicate(
    arxiv_settings: Settings, db: Database, replay: ReplayServer
) -> None:
    ada, bob = member(db, "ada"), member(db, "bob")
    today = datetime.now(UTC).date().isoformat()
    with https_client(arxiv_settings) as client:
        made = client.post("/api/papers/index", json={"arxivId": PAPER}, headers=token_for(db, ada))
        assert made.status_code == 202
        assert made.json()["arxivId"] == PAPER and made.json()["status"] == "pending"
        assert replay.log == [], "the request asked arXiv nothing"
        mine = client.get("/api/submissions", headers=token_for(db, ada)).json()
        assert [(e["arxivId"], e["status"], e["submittedBy"]) for e in mine] == [(PAPER, "pending", "ada")]
        # Waiting for the worker, it is submitted already: the duplicate is refused.
        dup = client.post(
            "/api/papers/index", json={"arxivId": f"arXiv:{PAPER}v2"}, headers=token_for(db, bob)
        )
        assert dup.status_code == 409
        assert dup.json()["error"].startswith(f"{PAPER} was already submitted by ada on ")
        assert client.get("/api/daily_papers", params={"date": today}).json() == []

        assert run_job(db, arxiv_settings, "submissions") == "1 submitted, 0 failed, 0 waiting"
        daily = client.get("/api/daily_papers", params={"date": today}).json()
        assert [i["paper"]["id"] for i in daily] == [PAPER]
        assert daily[0]["submittedBy"]["name"] == "ada"
        assert client.get("/api/submissions", headers=token_for(db, ada)).json()[0]["status"] == "done"
        dup = client.post(
            "/api/papers/index", json={"arxivId": f"arXiv:{PAPER}v2"}, headers=token_for(db, bob)
        )
        assert dup.status_code == 409
        assert dup.json()["error"].startswith(f"{PAPER} was already submitted by ada on ")

        missing = client.post("/api/papers/index", json={"arxivId": "2607.99999"}, headers=token_for(db, bob))
        assert missing.status_code == 202
        assert run_job(db, arxiv_settings, "submissions") == "0 submitted, 1 failed, 0 waiting"
        (failed,) = client.get("/api/submissions", headers=token_for(db, bob)).json()
        assert failed["status"] == "failed"
        assert failed["message"] == "cannot submit 2607.99999: arXiv has no such paper"
        assert client.post("/api/papers/index", json={}, headers=token_for(db, bob)).status_code == 400
        assert client.get("/api/submissions").status_code == 401
    stored = paper_store.paper(db, PAPER)
    assert stored is not None and stored.submitted_by == "ada"


def test_a_stored_paper_is_submitted_at_once(settings: Settings, db: Database) -> None:
    (paper,) = add_papers(db, 1)
    with https_client(settings) as client:
        made = client.post(
            "/api/papers/index", json={"arxivId": paper.id}, headers=token_for(db, member(db, "ada"))
        )
        assert made.status_code == 201
        item = made.json()
        assert item["paper"]["id"] == paper.id and item["submittedBy"]["name"] == "ada"


def test_submit_form(arxiv_settings: Settings, db: Database) -> None:
    with https_client(arxiv_settings) as client:
        assert client.get("/submit", follow_redirects=False).headers["location"] == "/login?next=/submit"
        sign_up(client, "ada")
        sent = client.post(
            "/submit",
            data={"csrf": csrf_of(client), "arxiv_id": f"https://arxiv.org/abs/{PAPER}"},
            follow_redirects=False,
        )
        assert sent.status_code == 303 and sent.headers["location"].startswith("/submit#submission-")
        page = client.get("/submit")
        assert (
            f"{PAPER} is waiting to be fetched from arXiv" in page.text
            and 'data-status="pending"' in page.text
        )
        run_job(db, arxiv_settings, "submissions")
        assert f'<a href="/papers/{PAPER}">{PAPER}</a> is on the feed' in client.get("/submit").text
        paper = client.get(f"/papers/{PAPER}")
        assert paper.status_code == 200 and 'id="submitted-by" href="/users/ada"' in paper.text
        again = client.post("/submit", data={"csrf": csrf_of(client), "arxiv_id": PAPER})
        assert again.status_code == 409 and "was already submitted by ada" in again.text
        profile = client.get("/users/ada").text
        assert f'data-paper-id="{PAPER}"' in profile.split('id="submitted-papers"')[1]


def test_submissions_are_rate_limited(arxiv_settings: Settings, db: Database) -> None:
    headers = token_for(db, member(db, "ada"))
    with https_client(arxiv_settings.model_copy(update={"rate_submit": "1/3600"})) as client:
        first = client.post("/api/papers/index", json={"arxivId": PAPER}, headers=headers)
        second = client.post("/api/papers/index", json={"arxivId": "2607.99999"}, headers=headers)
    assert first.status_code == 202
    assert second.status_code == 429 and int(second.headers["Retry-After"]) > 3000


def test_trending_rewards_recent_votes_and_explains_itself(settings: Settings, db: Database) -> None:
    now = datetime.now(UTC)
    old, fresh = add_papers(db, 2, published_at=now - timedelta(hours=10))
    voters = [member(db, f"user{i}") for i in range(4)]
    # Both papers carry 3 votes; old's were cast two days ago, fresh's just now.
    for user in voters[:3]:
        vote_store.upvote(db, user.id, old.id, now - timedelta(days=2))
        vote_store.upvote(db, user.id, fresh.id, now - timedelta(minutes=5))
    day = old.published_at.date()  # type: ignore[union-attr]
    order = [p.id for p in lists.feed_papers(db, day, day, "trending", now=now)]
    assert order == [fresh.id, old.id]

    why = why_trending(db, fresh.id, now)
    assert why is not None
    assert (why.upvotes, why.recent_upvotes, why.comments) == (3, 3, 0)
    assert why.age_hours == pytest.approx(10.0, abs=0.01)
    assert why.score == pytest.approx((3 + 3 + 0 + 1) / (10.0 + 2.0), rel=1e-3)
    old_why = why_trending(db, old.id, now)
    assert old_why is not None and old_why.recent_upvotes == 0
    assert old_why.score == pytest.approx(4 / 12, rel=1e-3)

    with https_client(settings) as client:
        api = client.get(f"/api/papers/{fresh.id}/trending").json()
        assert api["recentUpvotes"] == 3 and api["score"] == pytest.approx(why.score, rel=1e-2)
        listed = client.get("/api/daily_papers", params={"date": day.isoformat(), "sort": "trending"}).json()
        assert [i["paper"]["id"] for i in listed] == [fresh.id, old.id]
        page = client.get(f"/papers/{fresh.id}").text
        assert 'id="why-trending"' in page and "3 in the last 24 h" in page
