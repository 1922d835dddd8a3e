"""Operators prove who they are: PINs, login/logout/whoami, sessions, lockout, deactivation.

The `grid` fixture gives a command that names `--as U` a session for U (conftest
`session_token_for`). These tests switch that off with GRID_TOKEN="" (or set their own
GRID_TOKEN) to see what `grid` does for a person who has not logged in.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, text

A = ("--as", "admin")
NO_SESSION = {"GRID_TOKEN": ""}


def _pin_file(tmp_path: Path, pin: str, name: str = "pin") -> str:
    p = tmp_path / name
    p.write_text(pin + "\n")
    return str(p)


def _set_pin(grid, tmp_path, user: str, pin: str) -> str:  # type: ignore[no-untyped-def]
    f = _pin_file(tmp_path, pin, f"{user}.pin")
    grid(*A, "worker", "set-pin", user, "--pin-file", f)
    return f


def _login(grid, user: str, pin_file: str, expect: int = 0, env: dict | None = None):  # type: ignore[no-untyped-def]
    return grid("login", user, "--pin-file", pin_file, expect=expect, env={**NO_SESSION, **(env or {})})


# ---------------------------------------------------------------- --as alone proves nothing


@pytest.mark.parametrize(
    "args",
    [
        ("--as", "admin", "area", "add", "620402001001003", "三网格", "--level", "grid"),
        ("--as", "admin", "dept", "add", "jy", "教育局"),
        ("--as", "sec1", "household", "list"),
        ("--as", "sec1", "resident", "search", "1234"),
        ("--as", "sec1", "worker", "show", "wg11", "--reveal"),
        ("--as", "admin", "audit", "list"),
        ("--as", "admin", "audit", "verify"),
        ("--as", "wg11", "petition", "list"),
    ],
)
def test_without_a_session_the_same_commands_exit_4(grid, city, args):
    r = grid(*args, expect=4, env=NO_SESSION)
    assert "grid login" in r.stderr
    # The harness's session makes the same command pass the gate (it may still fail later for
    # other reasons, but never for want of a session).
    ok = grid(*args, expect=None)
    assert "grid login" not in ok.stderr


def test_no_claim_and_no_session_may_read_the_org_chart_only(grid, city):
    grid("area", "list", env=NO_SESSION)
    r = grid("household", "list", expect=4, env=NO_SESSION)
    assert "grid login" in r.stderr
    grid("dept", "add", "jy", "教育局", expect=4, env=NO_SESSION)


def test_a_forged_or_foreign_token_is_refused(grid, city, db_url):
    r = grid("household", "list", expect=4, env={"GRID_TOKEN": "grid_" + "A" * 43})
    assert "grid login" in r.stderr
    grid("area", "list", expect=4, env={"GRID_TOKEN": "not-a-token"})


# ---------------------------------------------------------------- login, whoami, logout


def test_login_whoami_logout_through_the_state_file(grid, city, tmp_path, env_dirs, db_url):
    f = _set_pin(grid, tmp_path, "sec1", "482915")
    r = _login(grid, "sec1", f)
    assert "sec1" in r.stderr
    files = list((env_dirs / "state" / "sessions").glob("*.json"))
    assert len(files) == 1
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    me = grid("whoami", "--json", env=NO_SESSION).json()
    assert me["username"] == "sec1" and me["role"] == "secretary" and me["session"]["expires_at"]
    # The session is the operator: no --as needed, and --as someone else is refused.
    grid("household", "list", env=NO_SESSION)
    r = grid("--as", "sec2", "household", "list", expect=4, env=NO_SESSION)
    assert "sec1" in r.stderr and "sec2" in r.stderr
    grid("--as", "sec1", "household", "list", env=NO_SESSION)
    grid("logout", env=NO_SESSION)
    assert not list((env_dirs / "state" / "sessions").glob("*.json"))
    grid("whoami", expect=4, env=NO_SESSION)
    assert "没有" in grid("logout", env=NO_SESSION).stderr
    acts = [e["action"] for e in grid(*A, "audit", "list", "--user", "sec1", "--json").json()]
    assert "auth.login" in acts and "auth.logout" in acts


def test_the_database_keeps_only_a_hash_of_the_token(grid, city, tmp_path, db_url, backend):
    f = _set_pin(grid, tmp_path, "wg11", "730264")
    token = _login(grid, "wg11", f"{f}", env=None).stdout  # saved, nothing on stdout
    assert token == ""
    token = grid("login", "wg11", "--pin-file", f, "--print-token", env=NO_SESSION).stdout.strip()
    assert token.startswith("grid_") and len(token) > 40
    # A script uses it through GRID_TOKEN.
    assert grid("whoami", "--json", env={"GRID_TOKEN": token}).json()["username"] == "wg11"
    eng = create_engine(db_url)
    with eng.connect() as c:
        hashes = [h for (h,) in c.execute(text("SELECT token_hash FROM auth_session WHERE username = 'wg11'"))]
        creds = c.execute(text("SELECT secret_hash FROM operator_credential WHERE username = 'wg11'")).scalar()
    eng.dispose()
    import hashlib

    assert hashlib.sha256(token.encode()).hexdigest() in hashes
    assert token not in hashes and creds.startswith("$argon2id$") and "730264" not in creds
    if backend == "sqlite":
        raw = Path(db_url.removeprefix("sqlite:///")).read_bytes()
        for wal in Path(db_url.removeprefix("sqlite:///")).parent.glob("*.db-wal"):
            raw += wal.read_bytes()
        assert token.encode() not in raw and b"730264" not in raw


def test_session_expires_after_the_configured_shift(grid, city, tmp_path):
    f = _set_pin(grid, tmp_path, "sec1", "482915")
    start = {"GRID_NOW": "2026-11-20 08:00"}
    _login(grid, "sec1", f, env=start)
    grid("household", "list", env={**NO_SESSION, "GRID_NOW": "2026-11-20 15:59"})
    r = grid("household", "list", expect=4, env={**NO_SESSION, "GRID_NOW": "2026-11-20 16:01"})
    assert "grid login" in r.stderr
    grid("config", "set", "auth.session_hours", "2")
    _login(grid, "sec1", f, env={"GRID_NOW": "2026-11-21 08:00"})
    grid("household", "list", env={**NO_SESSION, "GRID_NOW": "2026-11-21 09:59"})
    grid("household", "list", expect=4, env={**NO_SESSION, "GRID_NOW": "2026-11-21 10:01"})


def test_a_deactivated_operator_loses_every_session_at_once(grid, city, tmp_path):
    f = _set_pin(grid, tmp_path, "wg12", "615083")
    token = grid("login", "wg12", "--pin-file", f, "--print-token", env=NO_SESSION).stdout.strip()
    grid("visit", "list", env={"GRID_TOKEN": token}, expect=None)
    grid("whoami", env={"GRID_TOKEN": token})
    grid(*A, "worker", "deactivate", "wg12")
    r = grid("whoami", expect=4, env={"GRID_TOKEN": token})
    assert "停用" in r.stderr
    # and cannot log in again: the same message as a wrong PIN
    r = _login(grid, "wg12", f, expect=4)
    assert "登录失败" in r.stderr


# ---------------------------------------------------------------- lockout


def test_five_wrong_pins_lock_for_fifteen_minutes_without_telling_who_exists(grid, city, tmp_path, db_url):
    good = _set_pin(grid, tmp_path, "sec2", "530917")
    bad = _pin_file(tmp_path, "999111", "bad")
    t0 = {"GRID_NOW": "2026-11-20 09:00"}
    messages = set()
    for _ in range(5):
        messages.add(_login(grid, "sec2", bad, expect=4, env=t0).stderr)
    # Locked: even the right PIN fails, with the very same message as a wrong one ...
    messages.add(_login(grid, "sec2", good, expect=4, env={"GRID_NOW": "2026-11-20 09:10"}).stderr)
    # ... and as a user who does not exist, or has no PIN.
    messages.add(_login(grid, "nobody", good, expect=4, env=t0).stderr)
    messages.add(_login(grid, "wg21", good, expect=4, env=t0).stderr)
    assert len(messages) == 1 and "登录失败" in messages.pop()
    # After 15 minutes the right PIN works again.
    _login(grid, "sec2", good, env={"GRID_NOW": "2026-11-20 09:16"})
    entries = grid(*A, "audit", "list", "--action", "auth.", "--limit", "50", "--json").json()
    actions = [e["action"] for e in entries]
    assert actions.count("auth.lock") == 1
    assert actions.count("auth.login_failed") == 8
    lock = next(e for e in entries if e["action"] == "auth.lock")
    assert lock["entity_key"] == "sec2" and lock["detail"]["failures"] == 5
    assert grid(*A, "audit", "verify", "--json").json()["ok"]


def test_lockout_threshold_and_duration_are_configurable(grid, city, tmp_path):
    good = _set_pin(grid, tmp_path, "sec2", "530917")
    bad = _pin_file(tmp_path, "999111", "bad")
    grid("config", "set", "auth.max_failures", "2")
    grid("config", "set", "auth.lockout_minutes", "60")
    t0 = {"GRID_NOW": "2026-11-20 09:00"}
    _login(grid, "sec2", bad, expect=4, env=t0)
    _login(grid, "sec2", bad, expect=4, env=t0)
    _login(grid, "sec2", good, expect=4, env={"GRID_NOW": "2026-11-20 09:59"})
    _login(grid, "sec2", good, env={"GRID_NOW": "2026-11-20 10:01"})


def test_wrong_pins_at_the_lock_screen_count_toward_the_same_lockout(grid, city, tmp_path):
    """`auth.unlock` (the TUI's idle lock) is judged by the same rule as `grid login`: its
    wrong PINs and the command's add up, and a locked operator cannot unlock either."""
    from baiyin_cli import store
    from baiyin_cli.services import auth

    good = _set_pin(grid, tmp_path, "sec2", "530917")
    bad = _pin_file(tmp_path, "999111", "bad")
    with store.session(write=True) as s:
        token, _ = auth.issue_token(s, "sec2")
    for _ in range(3):
        _login(grid, "sec2", bad, expect=4)
    with store.session(write=True) as s:
        assert auth.unlock(s, "sec2", "999111", token)["ok"] is False  # the fourth
        r = auth.unlock(s, "sec2", "530917", token)  # right: resets the count, the session goes on
        assert r["ok"] and r["token"] == token and not r["renewed"]
    for _ in range(4):
        _login(grid, "sec2", bad, expect=4)
    with store.session(write=True) as s:
        assert auth.unlock(s, "sec2", "999111", token)["ok"] is False  # the fifth: locked
    with store.session(write=True) as s:
        assert auth.unlock(s, "sec2", "530917", token)["ok"] is False
    _login(grid, "sec2", good, expect=4)
    entries = grid(*A, "audit", "list", "--action", "auth.", "--limit", "50", "--json").json()
    actions = [e["action"] for e in entries]
    assert actions.count("auth.lock") == 1 and actions.count("auth.unlock") == 1
    assert actions.count("auth.login_failed") == 3 + 1 + 4 + 1 + 2


def test_a_good_login_resets_the_failure_count(grid, city, tmp_path):
    good = _set_pin(grid, tmp_path, "sec2", "530917")
    bad = _pin_file(tmp_path, "999111", "bad")
    t0 = {"GRID_NOW": "2026-11-20 09:00"}
    for _ in range(4):
        _login(grid, "sec2", bad, expect=4, env=t0)
    _login(grid, "sec2", good, env=t0)
    for _ in range(4):
        _login(grid, "sec2", bad, expect=4, env=t0)
    _login(grid, "sec2", good, env=t0)


# ---------------------------------------------------------------- set-pin


def test_set_pin_rules(grid, city, tmp_path):
    first = _set_pin(grid, tmp_path, "wg11", "602817")
    new = _pin_file(tmp_path, "719362", "new")
    wrong_old = _pin_file(tmp_path, "111222", "wrongold")
    # Someone else's PIN: admins only.
    grid("--as", "sec1", "worker", "set-pin", "wg11", "--pin-file", new, expect=4)
    # One's own: the old PIN is asked, and must be right.
    grid("--as", "wg11", "worker", "set-pin", "wg11", "--pin-file", new, expect=2)
    grid("--as", "wg11", "worker", "set-pin", "wg11", "--pin-file", new, "--old-pin-file", wrong_old, expect=4)
    token = grid("login", "wg11", "--pin-file", first, "--print-token", env=NO_SESSION).stdout.strip()
    grid("--as", "wg11", "worker", "set-pin", "wg11", "--pin-file", new, "--old-pin-file", first)
    # Changing a PIN ends the other sessions of that operator.
    grid("whoami", expect=4, env={"GRID_TOKEN": token})
    _login(grid, "wg11", first, expect=4)
    _login(grid, "wg11", new)
    grid(*A, "worker", "set-pin", "nobody", "--pin-file", new, expect=3)
    e = grid(*A, "audit", "list", "--action", "auth.set_pin", "--key", "wg11", "--json").json()
    assert len(e) == 2 and "719362" not in str(e) and "602817" not in str(e)


@pytest.mark.parametrize("pin, fragment", [("12345", "6"), ("000000", "简单"), ("123456", "简单"),
                                          ("876543", "简单"), ("abc", "8"), ("12 3456", "空白")])
def test_weak_pins_are_refused(grid, city, tmp_path, pin, fragment):
    f = _pin_file(tmp_path, pin)
    r = grid(*A, "worker", "set-pin", "wg11", "--pin-file", f, expect=1)
    assert fragment in r.stderr


def test_set_pin_names_what_is_missing_and_who_may(grid, city, tmp_path):
    _set_pin(grid, tmp_path, "wg11", "602817")
    new = _pin_file(tmp_path, "719362", "new")
    # --pin-file was given: what is missing is the old PIN, and the message says so.
    r = grid("--as", "wg11", "worker", "set-pin", "wg11", "--pin-file", new, expect=2)
    assert "--old-pin-file" in r.stderr and "原 PIN" in r.stderr
    r = grid("--lang", "en", "--as", "wg11", "worker", "set-pin", "wg11", "--pin-file", new, expect=2)
    assert "The old PIN is needed" in r.stderr and "--old-pin-file" in r.stderr
    r = grid(*A, "worker", "set-pin", "wg11", expect=2)
    assert "--pin-file" in r.stderr and "--old-pin-file" not in r.stderr
    r = grid("--lang", "en", *A, "worker", "set-pin", "wg11", "--pin-file", new)
    assert "PIN set for wg11 (sessions ended: " in r.stderr  # not "1 sessions ended"
    # Someone else's PIN: the secretary's role by its label, not its code.
    r = grid("--as", "sec1", "worker", "set-pin", "wg11", "--pin-file", new, expect=4)
    assert "社区党组织书记" in r.stderr and "secretary" not in r.stderr
    r = grid("--lang", "en", "--as", "sec1", "worker", "set-pin", "wg11", "--pin-file", new, expect=4)
    assert "(sec1 has the role Community secretary)" in r.stderr


def test_a_pin_is_never_taken_off_a_tty_without_a_file(grid, city):
    r = grid("login", "sec1", expect=2, env=NO_SESSION)
    assert "--pin-file" in r.stderr


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="0123456789", min_size=0, max_size=5))
def test_property_short_pins_are_refused(pin):
    from baiyin_cli.errors import InvalidInput
    from baiyin_cli.services import auth

    with pytest.raises(InvalidInput):
        auth.check_secret(pin)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="0123456789", min_size=6, max_size=12))
def test_property_long_pins_are_accepted_unless_trivial(pin):
    from baiyin_cli.errors import InvalidInput
    from baiyin_cli.services import auth

    steps = {(int(b) - int(a)) % 10 for a, b in zip(pin, pin[1:], strict=False)}
    trivial = len(set(pin)) == 1 or steps in ({1}, {9})
    if trivial:
        with pytest.raises(InvalidInput):
            auth.check_secret(pin)
    else:
        assert auth.check_secret(pin) == pin


@settings(max_examples=5, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=0x9FFF), min_size=8, max_size=20))
def test_property_hash_verifies_only_its_own_secret(secret):
    from baiyin_cli.services import auth

    encoded = auth.hash_secret(secret)
    assert secret not in encoded and encoded.startswith("$argon2id$")
    assert auth.verify_secret(encoded, secret)
    assert not auth.verify_secret(encoded, secret + "x")
    assert not auth.verify_secret(None, secret)


# ---------------------------------------------------------------- the token file


def test_a_token_file_readable_by_others_is_refused(grid, city, tmp_path, env_dirs):
    f = _set_pin(grid, tmp_path, "sec1", "482915")
    _login(grid, "sec1", f)
    path = next((env_dirs / "state" / "sessions").glob("*.json"))
    os.chmod(path, 0o644)
    r = grid("household", "list", expect=4, env=NO_SESSION)
    assert "0600" in r.stderr


def test_sessions_are_per_database(grid, city, tmp_path, env_dirs):
    f = _set_pin(grid, tmp_path, "sec1", "482915")
    _login(grid, "sec1", f)
    other = tmp_path / "other.db"
    grid("--db", str(other), "init")
    r = grid("--db", str(other), "household", "list", expect=4, env=NO_SESSION)
    assert "grid login" in r.stderr


# ---------------------------------------------------------------- init and demo


def test_init_sets_the_first_admin_pin(env_dirs, tmp_path):
    from tests.conftest import invoke

    db = str(tmp_path / "new.db")
    r = invoke("--db", db, "init")
    assert "admin" in r.stderr and "--pin-file" in r.stderr  # says admin has no PIN and how to set one
    invoke("--db", db, "login", "admin", "--pin-file", _pin_file(tmp_path, "305817"), expect=4, env=NO_SESSION)
    weak = _pin_file(tmp_path, "123456", "weak")
    invoke("--db", db, "init", "--pin-file", weak, expect=1)
    good = _pin_file(tmp_path, "305817", "good")
    assert invoke("--db", db, "init", "--pin-file", good, "--json").json()["admin_pin_set"] is True
    invoke("--db", db, "login", "admin", "--pin-file", good, env=NO_SESSION)
    invoke("--db", db, "--as", "admin", "dept", "add", "sifa", "司法所", env=NO_SESSION)
    # A second init never replaces an existing PIN.
    other = _pin_file(tmp_path, "920461", "other")
    assert invoke("--db", db, "init", "--pin-file", other, "--json").json()["admin_pin_set"] is False
    invoke("--db", db, "login", "admin", "--pin-file", other, expect=4, env=NO_SESSION)


def test_demo_flag_acts_without_login_only_on_a_demo_database(grid, city, db_url, backend):
    # A real database: --demo changes nothing.
    r = grid("--demo", "--db", db_url, "household", "list", expect=4, env=NO_SESSION)
    assert "grid login" in r.stderr
    # Even marked as a demo, a PostgreSQL database never lets --demo through (demo = SQLite file).
    eng = create_engine(db_url)
    with eng.begin() as c:
        c.execute(text("INSERT INTO grid_meta (key, value) VALUES ('demo', 'synthetic')"))
    eng.dispose()
    if backend == "postgres":
        grid("--demo", "--db", db_url, "household", "list", expect=4, env=NO_SESSION)
    else:
        grid("--demo", "--db", db_url, "household", "list", env=NO_SESSION)
        grid("--demo", "--db", db_url, "--as", "wg11", "household", "list", env=NO_SESSION)


def test_grid_demo_in_one_command_prints_its_pin(env_dirs, tmp_path):
    from tests.conftest import invoke

    db = tmp_path / "demo.db"
    sqlite3.connect(db).close()  # an empty file, as an older grid left when a command ran before the demo
    r = invoke("demo", "--db", str(db), "--seed", "7")  # replaced without --force: nothing in it to lose
    pin = r.stderr.split("PIN")[1].split("：")[1].split()[0].strip()
    assert pin.isdigit() and len(pin) == 6
    invoke("--demo", "--db", str(db), "household", "list", "--limit", "1", env=NO_SESSION)
    invoke("--db", str(db), "household", "list", "--limit", "1", expect=4, env=NO_SESSION)
    invoke("--db", str(db), "login", "admin", "--pin-file", _pin_file(tmp_path, pin), env=NO_SESSION)
    invoke("--db", str(db), "household", "list", "--limit", "1", env=NO_SESSION)


def test_triage_needs_a_session_too(grid, city):
    r = grid("--as", "sec1", "triage", expect=4, env=NO_SESSION)
    assert "grid login" in r.stderr
