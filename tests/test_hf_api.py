"""The Hugging Face papers API, whole (issue 15, item 2): the fields and endpoints HF has that paperfeed
lacked, in HF's shapes, driven with the official ``huggingface_hub`` client where it reads them and
checked against the bundled data (0704.0156 of the snapshot sample is a withdrawn paper; 2608.13517 links
a Hugging Face model in its abstract)."""

from __future__ import annotations

import io
import json
import re
import shlex
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from huggingface_hub import HfApi
from PIL import Image

from paperfeed import accounts, titlecards
from paperfeed.settings import Settings
from paperfeed.storage import Database
from paperfeed.storage import claims as claim_store
from paperfeed.storage import orgs as org_store
from paperfeed.storage import papers as paper_store
from paperfeed.web.app import create_app
from paperfeed.web.serialize import object_id
from tests.community import add_papers, https_client, member, token_for
from tests.conftest import RECENT, ROOT, SNAPSHOT, LiveServer, make_settings

NOW = datetime(2026, 8, 21, 12, 0, tzinfo=UTC)


def test_daily_items_carry_thumbnail_submitter_and_top_level_upvotes(
    client: TestClient, live_server: LiveServer
) -> None:
    items = client.get("/api/daily_papers?month=2026-08&list=all&limit=100").json()
    assert items
    for item in items:
        # No figure in the bundled data: the title card; nobody submitted most: arXiv's listing.
        assert item["thumbnail"].startswith(f"/papers/{item['paper']['id']}/card.webp?v=")
        assert item["submittedBy"]["user"] and item["submittedBy"] == item["paper"]["submittedOnDailyBy"]
        assert item["upvotes"] == item["paper"]["upvotes"]
    # hf papers ls shows paper_info.upvotes: 0 (not an empty cell) for a paper without votes.
    listed = HfApi(endpoint=live_server.url).list_daily_papers(month="2026-08", limit=20)
    zero = [p for p in listed if p.upvotes is not None and p.upvotes == 0]
    assert zero and all(p.upvotes is not None for p in listed)


HOSTILE = (
    r"\emph{Deep} nets for G\"ahler--Tits $\mathcal{O}(n^2)$ spaces \$5",
    "<script>alert('x')</script> & <img src=x onerror=alert(1)>" * 8,
    "a" * 600,
    "\u202eevil\x07\x1b[31m RTL \u200b zero-width  Σ Ω 漢字 😀",
    " ",
)


def test_every_paper_has_a_title_card_drawn_here_and_a_submitter(settings: Settings, db: Database) -> None:
    """A paper without a figure has a thumbnail all the same: a title card this site draws (a 320x180
    WebP, cached, the same bytes each time, whatever its title holds); a paper nobody submitted names
    arXiv's listing as its submitter, whose handle no member can take."""
    papers = [add_papers(db, 1, id=f"2611.{i:05d}", title=title)[0] for i, title in enumerate(HOSTILE)]
    old = add_papers(db, 1, id="hep-th/9901001", title="Old-style", categories=["hep-th"])[0]
    with https_client(settings) as client:
        for paper in [*papers, old]:
            detail = client.get(f"/api/papers/{paper.id}").json()
            assert re.fullmatch(
                rf"/papers/{re.escape(paper.id)}/card\.webp\?v=[0-9a-f]{{10}}", detail["thumbnail"]
            )
            assert "mediaUrls" not in detail  # figures only: a title card is none
            card = client.get(detail["thumbnail"])
            assert card.status_code == 200 and card.headers["content-type"] == "image/webp"
            assert "max-age" in card.headers["cache-control"] and card.headers["x-content-type-options"]
            image = Image.open(io.BytesIO(card.content))
            assert image.format == "WEBP" and image.size == (320, 180)
            dark = sum(image.convert("L").histogram()[:100])
            assert dark > 200  # a title was drawn, not a blank card
            again = client.get(detail["thumbnail"], headers={"If-None-Match": card.headers["etag"]})
            assert again.status_code == 304 and not again.content
            assert titlecards.draw(paper.id, paper.title, "cs.LG") == titlecards.draw(
                paper.id, paper.title, "cs.LG"
            )
            by = detail["submittedOnDailyBy"]
            assert (by["user"], by["fullname"], by["isSystem"], by["type"]) == (
                "arxiv",
                "arXiv listing",
                True,
                "user",
            )
            assert client.get(by["avatarUrl"]).headers["content-type"] == "image/svg+xml"
        assert client.get("/papers/2611.99999/card.webp").status_code == 404
        # A new title, a new address.
        before = client.get(f"/api/papers/{papers[0].id}").json()["thumbnail"]
        add_papers(db, 1, id=papers[0].id, title="Renamed", version=2)
        assert client.get(f"/api/papers/{papers[0].id}").json()["thumbnail"] != before
        # Pages keep showing real figures only: the card already shows the title.
        home = client.get("/?list=all").text
        assert papers[1].id in home and "card.webp" not in home
    for name in ("arxiv", "ArXiv"):
        with pytest.raises(accounts.AccountError, match="reserved"):
            member(db, name)


def test_withdrawn_papers_are_flagged(client: TestClient) -> None:
    withdrawn = [
        json.loads(line) for line in SNAPSHOT.read_text().splitlines() if "withdrawn" in line.lower()
    ]
    assert [r["id"] for r in withdrawn] == ["0704.0156"]
    api = client.get("/api/papers/0704.0156").json()
    assert api["withdrawnAt"].startswith("2008-03-05")  # its last version, the withdrawal notice
    assert "withdrawnAt" not in client.get("/api/papers/2607.07386").json()
    assert 'id="withdrawn"' in client.get("/papers/0704.0156").text
    day = client.get("/api/papers/0704.0156").json()["submittedOnDailyAt"][:10]
    assert '<span class="withdrawn">withdrawn</span>' in client.get(f"/papers?date={day}&list=all").text


def test_avatars_are_local_identicons(settings: Settings, db: Database) -> None:
    paper = add_papers(db, 1)[0]
    ada = member(db, "ada")
    org = org_store.create_org(db, "lab", "The Lab", ada.id, NOW)
    org_store.link_paper(db, org, paper.id)
    paper_store.mark_submitted(db, paper.id, "ada", NOW)
    with https_client(settings) as client:
        item = client.get(f"/api/papers/{paper.id}").json()
        urls = [item["submittedOnDailyBy"]["avatarUrl"], item["organization"]["avatarUrl"]]
        assert all(re.fullmatch(r"/avatars/[0-9a-f]{24}\.svg", u) for u in urls) and urls[0] != urls[1]
        svg = client.get(urls[0])
        assert svg.status_code == 200 and svg.headers["content-type"] == "image/svg+xml"
        assert svg.text.startswith("<svg") and "http" not in svg.text.replace(
            "http://www.w3.org/2000/svg", ""
        )
        assert client.get(urls[0]).text == svg.text  # the same picture every time
        assert client.get("/avatars/nothex.svg").status_code == 404
        org_api = client.get("/api/organizations/lab").json()
        assert org_api["papers"][0]["submittedBy"]["avatarUrl"] == urls[0]


def test_claimed_authors_and_upvoted(settings: Settings, db: Database, live_server: LiveServer) -> None:
    paper = add_papers(db, 1)[0]
    root, ada = member(db, "root", admin=True), member(db, "ada")
    with https_client(settings) as client:
        detail = client.get(f"/api/papers/{paper.id}").json()
        assert "upvoted" not in detail and "user" not in detail["authors"][1]
        turing = detail["authors"][1]["_id"]
        body = {"paperId": paper.id, "claimAuthorId": turing}
        made = client.post("/api/settings/papers/claim", json=body, headers=token_for(db, ada))
        assert made.status_code == 201
        assert made.json() == {"paperId": paper.id, "author": "Alan Turing", "status": "pending"}
        again = client.post("/api/settings/papers/claim", json=body, headers=token_for(db, ada))
        assert again.status_code == 409
        bad = client.post(
            "/api/settings/papers/claim", json={**body, "claimAuthorId": "f" * 24}, headers=token_for(db, ada)
        )
        assert bad.status_code == 400 and bad.json()["error"].startswith("claimAuthorId:")
        (pending,) = claim_store.pending(db)
        claim_store.decide(db, pending.id, root.id, True, NOW)

        headers = token_for(db, ada)
        assert client.get(f"/api/papers/{paper.id}", headers=headers).json()["upvoted"] is False
        client.post(f"/api/papers/{paper.id}/upvote", headers=headers)
        mine = client.get(f"/api/papers/{paper.id}", headers=headers).json()
        assert mine["upvoted"] is True
        assert (
            mine["authors"][1]["user"]["user"] == "ada" and mine["authors"][1]["status"] == "claimed_verified"
        )
        assert "user" not in mine["authors"][0]
        day = paper_store.paper(db, paper.id).feed_day  # type: ignore[union-attr]
        listed = client.get(f"/api/daily_papers?date={day}&list=all", headers=headers).json()
        assert listed[0]["paper"]["upvoted"] is True
        assert "upvoted" not in client.get(f"/api/daily_papers?date={day}&list=all").json()[0]["paper"]
    assert object_id("author", paper.id, "1") == turing


def test_hub_client_reads_claimed_authors(loaded_db: Database, live_server: LiveServer) -> None:
    root, ben = member(loaded_db, "hubroot", admin=True), member(loaded_db, "ben")
    made = claim_store.add_claim(loaded_db, "2607.07386", ben.id, "Matthijs Douze", NOW)
    claim_store.decide(loaded_db, made.id, root.id, True, NOW)
    info = HfApi(endpoint=live_server.url).paper_info("2607.07386")
    (douze,) = [a for a in info.authors or [] if a.name == "Matthijs Douze"]
    assert douze.user is not None and douze.user.username == "ben" and douze.status == "claimed_verified"


def test_every_paper_cursor_paged(client: TestClient, loaded_db: Database) -> None:
    seen: list[str] = []
    url = "/api/papers?limit=100"
    while url:
        response = client.get(url)
        assert response.status_code == 200
        seen += [item["paper"]["id"] for item in response.json()]
        link = response.headers.get("link")
        url = link[link.index("/api/") : link.index(">")] if link else ""
    assert len(seen) == len(set(seen)) == paper_store.count_papers(loaded_db)
    assert seen == sorted(seen)
    assert client.get("/api/papers?limit=101").status_code == 400


def test_arxiv_repos(client: TestClient) -> None:
    mimir = client.get("/api/arxiv/2608.13517/repos").json()
    assert mimir["models"] == [
        {
            "id": "danish-foundation-models/DFM-Mimir",
            "url": "https://huggingface.co/danish-foundation-models/DFM-Mimir",
        }
    ]
    assert mimir["datasets"] == mimir["spaces"] == []
    vakra = client.get("/api/arxiv/2608.12282/repos").json()
    assert vakra["githubRepo"] == "https://github.com/IBM/VAKRA" and vakra["models"] == []
    assert client.get("/api/arxiv/2699.99999/repos").status_code == 404


def test_markdown_by_accept_header_and_search_limit(client: TestClient, live_server: LiveServer) -> None:
    md = client.get("/papers/2607.07386", headers={"Accept": "text/markdown"})
    assert md.headers["content-type"].startswith("text/markdown") and md.text.startswith(
        "# Sparse Delta Memory"
    )
    assert "Accept" in md.headers["vary"]
    html = client.get("/papers/2607.07386", headers={"Accept": "text/html,text/markdown;q=0.9"})
    assert html.headers["content-type"].startswith("text/html") and "Accept" in html.headers["vary"]
    # The live server's base URL differs from the test client's: compare what follows the links.
    read = HfApi(endpoint=live_server.url).read_paper("2607.07386")
    assert read.split("## Abstract")[1] == md.text.split("## Abstract")[1]
    assert client.get("/api/papers/search?q=attention&limit=120").status_code == 200
    assert client.get("/api/papers/search?q=attention&limit=121").status_code == 400


def test_make_run_s_data_shows_repositories_and_summaries_offline(tmp_path: Path) -> None:
    """The demo database as the Makefile loads it (its own ingest lines, without the index step), read
    through the API: 27 of the 304 recent papers name a GitHub repository in their abstract, every paper has
    an extractive summary, and nothing a network job brings (stars, thumbnails) is made up."""
    loads = re.findall(
        r"^\t\$\(BIN\)/paperfeed --database \$\(DEMO_DATABASE_URL\) (ingest .+)$",
        (ROOT / "Makefile").read_text(),
        re.MULTILINE,
    )
    assert len(loads) == 3 and all("--no-index" in line for line in loads)
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    for line in loads:
        command = [str(Path(sys.executable).with_name("paperfeed")), "--database", url, *shlex.split(line)]
        subprocess.run(command, cwd=ROOT, check=True, capture_output=True, timeout=300)
    recent = {json.loads(line)["id"] for line in RECENT.read_text().splitlines()}
    assert len(recent) == 304
    with TestClient(create_app(make_settings(tmp_path, database_url=url))) as client:
        items, page = [], "/api/papers?limit=100"
        while page:
            response = client.get(page)
            items += response.json()
            link = response.headers.get("link")
            page = link[link.index("/api/") : link.index(">")] if link else ""
    papers = [item["paper"] for item in items]
    assert len(papers) == 554
    on_github = [
        p for p in papers if p["id"] in recent and p.get("githubRepo", "").startswith("https://github.com/")
    ]
    assert len(on_github) == 27
    assert all(p["aiSummaryMethod"] == "extractive" and p["ai_summary"] for p in papers)
    assert not any("githubStars" in p or "mediaUrls" in p for p in papers)
    assert all("/card.webp?v=" in item["thumbnail"] for item in items)  # title cards: no figures
