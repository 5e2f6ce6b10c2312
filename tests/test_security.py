"""Security of the community layer, tested from outside:

- every state-changing route (taken from the ROUTES table, so a new one cannot be forgotten) refuses a
  request without the CSRF token, with a foreign Origin, or marked cross-site, and changes nothing;
- a corpus of XSS payloads in titles, abstracts, authors, organization names, comments, collection
  names and notes, and LaTeX such as ``\\href{javascript:…}``, yields zero executable markup in the pages,
  the JSON API and the feeds;
- ``next=`` never leads off the site; every HTML response carries the Content-Security-Policy.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from pydantic import SecretStr

from paperfeed.models import Organization, Paper, Version
from paperfeed.settings import Settings
from paperfeed.storage import Database, schema
from paperfeed.storage import orgs as org_store
from paperfeed.storage.papers import upsert_papers
from paperfeed.web.app import CSP
from paperfeed.web.routes import ROUTES
from tests.community import PASSWORD, add_papers, csrf_of, executable, https_client, member, token_for

EVIL = "https://evil.example"
NO_SERVER = "smtp://127.0.0.1:9?starttls=off"  # sign-up needs mail configured; the web never connects


# -- CSRF on every state-changing route ---------------------------------------------------------------------


def _world(db: Database) -> dict[str, Any]:
    """One of everything a state-changing route can act on, owned by an admin who may do all of it."""
    paper = add_papers(db, 1)[0]
    root = member(db, "root", admin=True)
    member(db, "bob")
    headers = token_for(db, root)
    return {"paper": paper, "root": root, "headers": headers}


def _fill(path: str, ids: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)(:\w+)?\}", lambda m: ids[m[1]], path)


# A valid request body for every POST/DELETE route, by route name: the negative checks below send the
# same body minus the token, so a 403 can only come from the CSRF check.
FORMS: dict[str, dict[str, str]] = {
    "upvote_form": {},
    "comment_form": {"body": "hello"},
    "claim_form": {"author": "Ada Lovelace"},
    "change_comment_form": {"action": "edit", "body": "edited"},
    "signup": {"name": "newbie", "email": "newbie@example.org", "password": PASSWORD},
    "login": {"name": "root", "password": PASSWORD},
    "logout": {},
    "change_password": {"current": PASSWORD, "new": PASSWORD + "!"},
    "activate": {"token": "t", "password": PASSWORD},
    "forgot": {"email": "root@example.org"},
    "reset": {"token": "t", "new": PASSWORD + "!"},
    "create_token": {"label": "l", "scope": "read"},
    "revoke_token": {},
    "submit": {"arxiv_id": "0704.0001"},
    "create_org": {"name": "neworg"},
    "org_members": {"user": "bob", "role": "member"},
    "org_papers": {"paper_id": "2611.00000"},
    "pick_form": {},
    "links_form": {"repo": "https://github.com/a/b", "project_page": ""},
    "create_collection": {"name": "new list"},
    "collection_items": {"paper_id": "2611.00000", "note": "n"},
    "decide_claim": {"decision": "approve"},
    # Email digests (web/subscribe.py)
    "subscribe": {"email": "x@example.org", "frequency": "daily"},
    "subscribe_confirm": {"token": "t"},
    "preferences": {"frequency": "weekly"},
    # Webhooks (web/webhooks.py)
    "create_webhook": {"url": "https://example.org/hook", "event_paper.curated": "1"},
    "change_webhook": {"action": "delete"},
    # Notifications (web/notifications.py)
    "read_notifications": {"all": "1"},
    "notification_settings": {"on_reply": "1"},
    # Follows (web/follows.py)
    "follow": {"kind": "category", "value": "cs.CL"},
    # For you (web/foryou.py)
    "feedback_form": {"signal": "less"},
    "for_you_seen": {"ids": "2611.00000"},
    "for_you_start": {"arxiv_ids": "2611.00000", "categories": "cs.CL"},
    "change_for_you_feed": {"action": "create"},
}
# RFC 8058 one-click unsubscribe: the mail provider posts with no cookies, so no token can be asked for;
# the signed token in its URL is the authority (test_subscribe_web checks a tampered one changes nothing).
EXEMPT = {"unsubscribe"}
JSON: dict[str, dict[str, Any]] = {
    "api_submit": {"arxivId": "0704.0001"},
    "api_upvote": {},
    "api_pick": {},
    "api_unpick": {},
    "api_unvote": {},
    "api_post_comment": {"body": "hello"},
    "api_create_collection": {"name": "api list"},
    "api_collection_items": {"paperId": "2611.00000"},
    "api_links": {"githubRepo": "https://github.com/a/b"},
    "api_claim": {"paperId": "2611.00000", "claimAuthorId": "0" * 24},
    "api_create_webhook": {"url": "https://example.org/hook", "events": ["paper.curated"]},
    "api_delete_webhook": {},
    "api_read_notifications": {"all": True},
    "api_put_notification_settings": {"mention": False},
    "api_follow": {"kind": "category", "value": "cs.CL"},
    "api_unfollow": {"kind": "category", "value": "cs.CL"},
    "api_feedback": {"signal": "less"},
    "api_unfeedback": {},
    "api_seen": {},
    "api_unseen": {},
    "api_for_you_seen": {"ids": ["2611.00000"]},
}


def _counts(db: Database) -> dict[str, int]:
    names = (
        "users",
        "sessions",
        "votes",
        "comments",
        "organization_members",
        "claims",
        "collections",
        "api_tokens",
        "account_requests",
        "paper_links",
        "webhooks",
        "notification_mutes",
        "follows",
        "paper_feedback",
        "seen_papers",
        "feed_tokens",
    )
    with db.read() as conn:
        counted = {
            n: conn.execute(sa.select(sa.func.count()).select_from(schema.metadata.tables[n])).scalar_one()
            for n in names
        }
        counted["items"] = conn.execute(
            sa.select(sa.func.count()).select_from(schema.collection_items)
        ).scalar_one()
        counted["curated"] = conn.execute(
            sa.select(sa.func.count()).where(schema.papers.c.submitted_at.is_not(None))
        ).scalar_one()
        counted["edited"] = conn.execute(
            sa.select(sa.func.count()).where(schema.comments.c.edited_at.is_not(None))
        ).scalar_one()
    return counted


def _state_changing() -> list[tuple[str, str, str]]:
    return [
        (method, path, name)
        for method, path, _, name in ROUTES
        if method in ("POST", "DELETE", "PUT", "PATCH") and name not in EXEMPT
    ]


def test_every_state_changing_route_is_covered() -> None:
    assert {name for _, _, name in _state_changing()} == set(FORMS) | set(JSON)
    assert all(method != "GET" or name not in FORMS for method, _, _, name in ROUTES)


def test_cross_site_requests_are_refused_everywhere(settings: Settings, db: Database) -> None:
    world = _world(db)
    with https_client(settings) as client:
        client.post("/login", data={"csrf": csrf_of(client), "name": "root", "password": PASSWORD})
        token = csrf_of(client)
        # Something for every route to act on, made through the API with the admin's token.
        paper_id = world["paper"].id
        comment = client.post(
            f"/api/papers/{paper_id}/comments", json={"body": "c"}, headers=world["headers"]
        ).json()
        collection = client.post("/api/collections", json={"name": "l"}, headers=world["headers"]).json()
        hook = client.post(
            "/api/webhooks",
            json={"url": "https://example.org/h", "events": ["paper.curated"]},
            headers=world["headers"],
        ).json()
        other = client.post(
            "/api/webhooks",
            json={"url": "https://example.org/i", "events": ["paper.curated"]},
            headers=world["headers"],
        ).json()
        client.post("/orgs", data={"csrf": token, "name": "lab"})
        client.post(f"/papers/{paper_id}/claim", data={"csrf": token, "author": "Alan Turing"})
        with db.read() as conn:
            claim_id = conn.execute(sa.select(schema.claims.c.id)).scalar_one()
            token_id = conn.execute(sa.select(schema.api_tokens.c.id)).scalar_one()
        ids = {
            "paper_id": paper_id,
            "comment_id": str(comment["id"]),
            "collection_id": str(collection["id"]),
            "name": "lab",
            "claim_id": str(claim_id),
            "token": "not-a-signed-token",
            "token_id": str(token_id),
            "webhook_id": str(hook["id"]),
            "hook_id": str(other["id"]),
        }
        before = _counts(db)
        attempts = 0
        for method, path, name in _state_changing():
            url = _fill(path, ids)
            if name in FORMS:
                forged: list[tuple[dict[str, str], dict[str, str]]] = [
                    (FORMS[name], {}),  # no token at all
                    ({**FORMS[name], "csrf": "x" + token}, {}),  # a wrong token
                    ({**FORMS[name], "csrf": token}, {"Origin": EVIL}),  # right token, foreign page
                    ({**FORMS[name], "csrf": token}, {"Sec-Fetch-Site": "cross-site"}),
                ]
                for data, headers in forged:
                    response = client.request(method, url, data=data, headers=headers, follow_redirects=False)
                    assert response.status_code == 403, (name, data, headers, response.text[:200])
                    attempts += 1
            else:
                for headers in ({}, {"X-CSRF-Token": "wrong"}, {"X-CSRF-Token": token, "Origin": EVIL}):
                    response = client.request(method, url, json=JSON[name], headers=headers)
                    assert response.status_code == 403, (name, headers, response.text[:200])
                    assert "error" in response.json()
                    attempts += 1
        assert _counts(db) == before  # nothing changed
        assert attempts == 4 * len(FORMS) + 3 * len(JSON)

        # The same requests with the token do go through (so the 403s above were the CSRF check).
        for method, path, name in _state_changing():
            if name in ("logout", "signup", "login", "change_password", "submit", "api_submit"):
                continue  # these change the session or need arXiv; test_accounts covers them
            if name in ("subscribe", "subscribe_confirm", "preferences"):
                continue  # these need SMTP and signed links; test_subscribe_web covers them
            if name in ("activate", "forgot", "reset"):
                continue  # these need mail and emailed links; test_account_mail covers them
            if name == "api_claim":
                continue  # both authors are claimed above (409); test_hf_api covers it
            url = _fill(path, ids)
            if name in FORMS:
                ok = client.request(method, url, data={**FORMS[name], "csrf": token}, follow_redirects=False)
            else:
                ok = client.request(method, url, json=JSON[name], headers={"X-CSRF-Token": token})
            assert ok.status_code in (200, 201, 303), (name, ok.status_code, ok.text[:300])
    assert _counts(db) != before


# -- XSS corpus --------------------------------------------------------------------------------------------

PAYLOADS = [
    '<script>alert("t")</script>',
    '"><img src=x onerror=alert(1)>',
    "<svg/onload=alert(1)>",
    "javascript:alert(1)",
    "\\href{javascript:alert(1)}{click}",
    "$\\href{javascript:alert(2)}{x}$",
    "\\url{javascript:alert(3)}",
    "</textarea><script>alert(4)</script>",
    '<a href="javascript:alert(5)">x</a>',
    '<iframe srcdoc="<script>alert(6)</script>"></iframe>',
    "]]><script>alert(7)</script>",
    "\u2028<script>alert(8)</script>",
]
COMMENT_PAYLOADS = [
    *PAYLOADS,
    "[x](javascript:alert(9))",
    "[x](JAVASCRIPT:alert(10))",
    "![x](javascript:alert(11))",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxMik8L3NjcmlwdD4=)",
    "<details open ontoggle=alert(13)>",
    "[x](&#x6A;avascript:alert(14))",
]


@pytest.fixture
def hostile(settings: Settings, db: Database) -> dict[str, Any]:
    now = datetime.now(UTC)
    papers = [
        Paper(
            id=f"2611.{90000 + i}",
            title=f"T{i} {payload}",
            abstract=f"A{i} {payload} and {PAYLOADS[(i + 1) % len(PAYLOADS)]}",
            authors=[f"Author {payload}", "Plain Name"],
            categories=["cs.CR"],
            versions=[Version(1, now - timedelta(hours=1))],
            published_at=now - timedelta(hours=1),
            comments=payload,
            journal_ref=payload,
            organization=Organization(f"org{i}", f"Org {payload}"),
            license=f"javascript:alert({i})" if i == 3 else None,
        )
        for i, payload in enumerate(PAYLOADS)
    ]
    upsert_papers(db, papers)
    ada = member(db, "ada", admin=True)
    headers = token_for(db, ada)
    with https_client(settings) as client:
        for body in COMMENT_PAYLOADS:
            made = client.post(f"/api/papers/{papers[0].id}/comments", json={"body": body}, headers=headers)
            assert made.status_code == 201
        made = client.post(
            "/api/collections",
            json={"name": PAYLOADS[1], "description": PAYLOADS[0], "public": True},
            headers=headers,
        ).json()
        client.post(
            f"/api/collections/{made['id']}/items",
            json={"paperId": papers[0].id, "note": PAYLOADS[7]},
            headers=headers,
        )
        for kind, value in (("author", papers[1].authors[0]), ("search", "q=" + quote(PAYLOADS[0]))):
            followed = client.post("/api/follows", json={"kind": kind, "value": value}, headers=headers)
            assert followed.status_code == 201, followed.text
        client.post("/login", data={"csrf": csrf_of(client), "name": "ada", "password": PASSWORD})
        client.post(
            f"/papers/{papers[1].id}/claim", data={"csrf": csrf_of(client), "author": papers[1].authors[0]}
        )
    org = org_store.org_by_name(db, "org0")
    assert org is not None
    return {"papers": papers, "collection": made["id"]}


def _html_pages(client: TestClient, hostile: dict[str, Any]) -> list[str]:
    first = hostile["papers"][0].id
    return [
        "/",
        "/?sort=trending",
        f"/papers/{first}",
        f"/papers/{hostile['papers'][1].id}",
        f"/papers/{hostile['papers'][3].id}",
        "/orgs/org0",
        f"/collections/{hostile['collection']}",
        "/users/ada",
        "/admin/claims",
        f"/authors/{quote(hostile['papers'][1].authors[0])}",
        "/follows",
    ]


def test_xss_corpus_runs_nothing_in_pages(settings: Settings, db: Database, hostile: dict[str, Any]) -> None:
    with https_client(settings) as client:
        client.post("/login", data={"csrf": csrf_of(client), "name": "ada", "password": PASSWORD})
        for url in _html_pages(client, hostile):
            page = client.get(url)
            assert page.status_code == 200, url
            assert executable(page.text) == [], url
            assert page.headers["content-security-policy"] == CSP
        # The payloads are there, as text.
        paper_page = client.get(f"/papers/{hostile['papers'][0].id}").text
        assert "&lt;script&gt;alert(&#34;t&#34;)&lt;/script&gt;" in paper_page
        assert paper_page.count('class="comment"') == len(COMMENT_PAYLOADS)


def test_xss_corpus_stays_data_in_the_api_and_feeds(
    settings: Settings, db: Database, hostile: dict[str, Any]
) -> None:
    first = hostile["papers"][0].id
    with https_client(settings) as client:
        for url in (
            "/api/daily_papers",
            f"/api/papers/{first}",
            f"/api/papers/{first}/comments",
            f"/api/collections/{hostile['collection']}",
            "/api/organizations/org0",
        ):
            response = client.get(url)
            assert response.headers["content-type"].startswith("application/json")
            assert "<" not in response.text and ">" not in response.text  # written as \u003c / \u003e
            for comment in response.json() if url.endswith("/comments") else []:
                assert executable(comment["html"]) == [], comment
        rss = ET.fromstring(client.get("/feed.xml").content)  # noqa: S314 - our own output
        descriptions = [d.text or "" for d in rss.iter("description")]
        assert len(descriptions) > len(PAYLOADS)
        titles = [t.text or "" for t in rss.iter("title")]
        for text in descriptions + titles:  # readers render an RSS title and description as HTML
            assert executable(text) == [], text
        for url in ("/orgs/org1/feed.xml", f"/authors/{quote(hostile['papers'][1].authors[0])}/feed.xml"):
            listed = ET.fromstring(client.get(url).content)  # noqa: S314
            for text in [t.text or "" for t in listed.iter("title")] + [
                d.text or "" for d in listed.iter("description")
            ]:
                assert executable(text) == [], (url, text)
        atom = ET.fromstring(client.get("/feed.atom").content)  # noqa: S314
        ns = "{http://www.w3.org/2005/Atom}"
        summaries = list(atom.iter(f"{ns}summary"))
        assert summaries and all(s.get("type") == "text" for s in summaries)  # shown as text, never markup


# -- redirects and headers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/",
        "https://evil.example/",
        "/\\evil.example",
        "\\\\evil.example",
        "javascript:alert(1)",
        "http:evil.example",
        "/%0d%0aSet-Cookie:x=1",
        "\t//evil.example",
        "",
    ],
)
def test_next_never_leaves_the_site(settings: Settings, db: Database, target: str) -> None:
    member(db, "ada")
    with https_client(settings) as client:
        response = client.post(
            "/login",
            data={"csrf": csrf_of(client), "name": "ada", "password": PASSWORD, "next": target},
            follow_redirects=False,
        )
        assert response.status_code == 303
        location = response.headers["location"]
        assert location.startswith("/") and not location.startswith("//") and "\\" not in location
        assert "\r" not in location and "\n" not in location
        form = client.get("/login", params={"next": target}).text
        shown = re.search(r'name="next" value="([^"]*)"', form)
        assert shown is not None and (shown[1] == "/" or shown[1].startswith("/%"))


def test_a_local_next_is_kept(settings: Settings, db: Database) -> None:
    member(db, "ada")
    with https_client(settings) as client:
        response = client.post(
            "/login",
            data={
                "csrf": csrf_of(client),
                "name": "ada",
                "password": PASSWORD,
                "next": "/papers?date=2026-08-20",
            },
            follow_redirects=False,
        )
    assert response.headers["location"] == "/papers?date=2026-08-20"


def test_every_html_response_has_the_csp(settings: Settings, db: Database) -> None:
    paper = add_papers(db, 1)[0]
    member(db, "ada")
    with https_client(settings) as client:
        responses = [
            client.get(path, follow_redirects=False)
            for path in (
                "/",
                "/login",
                "/signup",
                "/papers/nope",
                "/orgs/none",
                "/collections/9",
                "/users/none",
            )
        ]
        responses.append(client.post("/login", data={"name": "x"}))  # refused: no token
        responses.append(
            client.post("/login", data={"csrf": csrf_of(client), "name": "ada", "password": "bad"})
        )
        client.post("/login", data={"csrf": csrf_of(client), "name": "ada", "password": PASSWORD})
        responses += [
            client.get(p)
            for p in (f"/papers/{paper.id}", "/submit", "/settings/password", "/admin/claims", "/users/ada")
        ]
    html = [r for r in responses if r.headers.get("content-type", "").startswith("text/html")]
    assert len(html) == len(responses)
    assert all(r.headers["content-security-policy"] == CSP for r in html)
    assert "script-src 'self'" in CSP and "'unsafe-inline'" not in CSP


def test_login_and_signup_are_rate_limited_per_address(settings: Settings, db: Database) -> None:
    member(db, "ada")
    limited = settings.model_copy(
        update={"rate_login": "3/60", "rate_signup": "1/3600", "smtp_url": SecretStr(NO_SERVER)}
    )
    with https_client(limited) as client:
        token = csrf_of(client)
        codes = [
            client.post("/login", data={"csrf": token, "name": "ada", "password": "guess number"}).status_code
            for _ in range(4)
        ]
        assert codes == [400, 400, 400, 429]
        blocked = client.post("/login", data={"csrf": token, "name": "ada", "password": PASSWORD})
        assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) <= 60  # even the right one
        first = client.post(
            "/signup", data={"csrf": token, "name": "n1", "email": "n1@example.org", "password": PASSWORD}
        )
        second = client.post(
            "/signup", data={"csrf": token, "name": "n2", "email": "n2@example.org", "password": PASSWORD}
        )
        assert first.status_code == 200 and second.status_code == 429


def test_the_scanner_finds_what_it_should() -> None:
    """The XSS assertions above are only as good as this scanner: it must flag each of these."""
    for bad in (
        "<script>x</script>",
        '<img src="x" onerror="y">',
        '<a href=" JavaScript:x">',
        '<iframe src="/">',
        '<a href="data:text/html,x">',
        '<svg onload="x">',
    ):
        assert executable(bad), bad
    assert executable('<script defer src="/static/js/math.js"></script><a href="/x">ok</a>') == []


def test_only_pages_hand_out_the_csrf_cookie(settings: Settings, db: Database) -> None:
    with https_client(settings) as client:
        for path in ("/api/daily_papers", "/static/css/site.css", "/feed.xml"):
            assert "set-cookie" not in client.get(path).headers, path
        page = client.get("/")
        cookie = page.headers["set-cookie"]
        assert cookie.startswith("__Host-csrf=") and "Secure" in cookie and "HttpOnly" in cookie
        assert "Domain" not in cookie and "Path=/" in cookie
        assert "set-cookie" not in client.get("/").headers  # once the browser has it


def test_json_bodies_escape_markup_and_read_as_json_dumps_writes_them() -> None:
    """SafeJSONResponse writes with orjson: the bytes json.dumps wrote before (compact, UTF-8 as is), with
    '<', '>', '&' and the JS line separators escaped, and json's help for what orjson refuses."""
    import json

    from paperfeed.web.serialize import SafeJSONResponse

    content = {
        "title": '</script><script>alert("x")</script> & \u2028\u2029 é 中 😀 \x00\x1f\x7f \t\n "\\',
        "numbers": [0, -1, 2.5, 1e300, 0.1, 2**63 - 1, True, False, None],
        "nested": {"empty": [], "more": {}},
    }
    body = SafeJSONResponse(content).body
    assert b"<" not in body and b">" not in body and b"&" not in body
    assert "\u2028".encode() not in body and b"\\u2028" in body
    assert json.loads(body) == content
    written = json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode()
    assert body == written.replace(b"<", b"\\u003c").replace(b">", b"\\u003e").replace(
        b"&", b"\\u0026"
    ).replace("\u2028".encode(), b"\\u2028").replace("\u2029".encode(), b"\\u2029")
    assert json.loads(SafeJSONResponse({"big": 2**70}).body) == {"big": 2**70}  # orjson refuses: json writes
