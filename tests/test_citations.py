"""Citations (issue 15, item 3): Highwire meta tags on paper pages, and BibTeX, RIS and CSL-JSON for a paper,
a collection and a search, each parsed by a well-kept parser (bibtexparser, rispy, citeproc-py) and
checked against the bundled data (0704.0001 has a journal reference and a DOI; 2607.07386 has neither)."""

from __future__ import annotations

import json
from html.parser import HTMLParser

import bibtexparser
import rispy
from citeproc import Citation, CitationItem, CitationStylesBibliography, CitationStylesStyle, formatter
from citeproc.source.json import CiteProcJSON
from fastapi.testclient import TestClient

from paperfeed.citations import split_name
from paperfeed.settings import Settings
from paperfeed.storage import Database
from tests.community import add_papers, https_client, member, token_for
from tests.conftest import RECENT, SNAPSHOT


def _record(path: object, paper_id: str) -> dict[str, object]:
    for line in path.read_text().splitlines():  # type: ignore[attr-defined]
        record = json.loads(line)
        if record["id"] == paper_id:
            return record  # type: ignore[no-any-return]
    raise KeyError(paper_id)


class _Meta(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "meta" and (found.get("name") or "").startswith("citation_"):
            self.tags.append((found["name"] or "", found.get("content") or ""))


def test_highwire_meta_tags(client: TestClient) -> None:
    source = _record(SNAPSHOT, "0704.0001")
    scan = _Meta()
    scan.feed(client.get("/papers/0704.0001").text)
    tags = dict(scan.tags)
    assert tags["citation_title"] == " ".join(str(source["title"]).split())
    assert [v for k, v in scan.tags if k == "citation_author"] == [
        "C. Balázs",
        "E. L. Berger",
        "P. M. Nadolsky",
        "C. -P. Yuan",
    ]
    assert tags["citation_doi"] == source["doi"] and tags["citation_journal_title"] == source["journal-ref"]
    assert (
        tags["citation_pdf_url"] == "https://arxiv.org/pdf/0704.0001"
        and tags["citation_arxiv_id"] == "0704.0001"
    )
    assert tags["citation_date"] == "2007/04/02"


def test_bibtex_prefers_the_journal_and_doi(client: TestClient) -> None:
    journal = bibtexparser.parse_string(client.get("/papers/0704.0001.bib").text)
    assert not journal.failed_blocks
    (entry,) = journal.entries
    assert entry.entry_type == "article" and entry["doi"] == "10.1103/PhysRevD.76.013009"
    assert entry["journal"] == "Phys.Rev.D76:013009,2007" and entry["eprint"] == "0704.0001"
    preprint = bibtexparser.parse_string(client.get("/papers/2607.07386.bib").text)
    (entry,) = preprint.entries
    assert entry.entry_type == "misc" and entry.key == "cabannes2026sparse"
    assert (entry["eprint"], entry["archivePrefix"], entry["primaryClass"]) == (
        "2607.07386",
        "arXiv",
        "cs.LG",
    )
    source = _record(RECENT, "2607.07386")
    assert entry["author"].split(" and ") == [a.strip() for a in str(source["authors"]).split(",")]
    assert entry["title"] == "{Sparse Delta Memory: Scaling the State of Linear RNNs through Sparsity}"


def test_hostile_titles_stay_valid_bibtex(settings: Settings, db: Database) -> None:
    add_papers(
        db, 1, title="Loss of 50% & {unbalanced #1 in $x_1$ _ok_", authors=["A. B", "van der Waals, J."]
    )
    with https_client(settings) as client:
        library = bibtexparser.parse_string(client.get("/papers/2611.00000.bib").text)
    assert not library.failed_blocks
    (entry,) = library.entries
    assert entry["title"] == "{Loss of 50\\% \\& unbalanced \\#1 in $x_1$ \\_ok\\_}"
    assert split_name("Ludwig van der Waals") == ("van der Waals", "Ludwig")


def test_ris(client: TestClient) -> None:
    (entry,) = rispy.loads(client.get("/papers/0704.0001.ris").text)
    assert entry["type_of_reference"] == "JOUR" and entry["doi"] == "10.1103/PhysRevD.76.013009"
    assert entry["authors"][0] == "Balázs, C." and entry["year"] == "2007"
    assert entry["journal_name"] == "Phys.Rev.D76:013009,2007"
    (preprint,) = rispy.loads(client.get("/papers/2607.07386.ris").text)
    assert preprint["type_of_reference"] == "UNPB" and preprint["publisher"] == "arXiv"
    assert preprint["urls"] == ["https://arxiv.org/abs/2607.07386"] and len(preprint["authors"]) == 9


def _formatted(items: list[dict[str, object]]) -> list[str]:
    style = CitationStylesStyle("harvard-cite-them-right", validate=False)
    bibliography = CitationStylesBibliography(style, CiteProcJSON(items), formatter.plain)
    for item in items:
        bibliography.register(Citation([CitationItem(str(item["id"]).lower())]))
    return [str(entry) for entry in bibliography.bibliography()]


def test_csl_json_formats_with_a_csl_processor(client: TestClient) -> None:
    response = client.get("/papers/0704.0001.json")
    assert response.headers["content-type"].startswith("application/vnd.citationstyles.csl+json")
    items = response.json()
    assert items[0]["DOI"] == "10.1103/PhysRevD.76.013009" and items[0]["type"] == "article-journal"
    (text,) = _formatted(items)
    assert text.startswith("Balázs, C.") and "2007" in text and "Phys.Rev.D76:013009,2007" in text
    # The JSON API of the same paper is still the HF shape.
    assert client.get("/api/papers/0704.0001").json()["id"] == "0704.0001"


def test_collections_and_searches_export_every_paper(
    client: TestClient, settings: Settings, db: Database
) -> None:
    found = bibtexparser.parse_string(client.get("/search.bib?q=linear+attention").text)
    listed = client.get("/api/papers/search?q=linear+attention").json()
    assert [e["eprint"] for e in found.entries] == [i["paper"]["id"] for i in listed]
    assert len(rispy.loads(client.get("/search.ris?q=linear+attention").text)) == len(listed)
    assert client.get("/search.json").json() == []
    # the page's relevance floor holds here too
    assert client.get("/search.json?q=zzqxjv+flurble").json() == []

    add_papers(db, 2)
    ada = member(db, "ada")
    with https_client(settings) as own:
        made = own.post("/api/collections", json={"name": "reading"}, headers=token_for(db, ada)).json()
        for paper_id in ("2611.00000", "2611.00001"):
            own.post(
                f"/api/collections/{made['id']}/items", json={"paperId": paper_id}, headers=token_for(db, ada)
            )
        assert own.get(f"/collections/{made['id']}.bib").status_code == 404  # private: not for a visitor
        library = own.get(f"/collections/{made['id']}.json", headers=token_for(db, ada)).json()
        assert sorted(i["number"] for i in library) == ["2611.00000", "2611.00001"]
        assert len(_formatted(library)) == 2
