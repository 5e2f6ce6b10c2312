"""What a client generated from Hugging Face's papers schema accepts (issue 15, item 6): every answer of
the HF-shaped API checked against JSON Schemas of HF's response shapes, strictly typed, and read by the
official ``huggingface_hub`` client and its ``hf papers`` command line.

Hugging Face publishes no schema of its papers API, so the schemas below are built from the two sources
there are: the keys ``huggingface_hub``'s ``PaperInfo``, ``PaperAuthor``, ``User`` and ``Organization``
read (``huggingface_hub/hf_api.py``), and the types HF's own answers carry (ids non-empty strings,
timestamps ``YYYY-MM-DDTHH:MM:SS.mmmZ``, counts non-negative integers, ``thumbnail`` and ``submittedBy``
in every daily item and never null, as HF gives both for every paper). Where paperfeed promises more than
HF, the schema holds it to that: every ``avatarUrl`` is an identicon of this site, every thumbnail an image
of this site (a figure, else a title card drawn here), every submitter a member or the reserved ``arxiv``
standing for arXiv's listing. Extra keys
are allowed, as HF adds keys and generated clients ignore the ones they do not know. See docs/hf-api.md.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from huggingface_hub import HfApi
from huggingface_hub.hf_api import PaperInfo
from jsonschema import Draft202012Validator
from PIL import Image

from paperfeed.settings import Settings
from paperfeed.storage import Database
from paperfeed.storage import claims as claim_store
from paperfeed.storage import fulltext as fulltext_store
from paperfeed.storage import links as link_store
from paperfeed.storage import orgs as org_store
from paperfeed.storage import papers as paper_store
from paperfeed.storage import summaries as summary_store
from paperfeed.web.schemas import (
    DailyPaperDoc,
    PaperDetailDoc,
)
from tests.community import add_papers, https_client, member, token_for
from tests.conftest import LiveServer

NOW = datetime.now(UTC).replace(microsecond=0)

# -- Hugging Face's shapes, as JSON Schemas ------------------------------------------------------------

TIMESTAMP = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"}
TEXT = {"type": "string"}
NAME = {"type": "string", "minLength": 1}
ID = {"type": "string", "pattern": r"^[0-9a-f]{24}$"}  # HF's ObjectIds
COUNT = {"type": "integer", "minimum": 0}
FLAG = {"type": "boolean"}
URL = {"type": "string", "pattern": r"^https?://[^\s/]+\.[^\s/]+(/\S*)?$"}
AVATAR = {"type": "string", "pattern": r"^/avatars/[0-9a-f]{24}\.svg$"}  # this site's identicons only
FIGURE = {"type": "string", "pattern": r"^/papers/[^?\s]+/thumbnail\.webp\?v=[0-9]+$"}  # this site's
CARD = {"type": "string", "pattern": r"^/papers/[^?\s]+/card\.webp\?v=[0-9a-f]{10}$"}  # drawn here
THUMBNAIL = {"anyOf": [FIGURE, CARD]}


def _object(required: dict[str, Any], optional: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"type": "object", "required": list(required), "properties": {**required, **(optional or {})}}


USER = _object(
    {
        "_id": ID,
        "avatarUrl": AVATAR,
        "fullname": TEXT,
        "user": NAME,
        "type": {"const": "user"},
        "isPro": FLAG,
    },
    {"name": NAME},
)
ORGANIZATION = _object({"_id": ID, "name": NAME, "fullname": TEXT, "avatarUrl": AVATAR})
AUTHOR = {
    **_object(
        {"_id": ID, "name": NAME, "hidden": FLAG},
        {"user": USER, "status": {"enum": ["claimed_verified"]}, "statusLastChangedAt": TIMESTAMP},
    ),
    "dependentRequired": {"user": ["status", "statusLastChangedAt"]},  # a claimed author, whole
}
_PAPER_REQUIRED = {
    "id": NAME,
    "authors": {"type": "array", "items": AUTHOR},
    "publishedAt": TIMESTAMP,
    "submittedOnDailyAt": TIMESTAMP,
    "title": NAME,
    "summary": TEXT,
    "upvotes": COUNT,
    "discussionId": ID,
    "submittedOnDailyBy": USER,  # what paper_info() reads as submitted_by: a member, or arXiv's listing
}
_PAPER_OPTIONAL = {
    "ai_summary": NAME,
    "ai_keywords": {"type": "array", "items": NAME},
    "githubRepo": URL,
    "githubStars": COUNT,
    "projectPage": URL,
    "mediaUrls": {"type": "array", "items": FIGURE},  # figures only: a title card is none
    "withdrawnAt": TIMESTAMP,
    "upvoted": FLAG,
    "organization": ORGANIZATION,
}
PAPER = _object(_PAPER_REQUIRED, _PAPER_OPTIONAL)
PAPER_DETAIL = _object({**_PAPER_REQUIRED, "numComments": COUNT, "thumbnail": THUMBNAIL}, _PAPER_OPTIONAL)
_DAILY_REQUIRED = {
    "paper": PAPER,
    "publishedAt": TIMESTAMP,
    "title": NAME,
    "summary": TEXT,
    "thumbnail": THUMBNAIL,
    "numComments": COUNT,
    "upvotes": COUNT,
    "submittedBy": USER,
    "isAuthorParticipating": FLAG,
}
DAILY_ITEM = _object(_DAILY_REQUIRED, {"organization": ORGANIZATION})
DAILY_LIST = {"type": "array", "items": DAILY_ITEM, "maxItems": 100}
SEARCH_LIST = {
    "type": "array",
    "items": _object({**_DAILY_REQUIRED, "highlightedTitle": TEXT, "highlightedSummary": TEXT}),
    "maxItems": 120,
}
_HUB_REPO = _object({"id": NAME, "url": URL})
REPOS = _object({kind: {"type": "array", "items": _HUB_REPO} for kind in ("models", "datasets", "spaces")})
ORGANIZATION_OVERVIEW = _object(
    {**ORGANIZATION["properties"], "members": {"type": "array", "items": USER}, "papers": DAILY_LIST}
)


def fits(schema: dict[str, Any], answer: Any) -> None:
    """The answer fits the schema; else every place where it does not, named by its JSON path."""
    errors = [f"{e.json_path}: {e.message}"[:300] for e in Draft202012Validator(schema).iter_errors(answer)]
    assert not errors, f"{len(errors)} misfits, first: {errors[:5]}"


def _all_pages(client: TestClient, url: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.text
        fits(DAILY_LIST, response.json())
        items += response.json()
        link = response.headers.get("link")
        url = link[link.index("/api/") : link.index(">")] if link else ""
    return items


def _hf(server: LiveServer, tmp_path: Path, *args: str) -> str:
    """``hf`` (huggingface_hub's command line) run as a user runs it, pointed here by HF_ENDPOINT."""
    env = {
        **os.environ,
        "HF_ENDPOINT": server.url,
        "HF_HOME": str(tmp_path / "hf"),
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_DISABLE_UPDATE_CHECK": "1",  # else it asks pypi.org for a newer version: no network in tests
        "NO_COLOR": "1",
        "COLUMNS": "250",
    }
    done = subprocess.run(
        [str(Path(sys.executable).with_name("hf")), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _table_cell(table: str, row_id: str, column: str) -> str:
    """A cell of the ``hf`` table output, by the dashes under its header."""
    lines = table.splitlines()
    ruler = next(i for i, line in enumerate(lines) if line.startswith("---"))
    spans, start = [], 0
    for dashes in lines[ruler].split(" "):
        spans.append((start, start + len(dashes)))
        start += len(dashes) + 1
    headers = [lines[ruler - 1][a:b].strip() for a, b in spans]
    a, b = spans[headers.index(column)]
    (row,) = [line for line in lines[ruler + 1 :] if line.startswith(row_id + " ")]
    return row[a:b].strip()


# -- the bundled data, every paper ----------------------------------------------------------------------


def test_every_answer_over_the_bundled_data_fits_hf_s_shapes(
    client: TestClient, loaded_db: Database, live_server: LiveServer, tmp_path: Path
) -> None:
    everything = _all_pages(client, "/api/papers?limit=100")
    assert len(everything) == paper_store.count_papers(loaded_db)
    for query in ("", "?month=2026-08&limit=100", "?week=2026-W30&sort=trending&limit=100", "?list=curated"):
        _all_pages(client, f"/api/daily_papers{query}")
    for item in everything[::7]:
        detail = client.get(f"/api/papers/{item['paper']['id']}").json()
        fits(PAPER_DETAIL, detail)
        PaperInfo(**detail)
    found = client.get("/api/papers/search?q=attention&limit=120").json()
    fits(SEARCH_LIST, found)
    assert len(found) > 100  # HF's ceiling is 120, above the daily list's 100
    fits(REPOS, client.get("/api/arxiv/2608.13517/repos").json())
    assert all(PaperInfo(**item).upvotes is not None for item in everything)
    # The bundled data has no figures: every thumbnail is a title card drawn here, and every paper nobody
    # submitted names arXiv's listing as its submitter, in the item and in the paper alike.
    assert all("/card.webp?v=" in item["thumbnail"] for item in everything)
    card = client.get(everything[0]["thumbnail"])
    assert card.headers["content-type"] == "image/webp"
    assert Image.open(io.BytesIO(card.content)).size == (320, 180)
    for item in everything:
        by = item["submittedBy"]
        assert by == item["paper"]["submittedOnDailyBy"]
        assert by["isSystem"] is (by["user"] == "arxiv")
    system = [i["submittedBy"] for i in everything if i["submittedBy"]["isSystem"]]
    assert system and all(by["fullname"] == "arXiv listing" for by in system)

    # The command line: 'hf papers search' past 100, and 'hf papers ls' shows 0 for a paper without votes.
    searched = json.loads(
        _hf(live_server, tmp_path, "papers", "search", "attention", "--limit", "120", "--format", "json")
    )
    assert len(searched) == len(found)
    listed = _hf(live_server, tmp_path, "papers", "ls", "--month", "2026-08", "--limit", "20")
    shown = [item["paper"] for item in client.get("/api/daily_papers?month=2026-08&limit=20").json()]
    unvoted = [p["id"] for p in shown if p["upvotes"] == 0]  # the session's other tests may vote on some
    assert unvoted and all(_table_cell(listed, paper_id, "UPVOTES") == "0" for paper_id in unvoted)


# -- one paper with every field HF has -----------------------------------------------------------------


def _webp() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 18), "teal").save(out, "WEBP")
    return out.getvalue()


def _everything(db: Database) -> tuple[str, str, dict[str, str]]:
    """A paper with a submitter, an organization, a claimed author, code links with stars, an abstractive
    summary and a thumbnail, beside a withdrawn one; and the token of a member who upvoted the first."""
    (rich,) = add_papers(db, 1, title=r"Everything \emph{at once}")
    (withdrawn,) = add_papers(
        db, 1, id="2611.00001", comments="This paper has been withdrawn by the authors."
    )
    root, ada, ben = member(db, "root", admin=True), member(db, "ada"), member(db, "ben")
    paper_store.mark_submitted(db, rich.id, "ada", NOW)
    paper_store.mark_submitted(db, withdrawn.id, "ada", NOW)
    org = org_store.create_org(db, "lab", "The Lab", ada.id, NOW)
    org_store.set_member(db, org, ben.id, "member", NOW)
    org_store.link_paper(db, org, rich.id)
    made = claim_store.add_claim(db, rich.id, ben.id, "Alan Turing", NOW)
    claim_store.decide(db, made.id, root.id, True, NOW)
    link_store.set_links(
        db, rich.id, "https://github.com/lab/everything", "https://lab.example.org/", ada.id, NOW
    )
    (repo,) = [
        r for r in link_store.due_repos(db, NOW + timedelta(days=1), 10) if r.url.endswith("/everything")
    ]
    link_store.record_check(db, repo.id, NOW, NOW + timedelta(days=1), "ok", 57, '"etag"')
    digest = summary_store.source_hash(r"Everything \emph{at once}", rich.abstract)
    summary_store.store(db, rich.id, r"It does \emph{everything} -- at once.", "tiny-llm", NOW, digest)
    fulltext_store.store_thumbnail(
        db, rich.id, _webp(), "image/webp", (32, 18), "https://arxiv.org/html/x/fig1.png", "Fig. 1", NOW
    )
    return rich.id, withdrawn.id, token_for(db, ben)


def test_a_paper_with_every_field_fits_and_the_hub_client_reads_each(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    rich, withdrawn, ben = _everything(db)
    with https_client(settings) as client:
        assert client.post(f"/api/papers/{rich}/upvote", headers=ben).status_code == 200
        assert client.post(f"/api/papers/{rich}/comments", json={"body": "Nice."}, headers=ben).is_success
        detail = client.get(f"/api/papers/{rich}", headers=ben).json()
        fits(PAPER_DETAIL, detail)
        # Every optional field but the withdrawal (the other paper's) and keyphrases (the indexer's; the
        # bundled data's papers carry them, checked above).
        assert set(_PAPER_OPTIONAL) - {"withdrawnAt", "ai_keywords"} <= set(detail)
        assert detail["ai_summary"] == "It does everything – at once."  # LaTeX text mode as Unicode
        assert detail["aiSummaryMethod"] == "abstractive" and detail["aiSummaryModel"] == "tiny-llm"
        assert detail["authors"][1]["status"] == "claimed_verified" and detail["upvoted"] is True
        assert client.get(detail["thumbnail"]).headers["content-type"] == "image/webp"
        assert client.get(detail["submittedOnDailyBy"]["avatarUrl"]).status_code == 200
        PaperDetailDoc.model_validate(detail)  # and /openapi.json documents what was answered
        fits(PAPER_DETAIL, client.get(f"/api/papers/{withdrawn}").json())
        assert "withdrawnAt" in client.get(f"/api/papers/{withdrawn}").json()

        day = client.get(f"/api/daily_papers?date={NOW:%Y-%m-%d}", headers=ben).json()
        fits(DAILY_LIST, day)
        assert {i["paper"]["id"] for i in day} == {rich, withdrawn}
        for item in day:
            DailyPaperDoc.model_validate(item)
        overview = client.get("/api/organizations/lab").json()
        fits(ORGANIZATION_OVERVIEW, overview)
        assert [m["user"] for m in overview["members"]] == ["ada", "ben"]
        (comment,) = client.get(f"/api/papers/{rich}/comments").json()
        fits(USER, comment["author"])

    with LiveServer(settings) as server:
        api = HfApi(endpoint=server.url, token=False)
        info = api.paper_info(rich)
        assert info.github_repo == "https://github.com/lab/everything" and info.github_stars == 57
        assert info.project_page == "https://lab.example.org/" and info.ai_summary == detail["ai_summary"]
        assert info.thumbnail == detail["thumbnail"]  # type: ignore[attr-defined]
        assert info.submitted_by is not None and info.submitted_by.avatar_url.startswith("/avatars/")
        assert info.organization is not None and info.organization.name == "lab"
        turing = (info.authors or [])[1]
        assert (
            turing.user is not None and turing.user.username == "ben" and turing.status == "claimed_verified"
        )
        assert turing.status_last_changed_at == NOW
        listed = {p.id: p for p in api.list_daily_papers(date=f"{NOW:%Y-%m-%d}")}
        assert listed[withdrawn].upvotes == 0 and listed[rich].upvotes == 1
        assert listed[rich].thumbnail == detail["thumbnail"]  # type: ignore[attr-defined]

        shown = json.loads(_hf(server, tmp_path, "papers", "info", rich, "--format", "json"))
        assert shown["github_repo"] == info.github_repo and shown["github_stars"] == 57
        # (the command shows PaperInfo's declared fields: thumbnail, read as an extra key, is not one)
        assert shown["project_page"] == info.project_page and shown["ai_summary"] == info.ai_summary
        table = _hf(server, tmp_path, "papers", "ls", "--date", f"{NOW:%Y-%m-%d}")
        assert _table_cell(table, withdrawn, "UPVOTES") == "0" and _table_cell(table, rich, "UPVOTES") == "1"
        assert _hf(server, tmp_path, "papers", "read", rich).startswith("# Everything at once\n")
