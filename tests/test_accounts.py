"""Accounts through the real app: sign-up rules, login, logout, password change, session cookies, API
tokens, and the CLI commands that create users and tokens. Sign-up by emailed link and password reset:
test_account_mail; token scopes, expiry and revocation: test_tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from pydantic import SecretStr

from paperfeed import accounts
from paperfeed.cli import main
from paperfeed.settings import Settings
from paperfeed.storage import Database
from paperfeed.storage import users as user_store
from paperfeed.storage.schema import sessions
from tests.community import PASSWORD, csrf_of, https_client, member, sign_up, token_for


@pytest.mark.parametrize(
    ("name", "email", "password", "problem"),
    [
        ("a", "a@example.org", PASSWORD, "name:"),
        ("<script>", "s@example.org", PASSWORD, "name:"),
        ("carol", "not-an-email", PASSWORD, "email:"),
        ("carol", "carol@example.org", "short", "password:"),
    ],
)
def test_signup_refuses_bad_fields_naming_them(
    settings: Settings, db: Database, name: str, email: str, password: str, problem: str
) -> None:
    # Mail must be configured for sign-up; the web only stores requests, so no server is contacted.
    mailing = settings.model_copy(update={"smtp_url": SecretStr("smtp://127.0.0.1:9?starttls=off")})
    with https_client(mailing) as client:
        data = {"csrf": csrf_of(client), "name": name, "email": email, "password": password}
        response = client.post("/signup", data=data)
    assert response.status_code == 400
    assert problem in response.text
    assert user_store.user_by_name(db, name) is None


def test_a_name_or_email_is_registered_once(settings: Settings, db: Database) -> None:
    member(db, "ada")
    with pytest.raises(accounts.AccountError, match="name"):
        accounts.sign_up(db, "ADA", "other@example.org", PASSWORD)
    with pytest.raises(accounts.AccountError, match="email"):
        accounts.sign_up(db, "ada2", "ada@example.org", PASSWORD)


def test_login_rotates_the_session_and_logout_kills_it(settings: Settings, db: Database) -> None:
    member(db, "ada")
    with https_client(settings) as client:
        token = csrf_of(client)
        wrong = client.post("/login", data={"csrf": token, "name": "ada", "password": "wrong password!"})
        assert wrong.status_code == 400 and "Wrong name or password" in wrong.text

        first = client.post("/login", data={"csrf": token, "name": "ada", "password": PASSWORD})
        assert first.status_code == 200  # followed the redirect home
        old = client.cookies["__Host-session"]
        client.post("/login", data={"csrf": token, "name": "ada@example.org", "password": PASSWORD})
        new = client.cookies["__Host-session"]
        assert new != old
        # The session of the first login ended with the second: a copied cookie is worth nothing.
        assert accounts.session_user(db, old) is None
        assert accounts.session_user(db, new) is not None

        client.post("/logout", data={"csrf": token}, follow_redirects=False)
        assert accounts.session_user(db, new) is None
        client.cookies.set("__Host-session", new)  # replaying the logged-out cookie
        assert 'id="nav-login"' in client.get("/").text


def test_password_change_ends_other_sessions(settings: Settings, db: Database) -> None:
    with https_client(settings) as client, https_client(settings) as other:
        sign_up(client, "ada")
        other.post("/login", data={"csrf": csrf_of(other), "name": "ada", "password": PASSWORD})
        other_session = other.cookies["__Host-session"]
        assert accounts.session_user(db, other_session) is not None

        bad = client.post(
            "/settings/password", data={"csrf": csrf_of(client), "current": "nope", "new": "x" * 12}
        )
        assert bad.status_code == 400 and "current password" in bad.text
        done = client.post(
            "/settings/password",
            data={"csrf": csrf_of(client), "current": PASSWORD, "new": "a brand new passphrase"},
        )
        assert done.status_code == 200 and 'id="form-done"' in done.text
        assert accounts.session_user(db, other_session) is None
        assert 'id="nav-user"' in client.get("/").text  # this browser got a fresh session
    assert accounts.authenticate(db, "ada", "a brand new passphrase") is not None
    assert accounts.authenticate(db, "ada", PASSWORD) is None


def test_bearer_tokens_authenticate_the_api(settings: Settings, db: Database) -> None:
    ada = member(db, "ada")
    with https_client(settings) as client:
        response = client.post("/api/papers/index", json={"arxivId": "not an id"}, headers=token_for(db, ada))
        assert response.status_code == 400 and "cannot submit" in response.json()["error"]
        forged = client.post(
            "/api/papers/index", json={"arxivId": "2607.07386"}, headers={"Authorization": "Bearer pf_forged"}
        )
        assert forged.status_code == 401 and "sign in" in forged.json()["error"]


def test_cli_creates_users_and_tokens(settings: Settings, db: Database) -> None:
    runner = CliRunner()
    env = settings.environment()
    made = runner.invoke(
        main,
        ["users", "create", "root", "--email", "root@example.org", "--admin"],
        input=PASSWORD + "\n",
        env=env,
    )
    assert made.exit_code == 0, made.output
    assert "created user root <root@example.org> (admin)" in made.output
    user = user_store.user_by_name(db, "root")
    assert user is not None and user.is_admin
    assert accounts.authenticate(db, "root", PASSWORD) == user

    again = runner.invoke(
        main, ["users", "create", "root", "--email", "x@example.org"], input=PASSWORD, env=env
    )
    assert again.exit_code == 1 and "already registered" in again.output

    moderator = runner.invoke(
        main, ["users", "create", "mo", "--email", "mo@example.org", "--moderator"], input=PASSWORD, env=env
    )
    assert moderator.exit_code == 0 and "(moderator)" in moderator.output
    mo = user_store.user_by_name(db, "mo")
    assert mo is not None and mo.is_moderator and not mo.is_admin

    token = runner.invoke(main, ["tokens", "create", "root"], env=env)
    assert token.exit_code == 0
    assert accounts.token_user(db, token.output.strip()) == user
    missing = runner.invoke(main, ["tokens", "create", "nobody"], env=env)
    assert missing.exit_code == 1 and "no user named 'nobody'" in missing.output


def test_expired_sessions_do_not_count_and_are_swept(db: Database) -> None:
    ada = member(db, "ada")
    long_ago = datetime.now(UTC) - timedelta(days=accounts.SESSION_DAYS + 1)
    stale = accounts.open_session(db, ada, now=long_ago)
    assert accounts.session_user(db, stale) is None  # expired
    fresh = accounts.open_session(db, ada)
    assert accounts.session_user(db, fresh) == ada
    with db.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(sessions)).scalar_one() == 1


def test_without_mail_sign_up_opens_the_account_at_once(settings: Settings, db: Database) -> None:
    """No mail, no confirmed address: the account opens at once and a taken address is said (the demo's
    case, docs/accounts.md); a reset, which needs mail, says so the same way for every address."""
    member(db, "ada")
    with https_client(settings) as client:
        assert 'id="no-mail"' in client.get("/signup").text
        assert 'id="no-mail"' in client.get("/password/forgot").text
        data = {"csrf": csrf_of(client), "name": "newbie", "email": "ada@example.org", "password": PASSWORD}
        taken = client.post("/signup", data=data)
        assert taken.status_code == 400 and "email" in taken.text.lower()
        data["email"] = "newbie@example.org"
        opened = client.post("/signup", data=data, follow_redirects=False)
        assert opened.status_code == 303 and "__Host-session" in opened.headers["set-cookie"]
        forgot = set()
        for email in ("ada@example.org", "nobody@example.org"):
            answer = client.post("/password/forgot", data={"csrf": csrf_of(client), "email": email})
            forgot.add((answer.status_code, answer.text))
        ((forgot_code, forgot_text),) = forgot
        assert forgot_code == 503 and "sends no mail" in forgot_text
    assert user_store.user_by_name(db, "newbie") is not None
