"""All SQL about organizations as a community: creating one, its members and their roles, and which
papers it publishes (papers.organization_id). Linking a paper takes a new papers.rev: search filters by
organization, so the indexes must read the paper again."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from paperfeed.models import Organization
from paperfeed.storage.db import Database, upsert
from paperfeed.storage.papers import next_rev
from paperfeed.storage.schema import claims, organization_members, organizations, papers, users

ROLES = ("admin", "member")


class OrgError(ValueError):
    """A refused organization change; the message says why."""


class LastAdmin(OrgError):
    """The change would leave the organization without an admin."""


def _admins(conn: sa.Connection, org_id: int) -> list[int]:
    """The org's admins, their rows locked until the transaction ends (PostgreSQL; SQLite's writers are
    serialised anyway): two admins demoting each other at once cannot leave none."""
    query = (
        sa.select(organization_members.c.user_id)
        .where(organization_members.c.organization_id == org_id, organization_members.c.role == "admin")
        .with_for_update()
    )
    return list(conn.execute(query).scalars())


def create_org(db: Database, name: str, fullname: str, creator_id: int, now: datetime) -> int:
    """A new organization with its creator as admin; refused if the handle exists (also from ingest)."""
    with db.write() as conn:
        taken = conn.execute(
            sa.select(organizations.c.id).where(sa.func.lower(organizations.c.name) == name.lower())
        ).first()
        if taken is not None:
            raise OrgError(f"name: the organization {name!r} already exists")
        org_id = int(
            conn.execute(
                organizations.insert().values(name=name, fullname=fullname).returning(organizations.c.id)
            ).scalar_one()
        )
        conn.execute(
            organization_members.insert().values(
                organization_id=org_id, user_id=creator_id, role="admin", added_at=now
            )
        )
    return org_id


def org_by_name(db: Database, name: str) -> tuple[int, Organization] | None:
    with db.read() as conn:
        row = conn.execute(
            sa.select(organizations.c.id, organizations.c.name, organizations.c.fullname).where(
                organizations.c.name == name
            )
        ).one_or_none()
    return (row.id, Organization(row.name, row.fullname)) if row else None


def org_name(db: Database, org_id: int) -> str | None:
    with db.read() as conn:
        return conn.execute(
            sa.select(organizations.c.name).where(organizations.c.id == org_id)
        ).scalar_one_or_none()


def role_of(db: Database, org_id: int, user_id: int) -> str | None:
    with db.read() as conn:
        return conn.execute(
            sa.select(organization_members.c.role).where(
                organization_members.c.organization_id == org_id, organization_members.c.user_id == user_id
            )
        ).scalar_one_or_none()


def set_member(db: Database, org_id: int, user_id: int, role: str, now: datetime) -> None:
    """Add a member or change their role."""
    if role not in ROLES:
        raise OrgError(f"role: {role!r} is not one of {', '.join(ROLES)}")
    with db.write() as conn:
        if role != "admin" and _admins(conn, org_id) == [user_id]:
            raise LastAdmin("an organization needs an admin: make someone else admin first")
        stmt = upsert(conn, organization_members).values(
            organization_id=org_id, user_id=user_id, role=role, added_at=now
        )
        conn.execute(
            stmt.on_conflict_do_update(index_elements=["organization_id", "user_id"], set_={"role": role})
        )


def remove_member(db: Database, org_id: int, user_id: int) -> None:
    with db.write() as conn:
        if _admins(conn, org_id) == [user_id]:
            raise LastAdmin("the last admin cannot leave: make someone else admin first")
        conn.execute(
            organization_members.delete().where(
                organization_members.c.organization_id == org_id, organization_members.c.user_id == user_id
            )
        )


def members(db: Database, org_id: int) -> list[tuple[str, str]]:
    """(handle, role) of every member, admins first."""
    with db.read() as conn:
        rows = conn.execute(
            sa.select(users.c.name, organization_members.c.role)
            .select_from(organization_members.join(users, users.c.id == organization_members.c.user_id))
            .where(organization_members.c.organization_id == org_id)
            .order_by(organization_members.c.role, users.c.name)
        )
        return [(r.name, r.role) for r in rows]


def user_orgs(db: Database, user_id: int) -> list[tuple[Organization, str]]:
    with db.read() as conn:
        rows = conn.execute(
            sa.select(organizations.c.name, organizations.c.fullname, organization_members.c.role)
            .select_from(
                organization_members.join(
                    organizations, organizations.c.id == organization_members.c.organization_id
                )
            )
            .where(organization_members.c.user_id == user_id)
            .order_by(organizations.c.name)
        )
        return [(Organization(r.name, r.fullname), r.role) for r in rows]


def link_paper(db: Database, org_id: int | None, paper_id: str) -> None:
    """Publish a paper under an organization (None: under none). KeyError for an unknown paper."""
    with db.write() as conn:
        rev = next_rev(conn)
        done = conn.execute(
            papers.update().where(papers.c.id == paper_id).values(organization_id=org_id, rev=rev)
        )
        if done.rowcount == 0:
            raise KeyError(paper_id)


def move_paper(db: Database, paper_id: str, from_org: int | None, to_org: int | None) -> bool:
    """Publish a paper under ``to_org`` (None: under none) if it is still under ``from_org``: False when
    someone moved it since the caller decided (the caller's permission was for that state)."""
    with db.write() as conn:
        rev = next_rev(conn)
        current = (
            papers.c.organization_id.is_(None) if from_org is None else papers.c.organization_id == from_org
        )
        done = conn.execute(
            papers.update().where(papers.c.id == paper_id, current).values(organization_id=to_org, rev=rev)
        )
        return bool(done.rowcount)


def has_approved_claim(db: Database, user_id: int, paper_id: str) -> bool:
    """Whether an admin approved the member's claim to be an author of the paper (what lets a member who
    is not an organization's admin publish the paper under it)."""
    with db.read() as conn:
        found = conn.execute(
            sa.select(claims.c.id).where(
                claims.c.user_id == user_id, claims.c.paper_id == paper_id, claims.c.status == "approved"
            )
        ).first()
    return found is not None


def paper_org_id(db: Database, paper_id: str) -> int | None:
    with db.read() as conn:
        return conn.execute(
            sa.select(papers.c.organization_id).where(papers.c.id == paper_id)
        ).scalar_one_or_none()
