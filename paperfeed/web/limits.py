"""Rate limits (one ``rate_*`` setting per action: login, sign-up, search, submit, comment, upvote and the
rest): past the configured HITS/SECONDS a request gets 429 with Retry-After. The counters live in the database (storage.ratelimits explains why).

Not one database write per request, though (issue 18: the write was the largest fixed cost of a remembered
search, and on SQLite every worker waits for the one writer): each worker reserves a few hits of a client's
allowance per write (``CHUNK`` at most, fewer as the client nears its limit, one when the limit is small) and
spends them from memory; what it does not spend expires with the window. The database grants no hit past
HITS, so a client never gets more than HITS a window; it may get fewer, by what the other workers hold
unspent: at least HITS − (CHUNK − 1) × (workers − 1). Refusals are remembered until the window ends.

Limits per client key on the client's address: the connecting one, or, when that is a proxy listed in
``trusted_proxies``, the address the proxies vouch for in X-Forwarded-For. Each proxy appends the peer it
saw, so the list is read from the right, past the trusted proxies, to the first address none of them is:
anything to its left was written by the client and proves nothing. Without this, every reader behind a
load balancer shares the balancer's address, and one limit for the whole site.
"""

from __future__ import annotations

import ipaddress
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from math import ceil

from starlette.requests import Request

from paperfeed.storage import Database, ratelimits
from paperfeed.web.kit import Refused

CHUNK = 8  # hits reserved per database write, at most
_KEPT = 10_000  # clients remembered per worker before the expired ones are dropped

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
    started = _allowances(request).spend(request.app.state.db, f"{action}:{who}"[:160], hits, window, now)
    if started is not None:
        retry = max(1, ceil((started + window - now).total_seconds()))
        raise Refused(
            429, f"too many {action} requests: at most {hits} per {seconds} s", {"Retry-After": str(retry)}
        )


def limit_from_memory(request: Request, action: str, who: str) -> bool:
    """Count this request if this worker holds a hit of ``who``'s reserved already: True when counted
    (within the limit), False when ``limit`` must decide (a reservation to make, which writes to the
    database, or a refusal to answer). Never waits: for answers given on the server's event loop."""
    return _allowances(request).spend_held(f"{action}:{who}"[:160], datetime.now(UTC))


@dataclass(slots=True)
class _Held:
    started: datetime  # the database window these hits belong to
    ends: datetime
    left: int  # reserved and not yet spent; 0 with ``full``: the window has none left
    seen: int  # the window's count at the last reservation
    full: bool = False


class Allowances:
    """One worker's reserved hits, per client key (one per app: tests run two apps as two workers)."""

    def __init__(self) -> None:
        self._held: dict[str, _Held] = {}
        self._lock = threading.Lock()  # handlers run on a thread pool

    def spend(self, db: Database, key: str, hits: int, window: timedelta, now: datetime) -> datetime | None:
        """Spend one hit of ``key``'s; None when granted, else when the full window started."""
        with self._lock:
            held = self._held.get(key)
            if held is not None and held.ends <= now:
                held = None  # its window is over, and what it held with it
            if held is not None and held.full:
                return held.started
            if held is not None and held.left > 0:
                held.left -= 1
                return None
            seen = held.seen if held is not None else 0
            units = max(1, min(CHUNK, (hits - seen) // 4))  # one each when near the limit: the 429 exact
            count, started = ratelimits.hit(db, key, window, now, units)
            granted = max(0, min(units, hits - (count - units)))
            if len(self._held) >= _KEPT:
                self._held = {k: h for k, h in self._held.items() if h.ends > now}
            self._held[key] = _Held(started, started + window, max(0, granted - 1), count, granted == 0)
            return None if granted else started

    def spend_held(self, key: str, now: datetime) -> bool:
        """Spend one hit this worker holds for ``key``, if it holds one and no other thread is at it."""
        if not self._lock.acquire(blocking=False):  # another thread may be writing a reservation
            return False
        try:
            held = self._held.get(key)
            if held is None or held.ends <= now or held.full or held.left <= 0:
                return False
            held.left -= 1
            return True
        finally:
            self._lock.release()


_made = threading.Lock()


def _allowances(request: Request) -> Allowances:
    state = request.app.state
    found = getattr(state, "allowances", None)
    if found is None:
        with _made:
            found = getattr(state, "allowances", None) or Allowances()
            state.allowances = found
    return found
