"""All SQL about accounts: users, login sessions, API tokens, and account requests (a sign-up waiting
for its activation link, a password reset waiting for its link).

Sessions, tokens and emailed links are stored as sha256 digests of the secret the client holds, so the
database alone never hands out a live session. Hashing passwords is ``paperfeed.accounts``' job, not this
module's. A new password, however it is set, ends every session and API token of the user.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from paperfeed.models import AccountRequest, ApiToken, User
from paperfeed.storage.db import Database, upsert
from paperfeed.storage.schema import account_requests, api_tokens, sessions, users


class NameTaken(ValueError):
    """The handle or the email is in use; the message says which."""


class TooManyTokens(ValueError):
    """A member holds as many API tokens as one may."""


def create_user(
    db: Database,
    name: str,
    email: str,
    password_hash: str,
    now: datetime,
    is_admin: bool = False,
    is_moderator: bool = False,
    fullname: str = "",
    is_curator: bool = False,
) -> User:
    with db.write() as conn:
        taken = conn.execute(
            sa.select(users.c.name, users.c.email).where(
                sa.or_(sa.func.lower(users.c.name) == name.lower(), users.c.email == email)
            )
        ).first()
        if taken is not None:
            what = "name" if taken.name.lower() == name.lower() else "email"
            raise NameTaken(f"the {what} {name if what == 'name' else email!r} is already registered")
        try:
            user_id = conn.execute(
                users.insert()
                .values(
                    name=name,
                    email=email,
                    fullname=fullname or name,
                    password_hash=password_hash,
                    is_admin=is_admin,
                    is_moderator=is_moderator,
                    is_curator=is_curator,
                    created_at=now,
                )
                .returning(users.c.id)
            ).scalar_one()
        except sa.exc.IntegrityError as exc:  # a concurrent sign-up with the same name won the race
            raise NameTaken(f"the name {name!r} or email {email!r} is already registered") from exc
    found = user_by_id(db, user_id)
    assert found is not None
    return found


def _user(row: Any) -> User:
    return User(
        row.id,
        row.name,
        row.email,
        row.fullname,
        bool(row.is_admin),
        bool(row.is_moderator),
        row.created_at,
        bool(row.is_curator),
    )


_USER = sa.select(
    users.c.id,
    users.c.name,
    users.c.email,
    users.c.fullname,
    users.c.is_admin,
    users.c.is_moderator,
    users.c.created_at,
    users.c.is_curator,
)


def user_by_id(db: Database, user_id: int) -> User | None:
    with db.read() as conn:
        row = conn.execute(_USER.where(users.c.id == user_id)).one_or_none()
    return _user(row) if row else None


def user_by_name(db: Database, name: str) -> User | None:
    with db.read() as conn:
        row = conn.execute(_USER.where(users.c.name == name)).one_or_none()
    return _user(row) if row else None


def user_by_email(db: Database, email: str) -> User | None:
    with db.read() as conn:
        row = conn.execute(_USER.where(users.c.email == email)).one_or_none()
    return _user(row) if row else None


def name_taken(db: Database, name: str) -> bool:
    """Whether a handle is in use, in any letter case (handles are public: /users/{name})."""
    with db.read() as conn:
        found = conn.execute(sa.select(users.c.id).where(sa.func.lower(users.c.name) == name.lower())).first()
    return found is not None


def password_hash_of(db: Database, name: str) -> tuple[User, str] | None:
    """The user and the stored hash, for a login attempt (by handle or email)."""
    query = _USER.add_columns(users.c.password_hash).where(
        sa.or_(users.c.name == name, users.c.email == name)
    )
    with db.read() as conn:
        row = conn.execute(query).first()
    return (_user(row), row.password_hash) if row else None


def set_password_hash(db: Database, user_id: int, password_hash: str) -> None:
    """A new password (the caller opens a fresh session if it wants one)."""
    with db.write() as conn:
        _new_password(conn, user_id, password_hash)


def _new_password(conn: sa.Connection, user_id: int, password_hash: str) -> None:
    """Whoever held the old password may have made sessions, tokens or a reset link with it: all end."""
    email = conn.execute(
        users.update()
        .where(users.c.id == user_id)
        .values(password_hash=password_hash)
        .returning(users.c.email)
    ).scalar_one()
    conn.execute(sessions.delete().where(sessions.c.user_id == user_id))
    conn.execute(api_tokens.delete().where(api_tokens.c.user_id == user_id))
    conn.execute(
        account_requests.delete().where(account_requests.c.kind == "reset", account_requests.c.email == email)
    )


def set_roles(
    db: Database, user_id: int, is_admin: bool, is_moderator: bool, is_curator: bool = False
) -> None:
    with db.write() as conn:
        conn.execute(
            users.update()
            .where(users.c.id == user_id)
            .values(is_admin=is_admin, is_moderator=is_moderator, is_curator=is_curator)
        )


# -- sessions ------------------------------------------------------------------------------------------------


def create_session(db: Database, id_hash: str, user_id: int, now: datetime, expires_at: datetime) -> None:
    """A new session; the user's expired ones go at the same time, so the table does not grow forever."""
    with db.write() as conn:
        conn.execute(sessions.delete().where(sessions.c.user_id == user_id, sessions.c.expires_at <= now))
        conn.execute(
            sessions.insert().values(id_hash=id_hash, user_id=user_id, created_at=now, expires_at=expires_at)
        )


# Built once: every signed-in request asks it, and building the statement (and its cache key) each time
# cost more than running it.
_SESSION_USER = (
    _USER.select_from(users.join(sessions, sessions.c.user_id == users.c.id))
    .where(sessions.c.id_hash == sa.bindparam("id_hash"))
    .where(sessions.c.expires_at > sa.bindparam("now", type_=sessions.c.expires_at.type))
)


def session_user(db: Database, id_hash: str, now: datetime) -> User | None:
    """The member of a live session: one lookup by the session table's primary key."""
    with db.read() as conn:
        row = conn.execute(_SESSION_USER, {"id_hash": id_hash, "now": now}).one_or_none()
    return _user(row) if row else None


def delete_session(db: Database, id_hash: str) -> None:
    with db.write() as conn:
        conn.execute(sessions.delete().where(sessions.c.id_hash == id_hash))


# -- API tokens ----------------------------------------------------------------------------------------------


def create_token(
    db: Database,
    user_id: int,
    token_hash: str,
    label: str,
    scope: str,
    now: datetime,
    expires_at: datetime | None,
    most: int,
) -> int:
    """A new token; refused (TooManyTokens) when the user already holds ``most`` of them."""
    with db.write() as conn:
        held = conn.execute(
            sa.select(sa.func.count()).select_from(api_tokens).where(api_tokens.c.user_id == user_id)
        ).scalar_one()
        if held >= most:
            raise TooManyTokens(f"at most {most} tokens per member: revoke one first")
        return int(
            conn.execute(
                api_tokens.insert()
                .values(
                    user_id=user_id,
                    token_hash=token_hash,
                    label=label,
                    scope=scope,
                    created_at=now,
                    expires_at=expires_at,
                )
                .returning(api_tokens.c.id)
            ).scalar_one()
        )


def token_grant(db: Database, token_hash: str, now: datetime) -> tuple[User, str] | None:
    """The user a live (unexpired) token stands for, and its scope."""
    query = (
        _USER.add_columns(api_tokens.c.scope)
        .select_from(users.join(api_tokens, api_tokens.c.user_id == users.c.id))
        .where(api_tokens.c.token_hash == token_hash)
        .where(sa.or_(api_tokens.c.expires_at.is_(None), api_tokens.c.expires_at > now))
    )
    with db.read() as conn:
        row = conn.execute(query).one_or_none()
    return (_user(row), str(row.scope)) if row else None


def tokens_of(db: Database, user_id: int) -> list[ApiToken]:
    """The user's tokens, newest first (expired ones too, until revoked)."""
    query = (
        sa.select(
            api_tokens.c.id,
            api_tokens.c.label,
            api_tokens.c.scope,
            api_tokens.c.created_at,
            api_tokens.c.expires_at,
        )
        .where(api_tokens.c.user_id == user_id)
        .order_by(api_tokens.c.id.desc())
    )
    with db.read() as conn:
        return [ApiToken(r.id, r.label, r.scope, r.created_at, r.expires_at) for r in conn.execute(query)]


def revoke_tokens(db: Database, user_id: int, token_ids: list[int] | None = None) -> int:
    """Delete these tokens of the user (None: all of them); how many went. Another user's id deletes
    nothing."""
    query = api_tokens.delete().where(api_tokens.c.user_id == user_id)
    if token_ids is not None:
        query = query.where(api_tokens.c.id.in_(token_ids))
    with db.write() as conn:
        return int(conn.execute(query).rowcount)


# -- account requests: sign-up activation and password reset -------------------------------------------------


def _request(row: Any) -> AccountRequest:
    return AccountRequest(
        row.id,
        row.kind,
        row.email,
        row.name,
        row.password_hash,
        row.next_path,
        row.status,
        row.requested_at,
        row.sent_at,
        row.expires_at,
    )


def put_request(
    db: Database,
    kind: str,
    email: str,
    now: datetime,
    name: str | None = None,
    password_hash: str | None = None,
    next_path: str | None = None,
) -> None:
    """Queue a request for the worker to mail. It replaces this address's earlier request of the same kind,
    whose link (if it was mailed) stops working; when that earlier mail went out is kept, so that
    ``due_requests`` spaces mails to one address out whatever the web is asked."""
    values = {
        "name": name,
        "password_hash": password_hash,
        "next_path": next_path,
        "status": "requested",
        "token_hash": None,
        "requested_at": now,
        "expires_at": None,
    }
    with db.write() as conn:
        stmt = upsert(conn, account_requests).values(kind=kind, email=email, **values)
        conn.execute(stmt.on_conflict_do_update(index_elements=["kind", "email"], set_=values))


def due_requests(db: Database, now: datetime, resend: timedelta, limit: int = 100) -> list[AccountRequest]:
    """Requests to mail now: waiting, and the last mail to that address of that kind old enough."""
    query = (
        sa.select(account_requests)
        .where(account_requests.c.status == "requested")
        .where(sa.or_(account_requests.c.sent_at.is_(None), account_requests.c.sent_at <= now - resend))
        .order_by(account_requests.c.requested_at, account_requests.c.id)
        .limit(limit)
    )
    with db.read() as conn:
        return [_request(r) for r in conn.execute(query)]


def mark_sent(
    db: Database, request: AccountRequest, token_hash: str | None, now: datetime, expires_at: datetime
) -> bool:
    """Record that the request is being mailed with this link; False when the web replaced the request
    since it was read (the next round mails the new one)."""
    with db.write() as conn:
        done = conn.execute(
            account_requests.update()
            .where(
                account_requests.c.id == request.id,
                account_requests.c.status == "requested",
                account_requests.c.requested_at == request.requested_at,
            )
            .values(status="sent", token_hash=token_hash, sent_at=now, expires_at=expires_at)
        )
        return bool(done.rowcount)


def unsend(db: Database, request: AccountRequest, token_hash: str | None) -> None:
    """The mail could not be handed over: the request waits again, its link unused and dead."""
    with db.write() as conn:
        conn.execute(
            account_requests.update()
            .where(account_requests.c.id == request.id, account_requests.c.status == "sent")
            .where(
                account_requests.c.token_hash.is_(None)
                if token_hash is None
                else account_requests.c.token_hash == token_hash
            )
            .values(status="requested", token_hash=None, sent_at=request.sent_at, expires_at=None)
        )


def drop_request(db: Database, request_id: int) -> None:
    with db.write() as conn:
        conn.execute(account_requests.delete().where(account_requests.c.id == request_id))


def forget_requests(db: Database, now: datetime, stale_before: datetime) -> int:
    """Housekeeping: links past their expiry, and requests that could not be mailed before
    ``stale_before`` (no SMTP server for that long)."""
    with db.write() as conn:
        done = conn.execute(
            account_requests.delete().where(
                sa.or_(
                    sa.and_(account_requests.c.status == "sent", account_requests.c.expires_at <= now),
                    sa.and_(
                        account_requests.c.status == "requested",
                        account_requests.c.requested_at < stale_before,
                    ),
                )
            )
        )
        return int(done.rowcount)


def _live(kind: str, token_hash: str, now: datetime) -> Any:
    return sa.and_(
        account_requests.c.kind == kind,
        account_requests.c.token_hash == token_hash,
        account_requests.c.status == "sent",
        account_requests.c.expires_at > now,
    )


def request_by_token(db: Database, kind: str, token_hash: str, now: datetime) -> AccountRequest | None:
    """The mailed request a link stands for, while the link is live (not spent, not expired)."""
    with db.read() as conn:
        row = conn.execute(sa.select(account_requests).where(_live(kind, token_hash, now))).one_or_none()
    return _request(row) if row else None


def activate(db: Database, token_hash: str, now: datetime) -> User | None:
    """Spend a live sign-up link and create the account it asked for, in one transaction (None: the link
    is not live). NameTaken when the handle or address found an owner since the request: nothing changes."""
    with db.write() as conn:
        row = conn.execute(
            account_requests.delete().where(_live("signup", token_hash, now)).returning(account_requests)
        ).one_or_none()
        if row is None:
            return None
        taken = conn.execute(
            sa.select(users.c.name).where(
                sa.or_(sa.func.lower(users.c.name) == row.name.lower(), users.c.email == row.email)
            )
        ).first()
        if taken is not None:
            raise NameTaken(
                f"the name {row.name!r} was taken since you signed up: sign up again with another"
                if taken.name.lower() == row.name.lower()
                else f"{row.email} already has an account: log in, or reset its password"
            )
        user_id = conn.execute(
            users.insert()
            .values(
                name=row.name,
                email=row.email,
                fullname=row.name,
                password_hash=row.password_hash,
                is_admin=False,
                is_moderator=False,
                created_at=now,
            )
            .returning(users.c.id)
        ).scalar_one()
    return user_by_id(db, user_id)


def reset_password(db: Database, token_hash: str, password_hash: str, now: datetime) -> User | None:
    """Spend a live reset link and set the new password, in one transaction (None: the link is not live,
    or the account is gone)."""
    with db.write() as conn:
        email = conn.execute(
            account_requests.delete()
            .where(_live("reset", token_hash, now))
            .returning(account_requests.c.email)
        ).scalar_one_or_none()
        user_id = (
            conn.execute(sa.select(users.c.id).where(users.c.email == email)).scalar_one_or_none()
            if email
            else None
        )
        if user_id is None:
            return None
        _new_password(conn, user_id, password_hash)
    return user_by_id(db, user_id)
