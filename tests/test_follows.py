"""Follows through the real API and pages (#14 item 4): ``GET``/``POST``/``DELETE /api/follows`` with tokens and
sessions, the follow forms and their state on author, organization, category and search pages, the
``/follows`` page, and ``/authors/{name}`` with its JSON, its claimed members and the ``paper_authors``
index behind it (kept current by imports, backfilled by migration 0016)."""

from __future__ import annotations

import html
from dataclasses import replace
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import command

from paperfeed.follows import MAX_FOLLOWS
from paperfeed.models import Organization, Paper, Version
from paperfeed.settings import Settings
from paperfeed.storage import Database, migrate, schema
from paperfeed.storage import claims as claim_store
from paperfeed.storage import follows as follow_store
from paperfeed.storage import orgs as org_store
from paperfeed.storage import papers as paper_store
from paperfeed.storage.schema import paper_authors
from tests.community import NOW, add_papers, csrf_of, https_client, log_in, member, token_for


def _keys(db: Database, paper_id: str) -> set[str]:
    with db.read() as conn:
        query = sa.select(paper_authors.c.key).where(paper_authors.c.paper_id == paper_id)
        return set(conn.execute(query).scalars())


def test_follow_api_adds_lists_and_removes(settings: Settings, db: Database) -> None:
    add_papers(db, 2, authors=["Kurt Gödel", "Ada Lovelace"])
    ada = member(db, "ada")
    auth = token_for(db, ada)
    org_store.create_org(db, "deepthought", "Deep Thought Lab", ada.id, NOW)
    with https_client(settings) as client:
        made = client.post("/api/follows", headers=auth, json={"kind": "author", "value": "  KURT   godel "})
        assert made.status_code == 201, made.text
        # Kept as its papers spell it; the same author however typed is the same follow.
        assert made.json()["value"] == "Kurt Gödel"
        assert made.json()["url"] == "http://testserver/authors/Kurt%20G%C3%B6del"
        assert made.json()["feed"] == "http://testserver/authors/Kurt%20G%C3%B6del/feed.xml"
        again = client.post("/api/follows", headers=auth, json={"kind": "author", "value": "kurt gödel"})
        assert again.status_code == 200 and again.json()["id"] == made.json()["id"]
        for kind, value in (
            ("organization", "deepthought"),
            ("category", "cs.CL"),
            ("search", "category=cs.LG&q=Sparse   attention"),
        ):
            answer = client.post("/api/follows", headers=auth, json={"kind": kind, "value": value})
            assert answer.status_code == 201, answer.text
        # The same search with its filters in another order and other spacing is one follow.
        same = client.post(
            "/api/follows",
            headers=auth,
            json={"kind": "search", "value": "q=sparse+attention&category=cs.LG"},
        )
        assert same.status_code == 200
        listed = client.get("/api/follows", headers=auth).json()
        assert [(f["kind"], f["value"]) for f in listed] == [
            ("author", "Kurt Gödel"),
            ("organization", "deepthought"),
            ("category", "cs.CL"),
            ("search", "q=Sparse+attention&category=cs.LG"),
        ]
        assert listed[3]["feed"] == "http://testserver/feed.xml?q=Sparse+attention&category=cs.LG"

        # Errors name the field.
        for body, words in (
            ({"value": "x"}, "kind"),
            ({"kind": "paper", "value": "x"}, "kind='paper'"),
            ({"kind": "author", "value": ""}, "value"),
            ({"kind": "author", "value": 3}, "value: expected a string"),
            ({"kind": "category", "value": "not a category"}, "not an arXiv category"),
            ({"kind": "organization", "value": "nowhere"}, "no organization named 'nowhere'"),
            ({"kind": "search", "value": "category=cs.LG"}, "needs a query"),
            ({"kind": "search", "value": "q=x&sort=new"}, "'sort' is not a search filter"),
        ):
            refused = client.post("/api/follows", headers=auth, json=body)
            assert refused.status_code == 400 and words in refused.json()["error"], (body, refused.text)
        assert client.post("/api/follows", json={"kind": "category", "value": "cs.AI"}).status_code == 401
        assert client.get("/api/follows").status_code == 401
        read_only = token_for(db, ada, scope="read")
        assert client.get("/api/follows", headers=read_only).status_code == 200
        assert (
            client.post(
                "/api/follows", headers=read_only, json={"kind": "category", "value": "cs.AI"}
            ).status_code
            == 403
        )

        # Unfollow by JSON body or by query parameters; a second time is a 404.
        gone = client.request(
            "DELETE", "/api/follows", headers=auth, json={"kind": "author", "value": "kurt godel"}
        )
        assert gone.status_code == 200 and gone.json() == {
            "kind": "author",
            "value": "Kurt Gödel",
            "following": False,
        }
        again_gone = client.delete(
            "/api/follows", headers=auth, params={"kind": "author", "value": "Kurt Gödel"}
        )
        assert again_gone.status_code == 404
        by_query = client.delete("/api/follows", headers=auth, params={"kind": "category", "value": "cs.CL"})
        assert by_query.status_code == 200
        assert [f["kind"] for f in client.get("/api/follows", headers=auth).json()] == [
            "organization",
            "search",
        ]
        # Another member's follows are theirs alone.
        bob = token_for(db, member(db, "bob"))
        assert client.get("/api/follows", headers=bob).json() == []
        assert (
            client.delete(
                "/api/follows", headers=bob, params={"kind": "organization", "value": "deepthought"}
            ).status_code
            == 404
        )


def test_follows_are_limited(settings: Settings, db: Database) -> None:
    ada = member(db, "ada")
    for i in range(MAX_FOLLOWS):
        follow_store.follow(db, ada.id, "author", f"Author {i}", f"author {i}", NOW)
    auth = token_for(db, ada)
    with https_client(settings) as client:
        over = client.post("/api/follows", headers=auth, json={"kind": "author", "value": "One More"})
        assert over.status_code == 409 and str(MAX_FOLLOWS) in over.json()["error"]
        # Following what is followed already is no new follow: still fine at the limit.
        kept = client.post("/api/follows", headers=auth, json={"kind": "author", "value": "author 7"})
        assert kept.status_code == 200


def test_follow_buttons_show_state_and_work_without_script(settings: Settings, db: Database) -> None:
    papers = add_papers(db, 2, authors=["Émile Borel"], categories=["math.PR"])
    ada = member(db, "ada")
    org_store.create_org(db, "inria", "Inria", ada.id, NOW)
    with https_client(settings) as client:
        # A visitor is offered the login form, which comes back here.
        visitor = client.get("/authors/emile borel")
        assert visitor.status_code == 200 and "/login?next=/authors/emile%20borel" in visitor.text
        log_in(client, "ada")
        pages = {
            "author": ("/authors/%C3%89mile%20Borel", "Émile Borel"),
            "organization": ("/orgs/inria", "inria"),
            "category": (f"/papers?date={papers[0].published_at:%Y-%m-%d}&category=math.PR", "math.PR"),
            "search": ("/search?q=borel&category=math.PR", "q=borel&category=math.PR"),
        }
        for kind, (path, value) in pages.items():
            page = client.get(path)
            assert page.status_code == 200, (kind, page.text[:300])
            assert (
                'aria-pressed="false"' in page.text
                and f'name="value" value="{html.escape(value)}"' in page.text
            ), kind
            # Without the CSRF token the form is refused.
            forged = client.post("/follows", data={"kind": kind, "value": value}, follow_redirects=False)
            assert forged.status_code == 403
            done = client.post(
                "/follows",
                data={"csrf": csrf_of(client), "kind": kind, "value": value, "next": path},
                follow_redirects=False,
            )
            assert done.status_code == 303 and done.headers["location"] == path
            assert 'aria-pressed="true"' in client.get(path).text, kind
        # An open redirect is no place to go back to.
        elsewhere = client.post(
            "/follows",
            data={"csrf": csrf_of(client), "kind": "category", "value": "cs.AI", "next": "//evil.example"},
            follow_redirects=False,
        )
        assert elsewhere.headers["location"] == "/"

        listing = client.get("/follows")
        assert listing.status_code == 200
        for text in (
            "Émile Borel",
            "/orgs/inria/feed.xml",
            "/feed.xml?category=math.PR",
            "“borel” · category math.PR",
        ):
            assert text in listing.text
        unfollowed = client.post(
            "/follows",
            data={"csrf": csrf_of(client), "kind": "organization", "value": "inria", "action": "unfollow"},
            follow_redirects=False,
        )
        assert unfollowed.headers["location"] == "/follows"
        assert 'aria-pressed="false"' in client.get("/orgs/inria").text
        assert {f.kind for f in follow_store.follows_of(db, ada.id)} == {"author", "category", "search"}
        assert 'href="/follows"' in client.get("/users/ada").text
    with https_client(settings) as anonymous:
        assert anonymous.get("/follows", follow_redirects=False).headers["location"] == "/login?next=/follows"


def test_author_page_and_json(settings: Settings, db: Database) -> None:
    add_papers(db, 3, authors=["Grace Hopper", "Alan Turing"])
    paper_store.upsert_papers(
        db,
        [
            Paper(
                id="2611.09999",
                title="Someone else",
                abstract="Not hers.",
                authors=["Grace Hoppers"],
                categories=["cs.PL"],
                versions=[Version(1, NOW)],
                published_at=NOW,
            )
        ],
    )
    grace = member(db, "grace")
    claim = claim_store.add_claim(db, "2611.00001", grace.id, "Grace Hopper", NOW)
    admin = member(db, "root", admin=True)
    claim_store.decide(db, claim.id, admin.id, True, NOW)
    with https_client(settings.model_copy(update={"page_size": 2})) as client:
        page = client.get("/authors/grace%20HOPPER")
        assert page.status_code == 200
        assert 'id="author-name"' in page.text and ">Grace Hopper<" in page.text
        assert '<a href="/users/grace">@grace</a>' in page.text
        assert page.text.count('class="card"') == 2 and "Someone else" not in page.text
        assert 'href="/authors/Grace%20Hopper/feed.xml"' in page.text  # <link rel=alternate> and the link
        assert 'href="/authors/Grace%20Hopper?p=1"' in page.text  # page size 2: three papers, two pages
        second = client.get("/authors/Grace Hopper?p=1")
        assert second.text.count('class="card"') == 1
        assert client.get("/authors/Grace Hopper?p=x").status_code == 400
        assert client.get("/authors/Nobody At All").status_code == 404

        api = client.get("/api/authors/grace hopper/papers", params={"limit": 10})
        assert api.status_code == 200
        body = api.json()
        assert body["name"] == "Grace Hopper" and body["total"] == 3 and body["claimedBy"] == ["grace"]
        assert [item["paper"]["id"] for item in body["papers"]] == ["2611.00000", "2611.00001", "2611.00002"]
        claimed = next(a for a in body["papers"][1]["paper"]["authors"] if a["name"] == "Grace Hopper")
        assert claimed["user"]["name"] == "grace"
        assert client.get("/api/authors/Nobody/papers").status_code == 404
        # A paper's page links each author to theirs.
        assert '<a href="/authors/Grace%20Hopper">Grace Hopper</a>' in client.get("/papers/2611.00001").text


def test_paper_authors_follow_new_versions_and_are_backfilled(settings: Settings, db: Database) -> None:
    (first,) = add_papers(db, 1, authors=["Ada Lovelace", "ADA  LOVELACE", "Charles Babbage"])
    assert _keys(db, first.id) == {"ada lovelace", "charles babbage"}
    newer = replace(
        first, version=2, versions=[*first.versions, Version(2, NOW)], authors=["Mary Somerville"]
    )
    paper_store.upsert_papers(db, [newer])
    assert _keys(db, first.id) == {"mary somerville"}
    assert [p.id for p in paper_store.author_papers(db, "mary somerville")] == [first.id]
    assert paper_store.author_papers(db, "Ada Lovelace") == []

    # Migration 0016 fills the table for the papers stored before it.
    config = migrate._config(db)
    command.downgrade(config, "0015")
    with db.write() as conn:
        assert not sa.inspect(conn).has_table("paper_authors")
    migrate.upgrade(db)
    assert _keys(db, first.id) == {"mary somerville"}


def test_organization_follow_uses_the_short_name(settings: Settings, db: Database) -> None:
    ada = member(db, "ada")
    org_store.create_org(db, "hf", "Hugging Face", ada.id, datetime.now(UTC))
    add_papers(db, 1, organization=Organization("hf", "Hugging Face"))
    auth = token_for(db, ada)
    with https_client(settings) as client:
        made = client.post("/api/follows", headers=auth, json={"kind": "organization", "value": "hf"})
        assert made.status_code == 201 and made.json()["url"] == "http://testserver/orgs/hf"


def test_an_authors_papers_are_found_through_the_index(settings: Settings, db: Database) -> None:
    """The query behind /authors/{name} and its feed reads the author's rows of paper_authors and each paper by
    its key: no scan of papers, whose JSON lists of authors a million papers make slow to read."""
    add_papers(db, 3, authors=["Grace Hopper"])
    ids = sa.select(paper_authors.c.paper_id).where(paper_authors.c.key == "grace hopper")
    query = paper_store.paper_query().where(schema.papers.c.id.in_(ids)).limit(50)
    with db.read() as conn:
        sql = str(query.compile(conn, compile_kwargs={"literal_binds": True}))
        if db.dialect == "sqlite":
            plan = " | ".join(str(row[-1]) for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))
            assert "SEARCH paper_authors USING PRIMARY KEY (key=?)" in plan, plan
            assert "SCAN papers" not in plan, plan
        else:  # a few rows make a sequential scan the better plan: ask whether the index can serve
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            plan = " | ".join(str(row[0]) for row in conn.exec_driver_sql("EXPLAIN " + sql))
            assert "paper_authors_pkey" in plan and "Seq Scan on papers" not in plan, plan
    assert [p.id for p in paper_store.author_papers(db, "GRACE HOPPER")] == [
        "2611.00000",
        "2611.00001",
        "2611.00002",
    ]
