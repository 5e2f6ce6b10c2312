"""All SQL about papers by author: the ``paper_authors`` rows (each paper's authors by normal name) that
the import writes beside each paper, and the questions an author's page, feed and follows ask of them.

Names compare as claims and follows compare them (``recommend.signals.name_key``: no case, accents or
extra spaces), so "Gödel, K." and "godel,  k." are one author. Rows are keyed by (key, paper_id), which
answers "this author's papers" (``papers.author_papers``) without reading any paper's JSON list of
authors, with one b-tree for the import to write.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import sqlalchemy as sa

from paperfeed.recommend.signals import name_key
from paperfeed.storage.db import Database, upsert
from paperfeed.storage.schema import claims, paper_authors, users

KEY_MAX = 300  # the column's width; no real name comes near it


def author_key(name: str) -> str:
    if name.isascii():  # most names: name_key's result without its Unicode passes (the import's hot path)
        return " ".join(name.replace(".", ". ").lower().split())[:KEY_MAX]
    return name_key(name)[:KEY_MAX]


def author_keys(authors: Iterable[str]) -> list[str]:
    """A paper's authors as keys, each once, in their order (two entries of one name are one row)."""
    keys: dict[str, None] = {}
    for name in authors:  # author_key inlined for ASCII names: the import runs this for every author
        if type(name) is str and name.isascii():
            key = " ".join(name.replace(".", ". ").lower().split())[:KEY_MAX]
        elif isinstance(name, str):
            key = author_key(name)
        else:
            continue
        if key:
            keys[key] = None
    return list(keys)


def replace(
    conn: sa.Connection,
    written: Sequence[tuple[str, str]],
    replaced: Sequence[tuple[str, Sequence[str]]] = (),
) -> None:
    """Inside the import's transaction: the rows (key, paper_id) of papers just written (their keys by
    ``author_keys``), after removing those of the ``replaced`` papers, (id, their stored authors): a new
    version may change its authors. Rows are keyed by (key, paper_id), so the stored authors find their
    rows without a second index."""
    gone = [(key, pid) for pid, authors in replaced for key in author_keys(authors)]
    if conn.dialect.name == "sqlite":  # executemany on the driver: the bulk import's pace
        if gone:
            conn.exec_driver_sql("DELETE FROM paper_authors WHERE key = ? AND paper_id = ?", gone)
        if written:
            conn.exec_driver_sql("INSERT OR IGNORE INTO paper_authors (key, paper_id) VALUES (?, ?)", written)
        return
    if gone:
        match = sa.and_(
            paper_authors.c.key == sa.bindparam("k"), paper_authors.c.paper_id == sa.bindparam("p")
        )
        conn.execute(paper_authors.delete().where(match), [{"k": k, "p": p} for k, p in gone])
    if written:
        stmt = upsert(conn, paper_authors).on_conflict_do_nothing()
        conn.execute(stmt, [{"key": k, "paper_id": p} for k, p in written])


def count_author_papers(db: Database, name: str) -> int:
    with db.read() as conn:
        query = sa.select(sa.func.count()).where(paper_authors.c.key == author_key(name))
        return int(conn.execute(query).scalar_one())


def papers_with_authors(db: Database, paper_ids: Sequence[str], keys: Iterable[str]) -> dict[str, set[str]]:
    """For these papers, which of these author keys each has (the webhook job's question)."""
    wanted = list(set(keys))
    if not paper_ids or not wanted:
        return {}
    found: dict[str, set[str]] = {}
    with db.read() as conn:
        rows = conn.execute(
            sa.select(paper_authors.c.paper_id, paper_authors.c.key).where(
                paper_authors.c.paper_id.in_(list(paper_ids)), paper_authors.c.key.in_(wanted)
            )
        )
        for pid, key in rows:
            found.setdefault(pid, set()).add(key)
    return found


def claimants(db: Database, name: str) -> list[tuple[str, str]]:
    """(member's handle, the author entry they claimed) of every approved claim to be this author, by
    handle: the claims on this author's papers whose claimed entry has the same key."""
    key = author_key(name)
    query = (
        sa.select(users.c.name, claims.c.author)
        .select_from(
            claims.join(paper_authors, paper_authors.c.paper_id == claims.c.paper_id).join(
                users, users.c.id == claims.c.user_id
            )
        )
        .where(paper_authors.c.key == key, claims.c.status == "approved")
        .distinct()
    )
    with db.read() as conn:
        found = {(handle, author) for handle, author in conn.execute(query) if author_key(author) == key}
    return sorted(dict(sorted(found)).items())
