"""The real embedding model, with its vectors remembered on disk between test processes and runs.

Embedding the bundled 554 papers takes the model ~20 s on two cores; every test process (and both the
SQLite and the PostgreSQL run) needs them. This wraps the real ``Embedder`` — same model, same vectors —
and keeps each text's vector in a SQLite file under ``.pytest_cache``, filled once under a file lock so
parallel test processes do not compute the same vectors twice.
"""

from __future__ import annotations

import fcntl
import hashlib
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from paperfeed.search.embed import RECIPE, Embedder

CACHE = Path(__file__).resolve().parent.parent / ".pytest_cache" / "paperfeed-embeddings"


class CachedEmbedder(Embedder):
    def embed(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        CACHE.mkdir(parents=True, exist_ok=True)
        # The recipe is in the key: vectors cached under an older recipe are not this model's any more.
        keys = [hashlib.blake2b(f"{RECIPE}\n{t}".encode(), digest_size=16).hexdigest() for t in texts]
        with (CACHE / f"{self.name}.lock").open("ab") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            with sqlite3.connect(CACHE / f"{self.name}.db") as conn:
                conn.execute("CREATE TABLE IF NOT EXISTS v (key TEXT PRIMARY KEY, vector BLOB NOT NULL)")
                wanted = set(keys)
                known = {k: v for k, v in conn.execute("SELECT key, vector FROM v") if k in wanted}
                missing = [i for i, k in enumerate(keys) if k not in known]
                if missing:
                    computed = super().embed([texts[i] for i in missing], batch_size)
                    rows = [(keys[i], computed[n].tobytes()) for n, i in enumerate(missing)]
                    conn.executemany("INSERT OR REPLACE INTO v VALUES (?, ?)", rows)
                    known.update(rows)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, k in enumerate(keys):
            out[i] = np.frombuffer(known[k], dtype=np.float32)
        return out
