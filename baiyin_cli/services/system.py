"""Database lifecycle: init, check, migrate, backup."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from baiyin_cli import store, timeutil
from baiyin_cli.errors import InvalidInput
from baiyin_cli.i18n import M

CHECK_FAILED = M("db.check_failed", "数据库检查未通过：{problems}", "The database check failed: {problems}")
BACKUP_PG = M(
    "db.backup_pg",
    "PostgreSQL 数据库请用 pg_dump 备份，例如：pg_dump -Fc -f grid.dump {url}",
    "Back up a PostgreSQL database with pg_dump, e.g. pg_dump -Fc -f grid.dump {url}",
)
BACKUP_EXISTS = M(
    "db.backup_exists", "目标文件已存在：{path}（用 --force 覆盖）", "The file exists: {path} (use --force to overwrite)"
)
BACKUP_NO_DB = M("db.backup_no_db", "数据库文件不存在：{path}", "No database file at {path}")
BACKUP_FAILED = M("db.backup_failed", "无法写入备份文件 {path}：{error}", "Cannot write the backup to {path}: {error}")


def init(url: str | None = None, *, admin_pin: str | None = None) -> dict[str, Any]:
    """Create or upgrade the schema and create the first admin. Idempotent.

    `admin_pin` becomes admin's PIN if admin has none yet (an existing PIN is never replaced
    here: that is `grid worker set-pin`)."""
    from sqlalchemy.exc import OperationalError
    from sqlmodel import Session, select

    from baiyin_cli import migrations
    from baiyin_cli.models import Worker
    from baiyin_cli.services import audit

    eng = store.engine(url)
    try:
        before, after = migrations.upgrade(eng)
    except OperationalError as exc:
        raise store.translate_operational_error(exc, eng) from None
    created_admin = False
    with Session(eng.execution_options(grid_write=True)) as s:
        if s.exec(select(Worker).where(Worker.role == "admin")).first() is None:
            now = timeutil.now()
            s.add(
                Worker(
                    username="admin",
                    name="管理员",
                    role="admin",
                    active=True,
                    created_at=now,
                    updated_at=now,
                )
            )
            audit.record(s, None, "worker.add", "worker", "admin", after={"username": "admin", "role": "admin"})
            created_admin = True
        if before != after:
            audit.record(s, None, "db.migrate", "database", after, before={"revision": before}, after={"revision": after})
        from baiyin_cli.services import auth

        pin_set = False
        if admin_pin is not None and not auth.has_secret(s, "admin"):
            auth.check_secret(admin_pin)
            auth.store_secret(s, "admin", admin_pin, by=None)
            audit.record(s, None, "auth.set_pin", "worker", "admin", detail={"kind": auth.secret_kind(admin_pin), "first": True})
            pin_set = True
        admin_has_pin = auth.has_secret(s, "admin")
        from baiyin_cli.services import keys

        key = keys.ensure(s, eng.url.render_as_string(hide_password=False))
        s.commit()
    return {
        "url": store.redact(str(eng.url)),
        "before": before,
        "revision": after,
        "changed": before != after or created_admin or pin_set,
        "created_admin": created_admin,
        "admin_pin_set": pin_set,
        "admin_has_pin": admin_has_pin,
        "key_created": key["created"],
        "key_path": key["path"],
    }


def admin_needs_pin(url: str | None = None) -> bool:
    """True when the database is initialised and its admin has no PIN yet."""
    from baiyin_cli.migrations import current_revision
    from baiyin_cli.services import auth

    from baiyin_cli.migrations import HEAD

    eng = store.engine(url)
    if current_revision(eng) != HEAD:
        return True  # not yet created or migrated: init will make the credential table
    with store.session(url=url, check=False) as s:
        return not auth.has_secret(s, "admin")


def migrate(url: str | None = None) -> dict[str, Any]:
    from baiyin_cli import migrations

    eng = store.engine(url)
    before, after = migrations.upgrade(eng)
    from sqlmodel import Session

    from baiyin_cli.models import GridMeta
    from baiyin_cli.services import keys

    # A database never given a key (made by `grid db migrate` alone, not `grid init`) gets one
    # now, as at init: otherwise its first ID number would ask for a key file that never existed.
    with Session(eng.execution_options(grid_write=True)) as s:
        if s.get(GridMeta, keys.META_KEY_ID) is None:
            keys.ensure(s, eng.url.render_as_string(hide_password=False))
            s.commit()
    return {"url": store.redact(str(eng.url)), "before": before, "revision": after, "changed": before != after}


def check(url: str | None = None) -> dict[str, Any]:
    """Schema at head, and the backend's own integrity check (SQLite) / connectivity (PostgreSQL)."""
    from sqlalchemy import text

    from baiyin_cli.migrations import HEAD, current_revision

    eng = store.engine(url)
    problems: list[str] = []
    try:
        current = current_revision(eng)
    except Exception as exc:  # connection problems
        raise store.translate_operational_error(exc, eng) from None
    if current != HEAD:
        problems.append(f"schema: {current} != {HEAD}")
    integrity = "ok"
    with eng.connect() as conn:
        if eng.dialect.name == "sqlite":
            rows = [r[0] for r in conn.exec_driver_sql("PRAGMA integrity_check").fetchall()]
            if rows != ["ok"]:
                integrity = "; ".join(rows[:5])
                problems.append(integrity)
            fk = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if fk:
                problems.append(f"foreign keys: {len(fk)} broken")
        else:
            conn.execute(text("SELECT 1"))
        if current == HEAD:
            # The address search keys are derived rows with no foreign key (migration 0005): the
            # check a foreign key would make.
            orphans = conn.execute(text(
                "SELECT COUNT(*) FROM household_address_key k"
                " WHERE NOT EXISTS (SELECT 1 FROM household h WHERE h.id = k.household_id)"
            )).scalar()
            if orphans:
                problems.append(f"household_address_key: {orphans} rows without a household")
    return {
        "url": store.redact(str(eng.url)),
        "dialect": eng.dialect.name,
        "revision": current,
        "head": HEAD,
        "integrity": integrity,
        "ok": not problems,
        "problems": problems,
    }


def backup(target: Path, *, force: bool = False, url: str | None = None) -> dict[str, Any]:
    """Copy a live SQLite database with the online backup API (consistent under WAL)."""
    import sqlite3

    url = url or store.database_url()
    src_path = store.sqlite_path(url)
    if src_path is None:
        raise InvalidInput(BACKUP_PG, url=store.libpq_url(url))
    if not src_path.exists():
        raise InvalidInput(BACKUP_NO_DB, path=str(src_path))
    target = target.expanduser().resolve()
    if target.exists() and not force:
        raise InvalidInput(BACKUP_EXISTS, path=str(target))
    tmp = target.with_name(target.name + ".partial")
    if tmp.exists():
        tmp.unlink()
    src = sqlite3.connect(str(src_path))
    try:
        try:
            dst = sqlite3.connect(str(tmp))
            try:
                src.backup(dst)
            finally:
                dst.close()
            tmp.replace(target)
        except (sqlite3.Error, OSError) as exc:  # no such folder, no space, not writable
            tmp.unlink(missing_ok=True)
            raise InvalidInput(BACKUP_FAILED, path=str(target), error=str(exc)[:200]) from None
    finally:
        src.close()
    return {"source": str(src_path), "target": str(target), "bytes": target.stat().st_size}
