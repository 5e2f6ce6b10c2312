"""Citation files, shared by the pages that offer them (a paper, a collection, a search): the ``{fmt:cite}``
URL convertor (``.bib``, ``.ris``, ``.json``) and the one way to answer papers in those formats
(``paperfeed/citations.py`` writes them). Part of the web kit: feature modules import it."""

from __future__ import annotations

import orjson
from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import Response

from paperfeed import citations
from paperfeed.models import Paper


class CiteFormat(Convertor[str]):
    """``{fmt:cite}``: the suffix of a citation export (``.bib``, ``.ris``, ``.json``); nothing else
    matches, so ``/papers/{id}.{fmt:cite}`` never takes a plain paper URL."""

    regex = "bib|ris|json"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("cite", CiteFormat())


def cited(request: Request, papers: list[Paper], fmt: str, name: str) -> Response:
    """Papers as a citation file: BibTeX, RIS or CSL-JSON (``paperfeed/citations.py``), named ``name``."""
    base = request.app.state.settings.base_url
    if fmt == "bib":
        body = citations.bibtex(papers, base).encode()
    elif fmt == "ris":
        body = citations.ris(papers, base).encode()
    else:
        body = orjson.dumps(citations.csl_json(papers, base))
    headers = {"Content-Disposition": f'inline; filename="{name}.{fmt}"'}
    return Response(body, media_type=citations.FORMATS[fmt], headers=headers)
