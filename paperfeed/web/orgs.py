"""Organization pages and forms: create one, manage its members and roles, publish papers under it.

Admins of an organization manage its members, and an organization always keeps one. What it publishes is
changed by its admins, or by a member whose authorship of the paper an admin approved; a paper published
under another organization moves only on the word of that organization's admin or a site admin.
``organization`` in the paper API comes from the same papers.organization_id link.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from paperfeed.feed import find_paper
from paperfeed.models import Organization, User
from paperfeed.storage import Database
from paperfeed.storage import orgs as org_store
from paperfeed.storage import papers as paper_store
from paperfeed.storage import users as user_store
from paperfeed.web import limits
from paperfeed.web.bodies import (
    form_action,
)
from paperfeed.web.kit import (
    DB,
    Me,
    Refused,
    cards_math,
    database,
    following,
    redirect,
    render,
    voted,
)
from paperfeed.web.params import documented
from paperfeed.web.serialize import SafeJSONResponse, daily_item_json, organization_json, user_json

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{1,95}$")


def _org(db: Database, name: str) -> tuple[int, Organization]:
    found = org_store.org_by_name(db, name)
    if found is None:
        raise Refused(404, f"organization {name!r} not found")
    return found


def org_page(request: Request, db: DB, me: Me, name: str) -> Response:
    org_id, org = _org(db, name)
    papers = paper_store.organization_papers(db, org_id)
    context = {
        "org": org,
        "members": org_store.members(db, org_id),
        "papers": papers,
        "voted": voted(request, papers),
        "my_role": org_store.role_of(db, org_id, me.id) if me else None,
        "following": following(request, "organization", org.name),
        "math": cards_math(papers),
    }
    return render(request, "org.html", context)


@documented("Get an organization with its members and papers", "community", not_found=True)
def org_api(db: DB, name: str) -> Response:
    org_id, org = _org(db, name)
    return SafeJSONResponse(
        {
            **organization_json(org),  # _id, name, fullname and avatarUrl, as in a paper's organization
            "members": [{**user_json(n), "role": r} for n, r in org_store.members(db, org_id)],
            "papers": [daily_item_json(p) for p in paper_store.organization_papers(db, org_id)],
        }
    )


@form_action
def create_form(request: Request, user: User, form: dict[str, Any]) -> Response:
    name = str(form.get("name", "")).strip()
    fullname = str(form.get("fullname", "")).strip() or name
    if not NAME.match(name):
        raise Refused(400, "name: 2 to 96 letters, digits, '_', '.' or '-'")
    if len(fullname) > 256:
        raise Refused(400, "fullname: at most 256 characters")
    limits.limit(request, "org", str(user.id))
    try:
        org_store.create_org(database(request), name, fullname, user.id, datetime.now(UTC))
    except org_store.OrgError as exc:
        raise Refused(409, str(exc)) from exc
    return redirect(f"/orgs/{name}")


@form_action
def members_form(request: Request, user: User, form: dict[str, Any]) -> Response:
    db = database(request)
    org_id, org = _org(db, request.path_params["name"])
    if org_store.role_of(db, org_id, user.id) != "admin":
        raise Refused(403, f"only admins of {org.name} manage its members")
    target = user_store.user_by_name(db, str(form.get("user", "")).strip())
    if target is None:
        raise Refused(400, f"user: no member named {str(form.get('user', ''))[:40]!r}")
    try:
        if form.get("action") == "remove":
            org_store.remove_member(db, org_id, target.id)
        else:
            org_store.set_member(db, org_id, target.id, str(form.get("role", "member")), datetime.now(UTC))
    except org_store.LastAdmin as exc:
        raise Refused(409, str(exc)) from exc
    except org_store.OrgError as exc:
        raise Refused(400, str(exc)) from exc
    return redirect(f"/orgs/{org.name}")


@form_action
def papers_form(request: Request, user: User, form: dict[str, Any]) -> Response:
    """Publish a paper under the organization, or stop (``action=remove``)."""
    db = database(request)
    org_id, org = _org(db, request.path_params["name"])
    role = org_store.role_of(db, org_id, user.id)
    if role is None:
        raise Refused(403, f"only members of {org.name} publish papers under it")
    paper = find_paper(db, str(form.get("paper_id", "")))
    if paper is None:
        raise Refused(400, f"paper_id: no paper {str(form.get('paper_id', ''))[:40]!r}")
    if role != "admin" and not org_store.has_approved_claim(db, user.id, paper.id):
        raise Refused(
            403,
            f"only admins of {org.name}, or a member approved as an author of {paper.id}, "
            f"change whether {org.name} publishes it",
        )
    current = org_store.paper_org_id(db, paper.id)
    target = None if form.get("action") == "remove" else org_id
    if (current == org_id) == (target == org_id):
        return redirect(f"/orgs/{org.name}")  # already so, or not this organization's to remove
    if (
        current is not None
        and current != org_id  # moving it here from another organization
        and not user.is_admin
        and org_store.role_of(db, current, user.id) != "admin"
    ):
        raise Refused(
            403,
            f"{paper.id} is published under {org_store.org_name(db, current)}: only an admin of "
            "that organization or of the site moves it",
        )
    if not org_store.move_paper(db, paper.id, current, target):
        raise Refused(409, f"{paper.id} changed organization meanwhile: look again and retry")
    return redirect(f"/orgs/{org.name}")
