"""The two lists (curated and all new) and category filters, alike on the pages, the API and the feeds,
on the bundled real data: the 50 Daily Papers cards are the curated list of their day, the 304 arXiv
papers are harvested (all new), and a member's submission joins the curated list of its day."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import feedparser
import pytest
from fastapi.testclient import TestClient

from paperfeed import accounts
from paperfeed.feed import BadPeriod, parse_categories
from paperfeed.settings import Settings
from paperfeed.storage import Database, lists
from paperfeed.storage import papers as paper_store
from paperfeed.storage.lists import Selection
from paperfeed.web.app import create_app
from tests.community import PASSWORD

DAY = "2026-08-20"  # a harvested day of the bundled papers


@pytest.fixture(scope="module")
def curated_site(loaded_settings: Settings) -> Iterator[TestClient]:
    """The site as Hugging Face shows it: the curated list first."""
    with TestClient(create_app(loaded_settings.model_copy(update={"default_list": "curated"}))) as client:
        yield client


def _ids(items: list[dict[str, object]]) -> list[str]:
    return [item["paper"]["id"] for item in items]  # type: ignore[index]


def test_the_default_list_is_a_setting(
    curated_site: TestClient, client: TestClient, loaded_db: Database
) -> None:
    curated_day = lists.latest_day(loaded_db, Selection(curated=True))
    assert curated_day is not None
    shown = curated_site.get("/api/daily_papers", params={"limit": 100}).json()
    assert len(shown) == lists.count_feed_papers(loaded_db, curated_day, curated_day, Selection(curated=True))
    assert all(item["paper"]["submittedOnDailyAt"].startswith(curated_day.isoformat()) for item in shown)
    # The harvested day has no curated paper; the other list is one parameter away.
    assert curated_site.get("/api/daily_papers", params={"date": DAY}).json() == []
    everything = curated_site.get("/api/daily_papers", params={"date": DAY, "list": "all", "limit": 100})
    assert len(everything.json()) == lists.count_feed_papers(
        loaded_db, datetime.fromisoformat(DAY).date(), datetime.fromisoformat(DAY).date()
    )
    # A site that shows everything first serves the same list without the parameter.
    assert _ids(client.get("/api/daily_papers", params={"date": DAY, "limit": 100}).json()) == _ids(
        everything.json()
    )


def test_the_pages_link_the_two_lists(curated_site: TestClient, loaded_db: Database) -> None:
    home = curated_site.get("/")
    assert home.status_code == 200 and 'id="list-tabs"' in home.text
    assert 'aria-current="page" class="active">Curated</a>' in home.text
    everything = curated_site.get("/papers", params={"date": DAY, "list": "all"})
    assert 'aria-current="page" class="active">All new</a>' in everything.text
    day = datetime.fromisoformat(DAY).date()
    assert everything.text.count('class="card"') == lists.count_feed_papers(loaded_db, day, day) > 0
    assert curated_site.get("/papers", params={"list": "best"}).status_code == 400


def test_categories_filter_every_list_as_a_union(client: TestClient, loaded_db: Database) -> None:
    day = datetime.fromisoformat(DAY).date()
    everything = lists.feed_papers(loaded_db, day, day, limit=1000)
    wanted = {"cs.CV", "cs.RO"}
    expected = {p.id for p in everything if wanted & set(p.categories)}
    assert 0 < len(expected) < len(everything)
    api = client.get("/api/daily_papers", params={"date": DAY, "category": "cs.CV,cs.RO", "limit": 100})
    assert set(_ids(api.json())) == expected and api.headers["x-total-count"] == str(len(expected))
    page = client.get("/papers", params={"date": DAY, "category": "cs.CV,cs.RO"})
    assert page.text.count('class="card"') == len(expected) and 'id="category-filters"' in page.text
    for path in ("/feed.xml", "/feed.atom"):
        parsed = feedparser.parse(client.get(path, params={"date": DAY, "category": "cs.CV,cs.RO"}).content)
        assert {e.link.rsplit("/papers/", 1)[1] for e in parsed.entries} == expected
        assert (
            "category=cs.CV%2Ccs.RO" in parsed.feed.links[0]["href"]
            or "category=cs.CV,cs.RO" in (parsed.feed.links[0]["href"])
        )
    # The previous/next day links skip days without papers of these categories.
    nav = client.get("/papers", params={"date": DAY, "category": "cs.RO"})
    assert nav.status_code == 200


def test_category_navigation_skips_days_without_them(loaded_db: Database) -> None:
    robots = Selection(categories=("cs.RO",))
    day = lists.latest_day(loaded_db, robots)
    assert day is not None
    before = lists.previous_day(loaded_db, day, robots)
    assert before is not None and lists.count_feed_papers(loaded_db, before, before, robots) > 0
    between = lists.count_feed_papers(loaded_db, before, day, robots)
    assert between == lists.count_feed_papers(loaded_db, before, before, robots) + lists.count_feed_papers(
        loaded_db, day, day, robots
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("cs.CL,<script>", "is not an arXiv category"),
        ("x" * 60, "is not an arXiv category"),
        (",".join(f"cs.A{chr(65 + i)}" for i in range(21)), "at most 20 categories"),
    ],
)
def test_bad_categories_are_named(client: TestClient, value: str, message: str) -> None:
    with pytest.raises(BadPeriod, match=message):
        parse_categories(value)
    for path in ("/api/daily_papers", "/feed.xml", "/papers"):
        response = client.get(path, params={"category": value})
        assert response.status_code == 400 and message in response.text, path


def test_a_submission_joins_the_curated_list_of_its_day(settings: Settings, db: Database) -> None:
    from tests.community import add_papers  # harvested papers of today

    now = datetime.now(UTC)
    harvested = add_papers(db, 3, published_at=now)  # all of today's list, even just after midnight
    assert paper_store.mark_submitted(db, harvested[1].id, "ak", now)
    with TestClient(create_app(settings.model_copy(update={"default_list": "curated"}))) as site:
        assert _ids(site.get("/api/daily_papers").json()) == [harvested[1].id]
        assert len(site.get("/api/daily_papers", params={"list": "all"}).json()) == 3
        assert (
            site.get("/api/daily_papers", params={"submitter": "ak"}).json()[0]["submittedBy"]["name"] == "ak"
        )


def test_curators_pick_papers_for_the_curated_list(settings: Settings, db: Database) -> None:
    from tests.community import add_papers, https_client, member, token_for

    harvested = add_papers(db, 2)
    before = paper_store.paper(db, harvested[0].id)
    reader = member(db, "reader")
    curator = accounts.sign_up(db, "cura", "cura@example.org", PASSWORD, is_curator=True)
    assert curator.may_curate and not reader.may_curate
    target = f"/api/papers/{harvested[0].id}/pick"
    curated = {"list": "curated", "date": datetime.now(UTC).date().isoformat()}
    as_reader = token_for(db, reader)  # signed in: answers are never served from the page cache
    with https_client(settings) as client:
        refused = client.post(target, headers=as_reader)
        assert refused.status_code == 403 and "curators" in refused.json()["error"]
        assert client.get("/api/daily_papers", params=curated, headers=as_reader).json() == []
        picked = client.post(target, headers=token_for(db, curator))
        assert picked.status_code == 200 and picked.json()["submittedBy"]["name"] == "cura"
        assert _ids(client.get("/api/daily_papers", params=curated, headers=as_reader).json()) == [
            harvested[0].id
        ]
        assert client.post(target, headers=token_for(db, curator)).status_code == 200  # idempotent
        assert client.delete(target, headers=token_for(db, curator)).status_code == 200
        assert client.get("/api/daily_papers", params=curated, headers=as_reader).json() == []
    back = paper_store.paper(db, harvested[0].id)
    assert back is not None and before is not None
    assert back.submitted_at is None and back.feed_day == before.feed_day


def test_the_pick_button_shows_to_curators_only(settings: Settings, db: Database) -> None:
    from tests.community import add_papers, csrf_of, https_client, log_in

    paper = add_papers(db, 1)[0]
    accounts.sign_up(db, "cura", "cura@example.org", PASSWORD, is_curator=True)
    with https_client(settings) as client:
        assert 'id="pick"' not in client.get(f"/papers/{paper.id}").text
        log_in(client, "cura")
        assert 'id="pick"' in client.get(f"/papers/{paper.id}").text
        done = client.post(f"/papers/{paper.id}/pick", data={"csrf": csrf_of(client)}, follow_redirects=False)
        assert done.status_code == 303 and done.headers["location"].endswith("#curated")
        assert 'id="unpick"' in client.get(f"/papers/{paper.id}").text
