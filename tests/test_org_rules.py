"""Who may change what an organization publishes and who runs it, and the limits on making things:

- a member publishes a paper under their organization only as its admin or as an approved author of the
  paper; a paper published under another organization moves only on the word of that organization's admin
  or a site admin;
- an organization's last admin can neither step down nor leave (409);
- creating organizations and collections and editing comments are rate-limited per member;
- the worker's ``rate-limits`` job drops the counters no limit counts any more.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from fastapi.testclient import TestClient

from paperfeed.cli import main
from paperfeed.settings import Settings
from paperfeed.storage import Database, ratelimits
from paperfeed.storage import claims as claim_store
from paperfeed.storage import orgs as org_store
from paperfeed.storage import papers as paper_store
from paperfeed.storage.schema import rate_limits
from tests.community import add_papers, csrf_of, https_client, log_in, member, token_for


def publish(client: TestClient, org: str, paper_id: str, action: str = "add") -> int:
    data = {"csrf": csrf_of(client), "paper_id": paper_id, "action": action}
    return client.post(f"/orgs/{org}/papers", data=data, follow_redirects=False).status_code


def org_of(db: Database, paper_id: str) -> str | None:
    found = paper_store.paper(db, paper_id)
    assert found is not None
    return found.organization.name if found.organization else None


def make_org(db: Database, name: str, admin_id: int, *members: int) -> int:
    now = datetime.now(UTC)
    org_id = org_store.create_org(db, name, name, admin_id, now)
    for user_id in members:
        org_store.set_member(db, org_id, user_id, "member", now)
    return org_id


def test_only_admins_and_approved_authors_publish_under_an_organization(
    settings: Settings, db: Database
) -> None:
    claimed, other = add_papers(db, 2)
    ada, bob, root = member(db, "ada"), member(db, "bob"), member(db, "root", admin=True)
    lab = make_org(db, "lab", ada.id, bob.id)
    claim = claim_store.add_claim(db, claimed.id, bob.id, "Alan Turing", datetime.now(UTC))
    with https_client(settings) as client:
        log_in(client, "bob")
        # A plain member without an approved claim: refused, even while the claim is pending.
        assert publish(client, "lab", other.id) == 403
        assert publish(client, "lab", claimed.id) == 403
        claim_store.decide(db, claim.id, root.id, True, datetime.now(UTC))
        assert publish(client, "lab", other.id) == 403
        assert publish(client, "lab", claimed.id) == 303
        assert org_of(db, claimed.id) == "lab"
        # Taking it off again is held to the same rule.
        org_store.move_paper(db, other.id, None, lab)
        assert publish(client, "lab", other.id, "remove") == 403
        assert org_of(db, other.id) == "lab"
        assert publish(client, "lab", claimed.id, "remove") == 303
        assert org_of(db, claimed.id) is None

        log_in(client, "ada")  # the admin publishes and unpublishes anything
        assert publish(client, "lab", claimed.id) == 303
        assert publish(client, "lab", other.id, "remove") == 303
        assert (org_of(db, claimed.id), org_of(db, other.id)) == ("lab", None)
        # Not a member at all: refused as before.
        log_in(client, "root")
        assert publish(client, "lab", other.id) == 403


def test_a_paper_of_another_organization_moves_only_with_its_admins_word(
    settings: Settings, db: Database
) -> None:
    paper = add_papers(db, 1)[0]
    ada, eve, root = member(db, "ada"), member(db, "eve"), member(db, "root", admin=True)
    lab = make_org(db, "lab", ada.id)
    make_org(db, "evilcorp", eve.id)
    org_store.move_paper(db, paper.id, None, lab)
    with https_client(settings) as client:
        # eve is evilcorp's admin, and even an approved author of the paper: lab's paper stays lab's.
        claim = claim_store.add_claim(db, paper.id, eve.id, "Ada Lovelace", datetime.now(UTC))
        claim_store.decide(db, claim.id, root.id, True, datetime.now(UTC))
        log_in(client, "eve")
        refused = client.post("/orgs/evilcorp/papers", data={"csrf": csrf_of(client), "paper_id": paper.id})
        assert refused.status_code == 403 and "published under lab" in refused.text
        assert org_of(db, paper.id) == "lab"
        # Removing it from evilcorp, where it is not, changes nothing either.
        assert publish(client, "evilcorp", paper.id, "remove") == 303
        assert org_of(db, paper.id) == "lab"

        # An admin of both moves it.
        org_store.set_member(db, lab, eve.id, "admin", datetime.now(UTC))
        assert publish(client, "evilcorp", paper.id) == 303
        assert org_of(db, paper.id) == "evilcorp"

        # A site admin moves it too, as an admin of the organization it goes to.
        make_org(db, "rootlab", root.id)
        log_in(client, "root")
        assert publish(client, "rootlab", paper.id) == 303
        assert org_of(db, paper.id) == "rootlab"


def test_the_last_admin_stays(settings: Settings, db: Database) -> None:
    ada, bob = member(db, "ada"), member(db, "bob")
    lab = make_org(db, "lab", ada.id, bob.id)
    with https_client(settings) as client:
        log_in(client, "ada")

        def change(user: str, **fields: str) -> tuple[int, str]:
            data = {"csrf": csrf_of(client), "user": user, **fields}
            response = client.post("/orgs/lab/members", data=data, follow_redirects=False)
            return response.status_code, response.text

        code, text = change("ada", role="member")
        assert code == 409 and "needs an admin" in text
        code, text = change("ada", action="remove")
        assert code == 409 and "last admin cannot leave" in text
        assert org_store.role_of(db, lab, ada.id) == "admin"

        assert change("bob", role="admin")[0] == 303
        assert change("ada", role="member")[0] == 303  # with another admin, she may step down
        assert org_store.members(db, lab) == [("bob", "admin"), ("ada", "member")]
    # The storage rule holds for any caller.
    assert org_store.role_of(db, lab, bob.id) == "admin"
    with pytest.raises(org_store.LastAdmin):
        org_store.set_member(db, lab, bob.id, "member", datetime.now(UTC))


def test_creating_organizations_and_collections_and_editing_comments_are_rate_limited(
    settings: Settings, db: Database
) -> None:
    paper = add_papers(db, 1)[0]
    ada = member(db, "ada")
    limited = settings.model_copy(
        update={"rate_org": "1/3600", "rate_collection": "2/3600", "rate_comment": "3/600"}
    )
    with https_client(limited) as client:
        log_in(client, "ada")
        first = client.post("/orgs", data={"csrf": csrf_of(client), "name": "lab1"}, follow_redirects=False)
        second = client.post("/orgs", data={"csrf": csrf_of(client), "name": "lab2"}, follow_redirects=False)
        assert (first.status_code, second.status_code) == (303, 429)
        assert "Retry-After" in second.headers and org_store.org_by_name(db, "lab2") is None

        headers = token_for(db, ada)
        codes = [
            client.post("/api/collections", json={"name": f"list {i}"}, headers=headers).status_code
            for i in range(3)
        ]
        assert codes == [201, 201, 429]
        form = client.post("/collections", data={"csrf": csrf_of(client), "name": "by form"})
        assert form.status_code == 429

        comment = client.post(f"/api/papers/{paper.id}/comments", json={"body": "v1"}, headers=headers).json()
        edits = [
            client.post(
                f"/comments/{comment['id']}",
                data={"csrf": csrf_of(client), "action": "edit", "body": f"v{i}"},
                follow_redirects=False,
            ).status_code
            for i in range(2, 5)
        ]
        assert edits == [303, 303, 429]  # one comment and two edits: three of the three allowed
        assert client.get(f"/api/papers/{paper.id}/comments").json()[0]["raw"] == "v3"


def test_the_worker_drops_rate_limit_windows_nothing_counts(settings: Settings, db: Database) -> None:
    now = datetime.now(UTC)
    longest = timedelta(seconds=3600)  # the longest window of the default rates (sign-up, submit …)
    ratelimits.hit(db, "login:old", timedelta(seconds=60), now - longest - timedelta(seconds=5))
    ratelimits.hit(db, "signup:recent", longest, now - longest + timedelta(seconds=60))
    ratelimits.hit(db, "login:now", timedelta(seconds=60), now)
    result = CliRunner().invoke(
        main, ["worker", "--once", "--job", "rate-limits"], env=settings.environment()
    )
    assert result.exit_code == 0, result.output
    assert "rate-limits: 1 expired rate-limit windows dropped" in result.output
    with db.read() as conn:
        kept = set(conn.execute(sa.select(rate_limits.c.key)).scalars())
    assert kept == {"signup:recent", "login:now"}
