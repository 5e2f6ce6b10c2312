"""Full text (issue 15, item 2): arXiv's HTML rendering turned into Markdown (a real page's excerpt,
tests/fixtures/arxiv-html/), the ``fulltext`` job against a local server replaying arXiv (ETags and 304s,
404s, 429 with Retry-After, a page cut short, a page that is no paper, no server at all), the pace it
shares with every other arXiv request, the code link a full text names, the thumbnail (stored, resized,
served, on a card, in the API), ``/papers/{id}.md`` and ``Accept: text/markdown`` read by
``huggingface_hub``'s ``read_paper``, and full-text search as a setting."""

from __future__ import annotations

import io
import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from huggingface_hub import HfApi
from PIL import Image, ImageDraw

from paperfeed import latexml, outbound
from paperfeed.fulltext import Schedule, fetch_due
from paperfeed.ingest.http import PoliteClient
from paperfeed.search.keyword import KeywordIndex
from paperfeed.settings import Settings
from paperfeed.storage import Database, open_database
from paperfeed.storage import fulltext as store
from paperfeed.storage import links as link_store
from paperfeed.storage import papers as paper_store
from tests.arxiv_replay import ReplayServer, Reply
from tests.community import add_papers, https_client, run_job
from tests.conftest import LiveServer, make_settings

PAGES = Path(__file__).resolve().parent / "fixtures" / "arxiv-html"
PAGE = (PAGES / "2609.01222v2.html").read_text(encoding="utf-8")
NOW = datetime(2026, 8, 21, 12, 0, tzinfo=UTC)
SCHEDULE = Schedule(refresh=30 * 86400.0, missing_retry=7 * 86400.0)
FIGURE_PATH = "/html/2609.01222v2/x1.png"  # where the page's <base> and <img src="x1.png"> point


def _html(body: str, status: int = 200, **headers: str) -> Reply:
    return Reply(body.encode(), status, headers, "text/html; charset=utf-8")


def _figure_png(size: tuple[int, int] = (952, 804)) -> bytes:
    """A figure as arXiv serves one: a PNG with transparency, larger than any card."""
    image = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rectangle((40, 40, size[0] - 40, size[1] - 40), outline=(20, 60, 160, 255), width=12)
    draw.line((40, 40, size[0] - 40, size[1] - 40), fill=(200, 30, 30, 255), width=8)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def arxiv() -> Iterator[ReplayServer]:
    with ReplayServer() as server:
        yield server


def _fetch(db: Database, server: ReplayServer, now: datetime, batch: int = 10) -> object:
    with PoliteClient(interval=0.0, retries=0, timeout=5) as client:
        return fetch_due(db, client, f"{server.url}/html/", SCHEDULE, batch, None, now)


def _hits(server: ReplayServer, path: str) -> list[dict[str, str]]:
    return [h.headers for h in server.log if h.path == path]


# -- HTML → Markdown -----------------------------------------------------------------------------------


def test_a_real_page_becomes_markdown_with_sections_latex_captions_and_references() -> None:
    converted = latexml.convert(PAGE, "https://arxiv.org/html/2609.01222v2")
    md = converted.markdown
    assert converted.complete
    # Sections and subsections, in order, with their numbers; title, authors, abstract and the page's
    # chrome (table of contents, infobox, logo) are left to paperfeed's own header.
    headings = [line for line in md.splitlines() if line.startswith("#")]
    assert headings == [
        "## I Introduction",
        "## III Context Privilege Escalations in LLM Agents",
        "### III-A Modeling Agent Context Assembly",
        "## References",
    ]
    for absent in (
        "Table of Contents",
        "License: CC BY 4.0",
        "Zichuan Li",
        "LaTeXML",
        "Cited by",
        "Abstract",
    ):
        assert absent not in md
    # Math from alttext: inline as $…$, display and equation tables as $$…$$ (numbered with \tag).
    assert r"An LLM agent $\mathcal{A}=\{\mathcal{M},\mathcal{T},\mathcal{C}\}$ usually involves" in md
    assert "$i>0$" in md  # the alttext's '>' as written (it is not HTML in Markdown math)
    assert r"$$T_{i} =M(\mathcal{C}_{i};\ \mathcal{T}),$$" in md  # an align row, \displaystyle dropped
    assert r"$$\mathcal{S}=\{S_{1},S_{2},\ldots,S_{n}\}. \tag{1}$$" in md
    # The figure: its image at arXiv (through the page's <base>), then its caption.
    assert converted.figures == [
        latexml.Figure(
            "https://arxiv.org/html/2609.01222v2/x1.png", "Fig. 1: An example agent context of Codex CLI"
        )
    ]
    assert "*Fig. 1: An example agent context of Codex CLI*" in md
    # A table, briefly; a footnote in place; emphasis; citations as their numbers.
    assert "| Agent Harness | Version | Language |\n|---|---|---|\n| Cline [19] | 3.77.0 | TypeScript |" in md
    assert "(Footnote: See https://zichuan.li/LLMAgentCPE)" in md
    assert "namely `system`, `developer`" in md and "**A basic model for LLM agents.**" in md
    assert "the harness [1], where" in md
    # References, one per line, with their numbers and links.
    references = md.split("## References\n\n", 1)[1].splitlines()
    assert references[0] == (
        "- [19] Cline (2024) Cline: autonomous coding agent for IDEs. Note: https://github.com/cline/cline"
    )
    assert references[2].endswith("External Links: 2302.12173, [Link](https://arxiv.org/abs/2302.12173)")


def test_a_page_cut_short_is_read_as_far_as_it_goes_and_a_page_without_a_paper_is_refused() -> None:
    cut = latexml.convert((PAGES / "truncated.html").read_text(), "https://arxiv.org/html/2609.01222v2")
    assert not cut.complete
    assert cut.markdown.startswith("## I Introduction") and "<span" not in cut.markdown
    with pytest.raises(latexml.NotLatexml):
        latexml.convert((PAGES / "not-latexml.html").read_text(), "https://arxiv.org/html/2609.01222v2")


def test_run_in_titles_and_listings() -> None:
    # Written for this test in LaTeXML's shapes (\\paragraph, a theorem, an algorithm's listing): the
    # recorded page has none of them.
    html = """<article class="ltx_document">
<section class="ltx_paragraph"><h4 class="ltx_title ltx_title_paragraph">Setup.</h4>
<div class="ltx_para"><p class="ltx_p">We train for <math alttext="10^{4}" display="inline"></math> steps.</p></div>
</section><div class="ltx_theorem ltx_theorem_theorem"><h6 class="ltx_title ltx_runin ltx_title_theorem">
<span class="ltx_tag ltx_tag_theorem"><span class="ltx_text ltx_font_bold">Theorem 1</span></span>.</h6>
<div class="ltx_para"><p class="ltx_p">Every bounded sequence converges along a subsequence.</p></div></div>
<figure class="ltx_float ltx_float_algorithm"><figcaption class="ltx_caption">Algorithm 1 Training</figcaption>
<div class="ltx_listing"><div class="ltx_listingline">1: for <math alttext="t=1" display="inline"></math> do</div>
<div class="ltx_listingline">2: update <math alttext="\\theta" display="inline"></math></div></div></figure></article>"""
    md = latexml.convert(html, "https://arxiv.org/html/2601.00001v1").markdown
    assert md.startswith("**Setup.**\n\nWe train for $10^{4}$ steps.\n\n**Theorem 1.**\n\nEvery bounded")
    assert "Algorithm 1 Training\n\n```\n1: for $t=1$ do\n2: update $\\theta$\n```" in md


# -- the fulltext job -----------------------------------------------------------------------------------


def test_the_job_fetches_converts_and_asks_again_politely(db: Database, arxiv: ReplayServer) -> None:
    ok, gone, broken = add_papers(db, 3)
    arxiv.route([_html(PAGE, ETag='"v2-abc"', **{"Last-Modified": "Wed, 02 Sep 2026 10:00:00 GMT"}),
                 Reply(b"", 304)], at=f"/html/{ok.id}v1")  # fmt: skip
    arxiv.route(_html("<html><body>No HTML for this paper.</body></html>", 404), at=f"/html/{gone.id}v1")
    arxiv.route(_html((PAGES / "not-latexml.html").read_text()), at=f"/html/{broken.id}v1")
    arxiv.route(Reply(_figure_png(), content_type="image/png"), at=FIGURE_PATH)

    report = _fetch(db, arxiv, NOW)
    assert report.summary() == "1 fetched, 0 unchanged, 1 without HTML, 1 malformed, 1 thumbnails"
    text = store.full_text(db, ok.id)
    assert text is not None and (text.status, text.version) == ("ok", 1)
    assert text.markdown is not None and "## III Context Privilege Escalations in LLM Agents" in text.markdown
    assert text.figures[0]["url"] == arxiv.url + FIGURE_PATH
    missing, malformed = store.full_text(db, gone.id), store.full_text(db, broken.id)
    assert missing is not None and missing.status == "none" and missing.markdown is None
    assert malformed is not None and malformed.status == "malformed"
    assert malformed.message and "no LaTeXML document" in malformed.message

    # The thumbnail: fetched once, made small (the figure's proportions kept), stored as WebP.
    thumb = store.thumbnail(db, ok.id)
    assert thumb is not None and thumb.media_type == "image/webp"
    assert (thumb.width, thumb.height) == (213, 180)
    assert Image.open(io.BytesIO(thumb.image)).format == "WEBP"

    # Nothing is due before its time: a second run asks arXiv nothing.
    before = len(arxiv.log)
    assert (
        _fetch(db, arxiv, NOW + timedelta(days=1)).summary().startswith("0 fetched, 0 unchanged, 0 without")
    )
    assert len(arxiv.log) == before

    # A month later: a conditional request (304 keeps the text), and the others asked again.
    report = _fetch(db, arxiv, NOW + timedelta(days=31))
    assert (report.unchanged, report.missing, report.malformed) == (1, 1, 1)
    second = _hits(arxiv, f"/html/{ok.id}v1")[-1]
    assert second["If-None-Match"] == '"v2-abc"'
    assert second["If-Modified-Since"] == "Wed, 02 Sep 2026 10:00:00 GMT"
    kept = store.full_text(db, ok.id)
    assert kept is not None and kept.markdown == text.markdown and kept.status == "ok"
    assert len(_hits(arxiv, FIGURE_PATH)) == 1  # the thumbnail stands

    # A new arXiv version is fetched at once, without the old version's validators.
    newer = paper_store.paper(db, ok.id)
    assert newer is not None
    newer.version, newer.abstract = 2, newer.abstract + " Revised."
    paper_store.upsert_papers(db, [newer])
    arxiv.route([Reply(drop=True), _html(PAGE)], at=f"/html/{ok.id}v2")
    assert _fetch(db, arxiv, NOW + timedelta(days=32)).unreachable  # no answer: tried again after a minute
    assert store.due(db, NOW + timedelta(days=32, seconds=30), 10) == []
    assert _fetch(db, arxiv, NOW + timedelta(days=32, minutes=2)).fetched == 1
    assert "If-None-Match" not in _hits(arxiv, f"/html/{ok.id}v2")[-1]


def test_a_page_too_deep_to_read_is_recorded_not_raised(db: Database, arxiv: ReplayServer) -> None:
    (paper,) = add_papers(db, 1)
    deep = '<article class="ltx_document"><p class="ltx_p">' + "<span>" * 5000 + "x" + "</span>" * 5000
    arxiv.route(_html(deep + "</p></article>"), at=f"/html/{paper.id}v1")
    assert _fetch(db, arxiv, NOW).malformed == 1
    found = store.full_text(db, paper.id)
    assert found is not None and found.status == "malformed" and "RecursionError" in (found.message or "")


@pytest.mark.parametrize(
    ("status", "retry_after"),
    [(429, "120"), (503, format_datetime(NOW + timedelta(seconds=120), usegmt=True))],
)
def test_a_429_or_503_with_retry_after_leaves_arxiv_alone_until_then(
    db: Database, arxiv: ReplayServer, status: int, retry_after: str
) -> None:
    first, second = add_papers(db, 2)
    busy = _html("Busy", status, **{"Retry-After": retry_after})
    arxiv.route([busy, _html(PAGE)], at=f"/html/{second.id}v1")
    arxiv.route(_html(PAGE), at=f"/html/{first.id}v1")
    report = _fetch(db, arxiv, NOW)
    assert report.paused_until == NOW + timedelta(seconds=120) and report.fetched == 0  # newest first
    waiting = store.full_text(db, second.id)
    assert waiting is not None and waiting.status == "failed" and str(status) in (waiting.message or "")
    asked = len(arxiv.log)
    assert _fetch(db, arxiv, NOW + timedelta(seconds=60)).paused_until is not None
    assert len(arxiv.log) == asked  # no request while paused
    assert _fetch(db, arxiv, NOW + timedelta(seconds=121)).fetched == 2


def test_a_dropped_run_resumes_with_what_it_had_not_finished(db: Database, arxiv: ReplayServer) -> None:
    # What a kill mid-run leaves, short of a kill: each paper's outcome is its own transaction, so the
    # papers answered stay done and the one without an answer is asked for again.
    later, dropped, done = add_papers(db, 3)  # asked newest first: done, dropped, later
    arxiv.route(_html(PAGE), at=f"/html/{done.id}v1")
    arxiv.route([Reply(drop=True), _html(PAGE)], at=f"/html/{dropped.id}v1")
    arxiv.route(_html(PAGE), at=f"/html/{later.id}v1")
    arxiv.route(Reply(_figure_png(), content_type="image/png"), at=FIGURE_PATH)
    report = _fetch(db, arxiv, NOW)
    assert report.fetched == 1 and report.unreachable  # the newest first, then no answer: the run stops
    assert [h.path for h in arxiv.log if h.path.startswith("/html/2611")] == [
        f"/html/{done.id}v1", f"/html/{dropped.id}v1"
    ]  # fmt: skip
    failed = store.full_text(db, dropped.id)
    assert failed is not None and (failed.status, failed.markdown) == ("failed", None)
    assert store.full_text(db, later.id) is None
    report = _fetch(db, arxiv, NOW + timedelta(minutes=2))  # after the first backoff (a minute)
    assert report.fetched == 2 and not report.unreachable
    assert {store.full_text(db, p.id).status for p in (done, dropped, later)} == {"ok"}  # type: ignore[union-attr]


def test_a_worker_killed_mid_request_loses_nothing_and_repeats_nothing(
    tmp_path: Path, arxiv: ReplayServer
) -> None:
    settings = make_settings(
        tmp_path, lease_seconds=2.0, worker_poll_seconds=0.1, fulltext_days=0,
        arxiv_html_url=f"{arxiv.url}/html/", arxiv_request_interval=0.05,
    )  # fmt: skip
    db = open_database(settings.database_url)
    later, held, first = add_papers(db, 3)  # asked newest first: first, held, later
    release = threading.Event()
    arxiv.route(_html(PAGE), at=f"/html/{first.id}v1")
    arxiv.route([Reply(hold=release), _html(PAGE)], at=f"/html/{held.id}v1")
    arxiv.route(_html(PAGE), at=f"/html/{later.id}v1")
    arxiv.route(Reply(_figure_png(), content_type="image/png"), at=FIGURE_PATH)
    command = [sys.executable, "-m", "paperfeed.cli", "worker", "--job", "fulltext"]
    env = os.environ | settings.environment()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        arxiv.wait_for(lambda h: h.path == f"/html/{held.id}v1", timeout=60)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    release.set()
    assert store.full_text(db, first.id).status == "ok"  # type: ignore[union-attr]
    assert store.full_text(db, held.id) is None and store.full_text(db, later.id) is None
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while store.full_text(db, later.id) is None:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the next worker did not finish the run"
            time.sleep(0.1)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)
    assert {store.full_text(db, p.id).status for p in (first, held, later)} == {"ok"}  # type: ignore[union-attr]
    asked = Counter(h.path for h in arxiv.log if h.path.startswith("/html/2611"))
    assert asked == {f"/html/{first.id}v1": 1, f"/html/{held.id}v1": 2, f"/html/{later.id}v1": 1}
    db.close()


def test_a_timeout_is_a_failed_try_and_the_paper_waits(db: Database, arxiv: ReplayServer) -> None:
    (paper,) = add_papers(db, 1)
    release = threading.Event()
    arxiv.route([Reply(hold=release), _html(PAGE)], at=f"/html/{paper.id}v1")
    with PoliteClient(interval=0.0, retries=0, timeout=0.5) as client:
        report = fetch_due(db, client, f"{arxiv.url}/html/", SCHEDULE, 10, None, NOW)
    release.set()
    assert report.unreachable and "ReadTimeout" in report.unreachable
    failed = store.full_text(db, paper.id)
    assert failed is not None and failed.status == "failed" and "unreachable" in (failed.message or "")
    assert store.due(db, NOW + timedelta(seconds=30), 10) == []  # a minute's wait after a first failure
    assert _fetch(db, arxiv, NOW + timedelta(minutes=2)).fetched == 1


def test_offline_the_job_fails_in_one_line_and_the_papers_wait(settings: Settings, db: Database) -> None:
    add_papers(db, 2)
    offline = settings.model_copy(
        update={"arxiv_html_url": "http://127.0.0.1:9/html/", "outbound_timeout": 2.0, "fulltext_days": 0}
    )
    with pytest.raises(RuntimeError, match="arXiv could not be reached"):
        run_job(db, offline, "fulltext")
    assert store.due(db, datetime.now(UTC), 10) == [
        store.Due("2611.00000", 1)
    ]  # the other waits its backoff; this one was never asked


def test_links_in_the_full_text_fill_in_only_what_nobody_set(db: Database, arxiv: ReplayServer) -> None:
    named = PAGE.replace(
        "against all 12 high-profile agents we studied.",
        "against all 12 high-profile agents we studied. Our code is available at "
        '<a href="https://github.com/zichuan-li/CoRA" class="ltx_ref ltx_url">https://github.com/zichuan-li/CoRA</a>.',
    )
    plain, linked = add_papers(db, 1), add_papers(db, 1, id="2611.00009", abstract="Code: github.com/a/b.")
    arxiv.route(_html(named), at=f"/html/{plain[0].id}v1")
    arxiv.route(_html(named), at=f"/html/{linked[0].id}v1")
    _fetch(db, arxiv, NOW)
    found = paper_store.paper(db, plain[0].id)
    assert (
        found is not None
        and found.code is not None
        and found.code.repo == "https://github.com/zichuan-li/CoRA"
    )
    kept = paper_store.paper(db, linked[0].id)
    assert kept is not None and kept.code is not None and kept.code.repo == "https://github.com/a/b"
    # The page as arXiv has it names repositories only in its references: none is taken for its code.
    assert latexml.convert(PAGE, "https://arxiv.org/html/x").markdown.count("github.com") == 2
    assert link_store.due_repos(db, NOW + timedelta(days=1), 10)  # the new repository's stars are read


def test_arxiv_requests_share_one_pace_across_clients(
    settings: Settings, db: Database, arxiv: ReplayServer
) -> None:
    # Two jobs' clients (the harvest's and the full text's, say), each with its own connection: their
    # requests still start the interval apart, since each takes its turn from the database.
    paced = settings.model_copy(update={"arxiv_request_interval": 0.3})
    arxiv.route(_html("ok"), at="/x")
    with outbound.client(paced, "arxiv", db) as one, outbound.client(paced, "arxiv", db) as two:
        for client in (one, two, one, two):
            client.get(f"{arxiv.url}/x")
    starts = [h.at for h in arxiv.log]
    assert len({h.client_port for h in arxiv.log}) == 2
    # Measured at the server: a request's arrival trails its start by a few ms, more for a new connection.
    assert min(b - a for a, b in itertools.pairwise(starts)) >= 0.25
    assert starts[-1] - starts[0] >= 0.85


# -- serving it -------------------------------------------------------------------------------------------


def test_markdown_thumbnail_card_and_api(settings: Settings, db: Database, arxiv: ReplayServer) -> None:
    ok, bare = add_papers(db, 2)
    arxiv.route(_html(PAGE), at=f"/html/{ok.id}v1")
    arxiv.route(_html("", 404), at=f"/html/{bare.id}v1")
    arxiv.route(Reply(_figure_png(), content_type="image/png"), at=FIGURE_PATH)
    _fetch(db, arxiv, NOW)
    with https_client(settings) as client:
        md = client.get(f"/papers/{ok.id}.md")
        assert md.status_code == 200 and md.headers["content-type"].startswith("text/markdown")
        assert md.text.startswith("# Paper number 0") and "## Abstract" in md.text
        assert (
            md.text.index("## Abstract") < md.text.index("## I Introduction") < md.text.index("## References")
        )
        negotiated = client.get(f"/papers/{ok.id}", headers={"Accept": "text/markdown"})
        assert negotiated.text == md.text
        assert f'href="/papers/{ok.id}.md">Full text as Markdown</a>' in client.get(f"/papers/{ok.id}").text
        assert f'href="/papers/{bare.id}.md">Markdown</a>' in client.get(f"/papers/{bare.id}").text
        only = client.get(f"/papers/{bare.id}.md").text
        assert "## Abstract" in only and "Abstract only" in only and "## References" not in only

        day = paper_store.paper(db, ok.id).feed_day  # type: ignore[union-attr]
        item = next(
            i for i in client.get(f"/api/daily_papers?date={day}").json() if i["paper"]["id"] == ok.id
        )
        assert item["thumbnail"].startswith(f"/papers/{ok.id}/thumbnail.webp?v=")
        assert client.get(f"/api/papers/{ok.id}").json()["mediaUrls"] == [item["thumbnail"]]
        assert "mediaUrls" not in client.get(f"/api/papers/{bare.id}").json()
        image = client.get(item["thumbnail"])
        assert image.status_code == 200 and image.headers["content-type"] == "image/webp"
        assert Image.open(io.BytesIO(image.content)).size == (213, 180)
        assert client.get(f"/papers/{bare.id}/thumbnail.webp").status_code == 404

        page = client.get(f"/papers?date={day}").text
        assert (
            f'<img class="card-thumb" src="{item["thumbnail"]}" alt="Fig. 1: An example agent context of '
            'Codex CLI" loading="lazy" decoding="async" width="160" height="90">'
        ) in page.replace("&amp;", "&")


def test_huggingface_hub_reads_the_full_text(settings: Settings, db: Database, arxiv: ReplayServer) -> None:
    (paper,) = add_papers(db, 1)
    arxiv.route(_html(PAGE), at=f"/html/{paper.id}v1")
    _fetch(db, arxiv, NOW)
    with LiveServer(settings) as server:
        text = HfApi(endpoint=server.url).read_paper(paper.id)
    assert "## I Introduction" in text and r"$\mathcal{M}$" in text and "## References" in text


# -- full-text search ---------------------------------------------------------------------------------


def test_full_text_search_is_a_setting(tmp_path: Path, db: Database, arxiv: ReplayServer) -> None:
    (paper,) = add_papers(db, 1)
    arxiv.route(_html(PAGE), at=f"/html/{paper.id}v1")
    _fetch(db, arxiv, NOW)
    plain, full = KeywordIndex(tmp_path / "plain"), KeywordIndex(tmp_path / "full", fulltext=True)
    plain.sync(db), full.sync(db)
    # 'harness' is in the full text only; 'abstract' is in the abstract (and weighs more than the body).
    assert [h.id for h in full.search("harness")] == [paper.id] and plain.search("harness") == []
    assert plain.search("abstract")[0].id == paper.id
    # Turning the setting off rebuilds the index without bodies (a schema of its own).
    again = KeywordIndex(tmp_path / "full")
    again.sync(db)
    assert again.search("harness") == [] and [h.id for h in again.search("abstract")] == [paper.id]
