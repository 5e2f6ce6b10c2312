"""The HF-shaped JSON API: shapes, parameters, errors and paging in-process, then the official
``huggingface_hub`` client against a live server, in this process and in a subprocess that only sets
``HF_ENDPOINT``. Expected values come from the bundled data files, not from the code under test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from huggingface_hub import HfApi, constants
from huggingface_hub.errors import BadRequestError, HfHubHTTPError

from paperfeed.models import Organization, Paper, Version
from paperfeed.settings import Settings
from paperfeed.storage import Database, lists
from paperfeed.storage import papers as paper_store
from paperfeed.tex import text_mode
from paperfeed.web.app import create_app
from paperfeed.web.schemas import (
    DailyPaperDoc,
    PaperDetailDoc,
)
from tests.conftest import CARDS, RECENT, LiveServer

DAY = "2026-08-20"  # a weekday of the bundled recent papers
WEEK = "2026-W34"  # 2026-08-17 .. 2026-08-23
MONTH = "2026-08"
SDM = "2607.07386"  # "Sparse Delta Memory", 9 authors, first version 2026-07-08 13:17:19 GMT


def _clean(text: str) -> str:
    """What the API returns for a text of the data: single-spaced, LaTeX text-mode macros as Unicode."""
    return text_mode(" ".join(text.split()))


def _recent() -> dict[str, dict[str, Any]]:
    """The bundled recent arXiv papers by id, with the day their first version appeared."""
    out = {}
    for line in RECENT.read_text().splitlines():
        rec = json.loads(line)
        rec["first"] = parsedate_to_datetime(rec["versions"][0]["created"]).astimezone(UTC)
        out[rec["id"]] = rec
    return out


def _cards() -> dict[str, dict[str, Any]]:
    """The bundled seed cards by title."""
    return {_clean(c["title"]): c for c in map(json.loads, CARDS.read_text().splitlines())}


RECENT_PAPERS = _recent()
CARD_PAPERS = _cards()


def _ids_between(start: date, end: date) -> set[str]:
    return {i for i, r in RECENT_PAPERS.items() if start <= r["first"].date() <= end}


@pytest.fixture(scope="module")
def import_day(loaded_db: Database) -> date:
    """Cards enter the feed on the day they are imported: the latest day, whenever the tests run."""
    day = lists.latest_day(loaded_db)
    assert day is not None
    return day


# -- /api/daily_papers ---------------------------------------------------------------------------------


def test_default_is_the_latest_day_with_the_seed_cards(client: TestClient, import_day: date) -> None:
    r = client.get("/api/daily_papers")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    items = r.json()
    assert len(items) == len(CARD_PAPERS) == 50 == int(r.headers["x-total-count"])
    assert "link" not in r.headers  # one page holds them all
    for item in items:
        card = CARD_PAPERS[item["title"]]
        paper = item["paper"]
        assert paper["id"].startswith("card-") and paper["title"] == item["title"]
        assert paper["summary"] == item["summary"] == _clean(card["summary"])
        assert paper["upvotes"] == card["upvotes"]
        assert paper["numAuthors"] == card["num_authors"] and paper["authors"] == []
        assert item["publishedAt"].startswith(import_day.isoformat())
        assert paper["submittedOnDailyAt"] == item["publishedAt"]
        if card["published_at"]:
            assert paper["publishedAt"] == f"{card['published_at']}T00:00:00.000Z"
        if card["organization"]:
            assert item["organization"]["name"] == card["organization"]["name"]
            assert item["organization"]["fullname"] == card["organization"]["fullname"]
            assert paper["organization"] == item["organization"]
        else:
            assert "organization" not in item
        assert item["isAuthorParticipating"] is False and item["numComments"] == 0
        DailyPaperDoc.model_validate(item)  # what /openapi.json documents is what we send
    assert sum(i["paper"]["upvotes"] for i in items) == sum(c["upvotes"] for c in CARD_PAPERS.values())


def test_a_day_matches_the_data_and_sorts_newest_first(client: TestClient) -> None:
    items = client.get("/api/daily_papers", params={"date": DAY}).json()
    expected = _ids_between(date(2026, 8, 20), date(2026, 8, 20))
    assert {i["paper"]["id"] for i in items} == expected and len(items) == 17
    stamps = [i["paper"]["publishedAt"] for i in items]
    assert stamps == sorted(stamps, reverse=True)  # sort=publishedAt is the default, as on HF
    for item in items:
        rec = RECENT_PAPERS[item["paper"]["id"]]
        paper = item["paper"]
        assert paper["title"] == _clean(rec["title"])
        assert [a["name"] for a in paper["authors"]] == [
            _clean(" ".join(p for p in (first, last, suffix) if p))
            for last, first, suffix in rec["authors_parsed"]
        ]
        assert all(a["hidden"] is False and len(a["_id"]) == 24 for a in paper["authors"])
        assert paper["publishedAt"] == rec["first"].strftime("%Y-%m-%dT%H:%M:%S.000Z")
        assert paper["categories"] == rec["categories"].split()
        assert len(paper["discussionId"]) == 24


def test_week_month_and_sorts(client: TestClient) -> None:
    week = client.get("/api/daily_papers", params={"week": WEEK, "limit": 100})
    assert {i["paper"]["id"] for i in week.json()} == _ids_between(date(2026, 8, 17), date(2026, 8, 23))
    assert week.headers["x-total-count"] == "58"
    august = _ids_between(date(2026, 8, 1), date(2026, 8, 31))
    first = client.get("/api/daily_papers", params={"month": MONTH, "limit": 100})
    second = client.get("/api/daily_papers", params={"month": MONTH, "limit": 100, "p": 1}).json()
    assert int(first.headers["x-total-count"]) == len(august) == 149  # more than one page can hold
    assert {i["paper"]["id"] for i in first.json() + second} == august
    trending = client.get("/api/daily_papers", params={"week": WEEK, "sort": "trending", "limit": 100}).json()
    assert sorted(i["paper"]["id"] for i in trending) == sorted(i["paper"]["id"] for i in week.json())
    votes = client.get("/api/daily_papers", params={"sort": "upvotes"}).json()
    upvotes = [i["paper"]["upvotes"] for i in votes]
    assert upvotes == sorted(upvotes, reverse=True) and upvotes[0] > 0


def test_pages_concatenate_to_the_whole_list(client: TestClient) -> None:
    whole = [i["paper"]["id"] for i in client.get("/api/daily_papers", params={"date": DAY}).json()]
    pages, p = [], 0
    while True:
        r = client.get("/api/daily_papers", params={"date": DAY, "limit": 5, "p": p})
        pages += [i["paper"]["id"] for i in r.json()]
        if "link" not in r.headers:
            break
        assert r.headers["link"].endswith('>; rel="next"') and f"p={p + 1}" in r.headers["link"]
        p += 1
    assert pages == whole and p == 3  # 17 papers: pages of 5, 5, 5, 2
    assert client.get("/api/daily_papers", params={"date": DAY, "p": 9}).json() == []


def test_a_day_without_papers_and_an_unknown_submitter_are_empty(client: TestClient) -> None:
    assert client.get("/api/daily_papers", params={"date": "2026-08-16"}).json() == []  # a Sunday
    assert client.get("/api/daily_papers", params={"submitter": "nobody"}).json() == []


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"p": "-1"}, "'p'"),
        ({"sort": "random"}, "sort"),
        ({"date": "2026-02-30"}, "date"),
        ({"week": "2026-34"}, "week"),
        ({"month": "2026-13"}, "month"),
        ({"date": DAY, "month": MONTH}, "only one of date, week and month"),
    ],
)
def test_bad_parameters_are_400_naming_the_parameter(
    client: TestClient, query: dict[str, str], named: str
) -> None:
    r = client.get("/api/daily_papers", params=query)
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/json"
    assert set(r.json()) == {"error"} and named in r.json()["error"]


# -- /api/papers/{id}, search, Markdown --------------------------------------------------------------------


def test_paper_by_id(client: TestClient) -> None:
    r = client.get(f"/api/papers/{SDM}")
    assert r.status_code == 200
    paper = r.json()
    PaperDetailDoc.model_validate(paper)
    assert (
        paper["id"] == SDM
        and paper["title"] == "Sparse Delta Memory: Scaling the State of Linear RNNs through Sparsity"
    )
    assert len(paper["authors"]) == 9 and paper["authors"][0]["name"] == "Loïc Cabannes"
    assert paper["publishedAt"] == "2026-07-08T13:17:19.000Z" == paper["submittedOnDailyAt"]
    assert paper["upvotes"] == 0 and paper["numComments"] == 0
    # Other spellings of the same arXiv id find it too.
    assert client.get(f"/api/papers/arXiv:{SDM}v1").json()["id"] == SDM


def test_unknown_paper_is_404_json(client: TestClient) -> None:
    for path in ("/api/papers/2699.99999", "/api/papers/hep-th/0000000", "/papers/2699.99999.md"):
        r = client.get(path)
        assert r.status_code == 404 and "not found" in r.json()["error"]


def test_search(client: TestClient) -> None:
    title = "Sparse Delta Memory: Scaling the State of Linear RNNs through Sparsity"
    items = client.get("/api/papers/search", params={"q": title, "limit": 3}).json()
    assert len(items) == 3 and items[0]["paper"]["id"] == SDM and items[0]["title"] == title
    for item in items:
        DailyPaperDoc.model_validate(item)
    by_id = client.get("/api/papers/search", params={"q": "2608.20316"}).json()
    assert by_id[0]["paper"]["id"] == "2608.20316"
    assert client.get("/api/papers/search").json() == []
    assert client.get("/api/papers/search", params={"q": "x", "limit": 0}).status_code == 400


def test_markdown(client: TestClient) -> None:
    r = client.get(f"/papers/{SDM}.md")
    assert r.status_code == 200 and r.headers["content-type"] == "text/markdown; charset=utf-8"
    text = r.text
    assert text.startswith("# Sparse Delta Memory: Scaling the State of Linear RNNs through Sparsity\n")
    assert "Loïc Cabannes, Pierre-Emmanuel Mazaré" in text and "Hervé Jégou" in text
    assert f"[arXiv](https://arxiv.org/abs/{SDM})" in text and f"(http://testserver/papers/{SDM})" in text
    assert "## Abstract\n\nLinear attention models allow a fixed state size" in text


def test_openapi_documents_the_api(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    assert {
        "/api/daily_papers",
        "/api/papers/search",
        "/api/papers/{paper_id}",
        "/papers/{paper_id}.md",
        "/feed.xml",
        "/feed.atom",
    } <= set(paths)
    assert "/" not in paths and "/papers/{paper_id}" not in paths  # HTML pages stay out
    daily = paths["/api/daily_papers"]["get"]
    assert daily["summary"] == "List daily papers"
    params = {p["name"]: p for p in daily["parameters"]}
    assert set(params) == {"p", "limit", "date", "week", "month", "submitter", "sort", "list", "category"}
    assert all(p.get("description") for p in params.values())
    assert params["limit"]["schema"]["anyOf"][0]["maximum"] == 100
    assert "400" in daily["responses"] and "404" in paths["/api/papers/{paper_id}"]["get"]["responses"]
    # we answer 400, never 422 (the community routes add POST and DELETE operations)
    assert all("422" not in op["responses"] for ops in paths.values() for op in ops.values())
    markdown = paths["/papers/{paper_id}.md"]["get"]["responses"]
    assert list(markdown["200"]["content"]) == ["text/markdown"]
    assert list(markdown["404"]["content"]) == ["application/json"]
    atom_types = paths["/feed.atom"]["get"]["responses"]["200"]["content"]
    assert [t.split(";")[0] for t in atom_types] == ["application/atom+xml"]


# -- hostile text and old-style ids (a fresh database) -----------------------------------------------------

HOSTILE_TITLE = 'Breaking </script><script>alert("x")</script> & <b>bold</b> $a<b$ \\textbf{T}\x07'
HOSTILE_ABSTRACT = "We show <b>that</b> $x < y$ & R&D &amp; ]]> \\emph{works}\x1b.\u2028Done."


def _extra_papers() -> list[Paper]:
    when = datetime(2026, 9, 1, 9, 30, tzinfo=UTC)
    return [
        Paper(
            id="hep-th/9901001",
            title=HOSTILE_TITLE,
            abstract=HOSTILE_ABSTRACT,
            authors=["A. <Author>", "B. & C."],
            categories=["hep-th"],
            versions=[Version(1, when)],
            published_at=when,
            upvotes=3,
        ),
        Paper(
            id="2609.00001",
            title="Submitted by a member",
            abstract="An abstract.",
            authors=["D. Dee"],
            categories=["cs.LG", "cs.AI"],
            versions=[Version(1, when)],
            published_at=when,
            submitted_by="alice",
            submitted_at=when.replace(hour=12),
            upvotes=7,
            num_comments=2,
            organization=Organization("acme", "Acme Labs"),
        ),
    ]


@pytest.fixture
def extra_client(settings: Settings, db: Database) -> Iterator[TestClient]:
    paper_store.upsert_papers(db, _extra_papers())
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def test_hostile_text_is_data_in_json_and_markdown(extra_client: TestClient) -> None:
    r = extra_client.get("/api/papers/hep-th/9901001")
    assert r.status_code == 200
    assert b"<" not in r.content and b">" not in r.content and b"&" not in r.content  # \u003c and friends
    paper = r.json()
    # an exact round trip, but for text-mode LaTeX made Unicode (\textbf{T} → T, \emph{works} → works)
    assert paper["title"] == HOSTILE_TITLE.replace("\\textbf{T}", "T")
    assert paper["summary"] == HOSTILE_ABSTRACT.replace("\\emph{works}", "works")
    assert [a["name"] for a in paper["authors"]] == ["A. <Author>", "B. & C."]
    md = extra_client.get("/papers/hep-th/9901001.md").text
    assert "<script" not in md and "<b>" not in md and "&lt;script>" in md and "$a&lt;b$ T" in md
    assert "\x07" not in md and "\x1b" not in md


def test_submitted_paper_shape(extra_client: TestClient) -> None:
    items = extra_client.get("/api/daily_papers", params={"date": "2026-09-01", "submitter": "alice"}).json()
    assert [i["paper"]["id"] for i in items] == ["2609.00001"]
    item = items[0]
    assert item["publishedAt"] == "2026-09-01T12:30:00.000Z" == item["paper"]["submittedOnDailyAt"]
    assert item["paper"]["publishedAt"] == "2026-09-01T09:30:00.000Z"
    assert item["submittedBy"]["user"] == item["submittedBy"]["name"] == "alice"
    assert item["paper"]["submittedOnDailyBy"] == item["submittedBy"]
    assert item["organization"] == {
        "_id": item["organization"]["_id"],
        "name": "acme",
        "fullname": "Acme Labs",
        "avatarUrl": item["organization"]["avatarUrl"],
    }
    assert item["numComments"] == 2 and item["paper"]["upvotes"] == 7
    assert len(extra_client.get("/api/daily_papers", params={"date": "2026-09-01"}).json()) == 2


# -- the official client -----------------------------------------------------------------------------------


@pytest.fixture
def hub_online(monkeypatch: pytest.MonkeyPatch) -> None:
    # The client refuses every request in offline mode; our server is on loopback, so allow it.
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)


@pytest.mark.usefixtures("hub_online")
def test_huggingface_hub_client(live_server: LiveServer, import_day: date) -> None:
    api = HfApi(endpoint=live_server.url, token=False)

    latest = list(api.list_daily_papers(token=False))
    assert len(latest) == 50
    for info in latest:
        card = CARD_PAPERS[info.title or ""]
        assert info.id.startswith("card-") and info.summary == _clean(card["summary"])
        assert (info.upvotes or 0) == card["upvotes"]  # PaperInfo turns 0 into None
        assert info.submitted_at is not None and info.submitted_at.date() == import_day
        assert info.authors is None and info.comments == 0
        if org := card["organization"]:
            assert info.organization is not None
            assert (info.organization.name, info.organization.fullname) == (org["name"], org["fullname"])
        else:
            assert info.organization is None

    day = list(api.list_daily_papers(date=DAY, sort="publishedAt", limit=100))
    assert {i.id for i in day} == _ids_between(date(2026, 8, 20), date(2026, 8, 20))
    assert all(i.published_at and i.published_at.date() == date(2026, 8, 20) for i in day)
    paged = list(api.list_daily_papers(date=DAY, p=1, limit=5))
    assert [i.id for i in paged] == [i.id for i in day][5:10]
    week = list(api.list_daily_papers(week=WEEK, sort="trending", limit=100))
    assert {i.id for i in week} == _ids_between(date(2026, 8, 17), date(2026, 8, 23))
    month = [
        *api.list_daily_papers(month=MONTH, limit=100),
        *api.list_daily_papers(month=MONTH, limit=100, p=1),
    ]
    assert {i.id for i in month} == _ids_between(date(2026, 8, 1), date(2026, 8, 31))
    assert list(api.list_daily_papers(submitter="nobody")) == []

    info = api.paper_info(SDM)
    assert info.title == "Sparse Delta Memory: Scaling the State of Linear RNNs through Sparsity"
    assert info.authors is not None and len(info.authors) == 9 and info.authors[-1].name == "Hervé Jégou"
    assert info.published_at == datetime(2026, 7, 8, 13, 17, 19, tzinfo=UTC)
    assert info.submitted_at == info.published_at and info.comments == 0

    found = list(api.list_papers(query="Sparse Delta Memory linear RNN", limit=5))
    assert found[0].id == SDM and len(found) <= 5
    text = api.read_paper(SDM)
    assert text.startswith("# Sparse Delta Memory") and "## Abstract" in text

    with pytest.raises(HfHubHTTPError) as missing:
        api.paper_info("2699.99999")
    assert missing.value.response.status_code == 404 and "not found" in str(missing.value)
    with pytest.raises(HfHubHTTPError) as missing_md:
        api.read_paper("2699.99999")
    assert missing_md.value.response.status_code == 404
    with pytest.raises(BadRequestError, match="date"):
        list(api.list_daily_papers(date="yesterday"))


@pytest.mark.usefixtures("hub_online")
def test_huggingface_hub_client_submitter_and_old_ids(settings: Settings, db: Database) -> None:
    paper_store.upsert_papers(db, _extra_papers())
    with LiveServer(settings) as server:
        api = HfApi(endpoint=server.url, token=False)
        [info] = api.list_daily_papers(date="2026-09-01", submitter="alice")
        assert info.id == "2609.00001" and info.upvotes == 7 and info.comments == 2
        assert info.submitted_by is not None and info.submitted_by.username == "alice"
        assert info.organization is not None and info.organization.fullname == "Acme Labs"
        old = api.paper_info("hep-th/9901001")
        assert old.title == text_mode(HOSTILE_TITLE) and old.summary == text_mode(HOSTILE_ABSTRACT)
        assert "&lt;script>" in api.read_paper("hep-th/9901001")


SCRIPT = textwrap.dedent(
    """
    import json
    from huggingface_hub import HfApi, constants, list_daily_papers

    api = HfApi()
    info = api.paper_info("%s")
    print(json.dumps({
        "endpoint": constants.ENDPOINT,
        "daily": [p.id for p in list_daily_papers(date="%s", limit=3)],
        "title": info.title,
        "authors": len(info.authors),
        "search": [p.id for p in api.list_papers(query="Sparse Delta Memory", limit=1)],
    }))
    """
)


def test_hf_endpoint_environment_variable(
    live_server: LiveServer, client: TestClient, tmp_path: Path
) -> None:
    env = {
        k: v for k, v in os.environ.items() if k not in {"HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_TOKEN"}
    }
    env |= {"HF_ENDPOINT": live_server.url, "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HOME": str(tmp_path / "hf")}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT % (SDM, DAY)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["endpoint"] == live_server.url
    expected_day = [
        i["paper"]["id"] for i in client.get("/api/daily_papers", params={"date": DAY, "limit": 3}).json()
    ]
    assert out["daily"] == expected_day and len(expected_day) == 3
    assert out["title"].startswith("Sparse Delta Memory") and out["authors"] == 9
    assert out["search"] == [SDM]


def test_periods_at_the_end_of_the_calendar(client: TestClient) -> None:
    # The last week and month there are end at date.max: empty lists, never an overflow.
    for query in ("week=9999-W52", "month=9999-12", "date=9999-12-31"):
        response = client.get(f"/api/daily_papers?{query}")
        assert response.status_code == 200 and response.json() == [], query
    for query in ("week=9999-W53", "p=100001"):
        response = client.get(f"/api/daily_papers?{query}")
        assert response.status_code == 400, query
        assert "error" in response.json()
