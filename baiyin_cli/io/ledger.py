"""The keys an import has seen so far, to report a row that repeats an earlier row of the same file.

Held in a dict up to `memory_keys` keys, then moved to a temporary SQLite file with a small
page cache: a million-row import keeps memory flat instead of holding a million keys.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from collections.abc import Iterable

MEMORY_KEYS = 100_000


class KeyLedger:
    def __init__(self, memory_keys: int = MEMORY_KEYS) -> None:
        self.memory_keys = memory_keys
        self._mem: dict[tuple[str, str], int] = {}
        self._db: sqlite3.Connection | None = None
        self._path: str | None = None

    def claim(self, items: Iterable[tuple[str, str, int]]) -> list[tuple[int, int, str, str]]:
        """Record each (namespace, key, row) not seen before; for each one seen before (in an earlier
        batch or earlier in this one) return (row, first row, namespace, key)."""
        batch: dict[tuple[str, str], int] = {}
        repeats: list[tuple[tuple[str, str], int]] = []
        for ns, key, row in items:
            k = (ns, key)
            if k in batch:
                repeats.append((k, row))
            else:
                batch[k] = row
        if self._db is None:
            earlier = {k: self._mem[k] for k in batch if k in self._mem}
        else:
            earlier = self._lookup(list(batch))
        self._store({k: r for k, r in batch.items() if k not in earlier})
        out = [(row, earlier[k], k[0], k[1]) for k, row in batch.items() if k in earlier]
        out.extend((row, earlier.get(k, batch[k]), k[0], k[1]) for k, row in repeats)
        return out

    def first(self, ns: str, key: str) -> int | None:
        """The first row that had (ns, key), or None."""
        if self._db is None:
            return self._mem.get((ns, key))
        got = self._db.execute("SELECT row FROM seen WHERE ns = ? AND key = ?", (ns, key)).fetchone()
        return got[0] if got else None

    def _store(self, new: dict[tuple[str, str], int]) -> None:
        if not new:
            return
        if self._db is None and len(self._mem) + len(new) <= self.memory_keys:
            self._mem.update(new)
            return
        if self._db is None:
            self._spill()
        assert self._db is not None
        self._db.executemany(
            "INSERT OR IGNORE INTO seen(ns, key, row) VALUES (?, ?, ?)",
            ((ns, key, row) for (ns, key), row in new.items()),
        )

    def _spill(self) -> None:
        fd, path = tempfile.mkstemp(prefix="grid-import-", suffix=".db")
        os.close(fd)
        self._path = path
        db = sqlite3.connect(path, isolation_level=None)
        db.execute("PRAGMA journal_mode=OFF")
        db.execute("PRAGMA synchronous=OFF")
        db.execute("PRAGMA cache_size=-8192")  # 8 MiB
        db.execute("CREATE TABLE seen (ns TEXT, key TEXT, row INTEGER, PRIMARY KEY (ns, key)) WITHOUT ROWID")
        db.execute("BEGIN")
        db.executemany(
            "INSERT INTO seen(ns, key, row) VALUES (?, ?, ?)",
            ((ns, key, row) for (ns, key), row in self._mem.items()),
        )
        self._mem.clear()
        self._db = db

    def _lookup(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
        assert self._db is not None
        out: dict[tuple[str, str], int] = {}
        by_ns: dict[str, list[str]] = {}
        for ns, key in keys:
            by_ns.setdefault(ns, []).append(key)
        for ns, ks in by_ns.items():
            for i in range(0, len(ks), 500):
                part = ks[i : i + 500]
                q = f"SELECT key, row FROM seen WHERE ns = ? AND key IN ({','.join('?' * len(part))})"
                for key, row in self._db.execute(q, [ns, *part]):
                    out[(ns, key)] = row
        return out

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
        if self._path is not None:
            try:
                os.unlink(self._path)
            except OSError:
                pass
            self._path = None
        self._mem.clear()
