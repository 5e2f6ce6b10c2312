"""``paperfeed subscribers`` and ``paperfeed digest send`` as cron and operators use them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from paperfeed.settings import Settings
from paperfeed.storage import open_database
from paperfeed.storage import subscribers as store
from tests.digest_helpers import digest_settings, store_papers
from tests.smtp_server import SmtpServer


def run(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | settings.environment()
    return subprocess.run(
        [sys.executable, "-m", "paperfeed.cli", *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_add_import_and_send(tmp_path: Path) -> None:
    with SmtpServer() as server:
        settings = digest_settings(tmp_path, server.url)
        db = open_database(settings.database_url)
        store_papers(db)
        added = run(settings, "subscribers", "add", "A@Example.org", "--confirmed", "--frequency", "daily",
                    "--author", "Grace Hopper")  # fmt: skip
        assert added.returncode == 0 and "a@example.org: added (daily)" in added.stdout, added.stderr
        pending = run(settings, "subscribers", "add", "p@example.org")
        assert "confirmation sent to p@example.org" in pending.stdout, pending.stderr
        assert len(server.handler.to("p@example.org")) == 1
        store.suppress(db, 1, "unsubscribed", store.subscriber(db, 1).created_at)  # type: ignore[union-attr]
        csv = tmp_path / "list.csv"
        csv.write_text(
            "email,frequency,topics,authors\n"
            "a@example.org,daily,,\n"  # unsubscribed earlier: stays suppressed
            "b@example.org,weekly,graph neural networks;diffusion,Ada Lovelace\n"
            "not-an-address,daily,,\n"
            "c@example.org,hourly,,\n"
            "p@example.org,,,\n"  # pending: the list owner vouches for it
            "B@example.org,daily,,\n"
        )
        imported = run(settings, "subscribers", "import", str(csv))
        assert imported.returncode == 3, imported.stderr
        assert "added 1, confirmed 1, left suppressed 1, rejected 3" in imported.stdout
        assert "line 4: 'not-an-address' is not an email address" in imported.stderr
        assert "line 5: frequency 'hourly' is not one of: daily, weekly" in imported.stderr
        assert "line 7: b@example.org appears twice" in imported.stderr
        b = store.subscriber_by_email(db, "b@example.org")
        assert b is not None and b.status == "active" and b.frequency == "weekly"
        assert {(f.kind, f.value) for f in b.follows} == {
            ("topic", "graph neural networks"),
            ("topic", "diffusion"),
            ("author", "Ada Lovelace"),
        }
        again = run(settings, "subscribers", "import", str(csv))
        assert "added 0, confirmed 2, left suppressed 1, rejected 3" in again.stdout
        assert store.subscriber_by_email(db, "a@example.org").status == "suppressed"  # type: ignore[union-attr]
        sent = run(settings, "digest", "send", "--period", "daily", "--date", "2026-08-19")
        assert sent.returncode == 0, sent.stderr
        assert "daily:2026-08-19: 8 papers; sent 1," in sent.stdout  # p@example.org only
        assert len(server.handler.to("p@example.org")) == 2  # the confirmation, then the digest
        rerun = run(settings, "digest", "send", "--period", "daily", "--date", "2026-08-19")
        assert "sent 0," in rerun.stdout and rerun.returncode == 0
        counts = run(settings, "subscribers", "count")
        assert "active\t2" in counts.stdout and "suppressed\t1" in counts.stdout
        left = run(settings, "subscribers", "unsubscribe", "B@example.org")
        assert left.returncode == 0 and "b@example.org: unsubscribed" in left.stdout
        assert store.subscriber_by_email(db, "b@example.org").status == "suppressed"  # type: ignore[union-attr]
        unknown = run(settings, "subscribers", "unsubscribe", "nobody@example.org")
        assert unknown.returncode == 1 and "nobody@example.org is not a subscriber" in unknown.stderr
        db.close()


def test_send_without_a_server_fails_clearly(tmp_path: Path) -> None:
    settings = digest_settings(tmp_path, "")
    db = open_database(settings.database_url)
    store_papers(db)
    run(settings, "subscribers", "add", "a@example.org", "--confirmed")
    failed = run(settings, "digest", "send", "--period", "daily", "--date", "2026-08-19")
    assert failed.returncode == 1 and "set PAPERFEED_SMTP_URL" in failed.stderr
    db.close()
