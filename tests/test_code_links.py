"""Code links and stars (issue 15, item 1): repositories found in the bundled data at import, set by the
members who may through the API and the form, the ``github-stars`` job against a local server replaying
GitHub's REST API (ETags and 304s, 404s, empty repositories, rate-limit headers), and the "trending by
stars" order with its explanation. Expected repositories come from the bundled data file itself."""

from __future__ import annotations

import dataclasses
import json
import random
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from huggingface_hub import HfApi

from paperfeed import links
from paperfeed.ingest.http import PoliteClient
from paperfeed.links import find_links, repository
from paperfeed.models import Paper, Version
from paperfeed.settings import Settings
from paperfeed.stars import check_stars
from paperfeed.storage import Database, lists
from paperfeed.storage import claims as claim_store
from paperfeed.storage import links as link_store
from paperfeed.storage import orgs as org_store
from paperfeed.storage import papers as paper_store
from paperfeed.storage import users as user_store
from tests.arxiv_replay import ReplayServer, Reply
from tests.community import add_papers, csrf_of, https_client, member, run_job, sign_up, token_for
from tests.conftest import RECENT, SNAPSHOT, LiveServer

GITHUB = Path(__file__).resolve().parent / "fixtures" / "github"
NOW = datetime(2026, 8, 21, 12, 0, tzinfo=UTC)


def _json(name: str, status: int = 200, **headers: str) -> Reply:
    return Reply((GITHUB / name).read_bytes(), status, headers, "application/json; charset=utf-8")


# -- finding links --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "repo"),
    [
        ("Code: https://github.com/WNQzhu/TSPORec.git.", "https://github.com/WNQzhu/TSPORec"),
        ("at github.com/IBM/VAKRA/tree/main/src, and", "https://github.com/IBM/VAKRA"),
        ("(https://gitlab.com/grp/sub/proj/-/tree/main)", "https://gitlab.com/grp/sub/proj"),
        ("data: https://huggingface.co/datasets/ibm-research/VAKRA.", "https://huggingface.co/datasets/ibm-research/VAKRA"),
        ("see https://github.com/orgs/microsoft or https://github.com/", None),
        ("https://example.org/github.com/a/b", None),
    ],
)  # fmt: skip
def test_repositories_are_found_and_spelled_one_way(text: str, repo: str | None) -> None:
    found = find_links(text, None)
    assert (found.repo if found else None) == repo


def test_urls_are_those_the_whole_pattern_finds() -> None:
    """links._urls runs the URL pattern only over the words that may hold a URL (#18): the same matches,
    at the same places, as running it over the whole text, on every bundled paper and on random text
    made of URL pieces, whitespace of every kind and the non-ASCII letters that [A-Za-z] matches under
    re.I."""
    texts = [
        text
        for line in RECENT.read_text().splitlines() + SNAPSHOT.read_text().splitlines()
        for record in [json.loads(line)]
        for text in (record["abstract"], record["comments"] or "", record["title"])
    ]
    rng = random.Random(18)
    pieces = [
        *"ab.cgh:/w -_\u017f\u212a\u0130\u0131\n\t\xa0()<>,;'",
        "github.com/",
        "https://",
        "www.",
        ".io",
    ]
    texts += ["".join(rng.choices(pieces, k=rng.randint(0, 14))) for _ in range(20_000)]
    for text in texts:
        expected = [(m.start(), m.group()) for m in links._URL.finditer(text)]
        assert [(m.start(), m.group()) for m in links._urls(text)] == expected, text


def test_github_first_then_the_comments_field_and_project_pages() -> None:
    both = find_links("Models at https://huggingface.co/a/b and code at https://github.com/c/d.", None)
    assert both is not None and both.repo == "https://github.com/c/d"
    from_comments = find_links("No link here.", "ICML 2026. Project page: https://example.org/proj/")
    assert from_comments is not None
    assert (from_comments.repo, from_comments.project_page, from_comments.source) == (
        None,
        "https://example.org/proj/",
        "comments",
    )
    io = find_links("Videos at https://someone.github.io/demo/.", "Code: github.com/x/y")
    assert io is not None and (io.repo, io.project_page) == (
        "https://github.com/x/y",
        "https://someone.github.io/demo/",
    )
    assert repository("not a url") is None


def _bundled_github_ids() -> set[str]:
    """Papers of the bundled file whose abstract names a github.com repository, read from the file."""
    named = set()
    for line in RECENT.read_text().splitlines():
        record = json.loads(line)
        if re.search(r"github\.com/[\w.-]+/[\w.-]+", record["abstract"]):
            named.add(record["id"])
    return named


def test_the_bundled_data_shows_its_repositories(loaded_db: Database, client: object) -> None:
    expected = _bundled_github_ids()
    assert len(expected) == 27
    stored = paper_store.papers_by_ids(loaded_db, sorted(expected))
    assert all(p.code and p.code.repo and p.code.repo.startswith("https://github.com/") for p in stored)
    assert len(stored) == 27
    vakra = paper_store.paper(loaded_db, "2608.12282")
    assert vakra is not None and vakra.code is not None and vakra.code.repo == "https://github.com/IBM/VAKRA"
    # On the card of its day and on its page, without any network.
    page = client.get(f"/papers?date={vakra.feed_day}&list=all").text  # type: ignore[attr-defined]
    shown = [p.code.repo for p in stored if p.feed_day == vakra.feed_day and p.code]
    assert shown and all(f'href="{repo}"' in page for repo in shown)
    assert ">IBM/VAKRA</a>" in page
    detail = client.get("/papers/2608.12282").text  # type: ignore[attr-defined]
    assert 'id="code-repo"><a href="https://github.com/IBM/VAKRA"' in detail
    api = client.get("/api/papers/2608.12282").json()  # type: ignore[attr-defined]
    assert api["githubRepo"] == "https://github.com/IBM/VAKRA" and api["githubRepoStatus"] == "unchecked"
    assert "githubStars" not in api  # not counted yet: left out, not faked


def test_huggingface_hub_reads_repository_stars_and_project_page(
    live_server: LiveServer, loaded_db: Database
) -> None:
    with link_store_repo(loaded_db, "https://github.com/caseclose/cma-harness") as repo_id:
        link_store.record_check(loaded_db, repo_id, NOW, NOW + timedelta(days=1), "ok", 57, '"abc"')
        info = HfApi(endpoint=live_server.url).paper_info("2607.08497")
    assert info.github_repo == "https://github.com/caseclose/cma-harness"
    assert info.github_stars == 57
    assert info.project_page == "https://caseclose.github.io/cma-harness/"


class link_store_repo:
    """The id of a stored repository, its checks undone afterwards (the session database is shared)."""

    def __init__(self, db: Database, url: str) -> None:
        self.db, self.url = db, url

    def __enter__(self) -> int:
        (found,) = [
            r
            for r in link_store.due_repos(self.db, datetime.max.replace(tzinfo=UTC), 10_000)
            if r.url == self.url
        ]
        return found.id

    def __exit__(self, *exc: object) -> None:
        import sqlalchemy as sa

        from paperfeed.storage.schema import repo_stars, repos

        with self.db.write() as conn:
            ids = sa.select(repos.c.id).where(repos.c.url == self.url).scalar_subquery()
            conn.execute(repo_stars.delete().where(repo_stars.c.repo_id == ids))
            conn.execute(
                repos.update()
                .where(repos.c.url == self.url)
                .values(stars=None, status="unchecked", etag=None, checked_at=None)
            )


# -- who sets them ---------------------------------------------------------------------------------------


def _linked_paper(db: Database) -> Paper:
    return add_papers(db, 1, abstract="Code at https://github.com/microsoft/gflowrl.")[0]


def test_only_authors_org_admins_and_site_admins_set_links(settings: Settings, db: Database) -> None:
    paper = _linked_paper(db)
    root, ada, bob, cy = (
        member(db, "root", admin=True),
        member(db, "ada"),
        member(db, "bob"),
        member(db, "cy"),
    )
    claim = claim_store.add_claim(db, paper.id, ada.id, "Ada Lovelace", NOW)
    claim_store.decide(db, claim.id, root.id, True, NOW)
    org = org_store.create_org(db, "lab", "The Lab", bob.id, NOW)
    org_store.link_paper(db, org, paper.id)
    body = {
        "githubRepo": "https://github.com/Owner/Better.git",
        "projectPage": "https://owner.github.io/better",
    }
    with https_client(settings) as client:
        url = f"/api/papers/{paper.id}/links"
        refused = client.post(url, json=body, headers=token_for(db, cy))
        assert refused.status_code == 403 and "claimed authors" in refused.json()["error"]
        assert client.post(url, json=body).status_code == 401
        for who in (ada, bob, root):
            done = client.post(url, json=body, headers=token_for(db, who))
            assert done.status_code == 200, done.text
            assert done.json()["githubRepo"] == "https://github.com/Owner/Better"
            assert done.json()["projectPage"] == "https://owner.github.io/better"
        bad = client.post(url, json={"githubRepo": "https://example.org/x"}, headers=token_for(db, root))
        assert bad.status_code == 400 and bad.json()["error"].startswith("githubRepo:")
        bad = client.post(url, json={"projectPage": "javascript:alert(1)"}, headers=token_for(db, root))
        assert bad.status_code == 400 and bad.json()["error"].startswith("projectPage:")
        assert (
            client.post("/api/papers/2611.99999/links", json=body, headers=token_for(db, root)).status_code
            == 404
        )

        # The form, for a signed-in author: shown to her, not to a visitor.
        assert 'action="/papers/2611.00000/links"' not in client.get(f"/papers/{paper.id}").text
        sign_up(client, "dee")
        dee = user_store.user_by_name(db, "dee")
        assert dee is not None
        dee_claim = claim_store.add_claim(db, paper.id, dee.id, "Alan Turing", NOW)
        claim_store.decide(db, dee_claim.id, root.id, True, NOW)
        assert f'action="/papers/{paper.id}/links"' in client.get(f"/papers/{paper.id}").text
        form = {"csrf": csrf_of(client), "repo": "gitlab.com/team/tool", "project_page": ""}
        moved = client.post(f"/papers/{paper.id}/links", data=form, follow_redirects=False)
        assert moved.status_code == 303 and moved.headers["location"].endswith("#code")
    stored = paper_store.paper(db, paper.id)
    assert stored is not None and stored.code is not None
    assert (stored.code.repo, stored.code.project_page) == ("https://gitlab.com/team/tool", None)

    # A newer arXiv version naming another repository leaves a member's links alone.
    newer = dataclasses.replace(paper, version=2, abstract="Now at https://github.com/else/where.")
    paper_store.upsert_papers(db, [newer])
    kept = paper_store.paper(db, paper.id)
    assert kept is not None and kept.code is not None and kept.code.repo == "https://gitlab.com/team/tool"


def test_a_newer_version_updates_links_found_in_text(db: Database) -> None:
    paper = _linked_paper(db)
    newer = dataclasses.replace(
        paper, version=2, versions=[*paper.versions, Version(2, NOW)],
        abstract="Moved to https://github.com/microsoft/gflowrl-v2.",
    )  # fmt: skip
    paper_store.upsert_papers(db, [newer])
    stored = paper_store.paper(db, paper.id)
    assert stored is not None and stored.code is not None
    assert stored.code.repo == "https://github.com/microsoft/gflowrl-v2"


# -- the github-stars job ----------------------------------------------------------------------------------


@pytest.fixture
def github() -> ReplayServer:
    with ReplayServer() as server:
        yield server  # type: ignore[misc]


def _papers_with(db: Database, *repos: str) -> None:
    add_papers(db, len(repos))
    for i, repo in enumerate(repos):
        link_store.set_links(db, f"2611.{i:05d}", repo, None, _admin(db), NOW)


def _admin(db: Database) -> int:
    found = user_store.user_by_name(db, "root")
    return (found or member(db, "root", admin=True)).id


def _check(db: Database, server: ReplayServer, now: datetime, token: str = "") -> object:
    with PoliteClient(interval=0.0, retries=0, timeout=5) as client:
        return check_stars(db, client, server.url, token, 86400.0, 100, now)


def test_stars_etags_history_and_flags(settings: Settings, db: Database, github: ReplayServer) -> None:
    _papers_with(
        db, "https://github.com/microsoft/gflowrl", "https://github.com/MULTI-cau/AnchorPrune",
        "https://github.com/gone/away",
    )  # fmt: skip
    limits = {"X-RateLimit-Limit": "60", "X-RateLimit-Remaining": "57", "X-RateLimit-Reset": "1787313600"}
    github.route(
        [_json("repo.json", ETag='W/"e1"', **limits), Reply(b"", 304, limits)], at="/repos/microsoft/gflowrl"
    )
    github.route(_json("repo-empty.json", ETag='"e2"', **limits), at="/repos/MULTI-cau/AnchorPrune")
    github.route(_json("not-found.json", 404, **limits), at="/repos/gone/away")

    report = _check(db, github, NOW, token="ghp_secret")
    assert report.summary() == "2 counted, 0 unchanged, 2 flagged empty or missing"  # type: ignore[attr-defined]
    first = github.log[0]
    assert first.headers["Authorization"] == "Bearer ghp_secret"
    assert first.headers["Accept"] == "application/vnd.github+json" and "If-None-Match" not in first.headers
    papers = {p.id: p for p in paper_store.papers_by_ids(db, ["2611.00000", "2611.00001", "2611.00002"])}
    assert [(p.code.stars, p.code.status) for p in papers.values()] == [  # type: ignore[union-attr]
        (412, "ok"), (3, "empty"), (None, "missing"),
    ]  # fmt: skip

    # Nothing is due again before the refresh; after it, a conditional request and a 304.
    assert _check(db, github, NOW + timedelta(hours=1)).summary().startswith("0 counted, 0 unchanged")  # type: ignore[attr-defined]
    later = NOW + timedelta(days=1, minutes=1)
    report = _check(db, github, later)
    assert report.unchanged == 1  # type: ignore[attr-defined]
    conditional = [h for h in github.log if h.path == "/repos/microsoft/gflowrl"][-1]
    assert conditional.headers["If-None-Match"] == 'W/"e1"' and "Authorization" not in conditional.headers
    assert link_store.star_history(db, "https://github.com/microsoft/gflowrl") == [(NOW, 412), (later, 412)]

    # Cards and pages flag what is empty or missing; the API says so too.
    with https_client(settings) as client:
        card = client.get("/papers?date=" + str(papers["2611.00002"].feed_day) + "&list=all").text
        assert "repository missing" in card and "★ 412" in card
        assert "The repository is empty on GitHub." in client.get("/papers/2611.00001").text
        assert client.get("/api/papers/2611.00002").json()["githubRepoStatus"] == "missing"


def test_rate_limits_pause_every_worker(db: Database, github: ReplayServer) -> None:
    _papers_with(db, "https://github.com/a/one", "https://github.com/a/two", "https://github.com/a/three")
    reset = int((NOW + timedelta(minutes=20)).timestamp())
    spent = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)}
    github.route(_json("repo.json", ETag='"x"', **spent), at="/repos/a/one")
    # After the reset: a secondary limit, 403 with Retry-After, pauses for that long.
    github.route(_json("rate-limited.json", 403, **{"Retry-After": "120"}), at="/repos/a/two")
    report = _check(db, github, NOW)
    # The last request of the budget counted its repository, then the run stopped.
    assert report.checked == 1 and report.paused_until == datetime.fromtimestamp(reset, UTC)  # type: ignore[attr-defined]
    assert [h.path for h in github.log] == ["/repos/a/one"]
    assert _check(db, github, NOW + timedelta(minutes=10)).paused_until is not None  # type: ignore[attr-defined]
    assert len(github.log) == 1  # paused: not one request

    after = NOW + timedelta(minutes=21)
    report = _check(db, github, after)
    assert report.paused_until == after + timedelta(seconds=120)  # type: ignore[attr-defined]
    assert [h.path for h in github.log] == ["/repos/a/one", "/repos/a/two"]
    assert link_store.paused(db, "github", after) is not None
    assert link_store.paused(db, "github", after + timedelta(seconds=121)) is None


def test_the_job_fails_fast_when_github_cannot_be_reached(settings: Settings, db: Database) -> None:
    _papers_with(db, "https://github.com/a/one")
    with ReplayServer() as server:
        server.route(Reply(b"", 502), at="/repos/a/one")
        quick = Settings(
            **{**settings.model_dump(), "github_api_url": server.url, "github_request_interval": 0.0}
        )
        with pytest.raises(RuntimeError, match=r"GitHub could not be reached.*HTTP 502"):
            run_job(db, quick, "github-stars")


# -- trending by stars --------------------------------------------------------------------------------------


def test_trending_by_stars_orders_by_the_gain_and_explains_it(settings: Settings, db: Database) -> None:
    _papers_with(db, "https://github.com/a/big", "https://github.com/a/fast")
    add_papers(db, 3)  # 2611.00002 has no repository
    ids = {r.url: r.id for r in link_store.due_repos(db, NOW, 10)}
    week_ago = datetime.now(UTC) - timedelta(days=8)
    now = datetime.now(UTC)
    for url, before, after in (
        ("https://github.com/a/big", 5000, 5010),
        ("https://github.com/a/fast", 10, 300),
    ):
        link_store.record_check(db, ids[url], week_ago, now, "ok", before)
        link_store.record_check(db, ids[url], now, now, "ok", after)
    day = paper_store.paper(db, "2611.00000").feed_day  # type: ignore[union-attr]
    order = [p.id for p in lists.feed_papers(db, day, day, "stars", now=now)]
    assert order[:2] == ["2611.00001", "2611.00000"] and order[-1] == "2611.00002"
    with https_client(settings) as client:
        api = client.get(f"/api/daily_papers?date={day}&sort=githubStars").json()
        assert [i["paper"]["id"] for i in api][:2] == ["2611.00001", "2611.00000"]
        why = client.get("/api/papers/2611.00001/trending").json()["stars"]
        assert (why["stars"], why["starsBefore"], why["gain"], why["windowDays"]) == (300, 10, 290, 7)
        assert client.get("/api/papers/2611.00002/trending").json()["stars"] is None
        page = client.get("/papers/2611.00001").text
        assert "290 stars gained in 7 days" in page
        assert "Trending on GitHub" in client.get(f"/papers?date={day}&list=all").text
