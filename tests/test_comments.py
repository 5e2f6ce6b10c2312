"""Comments: Markdown through an allowlist, one level of replies, edit and delete by the author, hiding by
moderators, numComments in the API, and the rate limit."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from paperfeed import markdown
from paperfeed.settings import Settings
from paperfeed.storage import Database
from paperfeed.storage import comments as comment_store
from paperfeed.storage import papers as paper_store
from paperfeed.storage import users as user_store
from tests.community import add_papers, csrf_of, executable, https_client, member, sign_up, token_for


@pytest.mark.parametrize(
    "body",
    [
        "<script>alert(1)</script>",
        "[click](javascript:alert(1))",
        "[click](JaVaScRiPt:alert(1))",
        "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        '<img src=x onerror="alert(1)">',
        '<a href="javascript:alert(1)">x</a>',
        "![x](javascript:alert(1))",
        "<svg onload=alert(1)>",
        "[x](&#106;avascript:alert(1))",
        '<iframe src="https://evil.example"></iframe>',
    ],
)
def test_markdown_keeps_no_executable_markup(body: str) -> None:
    html = markdown.render(body)
    assert executable(html) == [], html
    assert "<script" not in html.lower() and "<img" not in html.lower()


def test_markdown_keeps_what_people_write() -> None:
    html = markdown.render(
        "**Nice** result, see [the code](https://example.org/x) and `f(x)`.\n\n- one\n- two"
    )
    assert "<strong>Nice</strong>" in html and "<code>f(x)</code>" in html and "<li>one</li>" in html
    assert '<a href="https://example.org/x" rel="nofollow noopener noreferrer">the code</a>' in html


def test_comment_reply_edit_delete_and_count(settings: Settings, db: Database) -> None:
    paper = add_papers(db, 1)[0]
    ada, bob = member(db, "ada"), member(db, "bob")
    url = f"/api/papers/{paper.id}/comments"
    with https_client(settings) as client:
        first = client.post(url, json={"body": "Great **paper**"}, headers=token_for(db, ada))
        assert first.status_code == 201
        top = first.json()
        assert top["author"]["name"] == "ada" and top["html"] == "<p>Great <strong>paper</strong></p>\n"
        reply = client.post(url, json={"body": "Agreed", "parentId": top["id"]}, headers=token_for(db, bob))
        assert reply.status_code == 201 and reply.json()["parentId"] == top["id"]
        deeper = client.post(
            url, json={"body": "no", "parentId": reply.json()["id"]}, headers=token_for(db, ada)
        )
        assert deeper.status_code == 400 and "one level" in deeper.json()["error"]
        empty = client.post(url, json={"body": "   "}, headers=token_for(db, ada))
        assert empty.status_code == 400 and "body" in empty.json()["error"]

        assert client.get(f"/api/papers/{paper.id}").json()["numComments"] == 2
        listed = client.get(url).json()
        assert [c["raw"] for c in listed] == ["Great **paper**", "Agreed"]

        # The page shows them; bob edits his own reply through the form, and cannot touch ada's comment.
        sign_up(client, "carol")
        client.post(
            "/login",
            data={"csrf": csrf_of(client), "name": "bob", "password": "correct horse battery staple"},
        )
        token = csrf_of(client)
        edited = client.post(
            f"/comments/{reply.json()['id']}",
            data={"csrf": token, "action": "edit", "body": "Agreed, *mostly*"},
        )
        assert edited.status_code == 200 and "<em>mostly</em>" in edited.text and "edited" in edited.text
        foreign = client.post(f"/comments/{top['id']}", data={"csrf": token, "action": "delete"})
        assert foreign.status_code == 403 and "only its author" in foreign.text
        client.post(f"/comments/{reply.json()['id']}", data={"csrf": token, "action": "delete"})
        after = client.get(url).json()
        assert after[1]["deleted"] and after[1]["raw"] == "" and after[1]["html"] == ""
        assert client.get(f"/api/papers/{paper.id}").json()["numComments"] == 1
        daily = client.get("/api/daily_papers", params={"date": paper.published_at.date().isoformat()}).json()  # type: ignore[union-attr]
        assert daily[0]["numComments"] == 1


def test_moderators_hide_comments(settings: Settings, db: Database) -> None:
    paper = add_papers(db, 1)[0]
    ada = member(db, "ada")
    member(db, "mod", admin=True)
    with https_client(settings) as client:
        made = client.post(
            f"/api/papers/{paper.id}/comments", json={"body": "spam spam"}, headers=token_for(db, ada)
        ).json()
        client.post(
            "/login",
            data={"csrf": csrf_of(client), "name": "ada", "password": "correct horse battery staple"},
        )
        refused = client.post(f"/comments/{made['id']}", data={"csrf": csrf_of(client), "action": "hide"})
        assert refused.status_code == 403 and "moderators" in refused.text
        client.post(
            "/login",
            data={"csrf": csrf_of(client), "name": "mod", "password": "correct horse battery staple"},
        )
        page = client.post(f"/comments/{made['id']}", data={"csrf": csrf_of(client), "action": "hide"})
        assert "[hidden by a moderator]" in page.text and "spam spam" not in page.text
        assert client.get(f"/api/papers/{paper.id}/comments").json()[0]["hidden"] is True
    stored = paper_store.paper(db, paper.id)
    assert stored is not None and stored.num_comments == 0
    assert user_store.user_by_name(db, "mod") is not None


def test_comments_leave_the_rev_alone(db: Database) -> None:
    """Counts are not indexed: a comment must not send the paper back through search re-indexing."""
    paper = add_papers(db, 1)[0]
    ada = member(db, "ada")
    rev = paper_store.last_rev(db)
    made = comment_store.add_comment(db, paper.id, ada.id, "hi", "<p>hi</p>\n", datetime.now(UTC))
    comment_store.set_hidden(db, made.id, True)
    comment_store.set_hidden(db, made.id, False)
    comment_store.delete_comment(db, made.id, ada.id)
    assert paper_store.last_rev(db) == rev
    stored = paper_store.paper(db, paper.id)
    assert stored is not None and stored.num_comments == 0


def test_comments_are_rate_limited(settings: Settings, db: Database) -> None:
    paper = add_papers(db, 1)[0]
    headers = token_for(db, member(db, "ada"))
    with https_client(settings.model_copy(update={"rate_comment": "2/600"})) as client:
        codes = [
            client.post(f"/api/papers/{paper.id}/comments", json={"body": f"c{i}"}, headers=headers)
            for i in range(3)
        ]
    assert [c.status_code for c in codes] == [201, 201, 429]
    assert int(codes[2].headers["Retry-After"]) > 0
    stored = paper_store.paper(db, paper.id)
    assert stored is not None and stored.num_comments == 2


def test_comments_are_rendered_once_when_written(
    settings: Settings, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Hostile Markdown (thousands of unclosed brackets) costs its writer once, never every reader."""
    paper = add_papers(db, 1)[0]
    auth = token_for(db, member(db, "brackets"))
    with https_client(settings) as client:
        for _ in range(3):
            made = client.post(f"/api/papers/{paper.id}/comments", json={"body": "[" * 10_000}, headers=auth)
            assert made.status_code == 201
        calls: list[str] = []
        monkeypatch.setattr(markdown, "render", lambda body: calls.append(body) or "")
        page = client.get(f"/papers/{paper.id}")
        listed = client.get(f"/api/papers/{paper.id}/comments")
    assert page.status_code == 200 and page.text.count('class="comment-body tex"') == 3
    assert listed.status_code == 200 and all(c["html"].startswith("<p>[[[") for c in listed.json())
    assert calls == [], "a view rendered Markdown"
