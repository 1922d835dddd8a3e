"""Archiving the audit log: signed JSON Lines exports that prove themselves later; the key file."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from tests.conftest import invoke

A = ("--as", "admin")


def test_export_and_verify_a_signed_archive(grid, city, tmp_path):
    out = tmp_path / "audit.jsonl"
    r = grid(*A, "audit", "export", "--from", "2000-01-01", "--to", "2099-12-31", "--out", str(out))
    assert "已签名" in r.stderr
    lines = out.read_text(encoding="utf-8").splitlines()
    header, entries, sig = json.loads(lines[0]), [json.loads(x) for x in lines[1:-1]], json.loads(lines[-1])
    assert header["format"] == "grid-audit-export/1" and header["exported_by"] == "admin"
    assert sig["alg"] == "HMAC-SHA256" and sig["count"] == len(entries) >= 15
    assert entries[0]["prev_hash"] is None and entries[-1]["hash"] == sig["last_hash"]
    # Personal data stays masked in the archive as in the log.
    assert "13800000011" not in out.read_text(encoding="utf-8")
    v = grid("audit", "verify-export", str(out), "--json").json()
    assert v["ok"] and v["count"] == len(entries)
    # The export itself is in the log.
    e = grid(*A, "audit", "list", "--action", "audit.export", "--json").json()
    assert e[0]["detail"]["count"] == len(entries)
    # Refuses to overwrite; stdout works too.
    grid(*A, "audit", "export", "--from", "2000-01-01", "--to", "2099-12-31", "--out", str(out), expect=1)
    piped = grid(*A, "audit", "export", "--from", "2000-01-01", "--to", "2099-12-31").stdout
    assert piped.splitlines()[0].startswith('{"exported_at"') or '"kind":"header"' in piped.splitlines()[0]


@pytest.mark.parametrize("damage", ["edit", "drop", "swap", "truncate", "resign"])
def test_any_change_to_an_archive_is_found(grid, city, tmp_path, damage):
    out = tmp_path / "audit.jsonl"
    grid(*A, "audit", "export", "--from", "2000-01-01", "--to", "2099-12-31", "--out", str(out))
    lines = out.read_bytes().splitlines(keepends=True)
    if damage == "edit":
        lines[3] = lines[3].replace(b'"actor":"admin"', b'"actor":"sec1"')
        assert b"sec1" in lines[3]
    elif damage == "drop":
        del lines[4]
    elif damage == "swap":
        lines[2], lines[3] = lines[3], lines[2]
    elif damage == "truncate":
        lines = lines[:-3] + lines[-1:]
    else:  # recompute a plain sha256 "signature": without the key it cannot be made
        import hashlib

        sig = json.loads(lines[-1])
        sig["mac"] = hashlib.sha256(b"".join(lines[:-1])).hexdigest()
        lines[3] = lines[3].replace(b'"actor":"admin"', b'"actor":"sec1"')
        lines[-1] = (json.dumps(sig) + "\n").encode()
    out.write_bytes(b"".join(lines))
    r = grid("audit", "verify-export", str(out), expect=1)
    assert str(out) in r.stderr
    # Why, in the operator's language (it was English in a Chinese message).
    assert "签名不符（内容被修改、截断或调换了顺序）" in r.stderr
    assert "signature does not match" in grid("--lang", "en", "audit", "verify-export", str(out), expect=1).stderr


def test_a_missing_archive_cannot_be_read_rather_than_invalid(grid, city, tmp_path):
    r = grid("audit", "verify-export", str(tmp_path / "none.jsonl"), expect=1)
    assert r.stderr.strip() == f"grid: 错误：无法读取审计归档文件 {tmp_path / 'none.jsonl'}：文件或目录不存在"
    (tmp_path / "a.jsonl").write_text("x\n", encoding="utf-8")
    assert "内容太短" in grid("audit", "verify-export", str(tmp_path / "a.jsonl"), expect=1).stderr


def test_an_archive_into_a_missing_folder_is_one_line(grid, city, tmp_path):
    """Regression: it was an internal FileNotFoundError; the OS's words are said in the
    operator's language."""
    before = grid(*A, "audit", "list", "--limit", "1000", "--json").json()
    target = tmp_path / "nowhere" / "a.jsonl"
    r = grid(*A, "audit", "export", "--from", "2000-01-01", "--to", "2099-12-31", "--out", str(target), expect=1)
    assert r.stderr.strip() == f"grid: 错误：无法写入 {target}：文件或目录不存在"
    r = grid("--lang", "en", *A, "export", "households", "-o", str(target), expect=1)
    assert r.stderr.strip() == f"grid: error: Cannot write {target}: no such file or directory"
    assert not (tmp_path / "nowhere").exists()
    assert grid(*A, "audit", "list", "--limit", "1000", "--json").json() == before  # the export recorded nothing


def test_only_admins_export_and_ranges_are_checked(grid, city, tmp_path):
    grid("--as", "sec1", "audit", "export", "--from", "2026-01-01", "--to", "2026-01-31", expect=4)
    grid(*A, "audit", "export", "--from", "2026-02-01", "--to", "2026-01-31", expect=1)
    grid(*A, "audit", "export", "--from", "2026-02-01", "--to", "2026-02-01", expect=4, env={"GRID_TOKEN": ""})


def test_old_entries_are_kept_and_a_period_exports_only_itself(grid, city, tmp_path):
    """An entry from more than 180 days ago is still in the log (the database refuses deletes) and
    exports alone when its day is asked for."""
    grid(*A, "dept", "add", "old", "旧部门", env={"GRID_NOW": "2025-01-15 10:00"})
    out = tmp_path / "jan.jsonl"
    grid(*A, "audit", "export", "--from", "2025-01-15", "--to", "2025-01-15", "--out", str(out))
    entries = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()[1:-1]]
    assert [e["entity_key"] for e in entries] == ["old"]
    # A period in the middle of the chain still verifies: its first entry links to the one before.
    assert entries[0]["prev_hash"] is not None
    assert grid("audit", "verify-export", str(out), "--json").json()["count"] == 1


# ---------------------------------------------------------------- the key file


def test_init_creates_a_private_key_file_and_a_lost_key_is_named(env_dirs, tmp_path, monkeypatch):
    monkeypatch.delenv("GRID_KEY", raising=False)
    db = tmp_path / "city.db"
    r = invoke("--db", str(db), "init")
    key = Path(str(db) + ".key")
    assert str(key) in r.stderr
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    pin = tmp_path / "pin"
    pin.write_text("305817\n")
    invoke("--db", str(db), "init", "--pin-file", str(pin))
    invoke("--db", str(db), "login", "admin", "--pin-file", str(pin), env={"GRID_TOKEN": ""})
    out = tmp_path / "a.jsonl"
    invoke("--db", str(db), "audit", "export", "--from", "2000-01-01", "--to", "2099-12-31", "--out", str(out),
           env={"GRID_TOKEN": ""})
    # A key readable by others is refused.
    os.chmod(key, 0o644)
    r = invoke("--db", str(db), "audit", "verify-export", str(out), expect=1)
    assert "0600" in r.stderr
    os.chmod(key, 0o600)
    # Another database's key: named as not belonging, never garbage.
    other = tmp_path / "other.db"
    invoke("--db", str(other), "init")
    r = invoke("--db", str(db), "audit", "export", "--from", "2000-01-01", "--to", "2099-12-31",
               env={"GRID_TOKEN": "", "GRID_KEY_FILE": str(other) + ".key"}, expect=1)
    assert "不属于" in r.stderr
    # The key is lost: the error names the path.
    key.rename(tmp_path / "elsewhere.key")
    r = invoke("--db", str(db), "audit", "export", "--from", "2000-01-01", "--to", "2099-12-31",
               env={"GRID_TOKEN": ""}, expect=1)
    assert str(key) in r.stderr
    r = invoke("--db", str(db), "init", expect=1)
    assert str(key) in r.stderr
