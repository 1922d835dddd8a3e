"""Petitions through the real `grid` command: filing, every verb, roles, queues, privacy."""

from __future__ import annotations

import json

import pytest

from tests.conftest import invoke, listed_choices

A = ("--as", "admin")
G1, G2 = "620402001001001", "620402001001002"  # grids of community 1 (wg11, wg12)
C1, C2 = "620402001001", "620402001002"
NOW = "2026-09-30 09:00"  # a Wednesday, the day before the National Day holiday


@pytest.fixture(autouse=True)
def wide(monkeypatch):
    """Tables off a TTY are as wide as COLUMNS says (xdist workers may set it narrow)."""
    monkeypatch.setenv("COLUMNS", "300")


@pytest.fixture
def now(monkeypatch):
    """Fix the clock; `now.set("...")` moves it."""

    class Clock:
        def set(self, value: str) -> None:
            monkeypatch.setenv("GRID_NOW", value)

    c = Clock()
    c.set(NOW)
    return c


def file(
    grid,
    *extra: str,
    who: str = "sec1",
    text: str = "楼道灯坏了",
    category: str = "help",
    channel: str = "qr",
    where: tuple[str, ...] = ("--grid", G1),
    expect: int = 0,
) -> dict:
    r = grid(
        "--as",
        who,
        "petition",
        "file",
        "--text",
        text,
        "--category",
        category,
        "--channel",
        channel,
        *where,
        *extra,
        "--json",
        expect=expect,
    )
    return r.json() if expect == 0 else r


def show(grid, number: str, who: str = "admin") -> dict:
    return grid("--as", who, "petition", "show", number, "--json").json()


def to_contacted(grid, number: str, worker: str = "wg11") -> None:
    grid("--as", "sec1", "petition", "assign", number, "--to", worker)
    grid("--as", worker, "petition", "contact", number, "--how", "phone", "--outcome", "已联系，明天上门")


# ---------------------------------------------------------------- filing


def test_file_prints_the_number_and_fixes_both_deadlines(grid, city, now):
    r = grid(
        "--as",
        "sec1",
        "petition",
        "file",
        "--text",
        "楼道灯坏了",
        "--category",
        "help",
        "--channel",
        "qr",
        "--grid",
        G1,
        "--name",
        "王秀英",
        "--phone",
        "13912345678",
    )
    assert r.stdout.strip() == "BY-20260930-0001"
    assert "回访时限 2026-09-30 09:30" in r.stderr and "2026-10-10 23:59" in r.stderr
    p = file(grid, "--phone", "0943-8221234")
    assert p["number"] == "BY-20260930-0002"
    first = show(grid, "BY-20260930-0001")
    assert first["status"] == "submitted" and first["open311_status"] == "open"
    assert first["community"] == C1 and first["grid"] == G1 and first["channel"] == "qr"
    assert first["category_group"] == "help"
    assert first["filed_at"] == "2026-09-30T09:00:00+08:00"
    assert first["contact_due"] == "2026-09-30T09:30:00+08:00"
    # help = 3 working days after the filing day: Oct 1-7 are the holiday, Oct 8, 9 and the 调休 Saturday Oct 10.
    assert first["resolve_due"] == "2026-10-10T23:59:59+08:00" and first["due_estimated"] is False
    assert first["reporter_name"] == "王**" and first["reporter_phone"] == "139****5678"
    assert (
        first["clock"]["contact"]["state"] == "on_time" and first["clock"]["contact"]["seconds_left"] == 1800
    )
    assert [h["event"] for h in first["history"]] == ["file"]
    assert first["history"][0]["from"] is None and first["history"][0]["to"] == "submitted"
    assert first["reporters"] == [
        {
            "name": "王**",
            "phone": "139****5678",
            "from_number": "BY-20260930-0001",
            "added_at": "2026-09-30T09:00:00+08:00",
        }
    ]
    assert first["allowed_events"] == ["assign", "reject", "merge"]


def test_the_number_follows_the_local_filing_day_and_backdating(grid, city, now):
    now.set("2026-10-02 00:10")  # 16:10 UTC on Oct 1: the local day is Oct 2
    assert file(grid)["number"] == "BY-20261002-0001"
    p = file(grid, "--at", "2026-09-29 23:50")
    assert p["number"] == "BY-20260929-0001" and p["filed_at"] == "2026-09-29T23:50:00+08:00"
    assert p["recorded_at"] == "2026-10-02T00:10:00+08:00"
    assert file(grid)["number"] == "BY-20261002-0002"
    grid(
        "--as",
        "sec1",
        "petition",
        "file",
        "--text",
        "x",
        "--category",
        "help",
        "--channel",
        "qr",
        "--at",
        "2026-10-03 10:00",
        expect=1,
    )  # the future


def test_filing_defaults_to_the_operators_area_and_checks_it(grid, city, now):
    assert file(grid, who="wg11", where=())["grid"] == G1
    p = file(grid, who="sec1", where=())
    assert p["community"] == C1 and p["grid"] is None
    file(grid, who="wg11", where=("--grid", G2), expect=4)
    file(grid, who="sec2", where=("--grid", G1), expect=4)
    file(grid, who="dsifa", expect=4)
    file(grid, who="view", expect=4)
    file(grid, who="admin", where=(), expect=2)  # off a TTY the missing place is a usage error
    r = file(grid, where=("--grid", C1), expect=1)
    assert "--grid" in r.stderr
    file(grid, where=("--grid", G1, "--community", C2), expect=1)
    file(grid, category="nonsense", expect=1)
    file(grid, channel="fax", expect=1)
    file(grid, "--anonymous", "--name", "张三", expect=1)
    anon = file(grid, "--anonymous", "--phone", "13912345678")
    assert anon["anonymous"] is True and anon["reporter_name"] is None
    r = grid("--as", "sec1", "petition", "file", "--category", "help", "--channel", "qr", expect=2)
    assert "--text" in r.stderr


def test_missing_fields_off_a_tty_name_the_flag(grid, city, now):
    r = grid("--as", "sec1", "petition", "file", "--text", "路灯", "--channel", "qr", expect=2)
    assert "--category" in r.stderr


def test_household_link(grid, city, now):
    hh = grid(*A, "household", "add", "--grid", G1, "--address", "人民路12号3栋2单元501", "--json").json()
    p = file(grid, "--household", hh["code"], where=())
    assert p["household"] == hh["code"] and p["grid"] == G1 and p["address"] == hh["address"]
    assert show(grid, p["number"])["household"] == hh["code"]
    file(grid, "--household", hh["code"], where=("--grid", G2), expect=1)
    file(grid, "--household", "NOPE-1", where=(), expect=3)


# ---------------------------------------------------------------- the whole way


def test_the_whole_way_escalated_sent_back_resolved_by_the_department(grid, city, now):
    now.set("2026-09-30 19:00")
    n = file(grid, "--at", "2026-09-30 09:00", category="dispute_neighbour", text="楼上漏水，邻里协商不成")[
        "number"
    ]
    grid("--as", "sec1", "petition", "assign", n, "--to", "wg11", "--at", "2026-09-30 09:05")
    r = grid(
        "--as",
        "wg11",
        "petition",
        "contact",
        n,
        "--how",
        "phone",
        "--outcome",
        "约好上门",
        "--at",
        "2026-09-30 09:20",
        "--json",
    )
    assert r.json()["contacted_at"] == "2026-09-30T09:20:00+08:00"
    assert r.json()["clock"]["contact"]["state"] == "met"
    grid("--as", "wg11", "petition", "start", n, "--at", "2026-09-30 10:00")
    grid(
        "--as",
        "wg11",
        "petition",
        "escalate",
        n,
        "--dept",
        "zhujian",
        "--reason",
        "需要鉴定",
        "--at",
        "2026-09-30 11:00",
    )
    grid(
        "--as",
        "sec1",
        "petition",
        "escalate",
        n,
        "--dept",
        "sifa",
        "--reason",
        "转司法所调解",
        "--at",
        "2026-09-30 11:30",
    )
    grid("--as", "dsifa", "petition", "send-back", n, "--reason", "先由网格调解", "--at", "2026-09-30 14:00")
    shown = grid("--as", "sec1", "petition", "show", n).stdout  # regression: it named sifa as if still with it
    assert "sifa（已退回网格）" in shown
    assert grid("--as", "sec1", "petition", "show", n, "--json").json()["dept_sent_back"] is True
    grid(
        "--as",
        "wg11",
        "petition",
        "escalate",
        n,
        "--dept",
        "sifa",
        "--reason",
        "调解不成",
        "--at",
        "2026-09-30 16:00",
    )
    r = grid(
        "--as",
        "dsifa",
        "petition",
        "resolve",
        n,
        "--result",
        "人民调解达成协议",
        "--at",
        "2026-09-30 17:00",
        "--note",
        "双方签字",
    )
    assert "已办结待评价" in r.stderr
    grid(
        "--as",
        "sec1",
        "petition",
        "rate",
        n,
        "basically_satisfied",
        "--comment",
        "还行",
        "--at",
        "2026-09-30 18:00",
    )
    done = grid("--as", "sec1", "petition", "close", n, "--at", "2026-09-30 18:05", "--json").json()
    assert done["status"] == "closed" and done["open311_status"] == "closed" and done["closed_at"]
    assert done["rating"] == "basically_satisfied" and done["dept"] == "sifa" and done["version"] == 11
    p = show(grid, n)
    events = [(h["event"], h["from"], h["to"], h["actor"]) for h in p["history"]]
    assert events == [
        ("file", None, "submitted", "sec1"),
        ("assign", "submitted", "assigned", "sec1"),
        ("contact", "assigned", "contacted", "wg11"),
        ("start", "contacted", "in_progress", "wg11"),
        ("escalate", "in_progress", "escalated", "wg11"),
        ("escalate", "escalated", "escalated", "sec1"),
        ("send_back", "escalated", "in_progress", "dsifa"),
        ("escalate", "in_progress", "escalated", "wg11"),
        ("resolve", "escalated", "resolved", "dsifa"),
        ("rate", "resolved", "resolved", "sec1"),
        ("close", "resolved", "closed", "sec1"),
    ]
    assert p["history"][5]["data"] == {"dept": "sifa", "reason": "转司法所调解", "previous": "zhujian"}
    assert p["history"][8]["note"] == "双方签字" and p["history"][8]["data"]["on_time"] is True
    assert p["history"][2]["data"]["late"] is False
    assert p["clock"]["resolve"]["state"] == "met" and p["clock"]["state"] == "met"
    assert p["allowed_events"] == ["reopen"]
    # the human view names every step
    text = grid("--as", "sec1", "petition", "show", n).stdout
    for word in ("办理记录", "上报部门", "退回", "办结", "评价", "结案", "基本满意"):
        assert word in text
    audit = grid(*A, "audit", "list", "--entity", "petition", "--key", n, "--json").json()
    assert {"petition.file", "petition.assign", "petition.close"} <= {e["action"] for e in audit}


def test_a_late_callback_is_late_not_lost(grid, city, now):
    n = file(grid)["number"]
    grid("--as", "sec1", "petition", "assign", n, "--to", "wg12")
    now.set("2026-09-30 09:25")
    assert show(grid, n)["clock"]["contact"]["state"] == "due_soon"  # >= 80 % of 30 minutes used
    now.set("2026-09-30 09:45")
    before = show(grid, n)["clock"]
    assert (
        before["contact"]["state"] == "overdue"
        and before["overdue"]
        and before["contact"]["seconds_left"] == -900
    )
    p = grid(
        "--as", "wg12", "petition", "contact", n, "--how", "visit", "--outcome", "上门了解", "--json"
    ).json()
    assert p["clock"]["contact"]["state"] == "late" and p["status"] == "contacted"
    assert show(grid, n)["history"][-1]["data"]["late"] is True


def test_unsatisfied_reopens_to_the_assignee(grid, city, now):
    n = file(grid)["number"]
    to_contacted(grid, n)
    grid("--as", "wg11", "petition", "resolve", n, "--result", "换了灯泡")
    p = grid(
        "--as", "sec1", "petition", "rate", n, "unsatisfied", "--comment", "第二天又坏了", "--json"
    ).json()
    assert p["status"] == "in_progress" and p["assignee"] == "wg11" and p["rating"] == "unsatisfied"
    assert p["resolved_at"] is None
    mine = grid("--as", "wg11", "petition", "list", "--mine", "--json").json()
    assert [m["number"] for m in mine] == [n]
    p = grid("--as", "wg11", "petition", "resolve", n, "--result", "更换线路", "--json").json()
    assert p["rating"] is None and p["status"] == "resolved"
    grid("--as", "sec1", "petition", "rate", n, "satisfied")
    r = grid("--as", "sec1", "petition", "rate", n, "satisfied", expect=5)
    assert "已评价" in r.stderr
    grid("--as", "sec1", "petition", "close", n)
    ratings = [h["data"].get("rating") for h in show(grid, n)["history"] if h["event"] == "rate"]
    assert ratings == ["unsatisfied", "satisfied"]


def test_ratings_are_taken_by_code_or_either_name(grid, city, now):
    """Regression: `petition rate N 满意` was refused by a message listing 满意 as a choice."""
    for typed, code, status in (
        ("满意", "satisfied", "closed"),
        ("Basically Satisfied", "basically_satisfied", "closed"),
        ("basically-satisfied", "basically_satisfied", "closed"),
        ("不满意", "unsatisfied", "in_progress"),  # the name, too, reopens it
    ):
        n = file(grid)["number"]
        to_contacted(grid, n)
        grid("--as", "wg11", "petition", "resolve", n, "--result", "换了灯泡")
        p = grid("--as", "sec1", "petition", "rate", n, typed, "--json").json()
        assert p["rating"] == code, typed
        if status == "closed":
            p = grid("--as", "sec1", "petition", "close", n, "--json").json()
        assert p["status"] == status
        assert [h["data"]["rating"] for h in show(grid, n)["history"] if h["event"] == "rate"] == [code]


def test_a_refused_rating_lists_each_rating_once_in_the_operators_language(grid, city, now):
    n = file(grid)["number"]
    to_contacted(grid, n)
    grid("--as", "wg11", "petition", "resolve", n, "--result", "换了灯泡")
    r = grid("--as", "sec1", "petition", "rate", n, "好", expect=1)
    assert r.stderr.strip() == (
        "grid: 错误：评价无效：好（可选：satisfied 满意、basically_satisfied 基本满意、unsatisfied 不满意）"
    )
    r = grid("--lang", "en", "--as", "sec1", "petition", "rate", n, "good", expect=1)
    assert r.stderr.strip() == (
        "grid: error: Invalid rating: good (one of: satisfied, basically_satisfied, unsatisfied)"
    )
    assert listed_choices(r.stderr) == ["satisfied", "basically_satisfied", "unsatisfied"]
    assert show(grid, n)["status"] == "resolved"


def test_close_without_rating_waits_for_the_evaluation_period(grid, city, now):
    n = file(grid)["number"]
    to_contacted(grid, n)
    grid("--as", "wg11", "petition", "resolve", n, "--result", "已处理")
    r = grid("--as", "sec1", "petition", "close", n, expect=5)
    assert "2026-10-07 09:00" in r.stderr  # resolved + petition.evaluation_days (7)
    now.set("2026-10-07 09:00")
    p = grid("--as", "sec1", "petition", "close", n, "--json").json()
    assert p["status"] == "closed" and p["rating"] is None
    assert show(grid, n)["history"][-1]["data"] == {"lapsed": True}


def test_reject_and_reopen(grid, city, now):
    n = file(grid)["number"]
    grid("--as", "sec1", "petition", "assign", n, "--to", "wg11")
    grid("--as", "sec1", "petition", "reject", n, expect=2)  # --reason is required
    p = grid("--as", "sec1", "petition", "reject", n, "--reason", "不属于受理范围", "--json").json()
    assert (
        p["status"] == "rejected"
        and p["reject_reason"] == "不属于受理范围"
        and p["clock"]["state"] == "stopped"
    )
    assert p["due_at"] is None
    p = grid("--as", "sec1", "petition", "reopen", n, "--reason", "复核后应受理", "--json").json()
    assert p["status"] == "submitted" and p["assignee"] is None and p["reject_reason"] is None
    assert p["clock"]["contact"]["state"] in ("on_time", "due_soon", "overdue")


# ---------------------------------------------------------------- rules


def test_state_errors_say_what_is_allowed(grid, city, now):
    n = file(grid)["number"]
    r = grid("--as", "sec1", "petition", "resolve", n, "--result", "x", expect=5)
    assert "待派单" in r.stderr and "派单（社区书记、管理员）" in r.stderr and "不予受理" in r.stderr
    r = grid("--lang", "en", "--as", "sec1", "petition", "close", n, expect=5)
    assert "is submitted" in r.stderr and "assign (the community secretary, admin)" in r.stderr
    grid("--as", "sec1", "petition", "assign", n, "--to", "wg11")
    r = grid("--as", "sec1", "petition", "assign", n, "--to", "wg11", expect=5)
    assert "wg11" in r.stderr
    grid("--as", "sec1", "petition", "show", "BY-20990101-0001", expect=3)
    grid("--as", "sec1", "petition", "rate", n, "great", expect=1)
    to_contacted_n = n
    grid(
        "--as",
        "wg11",
        "petition",
        "contact",
        to_contacted_n,
        "--how",
        "carrier-pigeon",
        "--outcome",
        "x",
        expect=1,
    )
    v = show(grid, n)["version"]
    assert v == 2  # failed commands changed nothing


def test_empty_details_are_named_in_the_operators_language(grid, city, now):
    """Regression: a blank --result or --outcome was refused as "result不能为空" and "contact
    needs outcome": the detail's key, not its name, even in Chinese."""
    n = file(grid)["number"]
    grid("--as", "sec1", "petition", "assign", n, "--to", "wg11")
    r = grid("--as", "wg11", "petition", "contact", n, "--how", "phone", "--outcome", "", expect=1)
    assert r.stderr.strip() == "grid: 错误：回访需要填写沟通结果"
    r = grid("--lang", "en", "--as", "wg11", "petition", "contact", n, "--how", "phone", "--outcome", "", expect=1)
    assert r.stderr.strip() == "grid: error: Outcome is required to contact"  # a sentence, not "contact needs Outcome"
    grid("--as", "wg11", "petition", "contact", n, "--how", "phone", "--outcome", "已联系")
    # Spaces are as missing as nothing, and said the same way.
    r = grid("--as", "wg11", "petition", "resolve", n, "--result", "   ", expect=1)
    assert r.stderr.strip() == "grid: 错误：办结需要填写办理结果"
    r = grid("--lang", "en", "--as", "wg11", "petition", "resolve", n, "--result", "   ", expect=1)
    assert r.stderr.strip() == "grid: error: Result is required to resolve"
    assert show(grid, n)["status"] == "contacted"  # nothing was written
    grid("--as", "wg11", "petition", "escalate", n, "--dept", "sifa", "--reason", "转司法所调解")
    r = grid("--lang", "en", "--as", "dsifa", "petition", "send-back", n, "--reason", "", expect=1)
    assert r.stderr.strip() == "grid: error: Reason is required to send back"
    r = grid("--as", "dsifa", "petition", "send-back", n, "--reason", "", expect=1)
    assert r.stderr.strip() == "grid: 错误：退回需要填写原因"


def test_a_bad_callback_method_is_named_in_plain_english(grid, city, now):
    n = file(grid)["number"]
    grid("--as", "sec1", "petition", "assign", n, "--to", "wg11")
    r = grid("--lang", "en", "--as", "wg11", "petition", "contact", n, "--how", "fax", "--outcome", "x", expect=1)
    assert "Invalid callback method: fax" in r.stderr


def test_roles(grid, city, now):
    n = file(grid)["number"]
    r = grid("--as", "wg11", "petition", "assign", n, "--to", "wg11", expect=4)
    assert "社区书记" in r.stderr
    grid("--as", "view", "petition", "assign", n, "--to", "wg11", expect=4)
    grid("--as", "sec2", "petition", "assign", n, "--to", "wg11", expect=4)
    grid("--as", "sec2", "petition", "show", n, expect=4)
    grid("--as", "dsifa", "petition", "show", n, expect=4)
    grid("--as", "view", "petition", "show", n)
    grid("--as", "sec1", "petition", "assign", n, "--to", "wg21", expect=1)  # not of this community
    grid("--as", "sec1", "petition", "assign", n, "--to", "sec1", expect=1)  # not a grid worker
    grid("--as", "sec1", "petition", "assign", n, "--to", "wg12")
    r = grid("--as", "wg11", "petition", "contact", n, "--how", "phone", "--outcome", "x", expect=4)
    assert "承办网格员" in r.stderr and "你在此可以：无" in r.stderr
    grid("--as", "wg12", "petition", "contact", n, "--how", "phone", "--outcome", "x")
    grid("--as", "wg12", "petition", "escalate", n, "--dept", "nope", "--reason", "x", expect=1)
    grid("--as", "dsifa", "petition", "resolve", n, "--result", "x", expect=4)  # not with the department
    grid("--as", "wg12", "petition", "escalate", n, "--dept", "sifa", "--reason", "需部门处理")
    r = grid("--as", "wg12", "petition", "resolve", n, "--result", "x", expect=4)
    assert "承办部门" in r.stderr
    grid(
        "--as", "dsifa", "petition", "escalate", n, "--dept", "sifa", "--reason", "x", expect=5
    )  # already there
    assert show(grid, n, who="dsifa")["allowed_events"] == ["escalate", "send_back", "resolve"]
    grid("--as", "dsifa", "petition", "resolve", n, "--result", "已处理")
    grid("--as", "dsifa", "petition", "rate", n, "satisfied", expect=4)
    grid("--as", "wg12", "petition", "close", n, expect=4)
    grid(*A, "petition", "rate", n, "satisfied")
    grid(*A, "petition", "close", n)


def test_time_cannot_run_backwards_within_a_petition(grid, city, now):
    n = file(grid, "--at", "2026-09-30 08:00")["number"]
    r = grid("--as", "sec1", "petition", "assign", n, "--to", "wg11", "--at", "2026-09-30 07:59", expect=1)
    assert "2026-09-30 08:00" in r.stderr
    grid("--as", "sec1", "petition", "assign", n, "--to", "wg11", "--at", "2026-09-30 08:30")
    grid(
        "--as",
        "wg11",
        "petition",
        "contact",
        n,
        "--how",
        "phone",
        "--outcome",
        "x",
        "--at",
        "2026-09-30 08:10",
        expect=1,
    )


def test_stale_version_is_refused(grid, city, now):
    n = file(grid)["number"]
    seen = show(grid, n)["version"]
    grid("--as", "sec1", "petition", "assign", n, "--to", "wg11", "--if-version", str(seen))
    r = grid("--as", "sec1", "petition", "assign", n, "--to", "wg12", "--if-version", str(seen), expect=5)
    assert "sec1" in r.stderr and "2026-09-30" in r.stderr and "重新查看" in r.stderr
    assert show(grid, n)["assignee"] == "wg11"
    # A stale version is said first, before what is wrong with the rest (a bad rating here).
    grid("--as", "sec1", "petition", "rate", n, "xx", "--if-version", str(seen), expect=5)


# ---------------------------------------------------------------- duplicates


def test_similar_text_or_same_phone_warns_and_merge_keeps_every_reporter(grid, city, now):
    a = file(
        grid,
        "--name",
        "王秀英",
        "--phone",
        "13912345678",
        text="小区东门的路灯坏了，晚上看不见路",
        category="hazard_streetlight",
    )["number"]
    r = grid(
        "--as",
        "sec1",
        "petition",
        "file",
        "--text",
        "小区东门路灯坏了晚上看不见路！",
        "--category",
        "hazard_streetlight",
        "--channel",
        "hotline_12345",
        "--grid",
        G1,
        "--name",
        "李建国",
        "--phone",
        "13800001111",
    )
    b = r.stdout.strip()
    assert "相似" in r.stderr and a in r.stderr and f"merge {b}" in r.stderr
    same_phone = file(grid, "--phone", "13912345678", text="孩子入学咨询", category="consultation")
    assert [(c["number"], c["reasons"]) for c in same_phone["similar"]] == [(a, ["phone"])]
    other = file(grid, text="咨询养老保险缴费", category="consultation")
    assert other["similar"] == []
    cands = grid("--as", "sec1", "petition", "show", b, "--json").json()["history"][0]["data"]["similar"]
    assert cands == [a]
    grid("--as", "sec1", "petition", "merge", b, "--into", b, expect=1)
    grid("--as", "sec1", "petition", "merge", b, "--into", "BY-20990101-0001", expect=3)
    p = grid("--as", "sec1", "petition", "merge", b, "--into", a, "--json").json()
    assert p["status"] == "duplicate" and p["merged_into"] == a and p["open311_status"] == "closed"
    kept = show(grid, a, who="sec1")
    assert [(r["name"], r["phone"], r["from_number"]) for r in kept["reporters"]] == [
        ("王**", "139****5678", a),
        ("李**", "138****1111", b),
    ]
    assert kept["merged"] == [b] and kept["history"][-1]["event"] == "absorb"
    assert kept["history"][-1]["data"] == {"from": b, "reporters": 1}
    revealed = grid("--as", "sec1", "petition", "show", a, "--reveal", "--json").json()
    assert {r["phone"] for r in revealed["reporters"]} == {"13912345678", "13800001111"}
    # a mistaken merge is undone by reopening the duplicate
    grid("--as", "sec1", "petition", "reopen", b, "--reason", "不是同一盏灯")
    kept = show(grid, a)
    assert len(kept["reporters"]) == 1 and kept["merged"] == [] and kept["history"][-1]["event"] == "detach"
    assert show(grid, b)["status"] == "submitted"
    # only into a running petition of the same community
    c2 = file(grid, who="sec2", where=("--grid", "620402001002001"))["number"]
    grid(*A, "petition", "merge", b, "--into", c2, expect=1)
    to_contacted(grid, a)
    grid("--as", "wg11", "petition", "resolve", a, "--result", "修好")
    r = grid("--as", "sec1", "petition", "merge", b, "--into", a, expect=5)
    assert "已办结待评价" in r.stderr


# ---------------------------------------------------------------- queues


def test_list_is_urgency_ordered_filtered_and_scoped(grid, city, now):
    now.set("2026-09-21 09:00")
    old = file(grid, "--at", "2026-09-21 08:00", category="consultation")["number"]  # due 09-22
    to_contacted(grid, old)
    now.set("2026-09-28 09:00")
    fresh = file(grid, category="suggestion")["number"]  # callback due 09:30
    mid = file(grid, "--at", "2026-09-28 08:00", category="help", where=("--grid", G2))["number"]
    to_contacted(grid, mid, "wg12")  # resolve due 2026-09-30 (Sep 29, 30... 3 working days: 29, 30, Oct 8)
    other = file(grid, who="sec2", where=("--grid", "620402001002001"))["number"]
    gone = file(grid, category="consultation")["number"]
    grid("--as", "sec1", "petition", "reject", gone, "--reason", "重复来电")

    rows = grid("--as", "sec1", "petition", "list", "--json").json()
    assert [r["number"] for r in rows] == [old, fresh, mid]
    assert rows[0]["clock"]["overdue"] and rows[0]["clock"]["resolve"]["state"] == "overdue"
    assert rows[1]["clock"]["contact"]["state"] == "on_time"
    assert [r["number"] for r in grid("--as", "sec1", "petition", "list", "--overdue", "--json").json()] == [
        old
    ]
    assert [
        r["number"] for r in grid("--as", "sec1", "petition", "list", "--due-within", "1h", "--json").json()
    ] == [fresh]
    assert [
        r["number"] for r in grid("--as", "sec1", "petition", "list", "--status", "rejected", "--json").json()
    ] == [gone]
    every = grid("--as", "sec1", "petition", "list", "--status", "all", "--json").json()
    assert {r["number"] for r in every} == {old, fresh, mid, gone}
    # An 80-column terminal: the numbers stay whole on one line; the deadline, area and category
    # columns give way, and a line says so. A wide one shows every column and no such line.
    narrow = grid("--as", "sec1", "petition", "list", env={"COLUMNS": "80"})
    assert all(n in narrow.stdout for n in (old, fresh, mid)) and "网格/社区" not in narrow.stdout
    assert "终端太窄" in narrow.stderr and "网格/社区" in narrow.stderr
    wide = grid("--as", "sec1", "petition", "list")
    assert "网格/社区" in wide.stdout and "终端太窄" not in wide.stderr
    assert [r["number"] for r in grid("--as", "sec1", "petition", "list", "--mine", "--json").json()] == [
        fresh
    ]
    assert [r["number"] for r in grid("--as", "wg12", "petition", "list", "--mine", "--json").json()] == [mid]
    assert [r["number"] for r in grid("--as", "wg12", "petition", "list", "--json").json()] == [mid]
    assert [r["number"] for r in grid("--as", "wg11", "petition", "list", "--json").json()] == [old, fresh]
    assert [r["number"] for r in grid("--as", "sec2", "petition", "list", "--json").json()] == [other]
    assert grid("--as", "dsifa", "petition", "list", "--json").json() == []
    assert len(grid(*A, "petition", "list", "--json").json()) == 4
    assert [r["number"] for r in grid(*A, "petition", "list", "--grid", G2, "--json").json()] == [mid]
    assert [r["number"] for r in grid(*A, "petition", "list", "--community", C2, "--json").json()] == [other]
    assert len(grid(*A, "petition", "list", "--area", "620402", "--json").json()) == 4
    grid("--as", "sec2", "petition", "list", "--community", C1, expect=4)
    assert [r["number"] for r in grid(*A, "petition", "list", "--assignee", "wg12", "--json").json()] == [mid]
    cats = grid(*A, "petition", "list", "--category", "consultation", "--json").json()
    assert [r["number"] for r in cats] == [old]
    grid(*A, "petition", "list", "--category", "nope", expect=1)
    grid(*A, "petition", "list", "--status", "nope", expect=1)
    assert [
        r["number"]
        for r in grid(
            *A, "petition", "list", "--search", "楼道", "--limit", "2", "--offset", "1", "--json"
        ).json()
    ] == [fresh, other]  # other: same callback time, filed later
    assert [
        r["number"] for r in grid(*A, "petition", "list", "--search", fresh.lower(), "--json").json()
    ] == [fresh]
    table = grid("--as", "sec1", "petition", "list").stdout
    assert old in table and "超时" in table and "剩 30分" in table
    assert table.index(old) < table.index(fresh) < table.index(mid)


def test_group_category_filter(grid, city, now):
    h = file(grid, category="hazard_manhole", text="井盖破损")["number"]
    file(grid, category="dispute_family", text="家庭矛盾")
    assert [r["number"] for r in grid(*A, "petition", "list", "--category", "hazard", "--json").json()] == [h]
    assert grid(*A, "petition", "show", h, "--json").json()["category_group"] == "hazard"


def test_categories_channels_and_callback_ways_by_their_names(grid, city, now):
    """Regression: the Chinese name of a category (环境卫生), a channel (来访) or a callback way (电话)
    was refused, though the refusal was in Chinese; codes are still what is stored and printed."""
    a = file(grid, category="环境卫生", channel="来访", text="垃圾没人清")
    assert (a["category"], a["channel"]) == ("environment", "walk_in")
    b = file(grid, category="Broken Manhole Cover", channel="walk-in", text="井盖破损")
    assert (b["category"], b["channel"]) == ("hazard_manhole", "walk_in")
    c = file(grid, category="HAZARD_FIRE", channel="12345热线", text="楼道堆满杂物")
    assert (c["category"], c["channel"]) == ("hazard_fire", "hotline_12345")
    grid("--as", "sec1", "petition", "assign", a["number"], "--to", "wg11")
    p = grid("--as", "wg11", "petition", "contact", a["number"], "--how", "电话", "--outcome", "已沟通", "--json").json()
    assert p["status"] == "contacted"
    assert show(grid, a["number"])["history"][-1]["data"]["how"] == "phone"
    ls = lambda *a: [r["number"] for r in grid(*A, "petition", "list", "--json", *a).json()]  # noqa: E731
    assert ls("--category", "环境卫生") == ls("--category", "sanitation") == [a["number"]]
    assert sorted(ls("--category", "隐患")) == sorted(ls("--category", "Hazard")) == sorted([b["number"], c["number"]])
    assert ls("--category", "矛盾纠纷") == []
    rows = grid(*A, "export", "petitions", "--category", "井盖破损", "--format", "jsonl", "-o", "-").stdout
    assert [json.loads(r)["number"] for r in rows.splitlines()] == [b["number"]]


def test_refused_choices_are_listed_once_in_the_operators_language(grid, city, now):
    """Regression: the Chinese refusal listed English codes only, and a list filter listed the
    categories that are also groups (help, complaint...) twice."""
    from baiyin_cli import config

    cats = list(config.load().data["categories"])
    groups = [g for g in config.load().data["category_groups"] if g not in cats]
    r = file(grid, category="nosuch", expect=1)
    assert "环境卫生" in r.stderr and "environment 环境卫生、" in r.stderr
    assert listed_choices(r.stderr) == cats
    r = grid("--lang", "en", "--as", "sec1", "petition", "file", "--text", "x", "--category", "nosuch",
             "--channel", "qr", "--grid", G1, expect=1)
    assert "environment (Sanitation)" in r.stderr and listed_choices(r.stderr) == cats
    for lang in ("zh", "en"):
        for cmd in (("petition", "list"), ("export", "petitions", "-o", "-")):
            r = grid("--lang", lang, *A, *cmd, "--category", "nosuch", expect=1)
            assert listed_choices(r.stderr) == [*cats, *groups], (lang, cmd)
            assert ("hazard 隐患" if lang == "zh" else "hazard") in r.stderr
    r = file(grid, channel="飞鸽", expect=1)
    assert "（可选：qr 扫码反映、mini_program 白银快办小程序、hotline_12345 12345热线" in r.stderr
    assert "walk_in 来访" in r.stderr
    n = file(grid)["number"]
    grid("--as", "sec1", "petition", "assign", n, "--to", "wg11")
    r = grid("--as", "wg11", "petition", "contact", n, "--how", "飞鸽", "--outcome", "x", expect=1)
    assert r.stderr.strip() == "grid: 错误：回访方式无效：飞鸽（可选：phone 电话、visit 上门、sms 短信）"
    r = grid("--lang", "en", "--as", "wg11", "petition", "contact", n, "--how", "pigeon", "--outcome", "x", expect=1)
    assert r.stderr.strip() == "grid: error: Invalid callback method: pigeon (one of: phone, visit, sms (text message))"
    assert show(grid, n)["status"] == "assigned"


# ---------------------------------------------------------------- privacy


def test_personal_data_is_masked_and_reveal_is_audited(grid, city, now):
    n = file(grid, "--name", "王秀英", "--phone", "13912345678", text="我的电话13912345678，请回电")["number"]
    rows = grid("--as", "sec1", "petition", "list", "--json").json()
    assert rows[0]["reporter_phone"] == "139****5678" and "13912345678" not in rows[0]["text"]
    human = grid("--as", "sec1", "petition", "show", n).stdout
    assert "13912345678" not in human and "王秀英" not in human
    full = grid("--as", "sec1", "petition", "show", n, "--reveal", "--json").json()
    assert full["reporter_phone"] == "13912345678" and full["reporter_name"] == "王秀英"
    assert "13912345678" in full["text"]
    grid("--as", "view", "petition", "show", n, "--reveal", expect=4)
    grid("--as", "sec2", "petition", "show", n, "--reveal", expect=4)
    audit = grid(*A, "audit", "list", "--action", "petition.reveal", "--json").json()
    assert [(e["actor"], e["entity_key"]) for e in audit] == [("sec1", n)]
    filed = grid(*A, "audit", "list", "--action", "petition.file", "--json").json()
    assert "13912345678" not in str(filed)


def test_english(grid, city, now):
    n = file(grid)["number"]
    r = grid("--lang", "en", "--as", "sec1", "petition", "assign", n, "--to", "wg11")
    assert "assign -> assigned" in r.stderr
    table = grid("--lang", "en", "--as", "sec1", "petition", "list").stdout
    assert "callback" in table and "left" in table
    r = grid(
        "--lang", "en", "--as", "sec1", "petition", "contact", n, "--how", "phone", "--outcome", "x", expect=4
    )
    assert "may not contact" in r.stderr and "the assigned grid worker" in r.stderr
    r = grid("--lang", "en", "--as", "wg12", "petition", "start", n, expect=4)
    assert "outside" in r.stderr


# ---------------------------------------------------------------- for the visits service


def test_note_mediation_adds_history_without_moving_the_status(grid, city, now, db_url):
    from baiyin_cli import store
    from baiyin_cli.errors import NotPermitted
    from baiyin_cli.services import petitions
    from baiyin_cli.services.access import load_operator

    n = file(grid, category="dispute_neighbour", text="邻里噪音纠纷")["number"]
    to_contacted(grid, n)
    with store.session(write=True) as s:
        petitions.note_mediation(s, load_operator(s, "wg11"), n, visit_id=7, note="双方当面沟通")
    with pytest.raises(NotPermitted), store.session(write=True) as s:
        petitions.note_mediation(s, load_operator(s, "wg21"), n, visit_id=8)
    p = show(grid, n)
    assert p["status"] == "contacted" and p["version"] == 4
    last = p["history"][-1]
    assert (last["event"], last["from"], last["to"], last["actor"]) == (
        "mediate",
        "contacted",
        "contacted",
        "wg11",
    )
    assert last["data"] == {"visit_id": 7} and last["note"] == "双方当面沟通"
    assert "mediate" not in p["allowed_events"]


def test_allowed_events_from_a_public_dict(grid, city, now, db_url):
    from baiyin_cli import store
    from baiyin_cli.services import petitions
    from baiyin_cli.services.access import load_operator

    n = file(grid)["number"]
    to_contacted(grid, n)
    d = show(grid, n)
    with store.session() as s:
        assert petitions.allowed_events(load_operator(s, "wg11"), d) == [
            "contact",
            "start",
            "escalate",
            "resolve",
        ]
        assert petitions.allowed_events(load_operator(s, "sec1"), d) == [
            "assign",
            "escalate",
            "resolve",
            "reject",
            "merge",
        ]
        assert petitions.allowed_events(load_operator(s, "view"), d) == []
        assert petitions.clock(d, petitions.get_petition(s, n).filed_at)["contact"]["state"] == "met"


def test_help_lists_every_verb(env_dirs):
    out = invoke("petition", "--help").stdout
    for verb in (
        "file",
        "list",
        "show",
        "assign",
        "contact",
        "start",
        "escalate",
        "send-back",
        "resolve",
        "rate",
        "close",
        "reject",
        "merge",
        "reopen",
    ):
        assert verb in out


def test_every_verb_keeps_its_note_and_its_time(grid, city, now):
    """Each verb takes --note and --at; the history has both, in order, with who and from -> to."""
    now.set("2026-10-12 18:00")
    n = file(grid, "--at", "2026-10-12 08:00", category="complaint", text="小区垃圾清运不及时")["number"]
    dup = file(grid, "--at", "2026-10-12 08:10", category="complaint", text="垃圾没人清运")["number"]
    gone = file(grid, "--at", "2026-10-12 08:20", category="consultation", text="咨询与本社区无关")["number"]
    steps = [
        ("sec1", "assign", n, "--to", "wg11"),
        ("wg11", "contact", n, "--how", "visit", "--outcome", "已上门"),
        ("wg11", "start", n),
        ("wg11", "escalate", n, "--dept", "zhujian", "--reason", "需要住建"),
        ("admin", "send-back", n, "--reason", "网格先协调"),
        ("wg11", "resolve", n, "--result", "已清运"),
        ("sec1", "rate", n, "basically_satisfied"),
        ("sec1", "close", n),
        ("sec1", "reopen", n, "--reason", "又堆满了"),
        ("sec1", "merge", dup, "--into", n),
        ("sec1", "reject", gone, "--reason", "不属于受理范围"),
    ]
    for minute, (who, verb, number, *rest) in enumerate(steps, start=1):
        at = f"2026-10-12 09:{minute:02d}"
        grid("--as", who, "petition", verb, number, *rest, "--note", f"备注{verb}", "--at", at)
    history = show(grid, n)["history"]
    mine = [(h["event"], h["actor"], h["note"], h["at"][:16]) for h in history[1:]]
    expected = [
        (verb.replace("-", "_"), who, f"备注{verb}", f"2026-10-12T09:{m:02d}")
        for m, (who, verb, number, *_r) in enumerate(steps, start=1)
        if number == n
    ]
    # the merge shows on the surviving petition as "absorb" (its note is on the duplicate)
    assert [x for x in mine if x[0] != "absorb"] == expected
    assert [(h["event"], h["data"]["from"]) for h in history if h["event"] == "absorb"] == [("absorb", dup)]
    assert all(h["from"] != h["to"] or h["event"] in ("assign", "contact", "rate", "absorb") for h in history[1:])
    assert show(grid, dup)["history"][-1]["note"] == "备注merge"
    assert show(grid, gone)["history"][-1]["note"] == "备注reject"
    # show: both deadlines with the time left, and the full history table, in both languages
    text = grid("--as", "sec1", "petition", "show", n).stdout
    assert "回访时限     2026-10-12 08:30  超时完成" in text and "办结时限     2026-10-19 23:59  剩 7天5小时" in text
    assert "类别         投诉 " in text  # a category that is its own group is named once
    assert "已上报部门 → 办理中" in text
    assert "理由: 网格先协调; 部门: zhujian; 备注: 备注send-back" in text
    en = grid("--lang", "en", "--as", "sec1", "petition", "show", n).stdout
    assert "Callback due   2026-10-12 08:30  late" in en and "Resolve due    2026-10-19 23:59  7d 5h left" in en
    assert "You may        assign, escalate, resolve, merge" in en
    assert "escalated → in progress" in en and "reason: 网格先协调; dept: zhujian; note: 备注send-back" in en


def test_clocks_come_from_config_and_filing_by_community(grid, city, now):
    """The callback minutes and the working days per category are config; a petition may be
    filed for a community (no grid yet) with a place of its own."""
    grid("config", "set", "petition.contact_minutes", "45")
    grid("config", "set", "categories.consultation.days", "2")
    p = file(grid, "--address", "新华社区活动中心门口", category="consultation", where=("--community", C1))
    assert p["contact_due"] == "2026-09-30T09:45:00+08:00"
    # Wednesday 30 September, 2 working days: the National Day holiday runs to 7 October, then the 8th, 9th
    assert p["resolve_due"] == "2026-10-09T23:59:59+08:00"
    shown = show(grid, p["number"], who="sec1")
    assert (shown["community"], shown["grid"], shown["address"]) == (C1, None, "新华社区活动中心门口")
    assert shown["clock"]["contact"]["due"] == "2026-09-30T09:45:00+08:00"
    # A grid worker files only in their own grid: a community-wide petition is the secretary's.
    file(grid, who="wg11", where=("--community", C1), expect=4)
