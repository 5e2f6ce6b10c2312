"""The For-you model (paperfeed.recommend) on the bundled real papers and their real embeddings: what a
reader liked, disliked, follows or seeded moves the ranking of a later period, each paper with its reason.

Readers like July 2026 papers; the candidates are the papers of 6-20 August 2026 (147 real arXiv papers).
"""

from __future__ import annotations

import dataclasses
from datetime import date

import numpy as np
import pytest

from paperfeed.models import Follow, Organization, Paper
from paperfeed.recommend import load
from paperfeed.recommend.candidates import Candidates
from paperfeed.recommend.rank import Pick, recommend, short
from paperfeed.recommend.signals import Liked, Signals, seeded
from paperfeed.recommend.terms import terms
from paperfeed.settings import Settings
from paperfeed.storage import Database, lists

START, END = date(2026, 8, 6), date(2026, 8, 20)


@pytest.fixture(scope="module")
def august(loaded_db: Database, loaded_settings: Settings) -> Candidates:
    return load.candidates(loaded_db, START, END, loaded_settings.embedding_model)


@pytest.fixture(scope="module")
def july(loaded_db: Database) -> list[Paper]:
    return lists.feed_papers(loaded_db, date(2026, 7, 1), date(2026, 7, 31), "published", 1000)


def ranked(
    db: Database, settings: Settings, signals: Signals, candidates: Candidates, **options: object
) -> list[Pick]:
    known, vectors = load.known(db, signals, settings.embedding_model)
    return recommend(signals, candidates, known, vectors, **options)  # type: ignore[arg-type]


def upvoted(papers: list[Paper]) -> Signals:
    return Signals(tuple(Liked(p.id, "upvote") for p in papers))


def test_the_candidates_are_the_period_with_vectors(august: Candidates) -> None:
    assert len(august) == 147 and august.has_vector.all()
    assert all(START <= p.feed_day <= END for p in august.papers if p.feed_day)


def test_a_reader_of_computer_vision_gets_computer_vision_first(
    loaded_db: Database, loaded_settings: Settings, august: Candidates, july: list[Paper]
) -> None:
    liked = [p for p in july if p.primary_category == "cs.CV"][:3]
    picks = ranked(loaded_db, loaded_settings, upvoted(liked), august, limit=10)
    share = sum("cs.CV" in p.categories for p in august.papers) / len(august)
    assert share < 0.15  # a small part of the period…
    assert sum("cs.CV" in pick.paper.categories for pick in picks[:5]) >= 4  # …most of the top five
    assert sum("cs.CV" in pick.paper.categories for pick in picks) >= 8
    titles = {f"close to “{short(p.title)}”, which you upvoted" for p in liked}
    assert picks[0].reason in titles
    assert [p.score for p in picks] == sorted((p.score for p in picks), reverse=True)


def test_less_removes_a_paper_at_once_and_moves_its_neighbours_down(
    loaded_db: Database, loaded_settings: Settings, august: Candidates, july: list[Paper]
) -> None:
    liked = upvoted([p for p in july if p.primary_category == "cs.CL"][:4])
    before = ranked(loaded_db, loaded_settings, liked, august)
    less = before[0].paper.id
    row = august.row[less]
    near = np.argsort(-(august.matrix @ august.matrix[row]))[1:4]  # its three nearest neighbours
    neighbours = [august.papers[i].id for i in near]

    after = ranked(loaded_db, loaded_settings, dataclasses.replace(liked, disliked=(less,)), august)
    assert less not in {p.paper.id for p in after}
    assert len(after) == len(before) - 1
    position = {p.paper.id: n for n, p in enumerate(before)}
    position_after = {p.paper.id: n for n, p in enumerate(after)}
    score = {p.paper.id: p.score for p in before}
    score_after = {p.paper.id: p.score for p in after}
    for i in neighbours:
        assert score_after[i] < score[i] - 0.3, i  # by a good part of a standard deviation
        assert position_after[i] > position[i], i
    # A paper far from it keeps its score (only the standardised parts move a little).
    far = august.papers[int(np.argmin(august.matrix @ august.matrix[row]))].id
    assert abs(score_after[far] - score[far]) < 0.5


def test_less_wins_over_an_earlier_like_of_the_same_paper(
    loaded_db: Database, loaded_settings: Settings, august: Candidates, july: list[Paper]
) -> None:
    paper = august.papers[0].id
    signals = Signals((Liked(paper, "more"), *upvoted(july[:2]).liked), disliked=(paper,))
    assert paper not in {p.paper.id for p in ranked(loaded_db, loaded_settings, signals, august)}


def test_followed_authors_and_categories_surface_with_their_reason(
    loaded_db: Database, loaded_settings: Settings, august: Candidates, july: list[Paper]
) -> None:
    author = "Zhenyu Wu"
    theirs = {p.id for p in august.papers if author in p.authors}
    assert len(theirs) >= 2
    signals = Signals(upvoted(july[:5]).liked, follows=(Follow("author", "zhenyu WU"),))
    picks = ranked(loaded_db, loaded_settings, signals, august, limit=10)
    assert {p.paper.id for p in picks[: len(theirs)]} == theirs
    assert all(p.reason == "by zhenyu WU, whom you follow" for p in picks[: len(theirs)])

    robotics = {p.id for p in august.papers if "cs.RO" in p.categories}
    follows_robotics = Signals(follows=(Follow("category", "cs.RO"),))
    picks = ranked(loaded_db, loaded_settings, follows_robotics, august, limit=len(robotics))
    assert {p.paper.id for p in picks} == robotics
    assert {p.reason for p in picks} == {"in cs.RO, which you follow"}

    # Beside likes, a followed category lifts its papers without taking over the list.
    base = ranked(loaded_db, loaded_settings, upvoted(july[:5]), august)
    both = ranked(
        loaded_db,
        loaded_settings,
        dataclasses.replace(upvoted(july[:5]), follows=follows_robotics.follows),
        august,
    )
    rank_of = lambda picks: {p.paper.id: n for n, p in enumerate(picks)}  # noqa: E731
    assert all(rank_of(both)[i] <= rank_of(base)[i] for i in robotics)


def test_a_followed_organization_surfaces() -> None:
    org = Organization("AlibabaTongyiLab", "TongyiLab")
    papers = [
        Paper(f"2608.0000{i}", f"Paper {i}", "An abstract about language models.", [f"Author {i}"], ["cs.CL"])
        for i in range(5)
    ]
    papers[3].organization = org
    candidates = Candidates.of(papers, {})
    picks = recommend(Signals(follows=(Follow("organization", "tongyilab"),)), candidates, {}, {})
    assert picks[0].paper.id == "2608.00003" and picks[0].reason == "from tongyilab, which you follow"


def test_seeds_start_a_new_reader(
    loaded_db: Database, loaded_settings: Settings, august: Candidates, july: list[Paper]
) -> None:
    seed = next(p for p in july if p.primary_category == "cs.CV")
    picks = ranked(loaded_db, loaded_settings, seeded(arxiv_ids=[seed.id]), august, limit=5)
    assert picks[0].reason == f"close to “{short(seed.title)}”, which you started from"
    assert sum("cs.CV" in p.paper.categories for p in picks) >= 3

    by_category = ranked(loaded_db, loaded_settings, seeded(categories=["cs.RO"]), august, limit=3)
    assert all("cs.RO" in p.paper.categories for p in by_category)
    by_author = ranked(loaded_db, loaded_settings, seeded(authors=["Tanmoy Chakraborty"]), august, limit=1)
    assert "Tanmoy Chakraborty" in by_author[0].paper.authors
    assert by_author[0].reason == "by Tanmoy Chakraborty, whom you follow"


def test_seen_papers_are_left_out_unless_asked(
    loaded_db: Database, loaded_settings: Settings, august: Candidates, july: list[Paper]
) -> None:
    signals = upvoted(july[:5])
    first = ranked(loaded_db, loaded_settings, signals, august, limit=10)
    seen = {p.paper.id for p in first[:3]}
    again = ranked(loaded_db, loaded_settings, signals, august, seen=seen, limit=10)
    assert not seen & {p.paper.id for p in again}
    assert [p.paper.id for p in again[:7]] == [p.paper.id for p in first[3:]]
    asked = ranked(loaded_db, loaded_settings, signals, august, seen=seen, include_seen=True, limit=10)
    assert [p.paper.id for p in asked] == [p.paper.id for p in first]


def test_without_signals_the_period_comes_popular_then_new(august: Candidates) -> None:
    papers = list(august.papers)
    papers[10] = dataclasses.replace(papers[10], upvotes=7)
    papers[20] = dataclasses.replace(papers[20], upvotes=1)
    candidates = Candidates.of(papers, {})
    picks = recommend(Signals(), candidates, {}, {})
    assert [p.paper.id for p in picks[:2]] == [papers[10].id, papers[20].id]
    assert picks[0].reason == "popular this period: 7 upvotes"
    assert picks[1].reason == "popular this period: 1 upvote"
    rest = [p.paper.published_at for p in picks[2:]]
    assert rest == sorted(rest, reverse=True)  # type: ignore[type-var]
    assert {p.reason for p in picks[2:]} == {"new this period"}


def test_a_paper_without_a_vector_ranks_on_its_words(
    loaded_db: Database, loaded_settings: Settings, august: Candidates, july: list[Paper]
) -> None:
    liked = next(p for p in july if p.primary_category == "cs.CV")
    twin = dataclasses.replace(liked, id="2608.99999", feed_day=END)  # its text again, not yet embedded
    papers = [*august.papers, twin]
    candidates = Candidates.of(papers, {p.id: august.matrix[i] for i, p in enumerate(august.papers)})
    picks = ranked(loaded_db, loaded_settings, upvoted([liked]), candidates, limit=3)
    assert picks[0].paper.id == twin.id
    assert picks[0].reason == f"close to “{short(liked.title)}”, which you upvoted"


def test_how_a_paper_was_liked_is_in_its_reason(
    loaded_db: Database, loaded_settings: Settings, august: Candidates, july: list[Paper]
) -> None:
    liked = next(p for p in july if p.primary_category == "cs.CV")
    for kind, words in (
        ("collection", "which you collected"),
        ("more", "which you asked more of"),
        ("claim", "which you wrote"),
    ):
        picks = ranked(loaded_db, loaded_settings, Signals((Liked(liked.id, kind),)), august, limit=1)  # type: ignore[arg-type]
        assert picks[0].reason.endswith(words)


def test_terms_are_words_and_pairs_of_words() -> None:
    found = terms("Linear attention models, and the models' states.")
    assert found["model"] == 2 and found["linear attention"] == 1 and "the" not in found
