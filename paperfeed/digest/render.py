"""A digest, a confirmation email and the account emails (sign-up, password reset) as text and HTML, from
the templates in ``digest/templates``.

Both parts carry the same words: LaTeX made readable (``latex.readable``), and in HTML autoescaped, so a
title with markup or a script shows as text. Each paper is rendered once per run and reused in every
digest that holds it: the work per digest is the small part that differs (the "why" and the links).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from paperfeed.digest.compose import Item
from paperfeed.digest.latex import readable
from paperfeed.models import Paper

_ENV = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    keep_trailing_newline=True,
)
_SUMMARY_CHARS = 300
_AUTHORS_SHOWN = 3


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    text: str
    html: str


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(",.;:") + " …"


def byline(paper: Paper) -> str:
    names = paper.authors[:_AUTHORS_SHOWN]
    shown = ", ".join(readable(n) for n in names)
    more = (paper.num_authors or len(paper.authors)) - len(names)
    if more > 0:
        shown += " et al." if shown else f"{more} authors"
    if paper.organization:
        shown = f"{shown} · {paper.organization.fullname}" if shown else paper.organization.fullname
    return shown


class Renderer:
    """Renders digests for one site; safe to share between sender threads."""

    def __init__(self, site_name: str, base_url: str) -> None:
        self.site_name = site_name
        self.base_url = base_url.rstrip("/")
        self._papers: dict[str, tuple[str, Markup, str]] = {}
        self._lock = threading.Lock()
        self._paper_txt = _ENV.get_template("paper.txt")
        self._paper_html = _ENV.get_template("paper.html")
        self._digest_txt = _ENV.get_template("digest.txt")
        self._digest_html = _ENV.get_template("digest.html")

    def paper_url(self, paper: Paper) -> str:
        return f"{self.base_url}/papers/{paper.id}"

    def _paper(self, paper: Paper) -> tuple[str, Markup, str]:
        """(text block, HTML block, readable title) of one paper, rendered once."""
        found = self._papers.get(paper.id)
        if found is None:
            values = {
                "title": readable(paper.title),
                "byline": byline(paper),
                "url": self.paper_url(paper),
                "summary": _shorten(readable(paper.abstract), _SUMMARY_CHARS),
            }
            found = (
                self._paper_txt.render(values),
                Markup(self._paper_html.render(values)),  # noqa: S704 - rendered by an autoescaping template
                values["title"],
            )
            with self._lock:
                self._papers[paper.id] = found
        return found

    def digest(
        self,
        items: list[Item],
        email: str,
        frequency: str,
        period_label: str,
        unsubscribe_url: str,
        preferences_url: str,
        notes: list[tuple[str, str]] | None = None,
    ) -> Rendered:
        """``notes``: the member's notifications, (sentence, link) each, in a section of their own."""
        notes = notes or []
        context: dict[str, Any] = {
            "site_name": self.site_name,
            "frequency": frequency,
            "period_label": period_label,
            "email": email,
            "unsubscribe_url": unsubscribe_url,
            "preferences_url": preferences_url,
            "notes": notes,
        }
        parts: list[str] = []
        for part, template in ((0, self._digest_txt), (1, self._digest_html)):
            entries = [(item, {"why": item.why, "fragment": self._paper(item.paper)[part]}) for item in items]
            top = [e for item, e in entries if item.section == "top"]
            picks = [e for item, e in entries if item.section == "pick"]
            parts.append(template.render(context, top=top, picks=picks))
        if items:
            first = self._paper(items[0].paper)[2]
            more = f" and {len(items) - 1} more" if len(items) > 1 else ""
            subject = f"{self.site_name} {frequency}: {_shorten(first, 90)}{more}"
        else:
            subject = (
                f"{self.site_name} {frequency}: {len(notes)} notification{'s' if len(notes) != 1 else ''}"
            )
        return Rendered(subject, parts[0], parts[1])

    def confirmation(self, email: str, frequency: str, confirm_url: str, hours: float) -> Rendered:
        context = {
            "site_name": self.site_name,
            "email": email,
            "frequency": frequency,
            "confirm_url": confirm_url,
            "hours": f"{hours:g}",
        }
        subject = f"Confirm your {self.site_name} {frequency} digest"
        return Rendered(
            subject,
            _ENV.get_template("confirm.txt").render(context),
            _ENV.get_template("confirm.html").render(context),
        )

    def account(self, kind: str, email: str, url: str, name: str = "", expires: str = "") -> Rendered:
        """An account email: ``activate`` (a sign-up's link), ``exists`` (someone signed up with an address
        that has an account: no link, a pointer to log in or reset), ``reset`` (a password-reset link)."""
        context = {
            "site_name": self.site_name,
            "kind": kind,
            "email": email,
            "name": name,
            "url": url,
            "expires": expires,
        }
        subjects = {
            "activate": f"Activate your {self.site_name} account",
            "exists": f"You already have a {self.site_name} account",
            "reset": f"Reset your {self.site_name} password",
        }
        return Rendered(
            subjects[kind],
            _ENV.get_template("account.txt").render(context),
            _ENV.get_template("account.html").render(context),
        )
