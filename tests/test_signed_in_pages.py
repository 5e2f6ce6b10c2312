"""What signed-in pages reuse between requests (issue #14), and what they never may: card bodies rendered
once per paper value (``web/cards.CardBodies``), the days around a list in one statement
(``lists.around``), a page's reads in one snapshot, the served app's frozen start-up objects. A member's
page still shows the database as it is at every request."""

from __future__ import annotations

import gc
from datetime import date

import pytest
from fastapi.testclient import TestClient
from jinja2 import DictLoader, Environment

from paperfeed import settings as settings_module
from paperfeed.models import Paper
from paperfeed.settings import Settings
from paperfeed.storage import Database, lists
from paperfeed.storage import comments as comment_store
from paperfeed.storage.lists import Selection
from paperfeed.web import app as web_app
from paperfeed.web.cards import FILTERS, CardBodies, paper_value
from tests.community import NOW, add_papers, https_client, member, sign_up


def test_a_members_feed_shows_votes_and_comments_at_once(settings: Settings, db: Database) -> None:
    (paper,) = add_papers(db, 1)
    with https_client(settings) as client:
        sign_up(client, "reader")
        first = client.get("/papers?list=all").text
        assert "0 comments" in first and 'aria-pressed="false"' in first
        other = member(db, "other")
        comment_store.add_comment(db, paper.id, other.id, "Nice.", "<p>Nice.</p>", NOW)
        token = client.cookies["__Host-csrf"]
        voted = client.post(f"/papers/{paper.id}/upvote", data={"csrf": token, "back": "/papers?list=all"})
        assert voted.status_code == 200
        again = client.get("/papers?list=all").text  # the card body of the old value must not come back
        assert "1 comment<" in again and 'aria-pressed="true"' in again
        assert '<span class="vote-count">1</span>' in again


def test_card_bodies_are_keyed_by_the_whole_paper(settings: Settings) -> None:
    app = web_app.create_app(settings)
    bodies = app.state.templates.env.filters["card_html"]
    assert isinstance(bodies, CardBodies)
    paper = Paper(id="2611.00001", title="A title", abstract="An abstract.", authors=["Ada Lovelace"])
    html = bodies(paper)
    assert (
        bodies(Paper(id="2611.00001", title="A title", abstract="An abstract.", authors=["Ada Lovelace"]))
        is html
    )
    changed = Paper(
        id="2611.00001", title="A title", abstract="An abstract.", authors=["Ada Lovelace"], num_comments=3
    )
    assert paper_value(changed) != paper_value(paper)
    assert "3 comments" in bodies(changed) and "0 comments" in html
    # A body never holds what belongs to the reader: no form, no token.
    assert "<form" not in html and "csrf" not in html


def test_a_cached_card_is_the_macros_html_for_every_reader_and_page(settings: Settings) -> None:
    """The ``card`` filter serves a card rendered once with stand-ins for the reader's token and page;
    filled in, it must equal what the ``card`` macro renders in the real context, character for character,
    on a miss and on a hit, for visitors and members, pressed or not, with a vote asked for at login."""
    app = web_app.create_app(settings)
    env = app.state.templates.env
    by_macro = env.from_string(
        '{% from "_card.html" import card with context %}{{ card(paper, voted, back) }}'
    )
    by_filter = env.from_string("{{ paper|card(voted, back) }}")
    papers = [
        Paper(
            id="2611.00001", title="A <b>title</b> & more", abstract="An abstract.", authors=[], upvotes=12
        ),
        Paper(
            id="2611.00002", title='Quotes "here"', abstract="$x$ and \\(y\\)", authors=["A. B"], upvotes=0
        ),
    ]
    member = object()  # whoever is signed in: the templates ask only `not me`
    backs = [
        "/",
        "/papers?date=2026-11-30&list=all",
        "/search?q=a%20b&x=<'\">&vote=2611.00001",
        "/papers/2611.00002",
    ]
    for me in (None, member):
        for csrf in ("token-1", 'to<k>en&"2'):
            for intent in (None, "2611.00001", "2611.00002"):
                for back in backs:
                    for voted in (set(), {"2611.00001"}, {"2611.00001", "2611.00002"}):
                        for paper in papers:
                            values = {"paper": paper, "voted": voted, "back": back, "me": me, "csrf": csrf}
                            values["vote_intent"] = intent
                            expected = by_macro.render(values)
                            assert by_filter.render(values) == expected  # a miss, then a hit
                            assert by_filter.render(values) == expected
    # ... and they came from the cache: every paper holds its cards, split around the stand-ins.
    rendered = env.filters["card_html"]
    for paper in papers:
        kept = rendered._entries[paper.id].cards
        assert len(kept) >= 4 and any(len(pieces) == 5 for pieces, _ in kept.values())
    signed = by_filter.render(
        paper=papers[0], voted=set(), back="/?p=1", me=member, csrf="t", vote_intent=None
    )
    assert 'name="csrf" value="t"' in signed and 'name="back" value="/?p=1#paper-2611.00001"' in signed


@pytest.mark.parametrize(
    "insert",
    [
        "{{ back|urlencode }} {{ csrf }}",
        "{{ back|vote_back(paper.id) }} {{ csrf|upper }}",
        "{{ back|vote_back(paper.id)|safe }} {{ csrf }}",
        "{{ back|vote_back(paper.id) }} {{ csrf|length }}",
        "{{ back[:6] }} {{ csrf }}",
    ],
)
def test_a_card_whose_template_changes_a_stand_in_is_rendered_with_the_real_values(insert: str) -> None:
    """A template that inserts the reader's token or page otherwise than as a plain escaped value leaves
    nothing to fill in: such a card is rendered with the request's values, never served with a stand-in
    (or a value derived from one) in it."""
    vote = f"{{% macro vote_button(paper, voted, back) %}}{{% if me %}}<form>{insert}</form>{{% endif %}}{{% endmacro %}}"
    card = (
        '{% from "_vote.html" import vote_button with context %}'
        '{% macro card(paper, voted=(), back="/") %}<article>{{ vote_button(paper, paper.id in voted, back) }}'
        "{{ paper|card_html }}</article>{% endmacro %}"
        "{% macro card_body(paper) %}<p>{{ paper.title }}</p>{% endmacro %}"
    )
    env = Environment(autoescape=True, loader=DictLoader({"_vote.html": vote, "_card.html": card}))
    env.filters.update(FILTERS)
    rendered = CardBodies(env)
    env.filters.update(card_html=rendered, card=rendered.card)
    paper = Paper(id="2611.00001", title="A & B", abstract="", authors=[])
    values = {"paper": paper, "voted": set(), "back": "/x?a=1 b&c", "me": object(), "csrf": "t&k"}
    macro = '{% from "_card.html" import card with context %}{{ card(paper, voted, back) }}'
    expected = env.from_string(macro).render(values)
    for _ in range(2):
        assert env.from_string("{{ paper|card(voted, back) }}").render(values) == expected
    assert not rendered._entries[paper.id].cards


def test_the_days_around_a_list_in_one_question(db: Database) -> None:
    add_papers(db, 3)
    day = NOW.date()
    for selection in (Selection(), Selection(categories=("cs.LG", "hep-th")), Selection(curated=True)):
        for start, end in (
            (day, day),
            (date(2020, 1, 1), date(2020, 1, 31)),
            (date(2030, 1, 1), date(2030, 1, 1)),
        ):
            assert lists.around(db, start, end, selection) == (
                lists.previous_day(db, start, selection),
                lists.next_day(db, end, selection),
                lists.count_feed_papers(db, start, end, selection),
            )


def test_the_served_app_freezes_its_start_up_objects_while_it_runs(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settings_module, "load", lambda: settings)  # served_app reads the environment
    try:
        app = web_app.served_app()
        with TestClient(app) as client:
            assert gc.get_freeze_count() > 0
            # Every template compiled before the first request (and frozen with the rest).
            env = app.state.templates.env
            assert set(env.list_templates()) <= {key[1] for key in env.cache}
            assert client.get("/").status_code == 200
        assert gc.get_freeze_count() == 0
    finally:
        gc.unfreeze()
