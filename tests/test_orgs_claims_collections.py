"""Organizations (members, roles, papers, the org page and API), authorship claims (claim, approve,
profile) and collections (public and private, notes, page and API), through the real app."""

from __future__ import annotations

from paperfeed.settings import Settings
from paperfeed.storage import Database
from paperfeed.storage import papers as paper_store
from paperfeed.storage import users as user_store
from tests.community import PASSWORD, add_papers, csrf_of, https_client, member, sign_up, token_for


def _login(client: object, name: str) -> None:
    response = client.post("/login", data={"csrf": csrf_of(client), "name": name, "password": PASSWORD})  # type: ignore[attr-defined]
    assert response.status_code == 200


def test_organizations_members_roles_and_papers(settings: Settings, db: Database) -> None:
    paper = add_papers(db, 1)[0]
    member(db, "bob")
    with https_client(settings) as client:
        sign_up(client, "ada")
        made = client.post("/orgs", data={"csrf": csrf_of(client), "name": "deeplab", "fullname": "Deep Lab"})
        assert made.status_code == 200 and 'id="org-name">Deep Lab<' in made.text
        again = client.post("/orgs", data={"csrf": csrf_of(client), "name": "DeepLab"})
        assert again.status_code == 409 and "already exists" in again.text
        client.post("/orgs/deeplab/members", data={"csrf": csrf_of(client), "user": "bob", "role": "member"})
        client.post("/orgs/deeplab/papers", data={"csrf": csrf_of(client), "paper_id": f"arXiv:{paper.id}v1"})

        api = client.get("/api/organizations/deeplab").json()
        assert [(m["user"], m["role"]) for m in api["members"]] == [("ada", "admin"), ("bob", "member")]
        assert [p["paper"]["id"] for p in api["papers"]] == [paper.id]
        assert client.get(f"/api/papers/{paper.id}").json()["organization"]["name"] == "deeplab"
        assert 'href="/orgs/deeplab"' in client.get(f"/papers/{paper.id}").text

        # bob is a member, not an admin: he manages neither members nor (not being an approved author of
        # the paper) what the organization publishes.
        _login(client, "bob")
        refused = client.post(
            "/orgs/deeplab/members", data={"csrf": csrf_of(client), "user": "bob", "role": "admin"}
        )
        assert refused.status_code == 403 and "only admins" in refused.text
        unlink = {"paper_id": paper.id, "action": "remove"}
        refused = client.post("/orgs/deeplab/papers", data={"csrf": csrf_of(client), **unlink})
        assert refused.status_code == 403 and "approved as an author" in refused.text
        _login(client, "ada")
        client.post("/orgs/deeplab/papers", data={"csrf": csrf_of(client), **unlink})
        assert client.get("/api/organizations/deeplab").json()["papers"] == []
        assert client.get("/api/organizations/nope").status_code == 404
    stored = paper_store.paper(db, paper.id)
    assert stored is not None and stored.organization is None


def test_authorship_claims_are_approved_by_admins_and_show_on_profiles(
    settings: Settings, db: Database
) -> None:
    paper = add_papers(db, 1)[0]
    member(db, "root", admin=True)
    with https_client(settings) as client:
        sign_up(client, "ada")
        bogus = client.post(f"/papers/{paper.id}/claim", data={"csrf": csrf_of(client), "author": "Nobody"})
        assert bogus.status_code == 400 and "is not an author" in bogus.text
        client.post(f"/papers/{paper.id}/claim", data={"csrf": csrf_of(client), "author": "Ada Lovelace"})
        twice = client.post(
            f"/papers/{paper.id}/claim", data={"csrf": csrf_of(client), "author": "Ada Lovelace"}
        )
        assert twice.status_code == 409
        assert client.get("/admin/claims").status_code == 403
        assert "No claimed papers yet" in client.get("/users/ada").text

        _login(client, "root")
        queue = client.get("/admin/claims").text
        assert "claims to be <strong>Ada Lovelace</strong>" in queue
        claim_id = queue.split('action="/admin/claims/')[1].split('"')[0]
        decided = client.post(
            f"/admin/claims/{claim_id}", data={"csrf": csrf_of(client), "decision": "approve"}
        )
        assert "No pending claims" in decided.text
        profile = client.get("/users/ada").text
        assert 'id="claimed-papers"' in profile and f'data-paper-id="{paper.id}"' in profile
        # A claim approved is final: another member cannot take the same author entry.
        _login(client, "root")
        taken = client.post(
            f"/papers/{paper.id}/claim", data={"csrf": csrf_of(client), "author": "Ada Lovelace"}
        )
        assert taken.status_code == 409 and "already claimed" in taken.text


def test_collections_public_and_private(settings: Settings, db: Database) -> None:
    first, second = add_papers(db, 2)
    ada, bob = member(db, "ada"), member(db, "bob")
    with https_client(settings) as client:
        made = client.post(
            "/api/collections",
            json={"name": "Reading list", "description": "to read", "public": True},
            headers=token_for(db, ada),
        )
        assert made.status_code == 201
        public_id = made.json()["id"]
        secret = client.post(
            "/api/collections", json={"name": "Secret", "public": False}, headers=token_for(db, ada)
        ).json()
        dup = client.post("/api/collections", json={"name": "Reading list"}, headers=token_for(db, ada))
        assert dup.status_code == 409

        items = f"/api/collections/{public_id}/items"
        client.post(items, json={"paperId": first.id, "note": "the *key* idea"}, headers=token_for(db, ada))
        listed = client.post(items, json={"paperId": second.id}, headers=token_for(db, ada)).json()
        assert [(i["paper"]["id"], i["note"]) for i in listed["items"]] == [
            (first.id, "the *key* idea"),
            (second.id, ""),
        ]
        # Only the owner changes it; someone else's attempt is a 404, as for a missing collection.
        assert client.post(items, json={"paperId": first.id}, headers=token_for(db, bob)).status_code == 404

        page = client.get(f"/collections/{public_id}")
        assert page.status_code == 200 and "the *key* idea" in page.text
        assert client.get(f"/api/collections/{secret['id']}").status_code == 404  # private, anonymous
        assert client.get(f"/collections/{secret['id']}").status_code == 404

        _login(client, "ada")
        assert client.get(f"/collections/{secret['id']}").status_code == 200
        assert "Secret" in client.get("/users/ada").text
        client.post(
            f"/collections/{public_id}/items",
            data={"csrf": csrf_of(client), "paper_id": first.id, "action": "remove"},
        )
        after = client.get(f"/api/collections/{public_id}").json()
        assert [i["paper"]["id"] for i in after["items"]] == [second.id]
    assert user_store.user_by_name(db, "bob") is not None
