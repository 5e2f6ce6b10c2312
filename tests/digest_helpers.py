"""Papers, subscribers and settings for the digest tests."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

from paperfeed.models import Follow, Organization, Paper
from paperfeed.settings import Settings
from paperfeed.storage import Database
from paperfeed.storage import papers as paper_store
from tests.conftest import make_settings

DAY = datetime(2026, 8, 19, 12, 0, tzinfo=UTC)  # a Wednesday
SECRET = "test-secret-key-0123456789abcdef"


def digest_settings(folder: Path, smtp_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "smtp_url": smtp_url,
        "secret_key": SECRET,
        "mail_from": "Paper Feed <digest@papers.example.org>",
        "base_url": "https://papers.example.org",
        "send_concurrency": 2,
    }
    values.update(overrides)
    return make_settings(folder, **values)


def paper(pid: str, title: str, upvotes: int = 0, **kw: object) -> Paper:
    fields: dict[str, object] = {
        "abstract": f"Abstract of {title}.",
        "authors": ["Ada Lovelace", "Alan Turing"],
        "published_at": DAY,
        "upvotes": upvotes,
    }
    fields.update(kw)
    return Paper(id=pid, title=title, **fields)  # type: ignore[arg-type]


def store_papers(db: Database) -> list[Paper]:
    """Eight papers on DAY: six plain ones by votes, a LaTeX-heavy one, and one with a hostile title."""
    found = [paper(f"2608.0000{i}", f"Plain paper number {i}", upvotes=20 - i) for i in range(1, 7)]
    found.append(
        paper(
            "2608.00007",
            r"Bounds of $\mathcal{O}(n^2)$ for \emph{sparse} attention at 50% density",
            abstract=r"We prove $\alpha \leq \frac{1}{2}$ for graph neural networks <script>alert(1)</script>.",
            authors=["Émile Borel", "Grace Hopper"],
            organization=Organization("DeepLab", "Deep Lab Research"),
        )
    )
    found.append(
        paper(
            "2608.00008",
            "Injected\r\nBcc: victim@example.com\r\nSubject: spam",
            abstract="Graph neural networks, again.",
            authors=["Grace Hopper"],
        )
    )
    paper_store.upsert_papers(db, found)
    return found


def follows(*pairs: tuple[str, str]) -> list[Follow]:
    return [Follow(k, v) for k, v in pairs]


def dkim_key(folder: Path) -> tuple[Path, bytes]:
    """A fresh 2048-bit RSA key (PEM file) and its DNS TXT record for verifying."""
    key = folder / "dkim.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True)
    public = subprocess.run(
        ["openssl", "rsa", "-in", str(key), "-pubout", "-outform", "DER"], check=True, capture_output=True
    ).stdout
    import base64

    return key, b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)
