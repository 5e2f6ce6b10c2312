"""The "similar to what you liked" pick source: a member's upvotes and collections, compared by stored
embeddings (the real model's) with the period's papers."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np

from paperfeed.digest.compose import SIMILAR_AT_LEAST, load_period, similar_picks
from paperfeed.models import Subscriber
from paperfeed.settings import Settings
from paperfeed.storage import Database
from paperfeed.storage import collections as collection_store
from paperfeed.storage import embeddings as embedding_store
from paperfeed.storage import users as user_store
from paperfeed.storage import votes as vote_store
from tests.conftest import load_bundled

SDM = "2607.07386"  # Sparse Delta Memory (linear RNNs), first published Wed 8 Jul 2026
NOW = datetime(2026, 9, 1, tzinfo=UTC)


def subscriber(user_id: int | None) -> Subscriber:
    return Subscriber(1, "ada@example.org", "weekly", "active", False, NOW, user_id=user_id)


def test_picks_are_papers_close_to_what_the_member_liked(settings: Settings) -> None:
    db: Database = load_bundled(settings)
    ada = user_store.create_user(db, "ada", "ada@example.org", "x", NOW)
    vote_store.upvote(db, ada.id, SDM, NOW)
    pp = load_period(db, "weekly", date(2026, 7, 8), NOW, model=settings.embedding_model)
    assert SDM in pp.by_id and len(pp.papers) > 20

    picks = list(similar_picks(pp, subscriber(ada.id)))
    assert picks, "the week holds papers close to the upvoted one"
    assert SDM not in {i for i, _ in picks}  # not the liked paper itself
    assert all(
        why.startswith("Close to “Sparse Delta Memory") and why.endswith("which you upvoted")
        for _, why in picks
    )
    # Closest first, and only papers above the threshold.
    liked = embedding_store.vectors_of(db, [SDM], settings.embedding_model)[SDM]
    period = pp.vectors()
    scores = [float(period[i] @ liked) for i, _ in picks]
    assert scores == sorted(scores, reverse=True) and scores[-1] >= SIMILAR_AT_LEAST
    others = [float(v @ liked) for i, v in period.items() if i != SDM and i not in {p for p, _ in picks}]
    assert max(others) < SIMILAR_AT_LEAST
    assert np.isclose(scores[0], max(scores + others))

    # A collected paper counts too, and says so.
    listed = collection_store.create(db, ada.id, "reading", "", True, NOW)
    collection_store.put_item(db, listed.id, picks[0][0], "", NOW)
    again = dict(similar_picks(pp, subscriber(ada.id)))
    assert any(why.endswith("which you collected") for why in again.values())
    db.close()


def test_no_account_or_no_likes_means_no_such_picks(settings: Settings) -> None:
    db = load_bundled(settings)
    pp = load_period(db, "weekly", date(2026, 7, 8), NOW, model=settings.embedding_model)
    assert list(similar_picks(pp, subscriber(None))) == []
    bob = user_store.create_user(db, "bob", "bob@example.org", "x", NOW)
    assert list(similar_picks(pp, subscriber(bob.id))) == []
    db.close()
