"""All SQL about the shared pace of requests to a service (``service_pace``): arXiv asks for at least 3 s
between requests from one client, and paperfeed's arXiv traffic comes from several jobs (the harvest,
submissions, full texts and their figures), on several workers. Each request takes the next turn here,
one statement that every worker on the database agrees on, so the gap holds across all of them rather
than only inside one client.

Times are seconds since the epoch from the workers' clocks (keep them in sync, as for leases).
"""

from __future__ import annotations

import sqlalchemy as sa

from paperfeed.storage.db import Database, upsert
from paperfeed.storage.schema import service_pace


def take_turn(db: Database, service: str, interval: float, now: float) -> float:
    """Reserve the next start of a request to ``service``; returns the seconds to wait before it (0 when
    it may start now). The turn after it is ``interval`` later."""
    with db.write() as conn:
        stmt = upsert(conn, service_pace).values(service=service, next_at=now + interval)
        stmt = stmt.on_conflict_do_update(
            index_elements=["service"],
            set_={
                "next_at": sa.case(
                    (service_pace.c.next_at > now, service_pace.c.next_at + interval),
                    else_=now + interval,
                )
            },
        )
        next_at = float(conn.execute(stmt.returning(service_pace.c.next_at)).scalar_one())
    return max(0.0, next_at - interval - now)
