"""API tokens: scopes (read tokens only read), expiry, listing and revoking on /settings/tokens and with
``paperfeed tokens``, a password change revoking them; and the rate limit on password changes."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from click.testing import CliRunner

from paperfeed import accounts
from paperfeed.cli import main
from paperfeed.settings import Settings
from paperfeed.storage import Database
from paperfeed.storage.schema import api_tokens
from tests.community import PASSWORD, add_papers, csrf_of, form_token, https_client, member, sign_up

NEW_PASSWORD = "a brand new passphrase"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_read_token_reads_and_a_write_token_writes(settings: Settings, db: Database) -> None:
    paper = add_papers(db, 1)[0]
    ada = member(db, "ada")
    read = bearer(accounts.create_token(db, ada, "reader", scope="read"))
    write = bearer(accounts.create_token(db, ada, "writer", scope="write"))
    with https_client(settings) as client:
        private = client.post("/api/collections", json={"name": "Secret", "public": False}, headers=write)
        assert private.status_code == 201
        url = f"/api/collections/{private.json()['id']}"
        assert client.get(url, headers=read).status_code == 200  # reads as ada
        assert client.get(url).status_code == 404  # a visitor does not see it

        for method, path, body in [
            ("POST", f"/api/papers/{paper.id}/upvote", None),
            ("DELETE", f"/api/papers/{paper.id}/upvote", None),
            ("POST", f"/api/papers/{paper.id}/comments", {"body": "hi"}),
            ("POST", "/api/collections", {"name": "another"}),
            ("POST", f"{url}/items", {"paperId": paper.id}),
            ("POST", "/api/papers/index", {"arxivId": "2607.07386"}),
        ]:
            refused = client.request(method, path, json=body, headers=read)
            assert refused.status_code == 403, (method, path, refused.text)
            assert "scope read" in refused.json()["error"]
        # Forms with a read token are refused too (a token needs no CSRF field, so the scope is the check).
        form = client.post(f"/papers/{paper.id}/upvote", data={}, headers=read, follow_redirects=False)
        assert form.status_code == 403

        upvoted = client.post(f"/api/papers/{paper.id}/upvote", headers=write)
        assert upvoted.status_code == 200 and upvoted.json()["upvotes"] == 1


def test_an_expired_token_is_refused(settings: Settings, db: Database) -> None:
    paper = add_papers(db, 1)[0]
    ada = member(db, "ada")
    long_ago = datetime.now(UTC) - timedelta(days=8)
    old = accounts.create_token(db, ada, scope="write", expires_days=7, now=long_ago)
    fresh = accounts.create_token(db, ada, scope="write", expires_days=7)
    assert accounts.token_user(db, old) is None
    assert accounts.token_user(db, fresh) == ada
    with https_client(settings) as client:
        refused = client.post(f"/api/papers/{paper.id}/upvote", headers=bearer(old))
        assert refused.status_code == 401
        assert client.post(f"/api/papers/{paper.id}/upvote", headers=bearer(fresh)).status_code == 200
    listed = {t.id: t for t in accounts.tokens(db, ada)}
    assert [t.expired(datetime.now(UTC)) for t in listed.values()] == [False, True]  # newest first


def test_tokens_page_creates_shows_once_lists_and_revokes(settings: Settings, db: Database) -> None:
    paper = add_papers(db, 1)[0]
    bob = member(db, "bob")
    bobs = accounts.create_token(db, bob, "bob's", scope="write")
    with https_client(settings) as client:
        assert client.get("/settings/tokens", follow_redirects=False).headers["location"] == (
            "/login?next=/settings/tokens"
        )
        sign_up(client, "ada")
        page = client.get("/settings/tokens")
        assert page.status_code == 200 and 'id="no-tokens"' in page.text
        made = client.post(
            "/settings/tokens",
            data={
                "csrf": form_token(page.text),
                "label": "my script",
                "scope": "write",
                "expires_days": "30",
            },
        )
        assert made.status_code == 200
        secret = re.search(r'id="token-secret">(pf_[\w-]+)<', made.text)
        assert secret, made.text
        token = secret.group(1)
        # Only the digest is stored, and the secret is never shown again.
        with db.read() as conn:
            stored = conn.execute(sa.select(api_tokens.c.token_hash, api_tokens.c.scope)).all()
        assert (accounts.digest(token), "write") in [tuple(r) for r in stored]
        assert token not in str(stored)
        listing = client.get("/settings/tokens").text
        assert token not in listing and "my script" in listing and "write" in listing
        token_id = re.search(r'data-token-id="(\d+)"', listing).group(1)  # type: ignore[union-attr]
        assert client.post(f"/api/papers/{paper.id}/upvote", headers=bearer(token)).status_code == 200

        bad = client.post(
            "/settings/tokens", data={"csrf": csrf_of(client), "scope": "admin", "expires_days": ""}
        )
        assert bad.status_code == 400 and "scope" in bad.text
        # A token cannot mint tokens (a stolen one would make itself successors), even a write one.
        minted = client.post(
            "/settings/tokens", data={"scope": "write"}, headers=bearer(token), follow_redirects=False
        )
        assert minted.status_code == 403
        # Another member's token is not ours to revoke: the same 404 as for none at all.
        (bob_token,) = accounts.tokens(db, bob)
        bob_id = bob_token.id
        for other in (bob_id, 999999, 2**70):
            gone = client.post(f"/settings/tokens/{other}/revoke", data={"csrf": csrf_of(client)})
            assert gone.status_code == 404
        assert accounts.token_user(db, bobs) == bob

        revoked = client.post(
            f"/settings/tokens/{token_id}/revoke", data={"csrf": csrf_of(client)}, follow_redirects=False
        )
        assert revoked.status_code == 303
        assert client.post(f"/api/papers/{paper.id}/upvote", headers=bearer(token)).status_code == 401
        assert 'id="no-tokens"' in client.get("/settings/tokens").text


def test_a_password_change_revokes_every_token(settings: Settings, db: Database) -> None:
    paper = add_papers(db, 1)[0]
    with https_client(settings) as client:
        sign_up(client, "ada")
        ada = accounts.session_user(db, client.cookies["__Host-session"])
        assert ada is not None
        tokens = [accounts.create_token(db, ada, scope=s) for s in ("read", "write")]
        assert all(accounts.token_user(db, t) == ada for t in tokens)
        done = client.post(
            "/settings/password", data={"csrf": csrf_of(client), "current": PASSWORD, "new": NEW_PASSWORD}
        )
        assert done.status_code == 200 and "every API token was revoked" in done.text
        assert [accounts.token_user(db, t) for t in tokens] == [None, None]
        assert client.post(f"/api/papers/{paper.id}/upvote", headers=bearer(tokens[1])).status_code == 401
        assert accounts.tokens(db, ada) == []


def test_password_changes_are_rate_limited_per_member(settings: Settings, db: Database) -> None:
    limited = settings.model_copy(update={"rate_password": "2/600"})
    with https_client(limited) as client, https_client(limited) as other:
        sign_up(client, "ada")
        sign_up(other, "bob")
        codes = [
            client.post(
                "/settings/password",
                data={"csrf": csrf_of(client), "current": f"guess {i}", "new": NEW_PASSWORD},
            ).status_code
            for i in range(3)
        ]
        assert codes == [400, 400, 429]
        blocked = client.post(
            "/settings/password", data={"csrf": csrf_of(client), "current": PASSWORD, "new": NEW_PASSWORD}
        )
        assert blocked.status_code == 429 and 0 < int(blocked.headers["Retry-After"]) <= 600
        assert accounts.authenticate(db, "ada", PASSWORD) is not None  # even the right one waits
        # Per member: bob, from the same address, is not held back by ada's tries.
        fine = other.post(
            "/settings/password", data={"csrf": csrf_of(other), "current": PASSWORD, "new": NEW_PASSWORD}
        )
        assert fine.status_code == 200


def test_cli_creates_lists_and_revokes_tokens(settings: Settings, db: Database) -> None:
    runner = CliRunner()
    env = settings.environment()
    ada = member(db, "ada")
    member(db, "bob")

    def run(*args: str) -> tuple[int, str]:
        result = runner.invoke(main, ["tokens", *args], env=env)
        return result.exit_code, result.output

    code, reader = run("create", "ada", "--label", "feed reader")
    assert code == 0 and accounts.token_grant(db, reader.strip()) == (ada, "read")  # read by default
    code, writer = run("create", "ada", "--scope", "write", "--expires-days", "7")
    assert code == 0 and accounts.token_grant(db, writer.strip()) == (ada, "write")
    assert run("create", "ada", "--expires-days", "0")[0] == 2
    assert run("create", "ada", "--scope", "admin")[0] == 2

    code, listed = run("list", "ada")
    assert code == 0
    rows = [line.split("\t") for line in listed.splitlines()]
    in_a_week = (datetime.now(UTC) + timedelta(days=7)).strftime("%Y-%m-%d")
    assert [(r[1], r[3], r[4]) for r in rows] == [("write", in_a_week, ""), ("read", "never", "feed reader")]
    assert reader.strip() not in listed and writer.strip() not in listed
    writer_id, reader_id = rows[0][0], rows[1][0]

    code, out = run("revoke", "bob", reader_id)  # not bob's
    assert code == 1 and "revoked 0 tokens of bob" in out and "not tokens of bob" in out
    assert accounts.token_user(db, reader.strip()) == ada
    code, out = run("revoke", "ada", reader_id)
    assert code == 0 and "revoked 1 token of ada" in out
    assert accounts.token_user(db, reader.strip()) is None
    assert run("revoke", "ada")[0] == 2  # ids or --all
    code, out = run("revoke", "ada", "--all")
    assert code == 0 and "revoked 1 token of ada" in out
    assert accounts.token_user(db, writer.strip()) is None
    assert run("list", "ada") == (0, "")
    assert run("list", "nobody")[0] == 1
    assert writer_id != reader_id
