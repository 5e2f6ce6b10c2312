"""For-you through the real API and pages, on the bundled real papers (issue #14 items 1–3 and the private
feed of item 5): ranked with a reason per paper, "less like this" takes a paper off at once, seen papers
stay away unless asked, a new reader starts from seeds, and the private RSS/Atom feed is refused once
revoked.

The bundled database is shared by the tests of a process: every test here acts as a member of its own
and changes nothing but that member's rows (feedback, seen marks, follows, feed tokens; never upvotes,
which other tests count).
"""

from __future__ import annotations

import gc
import itertools
import re
import uuid
from datetime import UTC, date, datetime, timedelta

import feedparser
import numpy as np
import pytest

from paperfeed import foryou
from paperfeed.settings import Settings
from paperfeed.storage import Database, lists
from paperfeed.storage import embeddings as vector_store
from paperfeed.storage import feedback as feedback_store
from paperfeed.storage import follows as follow_store
from tests.community import add_papers, csrf_of, form_token, https_client, log_in, member, token_for

SDM = "2607.07386"  # Sparse Delta Memory (linear RNNs), first published 8 Jul 2026
WEEK = "since=2026-07-06&until=2026-07-12"
_names = (f"reader{n}" for n in itertools.count())
NOW = datetime.now(UTC)


def fresh_member(db: Database) -> tuple[str, dict[str, str]]:
    name = f"{next(_names)}_{uuid.uuid4().hex[:8]}"
    user = member(db, name)
    return name, token_for(db, user)


def ids(response: object) -> list[str]:
    return [item["paper"]["id"] for item in response.json()]  # type: ignore[attr-defined]


def test_a_visitor_is_invited_to_sign_in_and_the_api_needs_a_member(loaded_settings: Settings) -> None:
    with https_client(loaded_settings) as client:
        page = client.get("/for-you")
        assert page.status_code == 200
        assert 'id="for-you-invite"' in page.text and "/login?next=/for-you" in page.text
        answer = client.get("/api/for-you")
        assert answer.status_code == 401 and "error" in answer.json()


def test_the_default_period_is_the_latest_seven_days_with_papers(
    loaded_settings: Settings, loaded_db: Database
) -> None:
    days = lists.recent_days(loaded_db, 7)
    win = foryou.window(loaded_db)
    assert win is not None and (win.start, win.end) == (days[-1], days[0])
    _, auth = fresh_member(loaded_db)
    with https_client(loaded_settings) as client:
        answer = client.get("/api/for-you?limit=100", headers=auth)
    assert answer.status_code == 200
    total = int(answer.headers["X-Total-Count"])
    assert total == lists.count_feed_papers(loaded_db, win.start, win.end) and total > 0
    items = answer.json()
    # A new reader: the period's popular and recent papers, each saying so, in daily_papers' shape.
    assert {"paper", "publishedAt", "title", "summary", "upvotes", "reason"} <= set(items[0])
    assert all(i["reason"].startswith(("popular this period", "new this period")) for i in items)
    days_seen = {date.fromisoformat(i["paper"]["publishedAt"][:10]) for i in items}
    assert days_seen  # papers of the period only
    assert all(win.start <= lists_day(loaded_db, i["paper"]["id"]) <= win.end for i in items)


def lists_day(db: Database, paper_id: str) -> date:
    from paperfeed.storage import papers as paper_store

    found = paper_store.paper(db, paper_id)
    assert found is not None and found.feed_day is not None
    return found.feed_day


def test_what_the_reader_did_ranks_the_list_and_each_item_says_why(
    loaded_settings: Settings, loaded_db: Database
) -> None:
    _, auth = fresh_member(loaded_db)
    with https_client(loaded_settings) as client:
        more = client.post(f"/api/papers/{SDM}/feedback", json={"signal": "more"}, headers=auth)
        assert more.status_code == 200 and more.json() == {"id": SDM, "signal": "more"}
        answer = client.get(f"/api/for-you?{WEEK}&limit=10", headers=auth)
        assert answer.status_code == 200
        items = answer.json()
        assert SDM not in ids(answer)  # a liked paper is not recommended back
        assert any(
            i["reason"].startswith("close to “Sparse Delta Memory") and i["reason"].endswith("asked more of")
            for i in items
        )
        # A follow: its papers come first and say so.
        listed = client.get(f"/api/for-you?{WEEK}&limit=100", headers=auth).json()
        category = next(c for i in listed for c in i["paper"].get("categories", []) if c != "cs.LG")
    follow_store.follow(loaded_db, _user_of(loaded_db, auth), "category", category, category.casefold(), NOW)
    with https_client(loaded_settings) as client:
        items = client.get(f"/api/for-you?{WEEK}&limit=3", headers=auth).json()
    assert items[0]["reason"] == f"in {category}, which you follow"


def _user_of(db: Database, auth: dict[str, str]) -> int:
    from paperfeed import accounts

    user = accounts.token_user(db, auth["Authorization"][7:])
    assert user is not None
    return user.id


def test_less_takes_a_paper_off_at_once_and_delete_brings_it_back(
    loaded_settings: Settings, loaded_db: Database
) -> None:
    _, auth = fresh_member(loaded_db)
    with https_client(loaded_settings) as client:
        client.post(f"/api/papers/{SDM}/feedback", json={"signal": "more"}, headers=auth)
        before = ids(client.get(f"/api/for-you?{WEEK}", headers=auth))
        gone = before[0]
        less = client.post(f"/api/papers/{gone}/feedback", json={"signal": "less"}, headers=auth)
        assert less.status_code == 200 and less.json()["signal"] == "less"
        after = client.get(f"/api/for-you?{WEEK}", headers=auth)
        assert gone not in ids(after)
        assert int(after.headers["X-Total-Count"]) == len(before) - 1
        assert gone not in ids(client.get(f"/api/for-you?{WEEK}&seen=include", headers=auth))  # never
        back = client.delete(f"/api/papers/{gone}/feedback", headers=auth)
        assert back.status_code == 200 and back.json() == {"id": gone, "signal": None}
        assert gone in ids(client.get(f"/api/for-you?{WEEK}", headers=auth))
        # Refusals name what is wrong.
        bad = client.post(f"/api/papers/{gone}/feedback", json={"signal": "meh"}, headers=auth)
        assert bad.status_code == 400 and "signal" in bad.json()["error"]
        assert (
            client.post("/api/papers/9999.99999/feedback", json={"signal": "less"}, headers=auth).status_code
            == 404
        )
        assert client.post(f"/api/papers/{gone}/feedback", json={"signal": "less"}).status_code == 401


def test_seen_papers_stay_away_unless_asked(loaded_settings: Settings, loaded_db: Database) -> None:
    _, auth = fresh_member(loaded_db)
    with https_client(loaded_settings) as client:
        first = ids(client.get(f"/api/for-you?{WEEK}", headers=auth))
        marked = client.post(f"/api/papers/{first[0]}/seen", headers=auth)
        assert marked.status_code == 200 and marked.json() == {"id": first[0], "seen": True}
        opened = client.post(f"/api/papers/{first[1]}/seen", json={"via": "opened"}, headers=auth)
        assert opened.status_code == 200
        now = ids(client.get(f"/api/for-you?{WEEK}", headers=auth))
        assert first[0] not in now and first[1] not in now
        assert {first[0], first[1]} <= set(ids(client.get(f"/api/for-you?{WEEK}&seen=include", headers=auth)))
        # Mark all as seen: the whole page.
        rest = ids(client.get(f"/api/for-you?{WEEK}&limit=5", headers=auth))
        done = client.post("/api/for-you/seen", json={"ids": rest}, headers=auth)
        assert done.status_code == 200 and done.json() == {"marked": 5}
        assert not set(rest) & set(ids(client.get(f"/api/for-you?{WEEK}", headers=auth)))
        unseen = client.delete(f"/api/papers/{first[0]}/seen", headers=auth)
        assert unseen.json() == {"id": first[0], "seen": False}
        assert first[0] in ids(client.get(f"/api/for-you?{WEEK}", headers=auth))
    vias = feedback_store.seen_via(loaded_db, _user_of(loaded_db, auth))
    assert vias[first[1]] == "opened" and set(vias.values()) == {"opened", "marked"}


def test_the_page_shows_cards_with_reasons_and_its_forms_work_without_script(
    loaded_settings: Settings, loaded_db: Database
) -> None:
    name, _ = fresh_member(loaded_db)
    with https_client(loaded_settings) as client:
        log_in(client, name)
        page = client.get(f"/for-you?{WEEK}")
        assert page.status_code == 200
        assert 'id="start-from"' in page.text and " open>" in page.text.split('id="start-from"')[1][:40]
        token = form_token(page.text)
        # A new reader starts from a paper, an author and a category.
        started = client.post(
            "/for-you/start",
            data={
                "csrf": token,
                "arxiv_ids": f"arXiv:{SDM}v2 not-an-id",
                "author": "Nobody Known",
                "categories": "cs.CL",
            },
            follow_redirects=False,
        )
        assert started.status_code == 303 and started.headers["location"] == "/for-you"
        page = client.get(f"/for-you?{WEEK}")
        reasons = re.findall(r'<p class="card-reason">([^<]+)</p>', page.text)
        assert reasons and any("which you follow" in r or "asked more of" in r for r in reasons)
        cards = re.findall(r'<article class="card" id="paper-([^"]+)"', page.text)
        assert SDM not in cards and len(cards) == len(reasons)
        # "Less like this", as a plain form: back to the list, without that paper.
        less = client.post(
            f"/papers/{cards[0]}/feedback",
            data={"csrf": token, "signal": "less", "back": f"/for-you?{WEEK}"},
            follow_redirects=False,
        )
        assert less.status_code == 303 and less.headers["location"] == f"/for-you?{WEEK}"
        page = client.get(less.headers["location"])
        assert f'id="paper-{cards[0]}"' not in page.text
        # Without the CSRF field: refused.
        assert client.post(f"/papers/{cards[1]}/feedback", data={"signal": "less"}).status_code == 403
        # Mark all as seen: nothing of that page comes back.
        shown = re.findall(r'<article class="card" id="paper-([^"]+)"', page.text)
        ids_field = re.search(r'name="ids" value="([^"]*)"', page.text)
        assert ids_field and set(ids_field[1].split()) == set(shown)
        client.post("/for-you/seen", data={"csrf": token, "ids": ids_field[1], "back": f"/for-you?{WEEK}"})
        after = client.get(f"/for-you?{WEEK}")
        assert not set(shown) & set(re.findall(r'<article class="card" id="paper-([^"]+)"', after.text))
        assert 'id="show-seen"' in after.text
        # The paper page loads the script that records "opened" (by POST, never on GET).
        paper = client.get(f"/papers/{SDM}")
        assert '<script defer src="/static/js/foryou.js"></script>' in paper.text
        assert client.get("/static/js/foryou.js").status_code == 200
    user_id = _user_of_name(loaded_db, name)
    follows = {(f.kind, f.value) for f in follow_store.follows_of(loaded_db, user_id)}
    assert ("author", "Nobody Known") in follows and ("category", "cs.CL") in follows
    assert feedback_store.feedback_on(loaded_db, user_id, [SDM]) == {SDM: "more"}


def _user_of_name(db: Database, name: str) -> int:
    from paperfeed.storage import users as user_store

    found = user_store.user_by_name(db, name)
    assert found is not None
    return found.id


def test_opened_by_a_signed_in_page_is_a_post_with_the_csrf_header(
    loaded_settings: Settings, loaded_db: Database
) -> None:
    name, _ = fresh_member(loaded_db)
    with https_client(loaded_settings) as client:
        log_in(client, name)
        client.get(f"/papers/{SDM}")
        assert (
            feedback_store.seen_via(loaded_db, _user_of_name(loaded_db, name)) == {}
        )  # a GET changes nothing
        assert client.post(f"/api/papers/{SDM}/seen", json={"via": "opened"}).status_code == 403
        ok = client.post(
            f"/api/papers/{SDM}/seen", json={"via": "opened"}, headers={"X-CSRF-Token": csrf_of(client)}
        )
        assert ok.status_code == 200
    assert feedback_store.seen_via(loaded_db, _user_of_name(loaded_db, name)) == {SDM: "opened"}


def test_bad_parameters_are_refused_by_name(loaded_settings: Settings, loaded_db: Database) -> None:
    _, auth = fresh_member(loaded_db)
    with https_client(loaded_settings) as client:
        for query, word in [
            ("since=2026-13-01", "since"),
            ("since=2026-08-10&until=2026-08-01", "since"),
            ("since=2026-01-01&until=2026-08-01", "31"),
            ("category=not a category", "category"),
            ("seen=sometimes", "seen"),
        ]:
            answer = client.get(f"/api/for-you?{query}", headers=auth)
            assert answer.status_code == 400 and word in answer.json()["error"], query


@pytest.mark.parametrize("kind", ["rss", "atom"])
def test_the_private_feed_parses_and_a_revoked_address_is_refused(
    loaded_settings: Settings, loaded_db: Database, kind: str
) -> None:
    name, _ = fresh_member(loaded_db)
    suffix = "xml" if kind == "rss" else "atom"
    with https_client(loaded_settings) as client:
        log_in(client, name)
        page = client.get("/settings/for-you-feed")
        assert page.status_code == 200 and 'id="feed-none"' in page.text
        made = client.post("/settings/for-you-feed", data={"csrf": form_token(page.text), "action": "create"})
        assert made.status_code == 200
        url = re.search(rf'<code id="feed-{kind}">([^<]+)</code>', made.text)
        assert url and url[1].endswith(f"/feed.{suffix}")
        path = url[1].removeprefix(loaded_settings.base_url)
        client.cookies.clear()  # a feed reader has no session
        feed = client.get(path)
        assert feed.status_code == 200
        assert feed.headers["content-type"].startswith(f"application/{kind}+xml")
        parsed = feedparser.parse(feed.content)
        assert not parsed.bozo and parsed.entries
        assert all(e.summary.startswith("Why: ") for e in parsed.entries)
        assert client.get(path, headers={"If-None-Match": feed.headers["etag"]}).status_code == 304
        # Revoked (from a session): refused, and the page says there is none.
        log_in(client, name)
        page = client.get("/settings/for-you-feed")
        assert 'id="feed-live"' in page.text and url[1] not in page.text  # never shown again
        client.post("/settings/for-you-feed", data={"csrf": form_token(page.text), "action": "revoke"})
        refused = client.get(path)
        assert refused.status_code == 410 and "revoked" in refused.json()["error"]
        assert client.get(path.replace("pff_", "pff_x")).status_code == 404
        # A new address works, and replacing it revokes the one before.
        page = client.get("/settings/for-you-feed")
        again = client.post(
            "/settings/for-you-feed", data={"csrf": form_token(page.text), "action": "create"}
        )
        second = re.search(rf'<code id="feed-{kind}">([^<]+)</code>', again.text)
        assert second and client.get(second[1].removeprefix(loaded_settings.base_url)).status_code == 200
        page = client.get("/settings/for-you-feed")
        client.post("/settings/for-you-feed", data={"csrf": form_token(page.text), "action": "create"})
        assert client.get(second[1].removeprefix(loaded_settings.base_url)).status_code == 410


def test_feed_addresses_are_made_from_a_session_only(loaded_settings: Settings, loaded_db: Database) -> None:
    _, auth = fresh_member(loaded_db)
    with https_client(loaded_settings) as client:
        answer = client.post("/settings/for-you-feed", data={"action": "create"}, headers=auth)
        assert answer.status_code == 403


def test_candidates_are_built_once_per_period_and_again_when_its_papers_change(
    settings: Settings, db: Database
) -> None:
    papers = add_papers(db, 3)
    cache = foryou.CandidateCache()
    win = foryou.window(db)
    assert win is not None
    model = settings.embedding_model
    first = cache.get(db, win, lists.EVERYTHING, model)
    assert len(first) == 3 and cache.get(db, win, lists.EVERYTHING, model) is first and cache.builds == 1
    # Between the first papers (an hour apart): in the period's days whatever the time of day.
    between = papers[0].published_at - timedelta(minutes=30)  # type: ignore[operator]
    add_papers(db, 1, id="2611.09999", title="One more paper", published_at=between)
    assert len(cache.get(db, win, lists.EVERYTHING, model)) == 4 and cache.builds == 2


def test_vectors_written_after_the_candidates_rebuild_them(settings: Settings, db: Database) -> None:
    """The embed job writes vectors after the papers: candidates built in between must not keep ranking
    without them (papers' change numbers do not move when a vector is stored)."""
    add_papers(db, 3)
    win = foryou.window(db)
    assert win is not None
    cache = foryou.CandidateCache()
    model = settings.embedding_model
    first = cache.get(db, win, lists.EVERYTHING, model)
    assert not first.has_vector.any()
    vector = np.ones(384, dtype=np.float32)
    vector_store.store_embedded(db, model, [vector_store.Embedded("2611.00001", "h", vector, None)])
    again = cache.get(db, win, lists.EVERYTHING, model)
    assert again is not first and cache.builds == 2
    assert again.has_vector[again.row["2611.00001"]] and again.has_vector.sum() == 1
    # Another model's vectors are not this cache entry's: kept.
    vector_store.store_embedded(db, "another-model", [vector_store.Embedded("2611.00002", "h", vector, None)])
    assert cache.get(db, win, lists.EVERYTHING, model) is again and cache.builds == 2


def test_a_change_elsewhere_keeps_the_candidates_and_one_in_the_period_rebuilds_them(
    settings: Settings, db: Database
) -> None:
    add_papers(db, 3)
    win = foryou.window(db)
    assert win is not None
    add_papers(db, 1, id="2401.00001", published_at=NOW - timedelta(days=400))  # long before the period
    cache = foryou.CandidateCache()
    model = settings.embedding_model
    first = cache.get(db, win, lists.EVERYTHING, model)
    # A new version of a paper outside the period moves the change number: the period's stamp is asked
    # again, found the same, and the candidates are kept.
    add_papers(db, 1, id="2401.00001", title="Revised", version=2, published_at=NOW - timedelta(days=400))
    assert cache.get(db, win, lists.EVERYTHING, model) is first and cache.builds == 1
    # A new version of one of the period's papers changes its stamp: rebuilt, with the new title.
    add_papers(db, 1, id="2611.00000", title="A better title", version=2)
    again = cache.get(db, win, lists.EVERYTHING, model)
    assert again is not first and cache.builds == 2
    assert again.papers[again.row["2611.00000"]].title == "A better title"


def test_the_default_period_follows_new_papers(db: Database) -> None:
    add_papers(db, 2, published_at=NOW - timedelta(days=10))
    before = foryou.window(db)
    assert before is not None and foryou.window(db) == before  # asked again, unchanged
    add_papers(db, 1, id="2611.09999", title="Today's paper", published_at=NOW - timedelta(minutes=5))
    after = foryou.window(db)
    assert after is not None and after.end > before.end and after.start == before.start


def test_the_long_lived_caches_hold_nothing_the_cyclic_collector_walks(
    loaded_settings: Settings, loaded_db: Database
) -> None:
    """A web worker keeps a period's candidates and thousands of liked papers for hours; each full pass
    of Python's cyclic garbage collector walks every tracked object it can reach, and a pass over lists,
    sets and Paper objects there took tens of milliseconds out of whichever request triggered it."""
    win = foryou.window(loaded_db)
    assert win is not None
    found = foryou.CandidateCache().get(loaded_db, win, lists.EVERYTHING, loaded_settings.embedding_model)
    assert found.matching("language model")  # builds the word index
    known = foryou.KnownCache()
    liked = [p.id for p in lists.feed_papers(loaded_db, date(2026, 7, 6), date(2026, 7, 12), limit=5)]
    papers, _ = known.get(loaded_db, loaded_settings.embedding_model, liked)
    assert set(papers) == set(liked) and all(p.title and p.authors for p in papers.values())
    for _ in range(3):  # a tuple stops being tracked in the pass after those it holds did
        gc.collect()
    for lookup in (found.by_author, found.by_organization, found.by_category, found._words):
        assert not gc.is_tracked(lookup)
    assert not any(gc.is_tracked(entry) for entry in known._entries.values())
    again, _ = known.get(loaded_db, loaded_settings.embedding_model, liked)  # from memory, the same papers
    assert {i: (p.title, p.authors, p.categories) for i, p in again.items()} == {
        i: (p.title, p.authors, p.categories) for i, p in papers.items()
    }


def test_a_new_installation_answers_an_empty_list(settings: Settings, db: Database) -> None:
    auth = token_for(db, member(db, "ada"))
    with https_client(settings) as client:
        answer = client.get("/api/for-you", headers=auth)
        assert answer.status_code == 200 and answer.json() == [] and answer.headers["X-Total-Count"] == "0"
        client.headers.update(auth)
