"""Notifications through the real API, pages and worker job: a reply, an @mention, a comment on a claimed
paper, a new paper by a followed author; exactly one per cause, none for one's own comment; hidden and
deleted comments drop out; mark read (one, all; API and forms with CSRF); kinds switched off; the unread
badge; paging."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from paperfeed.models import User, Version
from paperfeed.recommend.signals import name_key
from paperfeed.settings import Settings
from paperfeed.storage import Database
from paperfeed.storage import claims as claim_store
from paperfeed.storage import follows as follow_store
from paperfeed.storage import notifications as store
from paperfeed.storage import users as user_store
from tests.community import add_papers, csrf_of, form_token, https_client, log_in, member, run_job, token_for

NOW = datetime.now(UTC)


def comment(
    client: TestClient, who: dict[str, str], paper_id: str, body: str, parent: int | None = None
) -> int:
    data: dict[str, Any] = {"body": body} | ({"parentId": parent} if parent else {})
    answer = client.post(f"/api/papers/{paper_id}/comments", json=data, headers=who)
    assert answer.status_code == 201, answer.text
    return int(answer.json()["id"])


def inbox(client: TestClient, who: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    answer = client.get("/api/notifications", params=params, headers=who)
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()
    return items


def unread(client: TestClient, who: dict[str, str]) -> int:
    return int(client.get("/api/notifications", headers=who).headers["X-Unread-Count"])


def test_a_reply_creates_exactly_one_notification(settings: Settings, db: Database) -> None:
    paper = add_papers(db, 1)[0]
    ada, bob = member(db, "ada"), member(db, "bob")
    as_ada, as_bob = token_for(db, ada), token_for(db, bob)
    with https_client(settings) as client:
        top = comment(client, as_ada, paper.id, "A first thought.")
        # Bob's reply also @mentions ada: still one notification for her, a reply.
        reply = comment(client, as_bob, paper.id, "Agreed, @ada: see section 3.", parent=top)
        (note,) = inbox(client, as_ada)
        assert note["kind"] == "reply" and note["commentId"] == reply and note["actor"] == "bob"
        assert note["paperId"] == paper.id and note["paperTitle"] == paper.title and note["readAt"] is None
        assert note["text"] == f"bob replied to your comment on “{paper.title}”"
        assert note["excerpt"] == "Agreed, @ada: see section 3."
        assert note["url"] == f"http://testserver/papers/{paper.id}#comment-{reply}"
        assert unread(client, as_ada) == 1
        # Replying to oneself, and the replier, get nothing.
        comment(client, as_ada, paper.id, "And a note to self.", parent=top)
        assert len(inbox(client, as_ada)) == 1 and inbox(client, as_bob) == []
    with db.read() as conn:
        assert conn.execute(store.notifications.select()).all().__len__() == 1


def test_mentions_from_markdown_text_only(settings: Settings, db: Database) -> None:
    paper = add_papers(db, 1)[0]
    ada, bob, cy = member(db, "ada"), member(db, "bob"), member(db, "cy.d")
    as_ada, as_bob = token_for(db, ada), token_for(db, bob)
    with https_client(settings) as client:
        comment(
            client,
            as_ada,
            paper.id,
            "Ask `@bob` or write to bob@example.org.\n\n```\n@bob\n```\n\n    @bob indented",
        )
        assert inbox(client, as_bob) == []
        made = comment(client, as_ada, paper.id, "Thanks @BOB, @nobody and @cy.d.")
        (note,) = inbox(client, as_bob)
        assert (note["kind"], note["commentId"], note["text"]) == (
            "mention",
            made,
            f"ada mentioned you on “{paper.title}”",
        )
        assert [n["kind"] for n in inbox(client, token_for(db, cy))] == ["mention"]
        # An edit that adds a mention notifies the newly mentioned member only, once.
        dan = member(db, "dan")
        log_in(client, "ada")
        page = client.get(f"/papers/{paper.id}")
        for body in ("Thanks @BOB, @cy.d and @dan.", "Thanks @BOB, @cy.d and @dan!"):
            answer = client.post(
                f"/comments/{made}",
                data={"csrf": form_token(page.text), "action": "edit", "body": body},
                follow_redirects=False,
            )
            assert answer.status_code == 303, answer.text
        assert len(inbox(client, as_bob)) == 1
        assert [n["kind"] for n in inbox(client, token_for(db, dan))] == ["mention"]


def test_mentions_are_capped(settings: Settings, db: Database) -> None:
    paper = add_papers(db, 1)[0]
    ada = member(db, "ada")
    people = [member(db, f"m{i:02d}") for i in range(12)]
    with https_client(settings) as client:
        comment(client, token_for(db, ada), paper.id, " ".join(f"@{p.name}" for p in people))
    told = [p for p in people if store.notifications_of(db, p.id, 10)]
    assert told == people[:10]


def test_a_comment_on_a_claimed_paper(settings: Settings, db: Database) -> None:
    paper = add_papers(db, 1)[0]
    ada, bob, admin = member(db, "ada"), member(db, "bob"), member(db, "root", admin=True)
    claim = claim_store.add_claim(db, paper.id, ada.id, "Ada Lovelace", NOW)
    as_ada, as_bob = token_for(db, ada), token_for(db, bob)
    with https_client(settings) as client:
        comment(client, as_bob, paper.id, "Before the claim was approved.")
        assert inbox(client, as_ada) == []
        claim_store.decide(db, claim.id, admin.id, True, NOW)
        made = comment(client, as_bob, paper.id, "Nice result.")
        (note,) = inbox(client, as_ada)
        assert (note["kind"], note["commentId"]) == ("claimed", made)
        assert note["text"] == f"bob commented on “{paper.title}”, which you claimed"
        # Her own comment on her paper tells her nothing; a mention of her is one notification.
        comment(client, as_ada, paper.id, "Thanks!")
        comment(client, as_bob, paper.id, "@ada one more question.")
        assert [n["kind"] for n in inbox(client, as_ada)] == ["mention", "claimed"]


def test_hidden_and_deleted_comments_drop_out(settings: Settings, db: Database) -> None:
    paper = add_papers(db, 1)[0]
    ada, bob = member(db, "ada"), member(db, "bob")
    mod = member(db, "mod")
    user_store.set_roles(db, mod.id, is_admin=False, is_moderator=True)
    as_ada, as_bob = token_for(db, ada), token_for(db, bob)
    with https_client(settings) as client:
        first = comment(client, as_bob, paper.id, "Hey @ada, spam.")
        second = comment(client, as_bob, paper.id, "Hey @ada, regrets.")
        assert unread(client, as_ada) == 2
        log_in(client, "mod")
        token = form_token(client.get(f"/papers/{paper.id}").text)
        hide = client.post(
            f"/comments/{first}", data={"csrf": token, "action": "hide"}, follow_redirects=False
        )
        assert hide.status_code == 303
        assert [n["commentId"] for n in inbox(client, as_ada)] == [second] and unread(client, as_ada) == 1
        client.post(f"/comments/{first}", data={"csrf": token, "action": "show"})
        assert unread(client, as_ada) == 2
        log_in(client, "bob")
        token = form_token(client.get(f"/papers/{paper.id}").text)
        client.post(f"/comments/{second}", data={"csrf": token, "action": "delete"})
        assert [n["commentId"] for n in inbox(client, as_ada)] == [first]


def test_mark_read_through_the_api(settings: Settings, db: Database) -> None:
    paper = add_papers(db, 1)[0]
    ada, bob = member(db, "ada"), member(db, "bob")
    as_ada, as_bob = token_for(db, ada), token_for(db, bob)
    with https_client(settings) as client:
        for i in range(3):
            comment(client, as_bob, paper.id, f"@ada point {i}")
        ids = [n["id"] for n in inbox(client, as_ada)]
        # Someone else's ids change nothing; a read token may list, not mark.
        other = client.post("/api/notifications/read", json={"ids": ids}, headers=as_bob)
        assert other.json() == {"marked": 0, "unread": 0}
        read_only = client.post(
            "/api/notifications/read", json={"all": True}, headers=token_for(db, ada, "read")
        )
        assert read_only.status_code == 403
        assert client.post("/api/notifications/read", json={"ids": "x"}, headers=as_ada).status_code == 400
        assert client.post("/api/notifications/read", json={}, headers=as_ada).status_code == 400
        one = client.post("/api/notifications/read", json={"ids": [ids[0]]}, headers=as_ada)
        assert one.json() == {"marked": 1, "unread": 2}
        assert [n["id"] for n in inbox(client, as_ada, unread="true")] == ids[1:]
        assert inbox(client, as_ada)[0]["readAt"] is not None
        assert client.post("/api/notifications/read", json={"all": True}, headers=as_ada).json() == {
            "marked": 2,
            "unread": 0,
        }
        assert inbox(client, as_ada, unread="true") == []
        # Anonymous: 401 JSON; a cookie session without the CSRF header: 403.
        assert client.get("/api/notifications").status_code == 401
        log_in(client, "ada")
        assert client.get("/api/notifications").status_code == 200
        assert client.post("/api/notifications/read", json={"all": True}).status_code == 403


def test_paging_newest_first(settings: Settings, db: Database) -> None:
    paper = add_papers(db, 1)[0]
    ada, bob = member(db, "ada"), member(db, "bob")
    as_ada, as_bob = token_for(db, ada), token_for(db, bob)
    with https_client(settings) as client:
        made = [comment(client, as_bob, paper.id, f"@ada n{i}") for i in range(5)]
        first = client.get("/api/notifications", params={"limit": 2}, headers=as_ada)
        seen = [n["commentId"] for n in first.json()]
        link = first.headers["link"]
        while link:
            url = re.match(r"<([^>]+)>", link)
            assert url
            page = client.get(url[1].replace("http://testserver", ""), headers=as_ada)
            seen += [n["commentId"] for n in page.json()]
            link = page.headers.get("link", "")
        assert seen == made[::-1]
        assert client.get("/api/notifications", params={"limit": 0}, headers=as_ada).status_code == 400


def test_kinds_switched_off(settings: Settings, db: Database) -> None:
    paper = add_papers(db, 1)[0]
    ada, bob = member(db, "ada"), member(db, "bob")
    as_ada, as_bob = token_for(db, ada), token_for(db, bob)
    with https_client(settings) as client:
        comment(client, as_bob, paper.id, "Before: @ada")
        settings_now = client.get("/api/notifications/settings", headers=as_ada).json()
        assert settings_now == {"reply": True, "mention": True, "claimed": True, "author": True}
        put = client.put("/api/notifications/settings", json={"mention": False}, headers=as_ada)
        assert put.json() == {"reply": True, "mention": False, "claimed": True, "author": True}
        assert (
            client.put("/api/notifications/settings", json={"nope": True}, headers=as_ada).status_code == 400
        )
        # Off: what was made before is hidden, nothing new is made.
        assert inbox(client, as_ada) == [] and unread(client, as_ada) == 0
        comment(client, as_bob, paper.id, "During: @ada")
        assert len(store.notifications_of(db, ada.id, 10)) == 0
        client.put("/api/notifications/settings", json={"mention": True}, headers=as_ada)
        assert [n["excerpt"] for n in inbox(client, as_ada)] == ["Before: @ada"]
        # The page's switches: a kind left unchecked is off.
        log_in(client, "ada")
        page = client.get("/notifications")
        assert 'id="on-mention" checked' in page.text
        token = form_token(page.text)
        saved = client.post(
            "/notifications/settings",
            data={"csrf": token, "on_reply": "1", "on_claimed": "1", "on_author": "1"},
            follow_redirects=False,
        )
        assert saved.status_code == 303
        assert store.muted_kinds(db, ada.id) == {"mention"}
        forged = client.post("/notifications/settings", data={"csrf": "forged"})
        assert forged.status_code == 403


def test_the_page_the_badge_and_mark_read_forms(settings: Settings, db: Database) -> None:
    paper = add_papers(db, 1)[0]
    ada, bob = member(db, "ada"), member(db, "bob")
    as_ada, as_bob = token_for(db, ada), token_for(db, bob)
    with https_client(settings) as client:
        assert client.get("/notifications", follow_redirects=False).headers["location"].startswith("/login")
        top = comment(client, as_ada, paper.id, "Mine.")
        reply = comment(client, as_bob, paper.id, "A <b>reply</b>", parent=top)
        mention = comment(client, as_bob, paper.id, "@ada look")
        log_in(client, "ada")
        home = client.get("/")
        assert re.search(r'id="nav-unread">2<', home.text)
        page = client.get("/notifications")
        assert page.status_code == 200
        assert f'href="/papers/{paper.id}#comment-{reply}"' in page.text
        assert "A &lt;b&gt;reply&lt;/b&gt;" in page.text  # the excerpt is text
        assert page.text.index(f"comment-{mention}") < page.text.index(f"comment-{reply}")
        (note_id,) = [n["id"] for n in inbox(client, as_ada) if n["commentId"] == reply]
        token = form_token(page.text)
        assert client.post("/notifications/read", data={"id": str(note_id)}).status_code == 403
        done = client.post(
            "/notifications/read", data={"csrf": token, "id": str(note_id)}, follow_redirects=False
        )
        assert done.status_code == 303 and done.headers["location"] == "/notifications"
        assert unread(client, as_ada) == 1
        assert re.search(r'id="nav-unread">1<', client.get("/notifications").text)
        client.post("/notifications/read", data={"csrf": csrf_of(client), "all": "1"})
        after = client.get("/notifications")
        assert unread(client, as_ada) == 0 and 'id="nav-unread"' not in after.text
        assert 'id="read-all"' not in after.text
        assert "No notifications yet" not in after.text
        assert "Nothing unread" in client.get("/notifications?unread=1").text


def follow_author(db: Database, user: User, name: str, at: datetime) -> None:
    follow_store.follow(db, user.id, "author", name, name_key(name), at)


def test_new_papers_by_followed_authors(settings: Settings, db: Database) -> None:
    ada, bob = member(db, "ada"), member(db, "bob")
    add_papers(db, 2)  # the back catalogue: stored before anyone followed
    assert run_job(db, settings, "notifications") == "started at the latest paper"
    follow_author(db, ada, "Alan Turing", datetime.now(UTC))
    follow_author(db, bob, "Grace Hopper", datetime.now(UTC))
    # New versions of papers stored before the follow are not new papers.
    versions = [Version(1, NOW - timedelta(days=2)), Version(2, NOW)]
    add_papers(db, 2, authors=["Alan Turing"], versions=versions, version=2)
    fresh = add_papers(
        db, 1, id="2611.10000", title="Computable numbers, again", authors=["A. M. Turing", "Alan TURING"]
    )
    assert run_job(db, settings, "notifications") == "3 papers looked at, 1 notifications"
    (note,) = store.notifications_of(db, ada.id, 10)
    assert (note.kind, note.paper_id, note.comment_id, note.actor) == ("author", fresh[0].id, None, None)
    assert note.text == "Alan TURING"
    assert run_job(db, settings, "notifications") == "no new papers"
    # A crash after the commit and before anything else, or a cursor set back: nothing twice.
    with db.write() as conn:
        conn.execute(
            store.ingest_checkpoints.update()
            .where(store.ingest_checkpoints.c.source == store.PAPERS_CURSOR)
            .values(line=0)
        )
    run_job(db, settings, "notifications")
    assert len(store.notifications_of(db, ada.id, 10)) == 1 and store.notifications_of(db, bob.id, 10) == []
    # Switched off: nothing made.
    store.set_muted(db, ada.id, {"author"})
    add_papers(db, 1, id="2611.10001", authors=["Alan Turing"])
    run_job(db, settings, "notifications")
    store.set_muted(db, ada.id, set())
    assert len(store.notifications_of(db, ada.id, 10)) == 1
    with https_client(settings) as client:
        (shown,) = inbox(client, token_for(db, ada))
        assert shown["text"] == "New paper by Alan TURING: “Computable numbers, again”"
        assert shown["url"] == f"http://testserver/papers/{fresh[0].id}"


def test_the_job_pages_by_whole_batches(db: Database) -> None:
    """Papers stored in one batch share a rev: a page never ends inside one, or the rest would be skipped."""
    add_papers(db, 3)
    add_papers(db, 1, id="2611.20000")
    first, reached = store.papers_after(db, 0, 2)  # one rev fills the page: all of it
    assert len(first) == 3
    both, reached_both = store.papers_after(db, 0, 4)  # the limit splits the second rev: cut before it
    assert len(both) == 3 and reached_both == reached
    rest, _ = store.papers_after(db, reached, 4)
    assert [p[0] for p in rest] == ["2611.20000"]
