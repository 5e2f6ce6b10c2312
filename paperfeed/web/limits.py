"""Rate limits (one ``rate_*`` setting per action: login, sign-up, search, submit, comment, upvote and the
rest): past the configured HITS/SECONDS a request gets 429 with Retry-After. The counters live in the database (storage.ratelimits explains why).

Limits per client key on the client's address: the connecting one, or, when that is a proxy listed in
``trusted_proxies``, the address the proxies vouch for in X-Forwarded-For. Each proxy appends the peer it
saw, so the list is read from the right, past the trusted proxies, to the first address none of them is:
anything to its left was written by the client and proves nothing. Without this, every reader behind a
load balancer shares the balancer's address, and one limit for the whole site.
"""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from math import ceil

from starlette.requests import Request

from paperfeed.storage import ratelimits
from paperfeed.web.kit import Refused

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(setting: str) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(item, strict=False) for item in setting.replace(",", " ").split())


def _address(text: str) -> Address | None:
    """An address as proxies write it: '203.0.113.7', '2001:db8::1', also with a port ('1.2.3.4:80',
    '[2001:db8::1]:80'); None when it is none of these."""
    text = text.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        found = ipaddress.ip_address(text)
    except ValueError:
        return None
    mapped = getattr(found, "ipv4_mapped", None)  # ::ffff:1.2.3.4 is 1.2.3.4
    return mapped or found


def client(request: Request) -> str:
    """The client's address: the connecting peer, unless a trusted proxy vouches for another."""
    peer = request.client.host if request.client else "unknown"
    trusted = _networks(request.app.state.settings.trusted_proxies)
    hop = _address(peer)
    if not trusted or hop is None or not any(hop in net for net in trusted):
        return peer
    chain = [part for value in request.headers.getlist("x-forwarded-for") for part in value.split(",")]
    for text in reversed(chain):
        found = _address(text)
        if found is None:
            break  # unreadable: the last proxy that vouched stands for the client
        hop = found
        if not any(hop in net for net in trusted):
            break
    return str(hop)


def limit(request: Request, action: str, who: str) -> None:
    """Count this request; raise Refused(429) with Retry-After when ``who`` is over the rate."""
    hits, seconds = (int(x) for x in getattr(request.app.state.settings, f"rate_{action}").split("/"))
    now = datetime.now(UTC)
    window = timedelta(seconds=seconds)
    count, started = ratelimits.hit(request.app.state.db, f"{action}:{who}"[:160], window, now)
    if count > hits:
        retry = max(1, ceil((started + window - now).total_seconds()))
        raise Refused(
            429, f"too many {action} requests: at most {hits} per {seconds} s", {"Retry-After": str(retry)}
        )
