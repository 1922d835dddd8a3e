"""The audit log is a hash chain, and the database refuses to rewrite it."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DatabaseError

A = ("--as", "admin")


def _engine(url: str):  # type: ignore[no-untyped-def]
    return create_engine(url)


def test_chain_verifies_after_changes(grid, city):
    r = grid(*A, "audit", "verify", "--json").json()
    assert r["ok"] and r["checked"] >= 15
    assert "已校验" in grid(*A, "audit", "verify").stderr
    grid("--as", "sec1", "audit", "verify", expect=4)


@pytest.mark.parametrize("statement", [
    "UPDATE audit_entry SET actor = 'mallory'",
    "DELETE FROM audit_entry WHERE id = (SELECT max(id) FROM audit_entry)",
])
def test_database_refuses_update_and_delete(grid, city, db_url, statement):
    eng = _engine(db_url)
    with pytest.raises(DatabaseError) as exc:
        with eng.begin() as conn:
            conn.execute(text(statement))
    assert "append-only" in str(exc.value)
    eng.dispose()
    assert grid(*A, "audit", "verify", "--json").json()["ok"]


def test_tampering_is_found_at_the_first_broken_link(grid, city, db_url, backend):
    eng = _engine(db_url)
    with eng.begin() as conn:
        target = conn.execute(text("SELECT id FROM audit_entry ORDER BY id LIMIT 1 OFFSET 3")).scalar()
        # An attacker with the database owner's rights drops the trigger and edits history.
        if backend == "postgresql" or eng.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE audit_entry DISABLE TRIGGER audit_entry_append_only"))
        else:
            conn.execute(text("DROP TRIGGER audit_entry_no_update"))
        conn.execute(text("UPDATE audit_entry SET actor = 'mallory' WHERE id = :i"), {"i": target})
    eng.dispose()
    r = grid(*A, "audit", "verify", expect=1)
    assert str(target) in r.stderr
    j = grid(*A, "audit", "verify", "--json", expect=1)
    assert '"broken_at": %d' % target in j.stdout


def test_concurrent_appends_keep_one_chain(grid, city, db_url):
    """Several threads appending at once still form a single unbroken chain."""
    import threading

    from baiyin_cli import store
    from baiyin_cli.services import audit
    from baiyin_cli.services.access import load_operator

    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(5):
                with store.session(write=True, url=db_url) as s:
                    op = load_operator(s, "admin")
                    audit.record(s, op, "test.append", "test", f"{n}-{i}")
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    r = grid(*A, "audit", "verify", "--json").json()
    assert r["ok"]
