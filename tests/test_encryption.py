"""Personal data encrypted at rest (issue 10): ID numbers and phones are stored as AES-256-GCM
ciphertexts with an HMAC-SHA256 lookup hash, never in clear. Proved on the raw SQLite file (and
its WAL) and on a pg_dump of the PostgreSQL database, through the real `grid` command."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import shutil
import sqlite3
import stat
import subprocess
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import TEST_KEY, invoke
from tests.test_idnumber import make_id

A = ("--as", "admin")
G11, G21 = "620402001001001", "620402001002001"
ZHANG_ID = make_id("620402", date(1956, 3, 17), 123)
LI_ID = make_id("620402", date(1958, 7, 2), 244)
WANG_ID = make_id("620403", date(1979, 5, 30), 517)
ZHANG_PHONE = "13912345678"
LI_PHONE = "0943-8221234"
WANG_PHONE = "18793456021"
REPORTER_PHONE = "15109432876"
SECRETS = (ZHANG_ID, LI_ID, WANG_ID, ZHANG_PHONE, LI_PHONE, WANG_PHONE, REPORTER_PHONE)
ENCRYPTED = {  # table -> its encrypted columns
    "resident": ("id_number", "phone"),
    "petition": ("reporter_phone",),
    "petition_reporter": ("phone",),
}


def _test_keys() -> dict:
    d = json.loads(TEST_KEY)
    return {
        "data": {k: base64.b64decode(v) for k, v in d["data_keys"].items()},
        "lookup": base64.b64decode(d["lookup_key"]),
    }


def _people(grid) -> dict:
    """A household of two and a third resident imported from a CSV file (the bulk path), a
    petition with a reporter phone merged into another (reporters copied), an edited phone."""
    h = grid(*A, "household", "add", "--grid", G11, "--address", "人民路12号院", "--json").json()
    zhang = grid(*A, "resident", "add", "--household", h["code"], "--name", "张三", "--relation", "户主",
                 "--id-number", ZHANG_ID, "--phone", "13900000000", "--json").json()
    grid(*A, "resident", "edit", str(zhang["id"]), "--phone", ZHANG_PHONE)
    grid(*A, "resident", "add", "--household", h["code"], "--name", "李四", "--relation", "配偶",
         "--id-number", LI_ID, "--phone", LI_PHONE)
    h2 = grid(*A, "household", "add", "--grid", G21, "--address", "兴华路8号", "--json").json()
    return {"household": h, "zhang": zhang, "h2": h2}


def _import_wang(grid, tmp_path: Path, h2: str) -> None:
    path = tmp_path / "residents.csv"
    path.write_text(
        "户编号,姓名,公民身份号码,联系电话,与户主关系\n"
        f"{h2},王五,{WANG_ID},{WANG_PHONE},户主\n"
        f"{h2},重号,{ZHANG_ID},,配偶\n",  # a known ID number, found by its lookup hash: in another household
        encoding="utf-8",
    )
    r = grid(*A, "import", "residents", str(path), "--atomic", "object", "--json", expect=1).json()
    assert r["created"] == 1 and [e["code"] for e in r["errors"]] == ["import.resident_other_household"], r


def _petitions(grid) -> list[str]:
    numbers = []
    for text in ("楼道灯坏了三天", "楼道的灯坏了三天了"):
        numbers.append(
            grid("--as", "sec1", "petition", "file", "--text", text, "--category", "help", "--channel", "qr",
                 "--grid", G11, "--name", "赵六", "--phone", REPORTER_PHONE, "--json").json()["number"]
        )
    grid("--as", "sec1", "petition", "merge", numbers[1], "--into", numbers[0])
    return numbers


def _raw_rows(db_url: str, sql: str) -> list[tuple]:
    from sqlalchemy import create_engine, text

    eng = create_engine(db_url)
    try:
        with eng.connect() as c:
            return [tuple(r) for r in c.execute(text(sql))]
    finally:
        eng.dispose()


def _pg_dump(db_url: str) -> bytes:
    from sqlalchemy.engine import make_url

    exe = shutil.which("pg_dump") or "/usr/lib/postgresql/15/bin/pg_dump"
    u = make_url(db_url)
    out = subprocess.run(
        [exe, "-h", u.host or "127.0.0.1", "-p", str(u.port or 5432), "-U", u.username or "postgres",
         "--no-owner", u.database],
        capture_output=True, check=True, timeout=120,
    )
    return out.stdout


def _pg_table_files(db_url: str) -> bytes:
    """The bytes of the personal-data tables' files on the server's disk (after a CHECKPOINT):
    what pg_dump cannot show (dropped columns, dead row versions). The tests run on the server's
    machine as a superuser."""
    out = b""
    with psycopg_connect(db_url) as con:
        con.autocommit = True
        con.execute("CHECKPOINT")
        data_dir = con.execute("SHOW data_directory").fetchone()[0]
        for table in ("resident", "petition", "petition_reporter"):
            rel = con.execute("SELECT pg_relation_filepath(%s)", (table,)).fetchone()[0]
            base = Path(data_dir) / rel
            for f in [base, *sorted(base.parent.glob(base.name + ".*"))]:
                if f.exists() and not f.name.endswith(("_fsm", "_vm")):
                    out += f.read_bytes()
    return out


def psycopg_connect(db_url: str):  # type: ignore[no-untyped-def]
    import psycopg
    from sqlalchemy.engine import make_url

    u = make_url(db_url)
    return psycopg.connect(host=u.host or "127.0.0.1", port=u.port or 5432, user=u.username or "postgres",
                           dbname=u.database)


def _leaks(blob: bytes) -> list[str]:
    return [s for s in SECRETS if s.encode() in blob or s.encode("utf-16-le") in blob]


# ---------------------------------------------------------------- never in clear


def test_known_numbers_never_reach_the_database_files(grid, city, db_url, backend, tmp_path):
    people = _people(grid)
    _import_wang(grid, tmp_path, people["h2"]["code"])
    _petitions(grid)
    # Everything works from the stored form: shown masked, revealed in clear.
    shown = grid(*A, "resident", "show", ZHANG_ID, "--reveal", "--json").json()
    assert (shown["id_number"], shown["phone"]) == (ZHANG_ID, ZHANG_PHONE)
    assert grid(*A, "resident", "show", ZHANG_ID, "--json").json()["phone"] == "139****5678"
    assert _raw_rows(db_url, "SELECT COUNT(*) FROM resident WHERE id_number_enc IS NOT NULL") == [(3,)]
    if backend == "sqlite":
        path = Path(db_url.removeprefix("sqlite:///"))
        files = [path, Path(str(path) + "-wal")]
        assert files[1].exists() and files[1].stat().st_size > 0  # the WAL is checked, not skipped
        for f in files:
            assert _leaks(f.read_bytes()) == [], f
        con = sqlite3.connect(path)
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.close()
        for f in files:
            if f.exists():
                assert _leaks(f.read_bytes()) == [], f
    else:
        dump = _pg_dump(db_url)
        assert b"COPY public.resident" in dump and b"id_number_enc" in dump
        assert _leaks(dump) == []
        heap = _pg_table_files(db_url)
        assert len(heap) > 8192 and _leaks(heap) == []


def test_stored_form_is_aes_gcm_with_a_keyed_lookup_hash(grid, city, db_url):
    """Checked with the key and the cryptography library directly, not through grid's code."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    _people(grid)
    k = _test_keys()
    rows = _raw_rows(db_url, "SELECT id, id_number_enc, id_number_hash, id_last4, phone_enc, phone_hash, phone_last4"
                             " FROM resident ORDER BY id")
    nonces = set()
    for _id, enc, digest, last4, penc, phash, plast4 in rows:
        enc, penc = bytes(enc), bytes(penc)
        for blob, field in ((enc, b"resident.id_number"), (penc, b"resident.phone")):
            assert blob[0] == 1 and blob[2 : 2 + blob[1]] == b"t1"  # version, key id
            head = blob[: 2 + blob[1]]
            nonce = blob[len(head) : len(head) + 12]
            nonces.add(nonce)
            clear = AESGCM(k["data"]["t1"]).decrypt(nonce, blob[len(head) + 12 :], field + head)
            if field == b"resident.id_number":
                number = clear.decode()
                assert number in (ZHANG_ID, LI_ID) and number[-4:] == last4
                assert bytes(digest) == hmac.new(k["lookup"], b"id\x00" + clear, hashlib.sha256).digest()
            else:
                assert clear.decode()[-4:] == plast4
                assert bytes(phash) == hmac.new(k["lookup"], b"phone\x00" + clear, hashlib.sha256).digest()
    assert len(nonces) == 4  # a fresh nonce per value
    # Bound to its column: an ID number's ciphertext does not open as a phone.
    with pytest.raises(Exception):
        AESGCM(k["data"]["t1"]).decrypt(bytes(rows[0][1])[4:16], bytes(rows[0][1])[16:], b"resident.phone" + bytes(rows[0][1])[:4])


# ---------------------------------------------------------------- lookups still work


def test_exact_lookup_duplicates_search_and_reveal(grid, city, tmp_path):
    people = _people(grid)
    _import_wang(grid, tmp_path, people["h2"]["code"])
    h = people["household"]["code"]
    # By full ID number: show, and the one-active-resident rule (the unique index is on the hash).
    assert grid(*A, "resident", "show", LI_ID, "--json").json()["name"] == "李四"
    r = grid(*A, "resident", "add", "--household", h, "--name", "冒名", "--relation", "子", "--id-number", ZHANG_ID,
             expect=1)
    assert "620402********" in r.stderr and ZHANG_ID not in r.stderr
    # Search by the whole number or phone (hash) and by the last four (clear).
    found = grid(*A, "resident", "search", ZHANG_ID, "--json").json()
    assert [(x["name"], x["matched"]) for x in found] == [("张三", ["id_number"])]
    found = grid(*A, "resident", "search", WANG_PHONE, "--json").json()
    assert [(x["name"], x["matched"]) for x in found] == [("王五", ["phone"])]
    assert {x["name"] for x in grid(*A, "resident", "search", ZHANG_ID[-4:], "--json").json()} == {"张三"}
    assert {x["name"] for x in grid(*A, "resident", "search", "5678", "--json").json()} == {"张三"}
    # An old phone no longer finds anyone.
    assert grid(*A, "resident", "search", "13900000000", "--json").json() == []
    # Reveal: clear values, audited; the list decrypts too.
    rows = grid(*A, "resident", "list", "--household", h, "--reveal", "--json").json()
    assert {(x["id_number"], x["phone"]) for x in rows} == {(ZHANG_ID, ZHANG_PHONE), (LI_ID, LI_PHONE)}
    # Export then import is a no-op (masked values are kept, not overwritten with stars).
    out = tmp_path / "out.csv"
    grid(*A, "export", "residents", "--output", str(out))
    again = grid(*A, "import", "residents", str(out), "--json").json()
    assert again["created"] == 0 and again["updated"] == 0 and again["ignored"] == 3, again
    assert grid(*A, "resident", "show", WANG_ID, "--reveal", "--json").json()["phone"] == WANG_PHONE


def test_reporter_phone_encrypted_similar_and_merge(grid, city, db_url):
    numbers = _petitions(grid)
    full = grid("--as", "sec1", "petition", "show", numbers[0], "--reveal", "--json").json()
    assert full["reporter_phone"] == REPORTER_PHONE
    assert [r["phone"] for r in full["reporters"]] == [REPORTER_PHONE, REPORTER_PHONE]
    assert grid("--as", "sec1", "petition", "show", numbers[0], "--json").json()["reporter_phone"] == "151****2876"
    assert _raw_rows(db_url, "SELECT COUNT(*) FROM petition WHERE reporter_phone_hash IS NOT NULL") == [(2,)]
    # A third petition from the same phone is found similar by the lookup hash.
    third = grid("--as", "sec1", "petition", "file", "--text", "下水道堵了", "--category", "help", "--channel", "qr",
                 "--grid", G11, "--phone", REPORTER_PHONE, "--json").json()
    assert any("phone" in c["reasons"] for c in third["similar"])


# ---------------------------------------------------------------- keys


@pytest.fixture
def key_file(tmp_path, monkeypatch):
    """The test key set in a key file (mode 0600), as `grid init` makes one, instead of GRID_KEY."""
    from baiyin_cli.services import keys

    path = tmp_path / "grid.key"
    keys.write(path, keys.parse(TEST_KEY, "test"))
    monkeypatch.delenv("GRID_KEY", raising=False)
    monkeypatch.setenv("GRID_KEY_FILE", str(path))
    return path


def _key_ids(db_url: str) -> set[str]:
    from baiyin_cli.services.crypto import key_id_of

    out = set()
    for table, cols in ENCRYPTED.items():
        for col in cols:
            out |= {key_id_of(b) for (b,) in _raw_rows(db_url, f"SELECT {col}_enc FROM {table}") if b is not None}
    return out


def test_key_rotate_reencrypts_everything_and_resumes(grid, city, db_url, key_file, tmp_path):
    people = _people(grid)
    _import_wang(grid, tmp_path, people["h2"]["code"])
    _petitions(grid)
    assert _key_ids(db_url) == {"t1"}
    grid("--as", "sec1", "key", "rotate", expect=4)  # admins only
    # Interrupted after one batch of one value (as a kill after its commit would leave it).
    r = grid(*A, "key", "rotate", "--batch-size", "1", "--stop-after", "1", expect=130)
    assert "grid key rotate" in r.stderr
    ks = json.loads(key_file.read_text())
    new = ks["current"]
    assert new != "t1" and set(ks["data_keys"]) == {"t1", new} and ks["rotation"]["to"] == new
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert _key_ids(db_url) == {"t1", new}
    half = grid(*A, "key", "show", "--json").json()
    assert half["rotation_unfinished"] == new and half["values_by_key"][new] == 1 and half["values_by_key"]["t1"] > 0
    # Meanwhile everything reads and writes (both keys are in the key file).
    assert grid(*A, "resident", "show", ZHANG_ID, "--reveal", "--json").json()["phone"] == ZHANG_PHONE
    grid(*A, "resident", "edit", ZHANG_ID, "--phone", "13600001111")
    # Rerun: the same rotation is finished, no third key.
    done = grid(*A, "key", "rotate", "--batch-size", "2", "--json").json()
    assert done["resumed"] and done["to"] == new and done["finished"] and done["reencrypted"] > 0
    ks = json.loads(key_file.read_text())
    assert set(ks["data_keys"]) == {"t1", new} and "rotation" not in ks
    assert _key_ids(db_url) == {new}
    shown = grid(*A, "key", "show", "--json").json()
    assert shown["values_by_key"]["t1"] == 0 and shown["rotation_unfinished"] is None
    assert "t1" not in json.dumps(shown["values_by_column"])
    # Lookups (the HMAC key did not change) and reveals still work.
    assert grid(*A, "resident", "show", LI_ID, "--reveal", "--json").json()["phone"] == LI_PHONE
    assert grid(*A, "resident", "search", WANG_PHONE, "--json").json()[0]["name"] == "王五"
    assert grid(*A, "resident", "show", ZHANG_ID, "--reveal", "--json").json()["phone"] == "13600001111"
    # A second rotation adds a third key.
    again = grid(*A, "key", "rotate", "--json").json()
    assert not again["resumed"] and again["to"] not in ("t1", new) and again["finished"]
    audit = grid(*A, "audit", "list", "--action", "key.rotate", "--json").json()
    assert [e["detail"]["event"] for e in reversed(audit)] == ["started", "resumed", "finished", "started", "finished"]
    # Without the new key (an old copy of the key file), values are refused clearly, not garbled.
    old = dict(ks, current="t1", data_keys={"t1": ks["data_keys"]["t1"]})
    key_file.write_text(json.dumps(old))
    r = grid(*A, "resident", "show", LI_ID, "--reveal", expect=1)
    assert str(key_file) in r.stderr and LI_PHONE not in r.stdout


def test_a_prepared_rotation_keeps_every_terminal_reading(grid, city, db_url, key_file, tmp_path):
    """Many terminals (PostgreSQL): --prepare hands out the next key first; a terminal holding
    only that prepared file reads every value during and after the rotation (no downtime)."""
    people = _people(grid)
    _import_wang(grid, tmp_path, people["h2"]["code"])
    grid("--as", "sec1", "key", "rotate", "--prepare", expect=4)  # admins only
    p = grid(*A, "key", "rotate", "--prepare", "--json").json()
    assert p["current"] == "t1" and p["prepared"] != "t1" and not p["already"]
    assert grid(*A, "key", "rotate", "--prepare", "--json").json() == dict(p, already=True)  # idempotent
    shown = grid(*A, "key", "show", "--json").json()
    assert shown["current"] == "t1" and shown["prepared"] == p["prepared"]
    assert _key_ids(db_url) == {"t1"}  # nothing written under the prepared key yet
    other = tmp_path / "terminal2.key"  # the copy another terminal got after --prepare
    other.write_bytes(key_file.read_bytes())
    other.chmod(0o600)
    env2 = {"GRID_KEY_FILE": str(other)}

    grid(*A, "key", "rotate", "--batch-size", "1", "--stop-after", "1", expect=130)
    assert json.loads(key_file.read_text())["current"] == p["prepared"]
    assert _key_ids(db_url) == {"t1", p["prepared"]}
    for id_number, phone in ((ZHANG_ID, ZHANG_PHONE), (LI_ID, LI_PHONE)):  # one of them moved already
        r = grid(*A, "resident", "show", id_number, "--reveal", "--json", env=env2).json()
        assert r["phone"] == phone
    grid(*A, "resident", "edit", LI_ID, "--phone", "13600002222", env=env2)  # writes under t1: still current there

    done = grid(*A, "key", "rotate", "--json").json()
    assert done["to"] == p["prepared"] and done["resumed"] and done["finished"]
    assert _key_ids(db_url) == {p["prepared"]}
    assert grid(*A, "resident", "show", LI_ID, "--reveal", "--json", env=env2).json()["phone"] == "13600002222"
    assert grid(*A, "key", "show", "--json").json()["prepared"] is None
    actions = [e["action"] for e in grid(*A, "audit", "list", "--json").json()]
    assert actions.count("key.prepare") == 1


def test_a_rotation_never_drops_a_key_another_one_added(grid, city, key_file, monkeypatch):
    """Regression (review): a rotation wrote back the key file it had read, dropping a key that a
    second rotation had added meanwhile, and values under that key became unreadable."""
    from baiyin_cli.services import keys

    _people(grid)
    real_for_session = keys.for_session

    def read_then_race(session):  # type: ignore[no-untyped-def]
        ks = real_for_session(session)
        # Another terminal's rotation adds its key to the file after this one has read it.
        other = json.loads(key_file.read_text())
        other["data_keys"]["k-other"] = base64.b64encode(os.urandom(32)).decode()
        key_file.write_text(json.dumps(other))
        return ks

    monkeypatch.setattr(keys, "for_session", read_then_race)
    done = grid(*A, "key", "rotate", "--json").json()
    assert done["finished"]
    on_disk = json.loads(key_file.read_text())
    assert {"t1", "k-other", done["to"]} <= set(on_disk["data_keys"]) and on_disk["current"] == done["to"]
    assert done["to"].startswith("k") and len(done["to"].split("-")[-1]) == 6  # a random part in the id


def test_rotate_refuses_a_key_given_inline(grid, city):
    r = grid(*A, "key", "rotate", expect=1)
    assert "GRID_KEY" in r.stderr


def test_missing_or_wrong_key_is_one_clear_line(grid_proc, city, db_url, key_file, tmp_path, monkeypatch):
    grid_proc(*A, "household", "add", "--grid", G11, "--address", "人民路1号")
    hh = grid_proc(*A, "household", "list", "--json").json()[0]["code"]
    grid_proc(*A, "resident", "add", "--household", hh, "--name", "张三", "--relation", "户主", "--id-number", ZHANG_ID,
              "--phone", ZHANG_PHONE)
    missing = tmp_path / "nowhere" / "grid.key"
    r = grid_proc(*A, "resident", "show", ZHANG_ID, "--reveal", expect=1, env={"GRID_KEY_FILE": str(missing)})
    assert str(missing) in r.stderr and r.stdout == "" and "Traceback" not in r.stderr
    r = grid_proc(*A, "resident", "list", "--json", expect=1, env={"GRID_KEY_FILE": str(missing)})
    assert str(missing) in r.stderr
    # Another database's key: the fingerprint says so, naming the file.
    from baiyin_cli.services import keys

    other = tmp_path / "other.key"
    keys.write(other, keys.new_keyset())
    r = grid_proc("--lang", "en", *A, "resident", "show", ZHANG_ID, expect=1, env={"GRID_KEY_FILE": str(other)})
    assert str(other) in r.stderr and "does not belong to this database" in r.stderr
    # A key file readable by others is refused.
    os.chmod(key_file, 0o644)
    r = grid_proc(*A, "resident", "show", ZHANG_ID, expect=1)
    assert str(key_file) in r.stderr
    os.chmod(key_file, 0o600)
    assert grid_proc(*A, "resident", "show", ZHANG_ID, "--reveal", "--json").json()["id_number"] == ZHANG_ID


# ---------------------------------------------------------------- migration 0004


def test_migration_0004_encrypts_clear_values_of_a_database_without_keys(grid, city, db_url, backend, env_dirs,
                                                                        monkeypatch, tmp_path):
    """A 0003 database holding clear values (made here by migrating back down, which decrypts),
    and no key yet: `grid db migrate` makes and binds a key file and encrypts every value."""
    from sqlalchemy import create_engine, text

    from baiyin_cli import migrations, store

    people = _people(grid)
    _import_wang(grid, tmp_path, people["h2"]["code"])
    _petitions(grid)
    store.dispose_all()
    eng = create_engine(db_url)
    from alembic import command

    command.downgrade(migrations.alembic_config(eng), "0003")
    with eng.begin() as c:
        clear = set(c.execute(text("SELECT id_number, phone FROM resident")).all())
        assert clear == {(ZHANG_ID, ZHANG_PHONE), (LI_ID, LI_PHONE), (WANG_ID, WANG_PHONE)}
        assert set(c.execute(text("SELECT reporter_phone FROM petition")).all()) == {(REPORTER_PHONE,)}
        c.execute(text("DELETE FROM grid_meta WHERE key = 'key_id'"))  # made before keys existed
    eng.dispose()
    monkeypatch.delenv("GRID_KEY")
    r = grid("db", "migrate", "--json").json()
    assert (r["before"], r["revision"]) == ("0003", migrations.HEAD)
    from baiyin_cli.services import keys

    path = keys.key_path(db_url)
    assert path.exists() and stat.S_IMODE(path.stat().st_mode) == 0o600
    made = json.loads(path.read_text())
    assert _key_ids(db_url) == {made["current"]}
    assert _raw_rows(db_url, "SELECT value FROM grid_meta WHERE key = 'key_id'") == [(keys.load(db_url).key_id,)]
    shown = grid(*A, "resident", "show", ZHANG_ID, "--reveal", "--json").json()
    assert (shown["id_number"], shown["phone"]) == (ZHANG_ID, ZHANG_PHONE)
    assert grid(*A, "resident", "search", WANG_PHONE, "--json").json()[0]["name"] == "王五"
    assert {x["name"] for x in grid(*A, "resident", "search", LI_ID[-4:], "--json").json()} == {"李四"}
    n = grid("--as", "sec1", "petition", "list", "--json").json()[0]["number"]
    assert grid("--as", "sec1", "petition", "show", n, "--reveal", "--json").json()["reporter_phone"] == REPORTER_PHONE
    # The clear values left no trace: not in the file, the WAL, nor a dump.
    if backend == "sqlite":
        db = Path(db_url.removeprefix("sqlite:///"))
        for f in (db, Path(str(db) + "-wal")):
            if f.exists():
                assert _leaks(f.read_bytes()) == [], f
    else:
        assert _leaks(_pg_dump(db_url)) == []
        # Regression: DROP COLUMN and the encrypting UPDATEs left the clear values in the table
        # files, where pg_dump does not look; the upgrade rewrites the tables.
        heap = _pg_table_files(db_url)
        assert len(heap) > 8192 and _leaks(heap) == []
    # Without the key, the migrated database says where the key should be.
    path.rename(tmp_path / "elsewhere.key")
    r = grid(*A, "resident", "show", ZHANG_ID, expect=1)
    assert str(path) in r.stderr


def test_db_migrate_alone_gives_a_new_database_its_key(env_dirs, monkeypatch, tmp_path):
    """Regression: a database made by `grid db migrate` (without `grid init`) had no key, and its
    first ID number asked to restore a key file that never existed."""
    from baiyin_cli.services import keys

    monkeypatch.delenv("GRID_KEY", raising=False)
    monkeypatch.delenv("GRID_KEY_FILE", raising=False)
    db = tmp_path / "fresh.db"
    url = f"sqlite:///{db}"
    r = invoke("--db", url, "db", "migrate", "--json").json()
    assert r["before"] is None and r["changed"]
    path = keys.key_path(url)
    assert path == Path(str(db) + ".key") and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert _raw_rows(url, "SELECT value FROM grid_meta WHERE key = 'key_id'") == [(keys.load(url).key_id,)]
    invoke("--db", url, "db", "migrate")  # again: nothing changes, the same key
    assert _raw_rows(url, "SELECT value FROM grid_meta WHERE key = 'key_id'") == [(keys.load(url).key_id,)]


# ---------------------------------------------------------------- properties


_printable = st.text(st.characters(blacklist_categories=("Cs",)), min_size=0, max_size=40)


@settings(max_examples=200, deadline=None)
@given(value=_printable, field=st.sampled_from(["resident.id_number", "resident.phone", "petition.reporter_phone"]))
def test_encrypt_decrypt_round_trip_and_equal_values_differ(value, field):
    from baiyin_cli.errors import InvalidInput
    from baiyin_cli.services import crypto, keys

    c = crypto.Cipher(keys.parse(TEST_KEY, "test"))
    a, b = c.seal(value, field), c.seal(value, field)
    assert a != b  # a random nonce per value
    assert c.open(a, field) == value and c.open(b, field) == value
    assert crypto.key_id_of(a) == "t1"
    assert c.lookup(value, field) == c.lookup(value, field)
    if len(value.encode()) >= 8:  # (a shorter value may occur in random bytes by chance)
        assert value.encode() not in a  # the ciphertext, not the value
    other = "resident.phone" if field == "resident.id_number" else "resident.id_number"
    with pytest.raises(InvalidInput):
        c.open(a, other)  # bound to its column
    tampered = bytearray(a)
    tampered[-1] ^= 1
    with pytest.raises(InvalidInput):
        c.open(bytes(tampered), field)  # altered: refused, never garbage
    for cut in (3, 5, 10, len(a) - 1):  # cut short, even inside the nonce (regression: ValueError)
        with pytest.raises(InvalidInput):
            c.open(a[:cut], field)


@settings(max_examples=100, deadline=None)
@given(x=st.text(min_size=1, max_size=20), y=st.text(min_size=1, max_size=20))
def test_lookup_hash_is_exact(x, y):
    from baiyin_cli.services import crypto, keys

    c = crypto.Cipher(keys.parse(TEST_KEY, "test"))
    assert (c.lookup(x, "resident.phone") == c.lookup(y, "petition.reporter_phone")) == (x == y)
    assert c.lookup(x, "resident.id_number") != c.lookup(x, "resident.phone")  # kinds apart
