"""A member subscriber's picks come from the For-you model (``compose.for_you_picks``): papers close to what
they upvoted or collected, by the real model's stored embeddings, each naming the paper it resembles; a
subscriber without an account, or a member with nothing to learn from, gets none from it."""

from __future__ import annotations

from datetime import UTC, date, datetime

from paperfeed.digest.compose import MEMBER_PICK_SOURCES, for_you_picks, load_period
from paperfeed.models import Subscriber
from paperfeed.settings import Settings
from paperfeed.storage import Database
from paperfeed.storage import collections as collection_store
from paperfeed.storage import users as user_store
from paperfeed.storage import votes as vote_store
from tests.conftest import load_bundled

SDM = "2607.07386"  # Sparse Delta Memory (linear RNNs), first published Wed 8 Jul 2026
NOW = datetime(2026, 9, 1, tzinfo=UTC)


def subscriber(user_id: int | None) -> Subscriber:
    return Subscriber(1, "ada@example.org", "weekly", "active", False, NOW, user_id=user_id)


def test_picks_are_papers_close_to_what_the_member_liked(settings: Settings) -> None:
    db: Database = load_bundled(settings)
    assert [name for name, _ in MEMBER_PICK_SOURCES] == ["for you"]
    ada = user_store.create_user(db, "ada", "ada@example.org", "x", NOW)
    vote_store.upvote(db, ada.id, SDM, NOW)
    pp = load_period(db, "weekly", date(2026, 7, 8), NOW, model=settings.embedding_model)
    assert SDM in pp.by_id and len(pp.papers) > 20

    picks = list(for_you_picks(pp, subscriber(ada.id)))
    assert picks, "the week holds papers close to the upvoted one"
    assert SDM not in {i for i, _ in picks}  # not the liked paper itself
    close = [i for i, why in picks if why.startswith("Close to “Sparse Delta Memory")]
    assert close and all(why.endswith("which you upvoted") for i, why in picks if i in close)
    assert all(not why.startswith(("Popular", "New this period")) for _, why in picks)  # personal only

    # A collected paper counts too, and says so.
    listed = collection_store.create(db, ada.id, "reading", "", True, NOW)
    collection_store.put_item(db, listed.id, close[0], "", NOW)
    again = dict(for_you_picks(pp, subscriber(ada.id)))
    assert any(why.endswith("which you collected") for why in again.values())
    assert close[0] not in again  # collected: liked already, not picked back
    db.close()


def test_no_account_or_no_likes_means_no_such_picks(settings: Settings) -> None:
    db = load_bundled(settings)
    pp = load_period(db, "weekly", date(2026, 7, 8), NOW, model=settings.embedding_model)
    assert list(for_you_picks(pp, subscriber(None))) == []
    bob = user_store.create_user(db, "bob", "bob@example.org", "x", NOW)
    assert list(for_you_picks(pp, subscriber(bob.id))) == []
    db.close()
