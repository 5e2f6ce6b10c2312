"""Citations: papers as BibTeX, RIS and CSL-JSON (what reference managers import), and the Highwire
``citation_*`` meta tags of a paper page (what the Zotero Connector and Google Scholar read). Pure
functions of ``Paper``; the web answers ``/papers/{id}.bib|.ris|.json``, a collection's and a search's.

Where arXiv knows a journal reference and a DOI they are preferred: the entry becomes a journal article
citing them, with the arXiv e-print kept beside them; otherwise it is an arXiv preprint (BibTeX ``@misc``
with ``eprint``/``archivePrefix``/``primaryClass`` as arXiv's own export writes, RIS ``UNPB``, CSL ``article``
published by arXiv).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from typing import Any

from paperfeed.models import Paper

FORMATS = {
    "bib": "application/x-bibtex; charset=utf-8",
    "ris": "application/x-research-info-systems; charset=utf-8",
    "json": "application/vnd.citationstyles.csl+json; charset=utf-8",
}


def _date(paper: Paper) -> datetime | None:
    return paper.published_at or (paper.versions[0].created if paper.versions else None)


def split_name(name: str) -> tuple[str, str]:
    """(family, given) of an author as arXiv lists them ("Loïc Cabannes"; "Cabannes, Loïc")."""
    if "," in name:
        family, _, given = name.partition(",")
        return family.strip(), given.strip()
    parts = name.split()
    if len(parts) < 2:
        return name.strip(), ""
    # Lower-case particles belong to the family name: "Ludwig van der Waals".
    cut = len(parts) - 1
    while cut > 1 and parts[cut - 1][:1].islower():
        cut -= 1
    return " ".join(parts[cut:]), " ".join(parts[:cut])


def _flat(text: str) -> str:
    return " ".join(text.split())


# -- BibTeX -----------------------------------------------------------------------------------------------

_BIB_SPECIAL = re.compile(r"[&%#_]")
_MATH = re.compile(r"(\$[^$]*\$)")


def _bib(text: str) -> str:
    """A field value for braces: &, %, #, _ escaped outside math, and braces dropped when unbalanced."""
    pieces = _MATH.split(_flat(text))
    out = "".join(
        p if i % 2 else _BIB_SPECIAL.sub(lambda m: "\\" + m.group(0), p) for i, p in enumerate(pieces)
    )
    depth = 0
    for char in out:
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth < 0:
            break
    if depth != 0:
        out = out.replace("{", "").replace("}", "")
    return out


def cite_key(paper: Paper) -> str:
    """``cabannes2026sparse``: first author's family name, year, first word of the title, ASCII only."""
    family = split_name(paper.authors[0])[0] if paper.authors else "anonymous"
    when = _date(paper)
    words = [w for w in re.findall(r"[A-Za-z]+", paper.title) if len(w) > 3] or ["paper"]
    raw = f"{family}{when.year if when else ''}{words[0]}"
    ascii_only = unicodedata.normalize("NFKD", raw).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9]", "", ascii_only).lower() or paper.id.replace("/", "")


def bibtex(papers: list[Paper], base_url: str) -> str:
    entries = []
    keys: dict[str, int] = {}
    for paper in papers:
        key = cite_key(paper)
        keys[key] = keys.get(key, 0) + 1
        if keys[key] > 1:  # two papers of one author, year and word: cabannes2026sparse, …b
            key += chr(ord("a") + keys[key] - 1)
        fields: list[tuple[str, str]] = [("title", "{" + _bib(paper.title) + "}")]
        if paper.authors:
            fields.append(("author", " and ".join(_bib(a) for a in paper.authors)))
        when = _date(paper)
        if when:
            fields += [("year", str(when.year)), ("month", when.strftime("%b").lower())]
        if paper.journal_ref:
            fields.append(("journal", _bib(paper.journal_ref)))
        if paper.doi:
            fields.append(("doi", _bib(paper.doi)))
        if paper.is_arxiv:
            fields += [("eprint", paper.id), ("archivePrefix", "arXiv")]
            if paper.primary_category:
                fields.append(("primaryClass", paper.primary_category))
            fields.append(("url", paper.abs_url or ""))
        else:
            fields.append(("url", f"{base_url.rstrip('/')}/papers/{paper.id}"))
        kind = "article" if paper.journal_ref else "misc"
        body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields)
        entries.append(f"@{kind}{{{key},\n{body}\n}}\n")
    return "\n".join(entries)


# -- RIS --------------------------------------------------------------------------------------------------


def _ris_line(tag: str, value: str) -> str:
    return f"{tag}  - {_flat(value)}"


def ris(papers: list[Paper], base_url: str) -> str:
    lines: list[str] = []
    for paper in papers:
        lines.append(_ris_line("TY", "JOUR" if paper.journal_ref else "UNPB"))
        lines.append(_ris_line("TI", paper.title))
        lines += [_ris_line("AU", "{}, {}".format(*split_name(a)).rstrip(", ")) for a in paper.authors]
        when = _date(paper)
        if when:
            lines += [_ris_line("PY", str(when.year)), _ris_line("DA", when.strftime("%Y/%m/%d"))]
        if paper.journal_ref:
            lines.append(_ris_line("JO", paper.journal_ref))
        else:
            lines.append(_ris_line("PB", "arXiv"))
        if paper.doi:
            lines.append(_ris_line("DO", paper.doi))
        lines.append(_ris_line("UR", paper.abs_url or f"{base_url.rstrip('/')}/papers/{paper.id}"))
        if paper.is_arxiv:
            lines.append(_ris_line("M1", f"arXiv:{paper.id}"))
        lines += [_ris_line("KW", c) for c in paper.categories]
        lines.append(_ris_line("AB", paper.abstract))
        lines.append("ER  - ")
        lines.append("")
    return "\r\n".join(lines)


# -- CSL-JSON -----------------------------------------------------------------------------------------------


def csl(paper: Paper, base_url: str) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": f"arXiv:{paper.id}" if paper.is_arxiv else paper.id,
        "type": "article-journal" if paper.journal_ref else "article",
        "title": _flat(paper.title),
        "author": [
            {"family": f, "given": g} if g else {"literal": f} for f, g in map(split_name, paper.authors)
        ],
        "abstract": _flat(paper.abstract),
        "URL": paper.abs_url or f"{base_url.rstrip('/')}/papers/{paper.id}",
    }
    if when := _date(paper):
        item["issued"] = {"date-parts": [[when.year, when.month, when.day]]}
    if paper.journal_ref:
        item["container-title"] = _flat(paper.journal_ref)
    else:
        item["publisher"] = "arXiv"
    if paper.doi:
        item["DOI"] = paper.doi
    if paper.is_arxiv:
        item["number"] = paper.id
    return item


def csl_json(papers: list[Paper], base_url: str) -> list[dict[str, Any]]:
    return [csl(p, base_url) for p in papers]


# -- Highwire meta tags --------------------------------------------------------------------------------------


def highwire(paper: Paper) -> list[tuple[str, str]]:
    """(name, content) of the ``citation_*`` meta tags of a paper page, escaped by the template."""
    tags = [("citation_title", _flat(paper.title))]
    tags += [("citation_author", a) for a in paper.authors]
    if when := _date(paper):
        tags += [
            ("citation_date", when.strftime("%Y/%m/%d")),
            ("citation_online_date", when.strftime("%Y/%m/%d")),
        ]
    if paper.journal_ref:
        tags.append(("citation_journal_title", _flat(paper.journal_ref)))
    if paper.doi:
        tags.append(("citation_doi", paper.doi))
    if paper.is_arxiv:
        tags += [
            ("citation_arxiv_id", paper.id),
            ("citation_pdf_url", paper.pdf_url or ""),
            ("citation_abstract_html_url", paper.abs_url or ""),
        ]
    tags.append(("citation_abstract", _flat(paper.abstract)))
    return tags
