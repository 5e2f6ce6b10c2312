"""Messages and their delivery: MIME building, the bulk-sender headers, DKIM, and SMTP.

The standard library's ``email`` encoders build the multipart text + HTML message, ``smtplib`` talks SMTP
(STARTTLS and AUTH included); ``dkimpy`` signs. What this module adds is policy:

- headers a bulk sender owes receivers (Gmail/Yahoo 2024, RFC 8058): a stable ``Message-ID`` per
  (subscriber, period), ``List-Id``, ``List-Unsubscribe`` (https and mailto) and
  ``List-Unsubscribe-Post: List-Unsubscribe=One-Click``, the latter two covered by the DKIM signature;
- no header injection: every header value built from data has its line breaks collapsed first, and
  headers stay on one line (a folded List-Unsubscribe would hide its URLs from mail clients);
- what an SMTP answer means for the ledger (``deliver``): accepted, try again later, permanent (suppress
  the address), or unknown (the connection broke while the message was handed over: never resend).
"""

from __future__ import annotations

import binascii
import contextlib
import hashlib
import hmac
import secrets
import smtplib
import ssl
from dataclasses import dataclass
from email.header import Header
from email.utils import formataddr, formatdate, parseaddr
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qs, quote, unquote, urlsplit

import dkim

from paperfeed.digest.render import Rendered
from paperfeed.settings import Settings

Outcome = Literal["sent", "retry", "failed", "unknown"]
_SIGNED_HEADERS = [
    b"from", b"to", b"subject", b"date", b"message-id", b"mime-version", b"content-type",
    b"list-id", b"list-unsubscribe", b"list-unsubscribe-post",
]  # fmt: skip


class MailConfigError(ValueError):
    """A mail setting that cannot work (no SMTP URL, an unreadable DKIM key …); the message says which."""


def unavailable(settings: Settings) -> str | None:
    """Why this site cannot take subscriptions, in words for its visitors, or None when it can: the subscribe
    forms show it, disabled, before anyone types (issue #13 item 8)."""
    if not settings.smtp_url.get_secret_value():
        return "Email digests are off: this site has no mail server set up (PAPERFEED_SMTP_URL)."
    if not settings.secret_key.get_secret_value():
        return "Email digests are off: this site has no key to sign its links with (PAPERFEED_SECRET_KEY)."
    return None


def _encoded(value: str) -> str:
    """An unstructured header value, RFC 2047-encoded when it is not plain ASCII."""
    return value if value.isascii() else Header(value, "utf-8").encode(maxlinelen=998)


def _part(boundary: str, subtype: str, body: str) -> bytes:
    lines = body.replace("\r\n", "\n").replace("\r", "\n")
    encoded = binascii.b2a_qp(lines.encode("utf-8"), istext=True).replace(b"\n", b"\r\n")
    return b"".join(
        (
            f'--{boundary}\r\nContent-Type: text/{subtype}; charset="utf-8"\r\n'.encode(),
            b"Content-Transfer-Encoding: quoted-printable\r\n\r\n",
            encoded,
            b"" if encoded.endswith(b"\r\n") else b"\r\n",
        )
    )


def header_text(value: str, limit: int = 200) -> str:
    """One line of at most ``limit`` characters: CR, LF and every other line break become spaces."""
    flat = " ".join(value.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


@dataclass(frozen=True, slots=True)
class Mailer:
    """Everything about how mail leaves, read once from the settings."""

    from_name: str
    from_addr: str
    domain: str
    unsubscribe_mailto: str
    secret: bytes
    dkim_selector: bytes | None = None
    dkim_domain: bytes | None = None
    dkim_key: bytes | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Mailer:
        name, addr = parseaddr(settings.mail_from)
        if "@" not in addr:
            raise MailConfigError(f"PAPERFEED_MAIL_FROM={settings.mail_from!r} holds no email address")
        domain = addr.rsplit("@", 1)[1]
        key = None
        dkim_parts = (settings.dkim_selector, settings.dkim_domain, settings.dkim_key_path)
        if any(dkim_parts):
            if not all(dkim_parts):
                raise MailConfigError(
                    "DKIM needs PAPERFEED_DKIM_SELECTOR, PAPERFEED_DKIM_DOMAIN and PAPERFEED_DKIM_KEY_PATH"
                )
            try:
                key = Path(settings.dkim_key_path).read_bytes()
            except OSError as exc:
                raise MailConfigError(f"cannot read the DKIM key {settings.dkim_key_path}: {exc}") from exc
        return cls(
            from_name=header_text(name or settings.site_name, 80),
            from_addr=addr,
            domain=domain,
            unsubscribe_mailto=settings.unsubscribe_mailto or addr,
            secret=settings.secret_key.get_secret_value().encode(),
            dkim_selector=settings.dkim_selector.encode() if key else None,
            dkim_domain=settings.dkim_domain.encode() if key else None,
            dkim_key=key,
        )

    def list_id(self, site_name: str, frequency: str) -> str:
        label = "".join(ch if ch.isalnum() else "-" for ch in site_name.lower()).strip("-") or "paperfeed"
        return f"{_encoded(header_text(site_name, 60) + ' ' + frequency + ' digest')} <{frequency}.{label}.{self.domain}>"

    def message_id(self, period: str, subscriber_id: int) -> str:
        """The same id every time for one (subscriber, period): a receiver that sees it twice can
        drop the copy. Keyed so ids do not reveal how many subscribers there are."""
        tag = hmac.new(self.secret, f"{period}\0{subscriber_id}".encode(), hashlib.sha256).hexdigest()[:16]
        return f"<{period.replace(':', '.')}.{subscriber_id}.{tag}@{self.domain}>"

    def build(
        self,
        to: str,
        content: Rendered,
        message_id: str | None = None,
        list_id: str | None = None,
        unsubscribe: str | None = None,
    ) -> bytes:
        """The message as bytes for SMTP DATA (CRLF line ends), DKIM-signed when a key is configured.

        Assembled from the standard library's encoders (formataddr, RFC 2047 ``Header``, quoted-printable)
        rather than through ``EmailMessage``: that builds and re-parses every header object and took
        three quarters of the time a digest costs. The tests parse every message with ``email`` to
        check the result."""
        headers = [
            ("From", formataddr((self.from_name, self.from_addr), charset="utf-8")),
            ("To", header_text(to, 320)),
            ("Subject", _encoded(header_text(content.subject))),
            ("Date", formatdate(localtime=False, usegmt=True)),
            (
                "Message-ID",
                message_id or f"<{hashlib.sha256(content.text.encode()).hexdigest()[:24]}@{self.domain}>",
            ),
        ]
        if list_id:
            headers.append(("List-Id", list_id))
        if unsubscribe:
            token = unsubscribe.rsplit("/", 1)[-1]
            mailto = f"mailto:{self.unsubscribe_mailto}?subject={quote('unsubscribe-' + token)}"
            headers.append(("List-Unsubscribe", f"<{unsubscribe}>, <{mailto}>"))
            headers.append(("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
        # '=_' never occurs in quoted-printable text (a literal '=' is written '=3D').
        boundary = "=_" + secrets.token_hex(16)
        headers.append(("MIME-Version", "1.0"))
        headers.append(("Content-Type", f'multipart/alternative; boundary="{boundary}"'))
        head = "".join(f"{name}: {value}\r\n" for name, value in headers).encode("ascii")
        data = b"".join(
            (
                head,
                b"\r\n",
                _part(boundary, "plain", content.text),
                _part(boundary, "html", content.html),
                f"--{boundary}--\r\n".encode(),
            )
        )
        if self.dkim_key is not None and self.dkim_selector and self.dkim_domain:
            present = [h for h in _SIGNED_HEADERS if h != b"list-id" or list_id]
            if not unsubscribe:
                present = [h for h in present if not h.startswith(b"list-unsubscribe")]
            signature = dkim.sign(
                data, self.dkim_selector, self.dkim_domain, self.dkim_key, include_headers=present
            )
            data = signature + data
        return data


# -- SMTP ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SmtpTarget:
    host: str
    port: int
    tls: Literal["implicit", "starttls", "auto", "off"]
    username: str | None
    password: str | None
    timeout: float = 60.0

    @classmethod
    def parse(cls, url: str) -> SmtpTarget:
        """smtp://[user:password@]host[:port][?starttls=auto|require|off] or smtps://…"""
        if not url:
            raise MailConfigError("set PAPERFEED_SMTP_URL (e.g. smtp://user:password@mail.example.org:587)")
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise MailConfigError(
                "PAPERFEED_SMTP_URL must look like smtp://user:password@host:587 or smtps://…"
            )
        mode = parse_qs(parts.query).get("starttls", ["auto"])[0]
        modes = {"auto": "auto", "require": "starttls", "off": "off"}
        if mode not in modes:
            raise MailConfigError(f"PAPERFEED_SMTP_URL: starttls={mode!r} is not one of auto, require, off")
        tls = "implicit" if parts.scheme == "smtps" else modes[mode]
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if tls == "implicit" else 25),
            tls=tls,  # type: ignore[arg-type]
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )

    def connect(self) -> smtplib.SMTP:
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if self.tls == "implicit":
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            smtp.ehlo()
            if self.tls == "starttls" or (self.tls == "auto" and smtp.has_extn("starttls")):
                smtp.starttls(context=context)
                smtp.ehlo()
            if self.username:
                smtp.login(self.username, self.password or "")
        except BaseException:
            smtp.close()
            raise
        return smtp


def deliver(smtp: smtplib.SMTP, sender: str, to: str, data: bytes) -> tuple[Outcome, str]:
    """Hand one message to the server, step by step, so that a failure says whether the message can
    have arrived. (outcome, the server's words)."""
    try:
        code, reply = smtp.mail(sender)
        if code != 250:
            smtp.rset()
            # Our sender address was refused: no recipient's fault; try again once it is fixed.
            return "retry", f"MAIL FROM refused: {code} {reply.decode(errors='replace')}"
        code, reply = smtp.rcpt(to)
        if code not in (250, 251):
            smtp.rset()
            return (
                "failed" if 500 <= code < 600 else "retry"
            ), f"RCPT TO: {code} {reply.decode(errors='replace')}"
    except (smtplib.SMTPException, OSError) as exc:
        return "retry", f"connection lost before the message was sent: {exc}"  # nothing was handed over
    try:
        code, reply = smtp.data(data)
    except smtplib.SMTPDataError as exc:  # the server refused DATA itself, before any content
        _rset(smtp)
        return (
            "failed" if 500 <= exc.smtp_code < 600 else "retry"
        ), f"DATA: {exc.smtp_code} {exc.smtp_error!r}"
    except (smtplib.SMTPException, OSError) as exc:
        return "unknown", f"connection lost while the message was handed over: {exc}"
    if code == 250:
        return "sent", reply.decode(errors="replace")
    _rset(smtp)
    return (
        "failed" if 500 <= code < 600 else "retry"
    ), f"after DATA: {code} {reply.decode(errors='replace')}"


def _rset(smtp: smtplib.SMTP) -> None:
    with contextlib.suppress(smtplib.SMTPException, OSError):  # the next message finds out, reconnects
        smtp.rset()
