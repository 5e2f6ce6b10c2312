"""The server side of the daily reading experience (issue #13 items 3–10), in-process: the text filters
cards use (LaTeX text-mode macros, keyphrases, author lines, vote links), math held out of comment Markdown,
HEAD wherever GET is, robots.txt and favicon.ico, form errors beside their form, the subscribe box at the top
of the feed (and what the cached anonymous page may carry), KaTeX on every list of cards, and the access-log
setting of ``paperfeed serve``. The browser side is tests/test_reading_browser.py."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from pydantic import SecretStr

from paperfeed import markdown
from paperfeed.cli import main
from paperfeed.models import Paper, Version
from paperfeed.settings import Settings
from paperfeed.storage import Database
from paperfeed.storage import collections as collection_store
from paperfeed.storage import comments as comment_store
from paperfeed.storage import orgs as org_store
from paperfeed.storage.papers import upsert_papers
from paperfeed.tex import text_mode
from paperfeed.web.cards import author_line, card_keyphrases, reads_as_phrase, vote_back, vote_login
from paperfeed.web.routes import ROUTES
from tests.community import add_papers, csrf_of, https_client, member, sign_up

# -- LaTeX text-mode macros -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "shown"),
    [
        (r"metrics can be \emph{evolved}: \textbf{DAG-FM}", "metrics can be evolved: DAG-FM"),
        (r"{\em Lorentzian} and {\it Marginally consistent}", "Lorentzian and Marginally consistent"),
        ("structures--constituting; benchmarks---spanning", "structures–constituting; benchmarks—spanning"),
        (r"over 40\% on Q\&A", "over 40% on Q&A"),
        ("``skills,'' and `quoted'", "“skills,” and ‘quoted’"),
        (
            r"Franz G\"ahler, Djokovi\'{c}, Mikkel {\O}bro, \v{S}r\'amek",
            "Franz Gähler, Djoković, Mikkel Øbro, Šrámek",
        ),
        ("Testbed~A and 1)~a", "Testbed\u00a0A and 1)\u00a0a"),  # a tie between words: a no-break space
        ("by ~11 points, z~2.56, 84~87%", "by ~11 points, z~2.56, 84~87%"),  # '~' meaning "about" stays
        ("D0 --> K- e+ nue", "D0 → K- e+ nue"),
        (r"({\textsf{UGC}\xspace})", "(UGC)"),
    ],
)
def test_text_mode_macros_become_typography(written: str, shown: str) -> None:
    assert text_mode(written) == shown


@pytest.mark.parametrize(
    "kept",
    [
        r"$\mathcal{O}(n^2) -- \emph{x}$",  # math as written: KaTeX, the API and the feeds read it
        r"$$\sum_i a_i$$ and \(1.26\times\) and \[x--y\]",
        r"costs \$5 and \$10",  # an escaped dollar stays escaped, so KaTeX never pairs it
        r"we propose \ours{}, a method; see \cite{hajac}",  # unknown macros stay as written, never dropped
        "<b>bold</b> & <script>x</script>",  # text, not markup: the templates escape it
        "no macros at all",
    ],
)
def test_text_mode_leaves_math_and_unknown_macros_alone(kept: str) -> None:
    assert text_mode(kept) == kept


def test_math_keeps_its_text_mode_macros_but_the_text_around_it_does_not() -> None:
    assert text_mode(r"\emph{a} $x--y$ -- b") == "a $x--y$ – b"


# -- cards --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "junk",
    [
        "Alves et al",
        "et al",
        "beats GPT-2",
        "unseen user--item pairs---is",
        "NVIDIA H20 GPUs---among",
        "feedback-directed search yields",
        "find Grokking",
        "model - based",
        "2024",
        "-leading",
        "trailing,",
    ],
)
def test_junk_keyphrases_are_not_shown(junk: str) -> None:
    assert card_keyphrases([junk]) == []


def test_card_keyphrases_keep_at_most_three_that_read_as_phrases() -> None:
    keywords = [
        "beats GPT-2",
        "Lotka--Volterra equation",
        "GPT-2",
        "gpt-2",
        "sparse attention",
        "Alves et al",
        "C++",
        "x",
    ]
    assert card_keyphrases(keywords) == ["Lotka–Volterra equation", "GPT-2", "sparse attention"]
    assert reads_as_phrase("state-space models") and reads_as_phrase("C++") and reads_as_phrase("k-NN")


def test_author_lines() -> None:
    five = Paper(
        id="2611.00001", title="T", abstract="A", authors=["A A", "B B", r"C G\"ahler", "D D", "E E"]
    )
    assert author_line(five) == "A A, B B, C Gähler +2"
    assert author_line(Paper(id="2611.00002", title="T", abstract="A", authors=["Solo"])) == "Solo"
    assert author_line(Paper(id="card-1", title="T", abstract="A", authors=[], num_authors=6)) == "6 authors"
    assert author_line(Paper(id="card-2", title="T", abstract="A", authors=[])) == "authors unknown"


def test_vote_links_come_back_to_the_card() -> None:
    assert vote_back("/papers?date=2026-08-20&vote=2611.00001", "2611.00001") == (
        "/papers?date=2026-08-20#paper-2611.00001"
    )
    assert vote_login("/papers?date=2026-08-20", "hep-th/9901001") == (
        "/login?next=%2Fpapers%3Fdate%3D2026-08-20%26vote%3Dhep-th%252F9901001%23paper-hep-th%2F9901001"
    )


# -- comments -----------------------------------------------------------------------------------------------


def test_math_in_comments_is_held_out_of_markdown() -> None:
    html = markdown.render(r"See $a*b$ and $c*d$, $\{x\}$ and **this**; [l](https://e.org/$x$) `$y$`")
    assert r"$a*b$ and $c*d$, $\{x\}$" in html and "<strong>this</strong>" in html and "<em>" not in html
    assert 'href="https://e.org/$x$"' in html and "<code>$y$</code>" in html
    hostile = markdown.render('$"><script>alert(1)</script>$ [a]($javascript:alert(1)$) \ue0000\ue001')
    assert "<script" not in hostile and 'href="$javascript' in hostile and "\ue000" not in hostile


def _page_of(db: Database, **fields: Any) -> Paper:
    return add_papers(db, 1, **fields)[0]


def test_a_refused_comment_shows_beside_its_form(settings: Settings, db: Database) -> None:
    paper = _page_of(db, title="Blank comments refused")
    with https_client(settings) as client:
        sign_up(client, "ada")
        token = csrf_of(client)
        blank = client.post(f"/papers/{paper.id}/comments", data={"csrf": token, "body": "   "})
        assert blank.status_code == 400
        assert '<h1 class="paper-title tex">Blank comments refused</h1>' in blank.text  # the paper page again
        error = re.search(r'<p class="form-error" role="alert" id="comment-error">([^<]*)</p>', blank.text)
        assert error and "a comment needs some text" in error[1]
        assert blank.text.index('id="comment-error"') < blank.text.index('id="comment-body"')
        long_text = "word " * 2100
        too_long = client.post(f"/papers/{paper.id}/comments", data={"csrf": token, "body": long_text})
        assert too_long.status_code == 400 and "at most 10000 characters" in too_long.text
        assert long_text.strip() in too_long.text  # what was typed is still in the box
        # a reply and an edit: the error beside that reply box, that edit box, opened
        made = client.post(f"/papers/{paper.id}/comments", data={"csrf": token, "body": "First"})
        assert made.status_code == 200
        (first,) = comment_store.paper_comments(db, paper.id)
        reply = client.post(
            f"/papers/{paper.id}/comments", data={"csrf": token, "body": "", "parent_id": first.id}
        )
        assert reply.status_code == 400 and f'id="reply-{first.id}-error"' in reply.text
        assert re.search(
            rf'<details class="reply" open><summary>Reply</summary>\s*<form[^>]*>.*?id="reply-{first.id}-error"',
            reply.text,
            re.S,
        )
        edit = client.post(f"/comments/{first.id}", data={"csrf": token, "action": "edit", "body": " "})
        assert edit.status_code == 400 and f'id="edit-{first.id}-error"' in edit.text
        assert comment_store.comment(db, first.id).body == "First"  # type: ignore[union-attr]
        # the CSRF check and a missing paper are still whole-page refusals
        assert client.post(f"/papers/{paper.id}/comments", data={"body": "x"}).status_code == 403
        assert (
            client.post("/papers/2611.99999/comments", data={"csrf": token, "body": "x"}).status_code == 404
        )


# -- HEAD, robots.txt, favicon.ico --------------------------------------------------------------------------


def _concrete(path: str) -> str:
    return (
        path.replace("{paper_id:path}", "0704.0001").replace("{collection_id:rowid}", "1")
        .replace("{name}", "nobody").replace("{token}", "x")
    )  # fmt: skip


def test_every_get_answers_head_without_a_body(client: TestClient) -> None:
    for method, path, _, _ in ROUTES:
        if method != "GET":
            continue
        url = _concrete(path)
        got, head = client.get(url, follow_redirects=False), client.head(url, follow_redirects=False)
        assert head.status_code == got.status_code != 405, url
        assert head.content == b"", url
        assert head.headers.get("content-type") == got.headers.get("content-type"), url
    assert client.head("/nowhere").status_code == 404
    assert client.head("/").headers["content-length"] == str(len(client.get("/").content))
    # HEAD is no operation of its own in the API's documentation
    assert all("head" not in ops for ops in client.get("/openapi.json").json()["paths"].values())


def test_robots_txt_and_favicon(client: TestClient) -> None:
    robots = client.get("/robots.txt")
    assert robots.status_code == 200 and robots.headers["content-type"].startswith("text/plain")
    lines = robots.text.splitlines()
    assert "User-agent: *" in lines and "Allow: /" in lines
    for private in ("/api/", "/login", "/signup", "/submit", "/admin/", "/search"):
        assert f"Disallow: {private}" in lines
    assert not any(line in ("Disallow: /", "Disallow: /papers") for line in lines)
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/vnd.microsoft.icon"
    assert icon.content[:4] == b"\x00\x00\x01\x00" and icon.content[4] == 3  # an ICO with three sizes
    assert client.get("/nowhere").headers["content-type"].startswith("text/html")  # styled, not JSON


# -- the subscribe box and what a cached page may carry -----------------------------------------------------


def _mail(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"smtp_url": SecretStr("smtp://127.0.0.1:9"), "secret_key": SecretStr("k" * 32)}
    )


def test_the_feed_offers_a_subscription_without_per_visitor_data(settings: Settings, db: Database) -> None:
    add_papers(db, 2)
    with https_client(_mail(settings)) as client:
        anonymous = client.get("/").text
        assert "Get trending papers in your email inbox!" in anonymous
        box = re.search(
            r'<form class="subscribe-inline" method="get" action="/subscribe">(.*?)</form>', anonymous, re.S
        )
        assert box and 'name="email"' in box[1] and "disabled" not in box[1]
        # nothing that differs between visitors: no CSRF token, no address, no csrf-token meta
        assert 'name="csrf"' not in anonymous and "csrf-token" not in anonymous
        # the GET lands on the real form, prefilled, which carries the token
        page = client.get("/subscribe", params={"email": "reader@example.org"}).text
        assert 'value="reader@example.org"' in page and 'name="csrf"' in page
        sign_up(client, "ada")
        mine = client.get("/").text
        assert re.search(r'<form class="subscribe-inline" method="post" action="/subscribe">', mine)
        assert 'value="ada@example.org"' in mine
        token = client.cookies["__Host-csrf"]
        assert f'<meta name="csrf-token" content="{token}">' in mine  # for site.js's upvotes
        assert 'value="ada@example.org"' in client.get("/subscribe").text


def test_two_visitors_get_the_same_feed_page(settings: Settings, db: Database) -> None:
    """What the page cache relies on, checked with the cache off: two renderings for two visitors (each
    with their own CSRF cookie) are the same bytes."""
    add_papers(db, 3)
    uncached = _mail(settings).model_copy(update={"page_cache_seconds": 0})
    with https_client(uncached) as one, https_client(uncached) as two:
        first, second = one.get("/"), two.get("/")
        assert one.cookies["__Host-csrf"] != two.cookies["__Host-csrf"]
        assert first.text == second.text == one.get("/").text


def test_without_mail_the_forms_say_so_before_anyone_types(settings: Settings, db: Database) -> None:
    add_papers(db, 1)
    for configured, reason in (
        (settings, "PAPERFEED_SMTP_URL"),
        (settings.model_copy(update={"smtp_url": SecretStr("smtp://127.0.0.1:9")}), "PAPERFEED_SECRET_KEY"),
    ):
        with https_client(configured) as client:
            for url in ("/", "/subscribe"):
                page = client.get(url)
                assert page.status_code == 200
                off = re.search(r'<p class="subscribe-off" id="subscribe-off">([^<]*)</p>', page.text)
                assert off and "Email digests are off" in off[1] and reason in off[1]
                assert re.search(r'<input type="email"[^>]*disabled', page.text)
                assert re.search(r'<button class="button primary" type="submit"[^>]*disabled', page.text)


# -- votes ----------------------------------------------------------------------------------------------------


def test_a_vote_asked_for_before_logging_in_waits_for_one_click(settings: Settings, db: Database) -> None:
    paper, other = add_papers(db, 2)
    with https_client(settings) as client:
        sign_up(client, "ada")
        page = client.get("/", params={"vote": paper.id}).text
        form = re.search(
            rf'<form class="votes confirm"[^>]*data-paper-id="{paper.id}">(.*?)</form>', page, re.S
        )
        assert form and "Click ▲ to cast the upvote" in form[1]  # site.js focuses its ▲
        assert f'value="/#paper-{paper.id}"' in form[1]  # back to the card, without vote= this time
        assert page.count("votes confirm") == 1  # only that card asks
        assert "vote-confirm" not in client.get("/").text  # nothing was cast by the GET
        done = client.post(
            f"/papers/{paper.id}/upvote", data={"csrf": csrf_of(client), "back": f"/#paper-{paper.id}"},
            follow_redirects=False,
        )  # fmt: skip
        assert done.status_code == 303 and done.headers["location"] == f"/#paper-{paper.id}"
        assert "votes confirm" not in client.get("/", params={"vote": paper.id}).text  # voted: no question
        assert other.id not in re.findall(r'class="votes[^"]*voted[^"]*"[^>]*data-paper-id="([^"]+)"', page)


# -- KaTeX on every list of cards ---------------------------------------------------------------------------


def test_every_list_of_cards_loads_katex_for_math(settings: Settings, db: Database) -> None:
    now = datetime.now(UTC)
    math_paper = Paper(
        id="2611.00100", title=r"Bounds on $\Lambda_\alpha$", abstract=r"We \emph{show} $x^2$.",
        authors=["Ada Lovelace"], versions=[Version(1, now)], published_at=now,
    )  # fmt: skip
    upsert_papers(db, [math_paper])
    ada = member(db, "ada")
    made = collection_store.create(db, ada.id, "Math", "", True, now)
    collection_store.put_item(db, made.id, math_paper.id, "", now)
    org_id = org_store.create_org(db, "acme", "Acme Labs", ada.id, now)
    org_store.link_paper(db, org_id, math_paper.id)
    with https_client(settings) as client:
        for url in ("/", "/collections/1", "/orgs/acme"):
            page = client.get(url).text
            assert 'src="/static/katex/katex.min.js"' in page, url
            assert "We show $x^2$." in page and r"\emph" not in page, url
        sign_up(client, "bob")
        plain = add_papers(db, 1, title="Plain", abstract="Plain.")[0]
        assert "katex" not in client.get(f"/papers/{plain.id}").text
        client.post(f"/papers/{plain.id}/comments", data={"csrf": csrf_of(client), "body": "So $x_1 = y$."})
        page = client.get(f"/papers/{plain.id}").text
        assert "katex.min.js" in page and '<div class="comment-body tex"><p>So $x_1 = y$.</p>' in page


def test_the_why_trending_panel_names_no_file(client: TestClient) -> None:
    page = client.get("/papers/0704.0005").text
    assert "docs/trending.md" not in page and "Votes and comments raise a paper" in page


# -- the access log ------------------------------------------------------------------------------------------


def test_the_access_log_is_on_unless_turned_off(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    assert Settings().access_log is True
    monkeypatch.setenv("PAPERFEED_ACCESS_LOG", "false")
    assert Settings().access_log is False
    import uvicorn

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: calls.append(kwargs))
    url = f"sqlite:///{tmp_path / 'log.db'}"
    monkeypatch.setenv("PAPERFEED_INDEX_DIR", str(tmp_path / "index"))
    for value, expected in (("false", False), ("true", True)):
        monkeypatch.setenv("PAPERFEED_ACCESS_LOG", value)
        done = CliRunner().invoke(main, ["--database", url, "serve", "--port", "8123"])
        assert done.exit_code == 0, done.output
        assert calls[-1]["access_log"] is expected and calls[-1]["port"] == 8123
