"""Snapshot and card imports on the bundled real data: fields, versions, bad lines, resume after kill -9."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from paperfeed.arxiv_ids import BadArxivId, parse_arxiv_id
from paperfeed.ingest import reader
from paperfeed.ingest.cards import card_id, ingest_cards
from paperfeed.ingest.normalize import BadRecord, record_id
from paperfeed.ingest.snapshot import ingest_snapshot
from paperfeed.settings import Settings
from paperfeed.storage import Database, open_database
from paperfeed.storage import papers as store
from tests.conftest import CARDS, RECENT, SNAPSHOT, fresh_database_url


def snapshot_lines() -> list[dict]:
    return [json.loads(line) for line in SNAPSHOT.read_text().splitlines()]


@pytest.fixture(params=["one process", "reader process"])
def importer(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each import test twice: in one process, and with the file read by a process of its own (what a
    bulk file gets, ingest/reader.py), whatever the file's size and the CPUs here."""
    if request.param == "reader process":
        monkeypatch.setattr(reader, "PIPELINE_BYTES", -1)
        monkeypatch.setattr(reader, "_cpus", lambda: 8)
    return str(request.param)


def test_snapshot_sample_keeps_every_field(db: Database, importer: str) -> None:
    report = ingest_snapshot(db, SNAPSHOT)
    assert (report.read, report.inserted, report.errors) == (200, 200, [])
    paper = store.paper(db, "0704.0001")
    assert paper is not None
    assert (
        paper.title == "Calculation of prompt diphoton production cross sections at Tevatron and LHC energies"
    )
    assert paper.abstract.startswith(
        "A fully differential calculation in perturbative quantum chromodynamics is presented"
    )
    assert "\n" not in paper.abstract
    assert paper.authors == ["C. Balázs", "E. L. Berger", "P. M. Nadolsky", "C. -P. Yuan"]
    assert paper.categories == ["hep-ph"]
    assert [(v.version, v.created) for v in paper.versions] == [
        (1, datetime(2007, 4, 2, 19, 18, 42, tzinfo=UTC)),
        (2, datetime(2007, 7, 24, 20, 10, 27, tzinfo=UTC)),
    ]
    assert paper.version == 2
    assert paper.published_at == datetime(2007, 4, 2, 19, 18, 42, tzinfo=UTC)
    assert (paper.doi, paper.journal_ref, paper.report_no) == (
        "10.1103/PhysRevD.76.013009",
        "Phys.Rev.D76:013009,2007",
        "ANL-HEP-PR-07-12",
    )
    assert paper.comments == "37 pages, 15 figures; published version"
    assert paper.submitter == "Pavel Nadolsky"
    assert paper.feed_day == date(2007, 4, 2)


def test_latex_is_kept_for_the_browser(db: Database) -> None:
    ingest_snapshot(db, SNAPSHOT)
    with_latex = [r for r in snapshot_lines() if "$" in r["title"]]
    assert with_latex, "the real sample has LaTeX titles"
    paper = store.paper(db, with_latex[0]["id"])
    assert paper is not None and "$" in paper.title
    assert paper.title == " ".join(with_latex[0]["title"].split())


def test_recent_papers_land_on_their_publication_day(db: Database, importer: str) -> None:
    ingest_snapshot(db, RECENT)
    paper = store.paper(db, "2607.07386")
    assert paper is not None and paper.feed_day == date(2026, 7, 8) and len(paper.authors) == 9
    assert store.count_papers(db) == 304


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2607.07386v2", ("2607.07386", 2)),
        ("hep-th/9901001", ("hep-th/9901001", None)),
        ("math.AG/0601001v1", ("math.AG/0601001", 1)),
        ("arXiv:0704.0001", ("0704.0001", None)),
        ("https://arxiv.org/abs/2607.07386", ("2607.07386", None)),
    ],
)
def test_arxiv_ids(raw: str, expected: tuple[str, int | None]) -> None:
    assert parse_arxiv_id(raw) == expected


@pytest.mark.parametrize("raw", ["", "12345", "2607.123", "hep-th/99", "../etc/passwd", "2607.07386vx"])
def test_not_arxiv_ids(raw: str) -> None:
    with pytest.raises(BadArxivId, match="is not an arXiv id"):
        parse_arxiv_id(raw)
    with pytest.raises(BadRecord, match="is not an arXiv id"):  # in a record, it rejects the record
        record_id(raw)


def test_old_style_ids(db: Database, tmp_path: Path) -> None:
    record = snapshot_lines()[0] | {"id": "hep-th/9901001"}
    path = tmp_path / "old.jsonl"
    path.write_text(json.dumps(record) + "\n")
    assert ingest_snapshot(db, path).inserted == 1
    assert store.paper(db, "hep-th/9901001") is not None


def test_newer_version_updates_and_older_changes_nothing(db: Database, tmp_path: Path, importer: str) -> None:
    v2 = snapshot_lines()[0]  # 0704.0001 has v1 and v2
    v1 = v2 | {"versions": v2["versions"][:1], "title": "An old title"}
    v3 = v2 | {
        "versions": [*v2["versions"], {"version": "v3", "created": "Mon, 1 Jun 2009 10:00:00 GMT"}],
        "title": "A newer title",
    }

    def load(record: dict, name: str) -> tuple[int, int, int]:
        path = tmp_path / name
        path.write_text(json.dumps(record) + "\n")
        r = ingest_snapshot(db, path)
        return r.inserted, r.updated, r.unchanged

    assert load(v2, "a.jsonl") == (1, 0, 0)
    assert load(v1, "b.jsonl") == (0, 0, 1)
    assert load(v2, "c.jsonl") == (0, 0, 1)
    paper = store.paper(db, "0704.0001")
    assert paper is not None and paper.version == 2 and paper.title.startswith("Calculation")
    assert load(v3, "d.jsonl") == (0, 1, 0)
    paper = store.paper(db, "0704.0001")
    assert paper is not None and paper.version == 3 and paper.title == "A newer title"
    assert paper.feed_day == date(2007, 4, 2), "a new version does not move a paper in the feed"


def test_bad_lines_are_named_and_good_ones_kept(db: Database, tmp_path: Path, importer: str) -> None:
    lines = [json.dumps(r) for r in snapshot_lines()[:5]]
    lines.insert(1, '{"id": "0704.9999", "title": "broken"')  # line 2: truncated JSON
    lines.insert(3, json.dumps(snapshot_lines()[6] | {"title": None}))  # line 4: missing title
    lines.insert(5, json.dumps(snapshot_lines()[7] | {"id": "not-an-id"}))  # line 6
    lines.insert(6, "[1, 2]")  # line 7: not an object
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(lines) + "\n")
    report = ingest_snapshot(db, path)
    assert report.inserted == 5
    assert report.errors == [
        "mixed.jsonl line 2: broken JSON (unexpected end of data at character 38)",
        f"mixed.jsonl line 4: {snapshot_lines()[6]['id']}: missing field 'title'",
        "mixed.jsonl line 6: 'not-an-id' is not an arXiv id (expected e.g. 2607.01234 or hep-th/9901001)",
        "mixed.jsonl line 7: expected a JSON object, got list",
    ]
    assert store.count_papers(db) == 5


def test_bad_input_loses_nothing_already_stored(db: Database, tmp_path: Path, importer: str) -> None:
    ingest_snapshot(db, RECENT)
    path = tmp_path / "garbage.jsonl"
    path.write_text("not json\n" + json.dumps({"id": "2607.07386", "title": "", "abstract": "x"}) + "\n")
    report = ingest_snapshot(db, path)
    assert len(report.errors) == 2 and report.inserted == 0
    paper = store.paper(db, "2607.07386")
    assert (
        store.count_papers(db) == 304 and paper is not None and paper.title.startswith("Sparse Delta Memory")
    )


def test_gzip_snapshot(db: Database, tmp_path: Path, importer: str) -> None:
    path = tmp_path / "arxiv-metadata-oai-snapshot.json.gz"
    path.write_bytes(gzip.compress(SNAPSHOT.read_bytes()))
    assert ingest_snapshot(db, path).inserted == 200


def test_cards(db: Database, importer: str) -> None:
    now = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    from paperfeed.ingest.cards import paper_from_card
    from paperfeed.ingest.jsonlines import import_file

    report = import_file(db, CARDS, paper_from_card, now=now)
    assert (report.inserted, report.errors) == (50, [])
    first = json.loads(CARDS.read_text().splitlines()[0])
    paper = store.paper(db, card_id(first["title"]))
    assert paper is not None
    assert (paper.upvotes, paper.num_authors, paper.feed_day) == (
        first["upvotes"],
        first["num_authors"],
        date(2026, 11, 24),
    )
    with_org = next(
        json.loads(line) for line in CARDS.read_text().splitlines() if json.loads(line)["organization"]
    )
    org_paper = store.paper(db, card_id(with_org["title"]))
    assert org_paper is not None and org_paper.organization is not None
    assert org_paper.organization.name == with_org["organization"]["name"]
    assert ingest_cards(db, CARDS).unchanged == 50, "ids are stable: a second import changes nothing"


# The command with every file read by a process of its own, as a bulk file is.
_WITH_READER = (
    "from paperfeed.ingest import reader; reader.PIPELINE_BYTES = -1; reader._cpus = lambda: 8; "
    "from paperfeed.cli import main; main()"
)


def _paperfeed(settings: Settings, *args: str, reader: bool = False) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, *(["-c", _WITH_READER] if reader else ["-m", "paperfeed.cli"]), *args],
        env=os.environ | settings.environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _table(db: Database) -> list[tuple]:
    with db.read() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                sa.text(
                    "SELECT id, title, abstract, authors, versions, version, feed_day FROM papers ORDER BY id"
                )
            )
        ]


def _big_file(tmp_path: Path, copies: int = 12) -> tuple[Path, list[dict]]:
    """6,000 real-shaped lines (the real sample, re-numbered), so a kill lands mid-import."""
    base = snapshot_lines() + [json.loads(line) for line in RECENT.read_text().splitlines()]
    rows = [r | {"id": f"0801.{i:05d}"} for i, r in enumerate(base * copies)]
    path = tmp_path / "big.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path, rows


def _readers(pid: int) -> list[int]:
    """The reading processes (ingest/reader.py) process ``pid`` started, still running."""
    found = []
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        for child in children.read_text().split():
            try:
                if b"paperfeed.ingest.reader" in Path(f"/proc/{child}/cmdline").read_bytes():
                    found.append(int(child))
            except FileNotFoundError:
                pass
    return found


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _same_as_one_uninterrupted_import(db: Database, path: Path, tmp_path: Path) -> None:
    (tmp_path / "reference").mkdir()
    reference = open_database(fresh_database_url(tmp_path / "reference"))
    ingest_snapshot(reference, path)
    assert _table(db) == _table(reference)


def test_kill_minus_nine_then_rerun_gives_the_same_end_state(
    settings: Settings, db: Database, tmp_path: Path, importer: str
) -> None:
    path, rows = _big_file(tmp_path)
    with_reader = importer == "reader process"
    proc = _paperfeed(settings, "ingest", "snapshot", str(path), reader=with_reader)
    deadline = time.monotonic() + 60
    while store.count_papers(db) < 2000:  # at least one batch committed
        assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        time.sleep(0.01)
    readers = _readers(proc.pid)
    assert len(readers) == int(with_reader)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert store.count_papers(db) < len(rows), "killed before the end"
    deadline = time.monotonic() + 10
    while any(_running(pid) for pid in readers):  # its next write to the pipe fails: it exits
        assert time.monotonic() < deadline, "the reading process outlived the importer"
        time.sleep(0.01)

    rerun = _paperfeed(settings, "ingest", "snapshot", str(path), reader=with_reader)
    out, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err
    assert store.count_papers(db) == len(rows)
    resumed_from = int(out.decode().split("read ")[1].split(",")[0])
    assert 0 < resumed_from <= len(rows) - 2000, "the rerun skipped the batches committed before the kill"
    _same_as_one_uninterrupted_import(db, path, tmp_path)


def test_the_reading_process_killed_stops_the_import_with_a_message(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    """Batches of 2,000 lines are megabytes, more than the pipe holds: while the importer stores one, the
    reader waits to send the next, and is killed there. The import stops, naming why, with what it
    stored kept; the same command continues."""
    path, rows = _big_file(tmp_path)
    proc = _paperfeed(settings, "ingest", "snapshot", str(path), reader=True)
    deadline = time.monotonic() + 60
    while store.count_papers(db) < 2000 or not _readers(proc.pid):
        assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        time.sleep(0.01)
    for pid in _readers(proc.pid):
        os.kill(pid, signal.SIGKILL)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, (out, err)
    assert err.decode().splitlines()[-1] == (
        "error: the process reading big.jsonl stopped (killed by SIGKILL) before the end of the file; "
        "the papers stored before are kept: run the same command again to continue"
    )
    assert 2000 <= store.count_papers(db) < len(rows)

    rerun = _paperfeed(settings, "ingest", "snapshot", str(path), reader=True)
    _, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err
    _same_as_one_uninterrupted_import(db, path, tmp_path)


def test_one_cpu_reads_in_one_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setattr(os, "process_cpu_count", lambda: 2, raising=False)
    assert reader.worth_it(reader.PIPELINE_BYTES + 1)
    assert not reader.worth_it(reader.PIPELINE_BYTES), "a small file: one process"
    assert not reader.worth_it(reader.PIPELINE_BYTES + 1, busy=1), (
        "tantivy (or PostgreSQL) has the other core"
    )
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2}, raising=False)
    monkeypatch.setattr(os, "process_cpu_count", lambda: 3, raising=False)
    assert reader.worth_it(reader.PIPELINE_BYTES + 1, busy=1)
    assert not reader.worth_it(reader.PIPELINE_BYTES + 1, busy=2), "tantivy and a PostgreSQL server"
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)
    monkeypatch.setattr(os, "process_cpu_count", lambda: 1, raising=False)
    assert not reader.worth_it(10 * reader.PIPELINE_BYTES)


_IMPORT_WITH_INDEX = """
import sys
from pathlib import Path
from paperfeed.ingest.snapshot import ingest_snapshot
from paperfeed.search import keyword
from paperfeed.storage import open_database
keyword._ALONGSIDE_COMMIT_EVERY = 1000  # commit the index often, so a kill finds part of it committed
db = open_database(sys.argv[1])
index = keyword.KeywordIndex(Path(sys.argv[2]))
with index.alongside(db) as stored:
    report = ingest_snapshot(db, Path(sys.argv[3]), stored=stored)
print("read", report.read, "indexed", len(index))
"""


def test_kill_minus_nine_while_indexing_alongside(settings: Settings, db: Database, tmp_path: Path) -> None:
    """The keyword index built from each batch, as a large `ingest snapshot` does: after a kill -9 and a
    rerun it holds every paper once, as a sync from the database would."""
    from paperfeed.search.keyword import KeywordIndex

    base = snapshot_lines() + [json.loads(line) for line in RECENT.read_text().splitlines()]
    rows = [r | {"id": f"0801.{i:05d}"} for i, r in enumerate(base * 12)]
    path = tmp_path / "big.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    index_dir = Path(settings.index_dir)
    command = [sys.executable, "-c", _IMPORT_WITH_INDEX, settings.database_url, str(index_dir), str(path)]

    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while store.count_papers(db) < 3000 or not (index_dir / "paperfeed-state").exists():
        assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert store.count_papers(db) < len(rows), "killed before the end"

    rerun = subprocess.run(command, capture_output=True, timeout=120, check=True)
    assert rerun.stdout.split()[-1] == str(len(rows)).encode()
    index = KeywordIndex(index_dir)
    assert len(index) == len(rows) and index.sync(db) == 0
    rebuilt = KeywordIndex(tmp_path / "rebuilt")
    rebuilt.sync(db)
    for query in ("diphoton", "Sparse Delta Memory", "quantum", "Balázs"):
        assert sorted(h.id for h in index.search(query, 10_000)) == sorted(
            h.id for h in rebuilt.search(query, 10_000)
        ), query


def test_clean_text_is_whitespace_collapsed_and_control_free() -> None:
    """clean_text's fast path for ASCII must give what the plain definition gives, on any input."""
    import random
    import re
    import unicodedata

    from paperfeed.ingest.normalize import clean_text

    def reference(value: str) -> str:
        text = " ".join(unicodedata.normalize("NFC", value).split())
        return re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", "", text)

    rng = random.Random(7)
    alphabet = [chr(c) for c in range(128)] + [" "] * 20 + ["\n"] * 5 + ["é", "\u00a0", "\u2028", "e\u0301"]
    samples = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30))) for _ in range(20_000)]
    samples += ["".join(rng.choice(alphabet) for _ in range(rng.randint(60, 300))) for _ in range(5_000)]
    samples += [r["abstract"] for r in snapshot_lines()] + [r["title"] for r in snapshot_lines()]
    assert [clean_text(s) for s in samples] == [reference(s) for s in samples]


def test_a_bulk_file_is_stored_in_larger_batches_and_resumes_after_the_last(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file over BULK_BYTES goes in BULK_BATCH-line transactions (thresholds shrunk here to fit the
    sample); each records its line, so a rerun after the first two starts at the third."""
    from paperfeed.ingest import jsonlines
    from paperfeed.storage import checkpoints

    monkeypatch.setattr(jsonlines, "BULK_BATCH", 70)
    monkeypatch.setattr(jsonlines, "BULK_BYTES", SNAPSHOT.stat().st_size - 1)
    sizes: list[int] = []
    assert ingest_snapshot(db, SNAPSHOT, stored=lambda counts: sizes.append(counts.inserted)).inserted == 200
    assert sizes == [70, 70, 60]

    monkeypatch.setattr(jsonlines, "BULK_BYTES", SNAPSHOT.stat().st_size)  # not over it: BATCH lines
    path = tmp_path / "same.jsonl"
    path.write_bytes(SNAPSHOT.read_bytes())
    sizes.clear()
    ingest_snapshot(db, path, stored=lambda counts: sizes.append(counts.unchanged))
    assert sizes == [200]

    monkeypatch.setattr(jsonlines, "BULK_BYTES", 0)
    (tmp_path / "fresh").mkdir()
    fresh = open_database(fresh_database_url(tmp_path / "fresh"))
    with fresh.write() as conn:  # as a run killed after its second batch leaves it
        checkpoints.reach_line(conn, jsonlines._source_key(path), 140)
    resumed: list[int] = []
    report = ingest_snapshot(fresh, path, stored=lambda counts: resumed.append(counts.inserted))
    assert (report.read, report.inserted, resumed) == (60, 60, [60])
