"""All SQL about accounts: users, login sessions and API tokens.

Sessions and tokens are stored as sha256 digests of the secret the client holds, so the database alone
never hands out a live session. Hashing passwords is ``paperfeed.accounts``' job, not this module's.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from paperfeed.models import User
from paperfeed.storage.db import Database
from paperfeed.storage.schema import api_tokens, sessions, users


class NameTaken(ValueError):
    """The handle or the email is in use; the message says which."""


def create_user(
    db: Database,
    name: str,
    email: str,
    password_hash: str,
    now: datetime,
    is_admin: bool = False,
    is_moderator: bool = False,
    fullname: str = "",
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
        row.id, row.name, row.email, row.fullname, bool(row.is_admin), bool(row.is_moderator), row.created_at
    )


_USER = sa.select(
    users.c.id,
    users.c.name,
    users.c.email,
    users.c.fullname,
    users.c.is_admin,
    users.c.is_moderator,
    users.c.created_at,
)


def user_by_id(db: Database, user_id: int) -> User | None:
    with db.read() as conn:
        row = conn.execute(_USER.where(users.c.id == user_id)).one_or_none()
    return _user(row) if row else None


def user_by_name(db: Database, name: str) -> User | None:
    with db.read() as conn:
        row = conn.execute(_USER.where(users.c.name == name)).one_or_none()
    return _user(row) if row else None


def password_hash_of(db: Database, name: str) -> tuple[User, str] | None:
    """The user and the stored hash, for a login attempt (by handle or email)."""
    query = _USER.add_columns(users.c.password_hash).where(
        sa.or_(users.c.name == name, users.c.email == name)
    )
    with db.read() as conn:
        row = conn.execute(query).first()
    return (_user(row), row.password_hash) if row else None


def set_password_hash(db: Database, user_id: int, password_hash: str) -> None:
    """A new password also ends every session of the user (the caller opens a fresh one)."""
    with db.write() as conn:
        conn.execute(users.update().where(users.c.id == user_id).values(password_hash=password_hash))
        conn.execute(sessions.delete().where(sessions.c.user_id == user_id))


def set_roles(db: Database, user_id: int, is_admin: bool, is_moderator: bool) -> None:
    with db.write() as conn:
        conn.execute(
            users.update().where(users.c.id == user_id).values(is_admin=is_admin, is_moderator=is_moderator)
        )


# -- sessions ------------------------------------------------------------------------------------------------


def create_session(db: Database, id_hash: str, user_id: int, now: datetime, expires_at: datetime) -> None:
    """A new session; the user's expired ones go at the same time, so the table does not grow forever."""
    with db.write() as conn:
        conn.execute(sessions.delete().where(sessions.c.user_id == user_id, sessions.c.expires_at <= now))
        conn.execute(
            sessions.insert().values(id_hash=id_hash, user_id=user_id, created_at=now, expires_at=expires_at)
        )


def session_user(db: Database, id_hash: str, now: datetime) -> User | None:
    query = (
        _USER.select_from(users.join(sessions, sessions.c.user_id == users.c.id))
        .where(sessions.c.id_hash == id_hash)
        .where(sessions.c.expires_at > now)
    )
    with db.read() as conn:
        row = conn.execute(query).one_or_none()
    return _user(row) if row else None


def delete_session(db: Database, id_hash: str) -> None:
    with db.write() as conn:
        conn.execute(sessions.delete().where(sessions.c.id_hash == id_hash))


# -- API tokens ----------------------------------------------------------------------------------------------


def create_token(db: Database, user_id: int, token_hash: str, label: str, now: datetime) -> None:
    with db.write() as conn:
        conn.execute(
            api_tokens.insert().values(user_id=user_id, token_hash=token_hash, label=label, created_at=now)
        )


def token_user(db: Database, token_hash: str) -> User | None:
    query = _USER.select_from(users.join(api_tokens, api_tokens.c.user_id == users.c.id)).where(
        api_tokens.c.token_hash == token_hash
    )
    with db.read() as conn:
        row = conn.execute(query).one_or_none()
    return _user(row) if row else None
