"""The files every site is asked for at its root: ``/robots.txt`` and ``/favicon.ico`` (issue #13 item 7).

robots.txt lets crawlers read the papers, the feed and the RSS/Atom feeds, and keeps them out of what is
for programs or for one person: the JSON API, search results (an unbounded space of URLs), the account and
subscription pages, and the admin pages. favicon.ico is ``static/favicon.ico``, the icon of
``static/favicon.svg`` drawn at 16, 32 and 48 pixels, for the clients that ask for it before reading any page.
"""

from __future__ import annotations

from pathlib import Path

from starlette.responses import FileResponse, PlainTextResponse, Response

STATIC = Path(__file__).parent / "static"
DAY = 86400

ROBOTS = """\
# paperfeed: papers, their pages and the feeds are for everyone; the rest is for programs or one person.
User-agent: *
Disallow: /api/
Disallow: /search
Disallow: /login
Disallow: /signup
Disallow: /logout
Disallow: /settings/
Disallow: /submit
Disallow: /subscribe
Disallow: /unsubscribe/
Disallow: /subscription/
Disallow: /admin/
Disallow: /*?*vote=
Allow: /
"""


def robots() -> Response:
    return PlainTextResponse(ROBOTS, headers={"Cache-Control": f"public, max-age={DAY}"})


def favicon() -> Response:
    return FileResponse(
        STATIC / "favicon.ico",
        media_type="image/vnd.microsoft.icon",
        headers={"Cache-Control": f"public, max-age={7 * DAY}"},
    )
