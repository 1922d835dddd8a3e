"""Backup and the restore drill (issue 11; README "Restore drill"): `grid db backup` (SQLite,
online) or pg_dump (PostgreSQL), restored into a fresh database, gives identical table
fingerprints, passes `grid db check` and an intact audit chain."""

from __future__ import annotations

import shutil
import subprocess
import uuid

import pytest

from tests.reliability.common import fingerprints, load, report

pytestmark = pytest.mark.reliability


def some_activity(url: str) -> None:
    from baiyin_cli import store
    from baiyin_cli.services import petitions, visits
    from baiyin_cli.services.access import load_operator

    load.build_city(url)
    with store.session(write=True, url=url) as s:
        sec, wg = load_operator(s, "sec1"), load_operator(s, "wg11")
        for i in range(5):
            p = petitions.file_petition(s, sec, text=f"第{i}件：楼道灯坏了", category="help", channel="qr",
                                        grid="620402001001001", phone="13800138000")
            petitions.apply(s, sec, p["number"], "assign", to="wg11")
        visits.log_visit(s, wg, kind="household", minutes=40, household=load.household_code("620402001001001", 2),
                         findings=[("井盖松动", "help")])


def test_backup_then_restore_gives_identical_fingerprints(grid, db_url, backend, tmp_path):
    some_activity(db_url)
    from baiyin_cli import store

    store.dispose_all()
    before = fingerprints(db_url)
    if backend == "sqlite":
        backup = tmp_path / "grid-backup.db"
        grid("db", "backup", str(backup))
        restored = tmp_path / "restored" / "grid.db"  # the drill: a fresh place, the backup copied in
        restored.parent.mkdir()
        shutil.copy(backup, restored)
        url = f"sqlite:///{restored}"
    else:
        r = grid("--lang", "en", "db", "backup", str(tmp_path / "x.db"), expect=1)
        assert "pg_dump" in r.stderr  # grid says how; the drill follows it
        from sqlalchemy.engine import make_url

        from tests.conftest import _pg_admin_engine, _pg_drop, _pg_url

        dump = tmp_path / "grid.dump"
        src = make_url(db_url)
        subprocess.run(["pg_dump", "-Fc", "-h", src.host, "-U", src.username, "-f", str(dump), src.database],
                       check=True, capture_output=True)
        name = f"grid_restore_{uuid.uuid4().hex[:10]}"
        eng = _pg_admin_engine()
        with eng.connect() as c:
            c.exec_driver_sql(f'CREATE DATABASE "{name}"')
        subprocess.run(["pg_restore", "--no-owner", "-h", src.host, "-U", src.username, "-d", name, str(dump)],
                       check=True, capture_output=True)
        url = _pg_url(name)
    try:
        after = fingerprints(url)
        assert after == before
        check = grid("--db", url, "db", "check", "--json").json()
        assert check["ok"], check
        assert grid("--db", url, "--as", "admin", "audit", "verify", "--json").json()["ok"]
        report(f"backup-{backend}", f"- backup and restore, {backend}: {len(after)} tables, "
               f"{sum(n for n, _h in after.values())} rows, fingerprints identical; db check and audit verify pass\n")
    finally:
        if backend == "postgres":
            store.dispose_all()
            with eng.connect() as c:
                _pg_drop(c, name)
            eng.dispose()
