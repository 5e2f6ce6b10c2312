"""Sending webhook deliveries, from the worker: each pending delivery of the ledger whose time has come is
signed as Standard Webhooks says and POSTed to its endpoint; a 2xx marks it sent, anything else waits,
doubling, for another try, and an endpoint failing too often in a row is disabled.

Signatures (https://www.standardwebhooks.com): ``webhook-id`` (the delivery's id, the same on every try),
``webhook-timestamp`` (seconds since the epoch) and ``webhook-signature``, ``v1,`` and the base64
HMAC-SHA256 of ``id.timestamp.body`` under the endpoint's secret (``whsec_`` and base64 bytes).

Where a delivery may go is checked at each try, after resolving the endpoint's name: a name that pointed
to a public address when it was registered may point to 127.0.0.1 now (DNS rebinding). The request then
goes to the very address that was checked (the Host header and TLS name stay the endpoint's), so a second
resolution cannot change it.
"""

from __future__ import annotations

import hmac
import socket
from base64 import b64decode, b64encode
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from hashlib import sha256
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from paperfeed import outbound
from paperfeed.settings import Settings
from paperfeed.storage import Database
from paperfeed.storage import webhooks as store
from paperfeed.webhooks.events import body_for, private_address

BATCH = 200
LONGEST_WAIT = 3600.0


class Refused(RuntimeError):
    """An endpoint a delivery may not go to now; the message says why."""


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    key = b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, sha256).digest()
    return "v1," + b64encode(mac).decode()


def pinned(url: str, allow_private: bool) -> tuple[str, dict[str, str], dict[str, Any]]:
    """The URL rewritten to the checked address of its host, with the Host header and TLS name to send."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise Refused(f"cannot resolve {host}: {exc}") from None
    addresses = [str(info[4][0]) for info in infos]
    if not allow_private and any(private_address(a) for a in addresses):
        raise Refused(f"{host} resolves to a loopback or private address: refused")
    address = addresses[0]
    netloc = f"[{address}]" if ":" in address else address
    if parts.port:
        netloc += f":{parts.port}"
    extensions = {"sni_hostname": host} if parts.scheme == "https" else {}
    return urlunsplit(parts._replace(netloc=netloc)), {"Host": parts.netloc.rpartition("@")[2]}, extensions


def wait(settings: Settings, attempts: int, retry_after: str | None) -> float:
    """Seconds before the next try after ``attempts`` failed ones: doubling, at most an hour, never less
    than the receiver's Retry-After (seconds)."""
    seconds = min(settings.webhook_retry_seconds * 2 ** max(attempts - 1, 0), LONGEST_WAIT)
    if retry_after and retry_after.strip().isdigit():
        seconds = max(seconds, min(float(retry_after), LONGEST_WAIT))
    return seconds


@dataclass
class Report:
    sent: int = 0
    failed: int = 0
    given_up: int = 0
    disabled: list[int] = field(default_factory=list)

    def summary(self) -> str:
        text = f"{self.sent} sent, {self.failed} failed (to retry), {self.given_up} given up"
        return text + (f"; endpoints disabled: {self.disabled}" if self.disabled else "")


def deliver_due(db: Database, settings: Settings, now: datetime | None = None) -> Report:
    """Try every delivery that is due, through one client; an endpoint that fails is not tried again
    in this run (its other deliveries keep their order and wait for the next)."""
    report = Report()
    failing: set[int] = set()
    with outbound.webhook_client(settings) as http:
        for d in store.due(db, now or datetime.now(UTC), BATCH):
            if d.webhook_id in failing:
                continue
            body = body_for(d.format, d.payload)
            stamp = int(datetime.now(UTC).timestamp())
            retry_after = None
            try:
                target, host, extensions = pinned(d.url, settings.webhooks_allow_private)
                response = http.post(
                    target,
                    content=body,
                    extensions=extensions,
                    headers={
                        **host,
                        "Content-Type": "application/json",
                        "webhook-id": d.id,
                        "webhook-timestamp": str(stamp),
                        "webhook-signature": sign(d.secret, d.id, stamp, body),
                    },
                )
                ok = 200 <= response.status_code < 300
                status = f"HTTP {response.status_code}"
                retry_after = response.headers.get("retry-after")
            except Refused as exc:
                ok, status = False, str(exc)
            except httpx.HTTPError as exc:
                ok, status = False, f"unreachable: {type(exc).__name__}: {exc}"[:300]
            done = datetime.now(UTC)
            if ok:
                store.mark_sent(db, d.id, d.webhook_id, status, done)
                report.sent += 1
                continue
            failing.add(d.webhook_id)
            attempts = d.attempts + 1
            retry = (
                done + timedelta(seconds=wait(settings, attempts, retry_after))
                if attempts < settings.webhook_attempts
                else None
            )
            if store.mark_failed(db, d.id, d.webhook_id, status, retry, settings.webhook_disable_after, done):
                report.disabled.append(d.webhook_id)
            if retry is None:
                report.given_up += 1
            else:
                report.failed += 1
    return report
