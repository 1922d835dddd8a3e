"""grid triage, driven through Textual's pilot against the real database (SQLite and PostgreSQL).

Every action is asserted in the database afterwards (through `grid petition show --json`), not
only on screen. The clock is fixed (GRID_NOW), so countdowns and snapshots are deterministic.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

NOW = "2026-03-16 10:00"
C1, C2 = "620402001001", "620402001002"
G11, G12, G21 = "620402001001001", "620402001001002", "620402001002001"


# ---------------------------------------------------------------- data


def file(grid, text: str, category: str, grid_code: str, at: str, *extra: str, who: str = "sec1") -> str:
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
        "qr",
        "--grid",
        grid_code,
        "--at",
        at,
        *extra,
        "--json",
    )
    return r.json()["number"]


def show(grid, number: str) -> dict[str, Any]:
    return grid("--as", "admin", "petition", "show", number, "--json").json()


@pytest.fixture
def clock(monkeypatch):
    monkeypatch.setenv("GRID_NOW", NOW)
    yield
    from baiyin_cli.i18n import set_lang

    set_lang(None)


@pytest.fixture
def queue_city(grid, city, clock) -> dict[str, str]:
    """Five petitions in 新华社区 (sec1), two in 兴华社区 (sec2), in a known urgency order.

    Filed through the services in one transaction (the CLI verbs have their own tests).
    """
    from baiyin_cli import store, timeutil
    from baiyin_cli.services import petitions
    from baiyin_cli.services.access import load_operator

    def at(value: str):  # type: ignore[no-untyped-def]
        return timeutil.parse_time(value)

    with store.session(write=True) as s:
        sec1, sec2, wg12 = (load_operator(s, u) for u in ("sec1", "sec2", "wg12"))

        def new(op, text: str, category: str, grid_code: str, when: str, **kw: Any) -> str:  # type: ignore[no-untyped-def]
            return petitions.file_petition(
                s, op, text=text, category=category, channel="qr", grid=grid_code, at=at(when), **kw
            )["number"]

        p = {
            "manhole": new(
                sec1,
                "人民路12号门口井盖破损，夜间很危险",
                "hazard_manhole",
                G11,
                "2026-03-16 09:00",
                address="人民路12号",
                phone="13912345678",
            ),
            "dispute": new(sec1, "楼上漏水，邻里协商不成", "dispute_neighbour", G12, "2026-03-13 09:00"),
            "consult": new(sec1, "咨询低保申请需要哪些材料", "consultation", G11, "2026-03-16 09:50"),
            "light": new(sec1, "公园路路灯不亮已经一周", "hazard_streetlight", G12, "2026-03-12 15:00"),
            "garbage": new(sec1, "小区垃圾清运不及时", "environment", G11, "2026-03-16 09:35"),
            "water": new(sec2, "孤寡老人家里停水两天", "water_heating", G21, "2026-03-16 08:00"),
            "noise": new(sec2, "夜间施工噪音扰民", "complaint", G21, "2026-03-15 22:00"),
        }
        petitions.apply(s, sec1, p["dispute"], "assign", to="wg12", at=at("2026-03-13 09:05"))
        petitions.apply(
            s, wg12, p["dispute"], "contact", how="phone", outcome="约好上门", at=at("2026-03-13 09:20")
        )
        petitions.apply(s, sec1, p["light"], "assign", to="wg12", at=at("2026-03-12 15:05"))
    return p


# ---------------------------------------------------------------- driving the app


async def settle(pilot) -> None:  # type: ignore[no-untyped-def]
    """Wait until no worker runs (a finished worker may start the next one, so loop)."""
    app = pilot.app
    quiet = 0
    for _ in range(2000):
        await pilot.pause(0.005 if quiet else 0.01)
        busy = any(w.is_running or w.state.name == "PENDING" for w in app.workers)
        quiet = 0 if busy else quiet + 1
        if quiet >= 3:
            return
    raise AssertionError("workers never settled")


@asynccontextmanager
async def triage(username: str, *, lang: str = "zh", refresh: float = 3600, **kw: Any) -> AsyncIterator[Any]:
    from baiyin_cli.tui.app import TriageApp

    app = TriageApp(username, lang=lang, refresh_seconds=refresh, **kw)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        yield app, pilot


def numbers(app) -> list[str]:  # type: ignore[no-untyped-def]
    q = app.screen.queue
    return [q.row_at(i).number for i in range(q.total or 0)]


def screen_text(app) -> str:  # type: ignore[no-untyped-def]
    from rich.console import Console

    console = Console(
        width=app.size.width,
        height=app.size.height,
        file=io.StringIO(),
        force_terminal=True,
        record=True,
        legacy_windows=False,
        safe_box=False,
    )
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text()


async def search(pilot, text: str) -> None:  # type: ignore[no-untyped-def]
    await pilot.press("slash")
    await pilot.pause()
    box = pilot.app.screen.query_one("#search")
    assert box.has_focus
    box.value = text
    await pilot.press("enter")
    await settle(pilot)
    assert not box.has_focus


def run(coro) -> None:  # type: ignore[no-untyped-def]
    asyncio.run(coro)


# ---------------------------------------------------------------- the queue


def test_queue_is_urgency_ordered_with_counts_and_scope(grid, queue_city):
    p = queue_city

    async def scenario() -> None:
        async with triage("sec1") as (app, pilot):
            # Overdue first (the longest overdue first), then the nearest running deadline.
            # The scope: 新华社区 only.
            assert numbers(app) == [p["light"], p["manhole"], p["garbage"], p["consult"], p["dispute"]]
            text = screen_text(app)
            assert "在办 5" in text and "超期 2" in text and "待回访 1" in text and "已上报 0" in text
            assert p["water"] not in text and p["noise"] not in text
            # CJK columns line up: every row's number starts at the same cell as the header's.
            lines = [ln for ln in text.splitlines() if "BY-" in ln]
            assert len({ln.index("BY-") for ln in lines}) == 1
            assert "新华社区" in text and "网格12" in text and "赵网格" in text
        async with triage("sec2") as (app, pilot):
            assert sorted(numbers(app)) == sorted([p["water"], p["noise"]])
            await search(pilot, p["manhole"])
            assert numbers(app) == []  # another community's petition stays invisible, even by number

    run(scenario())


def test_filters_search_and_toggles(grid, queue_city):
    p = queue_city

    async def scenario() -> None:
        async with triage("sec1") as (app, pilot):
            await search(pilot, "人民路")  # the address
            assert numbers(app) == [p["manhole"]]
            await search(pilot, "5678")  # the masked phone's last four digits
            assert numbers(app) == [p["manhole"]]
            await search(pilot, "垃圾")
            assert numbers(app) == [p["garbage"]]
            await pilot.press("escape")
            await settle(pilot)
            assert len(numbers(app)) == 5
            await pilot.press("O")  # overdue
            await settle(pilot)
            assert numbers(app) == [p["light"], p["manhole"]]
            await pilot.press("O", "C")  # off, then awaiting callback
            await settle(pilot)
            assert numbers(app) == [p["light"]]
            await pilot.press("C", "M")  # mine: what waits on the secretary (to dispatch)
            await settle(pilot)
            assert set(numbers(app)) == {p["manhole"], p["garbage"], p["consult"]}
            await pilot.press("M", "K")  # by category: a picker narrowed by typing
            await settle(pilot)
            app.screen.query_one("#picker-filter").value = "井盖"
            await pilot.pause()
            await pilot.press("enter")
            await settle(pilot)
            assert numbers(app) == [p["manhole"]]
            await pilot.press("escape")
            await settle(pilot)
            await pilot.press("R")  # by grid
            await settle(pilot)
            app.screen.query_one("#picker-filter").value = "网格12"
            await pilot.pause()
            await pilot.press("enter")
            await settle(pilot)
            assert set(numbers(app)) == {p["light"], p["dispute"]}

    run(scenario())


def test_an_admin_picks_an_area_and_the_escalated_toggle(grid, queue_city):
    """An admin sees the whole city and narrows it to any area they pick (A); E shows what was
    escalated to a department."""
    p = queue_city
    grid("--as", "sec2", "petition", "assign", p["noise"], "--to", "wg21")
    grid("--as", "wg21", "petition", "contact", p["noise"], "--how", "phone", "--outcome", "已联系")
    grid("--as", "wg21", "petition", "start", p["noise"])
    grid("--as", "sec2", "petition", "escalate", p["noise"], "--dept", "zhujian", "--reason", "夜间施工审批")

    async def scenario() -> None:
        async with triage("admin") as (app, pilot):
            assert len(numbers(app)) == 7 and "已上报 1" in screen_text(app)
            await pilot.press("A")
            await settle(pilot)
            app.screen.query_one("#picker-filter").value = "兴华"
            await pilot.pause()
            await pilot.press("enter")
            await settle(pilot)
            assert sorted(numbers(app)) == sorted([p["water"], p["noise"]])
            assert "在办 2" in screen_text(app)
            await pilot.press("E")
            await settle(pilot)
            assert numbers(app) == [p["noise"]]
        async with triage("sec1") as (app, pilot):
            shown = {b.binding.action for b in app.screen.active_bindings.values() if b.enabled}
            assert "pick_area" not in shown  # a secretary's area is their community

    run(scenario())


def test_detail_shows_fields_deadlines_history_and_similar(grid, queue_city):
    p = queue_city
    dup = file(grid, "人民路12号门口井盖破损夜间很危险！", "hazard_manhole", G11, "2026-03-16 09:10")

    async def scenario() -> None:
        async with triage("sec1") as (app, pilot):
            await search(pilot, p["manhole"])
            await pilot.press("enter")
            await settle(pilot)
            assert app.screen.id == "detail-screen"
            text = screen_text(app)
            assert p["manhole"] in text and "井盖破损" in text and "待派单" in text
            assert "139****5678" in text and "13912345678" not in text  # masked
            assert "回访时限" in text and "已超期" in text and "-00:30:00" in text and "办结时限" in text
            assert "受理" in text and "李书记" in text  # the history: filed by sec1
            assert dup in text  # a duplicate candidate
            await pilot.press("escape")
            await settle(pilot)
            assert app.screen.id == "queue-screen"

    run(scenario())


def test_reveal_is_audited(grid, queue_city):
    p = queue_city

    async def scenario() -> None:
        async with triage("sec1") as (app, pilot):
            await search(pilot, p["manhole"])
            await pilot.press("enter")
            await settle(pilot)
            await pilot.press("v")
            await settle(pilot)
            assert "13912345678" in screen_text(app)
            app.reload_all()  # the refresh timer does not read (and audit) it again
            await settle(pilot)

    run(scenario())
    entries = grid("--as", "admin", "audit", "list", "--json").json()
    reveals = [e for e in entries if e["action"] == "petition.reveal" and e["entity_key"] == p["manhole"]]
    assert [e["actor"] for e in reveals] == ["sec1"]


def test_detail_shows_the_household_masked_and_reveals_it_audited(grid, queue_city):
    """The household of a petition: members with masked ID number and phone; `v` shows them in
    full for a role that may (the community's secretary), audited like `--reveal`."""
    from datetime import date

    from tests.test_idnumber import make_id

    head_id = make_id("620402", date(1956, 3, 17), 123)
    hh = grid("--as", "admin", "household", "add", "--grid", G11, "--address", "人民路12号3单元",
              "--care", "elderly_alone", "--json").json()["code"]
    grid("--as", "admin", "resident", "add", "--household", hh, "--name", "王大爷", "--relation", "02",
         "--id-number", head_id, "--phone", "13987654321", "--json")
    n = file(grid, "楼道灯坏了，老人上下楼不方便", "hazard_streetlight", G11, "2026-03-16 09:20",
             "--household", hh)

    async def scenario() -> None:
        async with triage("sec1") as (app, pilot):
            await search(pilot, n)
            await pilot.press("enter")
            await settle(pilot)
            text = screen_text(app)
            assert hh in text and "人民路12号3单元" in text and "王大爷" in text
            assert head_id not in text and head_id[-4:] in text and "139****4321" in text
            await pilot.press("v")
            await settle(pilot)
            text = screen_text(app)
            assert head_id in text and "13987654321" in text

    run(scenario())
    entries = grid("--as", "admin", "audit", "list", "--json").json()
    reveals = [e for e in entries if e["action"].endswith("reveal") and e["actor"] == "sec1"]
    assert {e["action"] for e in reveals} >= {"petition.reveal", "household.reveal"}


# ---------------------------------------------------------------- actions, asserted in the database


async def choose(pilot, *values: str) -> None:  # type: ignore[no-untyped-def]
    """Fill the open form: text values go into the focused input, "" accepts the highlighted choice."""
    from textual.widgets import Input

    await settle(pilot)
    for value in values:
        focused = pilot.app.focused
        if isinstance(focused, Input):
            focused.value = value
        await pilot.press("enter")
        await pilot.pause()
    await settle(pilot)


def test_assign_from_the_queue_picks_a_worker_of_the_grid_first(grid, queue_city):
    p = queue_city

    async def scenario() -> None:
        async with triage("sec1") as (app, pilot):
            await search(pilot, p["manhole"])
            await pilot.press("a")
            await settle(pilot)
            options = app.screen.query_one("#field-to")
            first = str(options.get_option_at_index(0).prompt)
            assert first.startswith("★") and "张网格" in first  # wg11: the petition's own grid
            second = str(options.get_option_at_index(1).prompt)
            assert "赵网格" in second and "在办 2" in second and "超期 1" in second  # with their load
            await choose(pilot, "", "")  # the highlighted worker, no note
            assert app.screen.queue.current.assignee_label == "张网格"  # reloaded after the action

    run(scenario())
    after = show(grid, p["manhole"])
    assert after["status"] == "assigned" and after["assignee"] == "wg11"
    assert after["history"][-1]["actor"] == "sec1"


def test_callback_escalate_resolve_rate_unsatisfied_reopens_then_close(grid, queue_city):
    p = queue_city
    n = p["manhole"]
    grid("--as", "sec1", "petition", "assign", n, "--to", "wg11")

    async def worker_calls_back() -> None:
        async with triage("wg11") as (app, pilot):
            # A grid worker's scope is their grid.
            assert set(numbers(app)) == {p["manhole"], p["consult"], p["garbage"]}
            await search(pilot, n)
            await pilot.press("c")
            await choose(pilot, "", "已电话联系，下午上门", "")
            await pilot.press("s")  # start working on it
            await choose(pilot, "")

    run(worker_calls_back())
    after = show(grid, n)
    assert after["status"] == "in_progress" and after["contacted_at"]
    assert after["history"][-2]["data"]["how"] == "phone"

    async def secretary() -> None:
        async with triage("sec1") as (app, pilot):
            await search(pilot, n)
            await pilot.press("enter")  # from the detail screen this time
            await settle(pilot)
            await pilot.press("e")
            await choose(pilot, "", "需要住建部门更换井盖", "")
            assert show(grid, n)["status"] == "escalated"
            await pilot.press("d")
            await choose(pilot, "已更换新井盖", "")
            assert show(grid, n)["status"] == "resolved"
            await pilot.press("t")
            await settle(pilot)
            await pilot.press("down", "down")  # unsatisfied
            await choose(pilot, "", "井盖还是松的", "")
            reopened = show(grid, n)
            assert reopened["status"] == "in_progress" and reopened["rating"] == "unsatisfied"
            await pilot.press("d")
            await choose(pilot, "已加固", "")
            await pilot.press("t")
            await choose(pilot, "", "", "")  # satisfied
            await pilot.press("x")
            await choose(pilot, "")
            text = screen_text(app)
            assert "已结案" in text

    run(secretary())
    done = show(grid, n)
    assert done["status"] == "closed" and done["rating"] == "satisfied" and done["dept"] == "sifa"
    events = [h["event"] for h in done["history"]]
    assert events == [
        "file",
        "assign",
        "contact",
        "start",
        "escalate",
        "resolve",
        "rate",
        "resolve",
        "rate",
        "close",
    ]


def test_merge_reject_and_a_department_sends_back(grid, queue_city):
    """The remaining actions, each asserted in the database: merge a duplicate into the similar
    petition the form offers, reject with a reason, and (as the department) send back."""
    p = queue_city
    dup = file(grid, "人民路12号门口井盖破损夜间很危险！", "hazard_manhole", G11, "2026-03-16 09:10")
    light = p["light"]
    grid("--as", "wg12", "petition", "contact", light, "--how", "phone", "--outcome", "已联系")
    grid("--as", "wg12", "petition", "start", light)
    grid("--as", "sec1", "petition", "escalate", light, "--dept", "sifa", "--reason", "需司法所调处")

    async def secretary() -> None:
        async with triage("sec1") as (app, pilot):
            await search(pilot, dup)
            await pilot.press("m")
            await settle(pilot)
            first = str(app.screen.query_one("#field-into").get_option_at_index(0).prompt)
            assert first.startswith(p["manhole"])  # the similar open petition, offered first
            await choose(pilot, "", "", "")
            await search(pilot, p["consult"])
            await pilot.press("n")
            await choose(pilot, "不属于社区受理范围，已告知拨打12333", "")

    run(secretary())
    merged = show(grid, dup)
    assert merged["status"] == "duplicate" and merged["merged_into"] == p["manhole"]
    rejected = show(grid, p["consult"])
    assert rejected["status"] == "rejected" and "12333" in rejected["reject_reason"]

    async def department() -> None:
        async with triage("dsifa") as (app, pilot):
            assert numbers(app) == [light]  # a department sees what was escalated to it
            await pilot.press("b")
            await choose(pilot, "不属于司法所职责，请社区协调物业", "")

    run(department())
    back = show(grid, light)
    assert back["status"] == "in_progress" and back["history"][-1]["actor"] == "dsifa"
    assert back["history"][-1]["event"] == "send_back"


def test_actions_not_allowed_are_not_offered(grid, queue_city):
    p = queue_city

    async def scenario() -> None:
        async with triage("sec1") as (app, pilot):
            await search(pilot, p["manhole"])  # submitted: assign, reject, merge
            shown = {b.binding.action for b in app.screen.active_bindings.values() if b.enabled}
            assert (
                "act('assign')" in shown and "act('resolve')" not in shown and "act('contact')" not in shown
            )
            await pilot.press("d")  # resolve is not possible: nothing opens
            await settle(pilot)
            assert app.screen.id == "queue-screen"
        async with triage("view") as (app, pilot):  # a viewer reads only
            shown = {b.binding.action for b in app.screen.active_bindings.values() if b.enabled}
            assert not any(a.startswith("act(") for a in shown)

    run(scenario())
    assert show(grid, p["manhole"])["status"] == "submitted"


def test_conflict_shows_the_other_change_and_reloads(grid, queue_city):
    p = queue_city
    n = p["manhole"]

    async def scenario() -> None:
        async with triage("sec1") as (app, pilot):
            await search(pilot, n)
            # Meanwhile, another terminal dispatches it.
            grid("--as", "admin", "petition", "assign", n, "--to", "wg11")
            await pilot.press("a")
            await settle(pilot)
            notes: list[str] = []
            app.notify = lambda message, **kw: notes.append(str(message))  # type: ignore[method-assign]
            await choose(pilot, "", "")
            assert notes and "admin" in notes[0] and "派单" in notes[0]
            assert app.screen.queue.current.assignee_label == "张网格"  # reloaded

    run(scenario())
    after = show(grid, n)
    assert after["assignee"] == "wg11" and [h["actor"] for h in after["history"]] == ["sec1", "admin"]


def test_a_second_terminal_is_seen_after_refresh(grid, queue_city):
    async def scenario() -> None:
        async with triage("sec1", refresh=0.2) as (app, pilot):
            before = app.screen.queue.total
            file(grid, "新的诉求：小区门口积水", "environment", G11, NOW)
            for _ in range(400):  # (the header is redrawn a message after the total: wait for both)
                await pilot.pause(0.05)
                if app.screen.queue.total == before + 1 and "在办 6" in screen_text(app):
                    break
            assert app.screen.queue.total == before + 1
            assert "在办 6" in screen_text(app)

    run(scenario())


def test_countdowns_tick_without_a_query(grid, queue_city, monkeypatch):
    from sqlalchemy import event

    from baiyin_cli import store

    async def scenario() -> None:
        async with triage("sec1") as (app, pilot):
            assert "回访 -3天18:30" in screen_text(app)
            statements: list[str] = []
            eng = store.engine()

            def count(*args: Any) -> None:
                statements.append(args[2])

            event.listen(eng, "before_cursor_execute", count)
            try:
                monkeypatch.setenv("GRID_NOW", "2026-03-16 10:00:07")
                app._tick()
                await pilot.pause()
                text = screen_text(app)
            finally:
                event.remove(eng, "before_cursor_execute", count)
            assert "-00:30:07" in text and "10:00:07" in text
            assert statements == []

    run(scenario())


def test_workers_panel(grid, queue_city):
    grid(
        "--as",
        "wg11",
        "visit",
        "log",
        "--kind",
        "info_gathering",
        "--minutes",
        "45",
        "--at",
        "2026-03-16 08:00",
    )

    async def scenario() -> None:
        async with triage("sec1") as (app, pilot):
            await pilot.press("w")
            await settle(pilot)
            text = screen_text(app)
            assert "张网格" in text and "45/60" in text and "赵网格" in text

    run(scenario())


def test_english_and_help(grid, queue_city):
    async def scenario() -> None:
        async with triage("sec1", lang="en") as (app, pilot):
            text = screen_text(app)
            assert "Open 5" in text and "Overdue 2" in text and "call -3d 18:30" in text
            await pilot.press("question_mark")
            await settle(pilot)
            text = screen_text(app)
            assert "Keys" in text and "Assign" in text and "Search" in text

    run(scenario())


def test_command_palette_offers_the_actions(grid, queue_city):
    p = queue_city

    async def scenario() -> None:
        async with triage("sec1") as (app, pilot):
            await search(pilot, p["manhole"])
            titles = [c.title for c in app.get_system_commands(app.screen)]
            assert "派单" in titles and "搜索" in titles and "帮助" in titles and "办结" not in titles

    run(scenario())


def test_many_rows_page_in_by_keyset(grid, city, clock):
    """More rows than one page: End shows the last petition, PageUp/PageDown and j/k move through them."""
    from baiyin_cli import store
    from baiyin_cli.services import petitions
    from baiyin_cli.services.access import load_operator

    with store.session(write=True) as s:
        op = load_operator(s, "sec1")
        for i in range(260):
            petitions.file_petition(
                s,
                op,
                text=f"第{i}号测试诉求 {i * 7919 % 1000}",
                category="help",
                channel="qr",
                grid=G11 if i % 2 else G12,
                at=petitions.timeutil.parse_time("2026-03-16 08:00") + petitions.timedelta(seconds=i),
            )
    with store.session() as s:
        op = load_operator(s, "sec1")
        everything = [d["number"] for d in petitions.list_petitions(s, op)]

    async def scenario() -> None:
        async with triage("sec1") as (app, pilot):
            q = app.screen.queue
            assert q.total == 260
            await pilot.press("G")
            await settle(pilot)
            assert q.cursor == 259 and q.current.number == everything[-1]
            await pilot.press("g", "pagedown", "pagedown", "pagedown")
            await settle(pilot)
            assert q.current.number == everything[q.cursor]
            await pilot.press("j")
            assert q.current.number == everything[q.cursor]
            got = [q.row_at(i).number for i in range(260) if q.row_at(i) is not None]
            assert got == [n for i, n in enumerate(everything) if q.row_at(i) is not None]

    run(scenario())


def test_a_page_read_before_a_reload_does_not_paint_over_it(grid, city, clock):
    """A page asked for before a reload (the refresh timer, an action) that comes back after it
    is older than what the reload read: it is dropped, never painted over the newer rows."""
    import threading

    from baiyin_cli import store
    from baiyin_cli.services import petitions
    from baiyin_cli.services.access import load_operator

    with store.session(write=True) as s:
        op = load_operator(s, "sec1")
        for i in range(60):
            petitions.file_petition(
                s, op, text=f"第{i}号测试诉求", category="help", channel="qr", grid=G11,
                at=petitions.timeutil.parse_time("2026-03-16 08:00") + petitions.timedelta(seconds=i),
            )
    with store.session() as s:
        target = petitions.list_petitions(s, load_operator(s, "sec1"))[55]["number"]  # on page 1

    release, read = threading.Event(), threading.Event()
    calls: list[int] = []

    async def scenario() -> None:
        from baiyin_cli.tui.app import TriageApp

        app = TriageApp("sec1", lang="zh", refresh_seconds=3600)
        real_page = app.gateway.page

        def page(*args: Any, **kw: Any):  # type: ignore[no-untyped-def]
            calls.append(1)
            if len(calls) == 1:  # the first read of page 1 is slow: it was asked before the change
                rows = real_page(*args, **kw)
                read.set()
                release.wait(30)
                return rows
            return real_page(*args, **kw)

        app.gateway.page = page  # type: ignore[method-assign]
        async with app.run_test(size=(120, 40)) as pilot:
            q = None
            for _ in range(400):
                await pilot.pause(0.01)
                q = app.screen.queue if app.screen.id == "queue-screen" else None
                if q is not None and q.total and read.is_set():
                    break
            assert q is not None and read.is_set()  # page 1 was read, its answer is slow to come
            grid("--as", "sec1", "petition", "assign", target, "--to", "wg11")  # another terminal
            app.reload_all()
            for _ in range(1000):
                await pilot.pause(0.01)
                row = q.row_at(55)
                busy = [w for w in app.workers if w.is_running or w.state.name == "PENDING"]
                if len(busy) == 1 and row is not None and row.assignee_label:
                    break  # everything but the slow read is done
            assert q.row_at(55).assignee_label == "张网格"  # the reload read page 1 again
            release.set()  # now the slow answer, read before the change, comes back
            await settle(pilot)
            assert q.row_at(55) is not None and q.row_at(55).assignee_label == "张网格"

    run(scenario())


# ---------------------------------------------------------------- snapshots (SQLite: the picture is the same)


@pytest.fixture
def snapshot_city(backend, grid, queue_city):
    if backend != "sqlite":
        pytest.skip("one backend is enough for a picture")
    return queue_city


def _app(lang: str = "zh"):  # type: ignore[no-untyped-def]
    from baiyin_cli.tui.app import TriageApp

    return TriageApp("sec1", lang=lang, refresh_seconds=3600)


def test_snapshot_queue(snapshot_city, snap_compare):
    assert snap_compare(_app(), terminal_size=(120, 40), run_before=settle)


def test_snapshot_detail(snapshot_city, snap_compare):
    async def open_detail(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot)
        await pilot.press("j", "enter")
        await settle(pilot)

    assert snap_compare(_app(), terminal_size=(120, 40), run_before=open_detail)


def test_snapshot_help(snapshot_city, snap_compare):
    async def open_help(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)

    assert snap_compare(_app(), terminal_size=(120, 40), run_before=open_help)


# ---------------------------------------------------------------- the command


def test_grid_triage_needs_a_session(grid, city):
    r = grid("triage", expect=4)
    assert "grid login" in r.stderr
    r = grid("--as", "sec1", "triage", expect=4, env={"GRID_TOKEN": ""})
    assert "grid login" in r.stderr


def test_grid_triage_off_a_terminal_says_so_and_ends(grid_proc, city):
    """Regression: `grid triage </dev/null` drew the screen into the pipe and never ended, at
    full CPU. Off a terminal it is one line, exit 2 (a real process: stdin and stdout are pipes)."""
    r = grid_proc("--as", "sec1", "triage", expect=2)
    assert r.stderr.strip() == "grid: 错误：分拣台须在终端中打开（标准输入和输出都须是终端）；脚本请用 grid petition list --json"
    r = grid_proc("--as", "sec1", "--lang", "en", "triage", expect=2)
    assert "needs a terminal" in r.stderr and r.stdout == ""


def test_every_call_authenticates_a_revoked_session_stops_the_screen(grid, queue_city):
    """The app re-checks the session on every database call (as `grid triage` wires it)."""
    from baiyin_cli import store
    from baiyin_cli.services import auth
    from baiyin_cli.services.access import authenticate

    with store.session(write=True) as s:
        token, _row = auth.issue_token(s, "sec1")

    def identify(session):  # type: ignore[no-untyped-def]
        return authenticate(session, claimed="sec1", token=token, source="env")

    async def scenario() -> None:
        async with triage("sec1", identify=identify) as (app, pilot):
            assert len(numbers(app)) == 5
            with store.session(write=True) as s:
                auth.revoke_sessions(s, "sec1")
            notes: list[str] = []
            app.notify = lambda message, **kw: notes.append(str(message))  # type: ignore[method-assign]
            app.action_refresh_now()
            await settle(pilot)
            assert notes and "grid login" in notes[0]
            assert len(numbers(app)) == 5  # what was on screen stays; nothing crashed

    run(scenario())


def test_grid_help_does_not_import_textual(env_dirs):
    import subprocess
    import sys

    code = (
        "import sys; from baiyin_cli.cli.main import make_app; make_app(['--help']); "
        "print('textual' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    r = subprocess.run(
        [sys.executable, "-m", "baiyin_cli", "triage", "--help"], capture_output=True, text=True, check=True
    )
    assert "--demo" in r.stdout and "--area" in r.stdout


# ---------------------------------------------------------------- the services the queue stands on


def test_keyset_pages_counts_and_change_marker(grid, queue_city):
    """list_petitions(after=) pages exactly like one long listing (NULL deadlines last); counts agree."""
    from baiyin_cli import store, timeutil
    from baiyin_cli.services import petitions
    from baiyin_cli.services.access import load_operator

    p = queue_city
    with store.session(write=True) as s:
        sec1 = load_operator(s, "sec1")
        for i in range(12):
            petitions.file_petition(
                s,
                sec1,
                text=f"测试诉求{i}",
                category="help",
                channel="qr",
                grid=G11,
                at=timeutil.parse_time(f"2026-03-15 {8 + i:02d}:00"),
            )
        # Two petitions whose clock stopped (resolved, awaiting the rating): due_at is NULL.
        for n in (p["garbage"], p["consult"]):
            petitions.apply(s, sec1, n, "assign", to="wg11")
            petitions.apply(s, load_operator(s, "wg11"), n, "contact", how="phone", outcome="已联系")
            petitions.apply(s, sec1, n, "resolve", result="已处理")
        marker = petitions.change_marker(s)
    with store.session() as s:
        sec1 = load_operator(s, "sec1")
        whole = [d["number"] for d in petitions.list_petitions(s, sec1)]
        assert whole[-2:] == sorted([p["garbage"], p["consult"]], key=whole.index)
        paged: list[str] = []
        after = None
        while True:
            page = [d["number"] for d in petitions.list_petitions(s, sec1, limit=4, after=after)]
            if not page:
                break
            paged += page
            after = page[-1]
        assert paged == whole and len(whole) == 17
        assert petitions.count_petitions(s, sec1) == 17
        assert petitions.count_petitions(s, sec1, overdue=True) == len(
            petitions.list_petitions(s, sec1, overdue=True)
        )
        counts = petitions.queue_counts(s, sec1)
        assert counts == {"open": 17, "overdue": counts["overdue"], "awaiting_callback": 1, "escalated": 0}
        assert counts["overdue"] == petitions.count_petitions(s, sec1, overdue=True) > 0
        # Stopped states only: newest first, paged the same way.
        done = [d["number"] for d in petitions.list_petitions(s, sec1, statuses=["resolved"])]
        first = petitions.list_petitions(s, sec1, statuses=["resolved"], limit=1)[0]["number"]
        rest = [d["number"] for d in petitions.list_petitions(s, sec1, statuses=["resolved"], after=first)]
        assert [first, *rest] == done and len(done) == 2
        assert petitions.similar_petitions(s, sec1, p["manhole"]) == []
    grid("--as", "sec1", "petition", "assign", p["manhole"], "--to", "wg11")
    with store.session() as s:
        assert petitions.change_marker(s) > marker
        sec2 = load_operator(s, "sec2")
        assert petitions.count_petitions(s, sec2, text=p["manhole"]) == 0
        assert petitions.queue_counts(s, sec2)["open"] == 2


def _visible(raw: bytes) -> str:
    """The text a terminal was sent, without escape sequences (the tail: for failure messages)."""
    import re

    escapes = r"\x1b(\[[0-9;?<>=$]*[ -/]*[@-~]|\][^\x07]*\x07|[()][0-9A-B]|[=>78])"
    text = re.sub(escapes, " ", raw.decode(errors="replace"))
    return re.sub(r" {2,}", " ", text)[-1500:]


def test_grid_triage_in_a_real_terminal_quits_with_q(grid, queue_city, db_url):
    """The installed command, in a pseudo-terminal: it draws the queue, `q` quits with exit 0."""
    import fcntl
    import os
    import pty
    import select
    import struct
    import subprocess
    import sys
    import termios
    import time

    from tests.conftest import session_token_for

    token = session_token_for(["--as", "sec1"], {"GRID_DATABASE_URL": db_url})
    assert token
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    env = {**os.environ, "GRID_TOKEN": token, "TERM": "xterm-256color", "GRID_NOW": NOW}
    proc = subprocess.Popen(
        [sys.executable, "-m", "baiyin_cli", "--as", "sec1", "triage"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        close_fds=True,
    )
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + 120
    try:
        while queue_city["light"].encode() not in seen and time.monotonic() < deadline:
            if select.select([master], [], [], 0.2)[0]:
                seen += os.read(master, 65536)
        # the most urgent petition is drawn (on failure: what the terminal showed, escapes removed)
        assert queue_city["light"].encode() in seen, _visible(seen)
        os.write(master, b"q")
        while proc.poll() is None and time.monotonic() < deadline:  # keep reading: a full pty blocks the app
            if select.select([master], [], [], 0.2)[0]:
                try:
                    seen += os.read(master, 65536)
                except OSError:
                    break
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    assert b"Traceback" not in seen


def test_q_in_a_form_does_not_quit(grid, queue_city):
    p = queue_city

    async def scenario() -> None:
        async with triage("sec1") as (app, pilot):
            await search(pilot, p["manhole"])
            await pilot.press("a")
            await settle(pilot)
            await pilot.press("q")  # the worker list has the focus: q is not "quit" here
            await settle(pilot)
            assert app.is_running and type(app.screen).__name__ == "ActionForm"
            await pilot.press("escape")
            await settle(pilot)
            assert app.screen.id == "queue-screen"
            await pilot.press("q")
            await pilot.pause()
            assert app.return_code == 0

    run(scenario())
    assert show(grid, queue_city["manhole"])["status"] == "submitted"


def test_worker_load_is_scoped_and_counts_running_petitions(grid, queue_city):
    from baiyin_cli import store
    from baiyin_cli.errors import NotPermitted
    from baiyin_cli.services import workload
    from baiyin_cli.services.access import load_operator

    with store.session() as s:
        rows = workload.worker_load(s, load_operator(s, "sec1"), grid_first=G12)
        assert [w["username"] for w in rows] == ["wg12", "wg11"]  # the petition's grid first
        wg12 = rows[0]
        assert (wg12["open"], wg12["overdue"], wg12["minutes_today"]) == (2, 1, 0)
        assert [w["username"] for w in workload.worker_load(s, load_operator(s, "sec2"))] == ["wg21"]
        with pytest.raises(NotPermitted):
            workload.worker_load(s, load_operator(s, "sec2"), area=C1)
        with pytest.raises(NotPermitted):
            workload.worker_load(s, load_operator(s, "dsifa"))


# ---------------------------------------------------------------- who works: the PIN screen and the idle lock

PIN = "482915"
PIN_FILE_USERS = ("sec1", "sec2")


@pytest.fixture
def pins(grid, queue_city, tmp_path) -> dict[str, str]:
    """sec1 and sec2 have a PIN (set by admin, as `grid worker set-pin` does)."""
    f = tmp_path / "pin"
    f.write_text(PIN + "\n")
    for user in PIN_FILE_USERS:
        grid("--as", "admin", "worker", "set-pin", user, "--pin-file", str(f))
    return queue_city


def _credentials(claimed: str | None = None, token: str | None = None, source: str | None = None) -> Any:
    from baiyin_cli.tui.gateway import Credentials

    return Credentials(claimed, token, source)


@asynccontextmanager
async def signing_in(credentials: Any, **kw: Any) -> AsyncIterator[Any]:
    """The app as `grid triage` builds it: credentials, no username (the session decides)."""
    from baiyin_cli.tui.app import TriageApp

    app = TriageApp(None, credentials=credentials, lang="zh", refresh_seconds=3600, **kw)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        yield app, pilot


async def type_pin(pilot, pin: str) -> None:  # type: ignore[no-untyped-def]
    await pilot.press(*pin, "enter")
    await settle(pilot)


def _audit(grid, action: str, key: str) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    entries = grid("--as", "admin", "audit", "list", "--json").json()
    return [e for e in entries if e["action"] == action and e["entity_key"] == key]


def _hides_the_queue(app, p: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    text = screen_text(app)
    assert not any(n in text for n in p.values())
    assert "井盖" not in text and "新华社区" not in text and "赵网格" not in text


def test_start_without_a_session_asks_for_the_pin(grid, pins, db_url):
    """No session: the PIN screen (username prefilled, no echo); a wrong PIN says so and stays;
    the right one opens the queue and keeps the token like `grid login` (mode 0600)."""
    import os
    import stat

    from textual.widgets import Input

    from baiyin_cli import store
    from baiyin_cli.services import auth

    p = pins
    login_failed = auth.LOGIN_FAILED.zh

    async def scenario() -> None:
        async with signing_in(_credentials("sec1")) as (app, pilot):
            assert app.screen.id == "login-screen"
            assert app.screen.query_one("#pin-user", Input).value == "sec1"
            box = app.screen.query_one("#pin", Input)
            assert box.password and box.has_focus
            _hides_the_queue(app, p)
            await pilot.press("ctrl+r", "ctrl+p", "question_mark")  # nothing behind the screen opens
            await settle(pilot)
            assert app.screen.id == "login-screen" and app.is_running
            box.value = ""
            await type_pin(pilot, "135790")
            assert app.screen.id == "login-screen"
            assert login_failed in screen_text(app) and "135790" not in screen_text(app)
            assert box.value == "" and box.has_focus
            assert not auth.token_path(store.database_url()).exists()
            await type_pin(pilot, PIN)
            assert app.screen.id == "queue-screen"
            assert numbers(app) == [p["light"], p["manhole"], p["garbage"], p["consult"], p["dispute"]]

    run(scenario())
    path = auth.token_path(store.to_url(db_url))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    token = auth.load_token(store.to_url(db_url))
    with store.session() as s:
        assert auth.session_operator(s, token).username == "sec1"
    failed = _audit(grid, "auth.login_failed", "sec1")
    assert [e["detail"]["reason"] for e in failed] == ["wrong_secret"]
    assert [e["actor"] for e in _audit(grid, "auth.login", "sec1")] == ["sec1"]
    # The saved session is what the next start uses: straight to the queue, no PIN.

    async def again() -> None:
        async with signing_in(_credentials(None, token, "file")) as (app, pilot):
            assert app.screen.id == "queue-screen" and len(numbers(app)) == 5

    run(again())


def test_login_screen_same_message_lockout_and_esc(grid, pins):
    """An unknown user and a wrong PIN read the same; five wrong PINs lock the operator (the
    service of `grid login`: audited, the right PIN refused meanwhile); Esc leaves."""
    from textual.widgets import Input

    from baiyin_cli.services import auth

    async def scenario() -> None:
        async with signing_in(_credentials()) as (app, pilot):
            user = app.screen.query_one("#pin-user", Input)
            assert user.has_focus and user.value == ""  # nobody claimed, nobody logged in here before
            user.value = "nosuchuser"
            await pilot.press("enter")
            await type_pin(pilot, PIN)
            unknown = str(app.screen.query_one("#pin-message").render())
            assert unknown == auth.LOGIN_FAILED.zh
            user.value = "sec2"
            for _ in range(5):
                await type_pin(pilot, "864213")
                assert str(app.screen.query_one("#pin-message").render()) == unknown
            await type_pin(pilot, PIN)  # right, but locked now
            assert app.screen.id == "login-screen"
            assert str(app.screen.query_one("#pin-message").render()) == unknown
            await pilot.press("escape")
            await pilot.pause()
            assert app.return_code == 0 and not app.is_running

    run(scenario())
    assert len(_audit(grid, "auth.lock", "sec2")) == 1
    reasons = [e["detail"]["reason"] for e in _audit(grid, "auth.login_failed", "sec2")]
    assert reasons == ["locked"] + ["wrong_secret"] * 5  # newest first
    assert [e["detail"]["reason"] for e in _audit(grid, "auth.login_failed", "nosuchuser")] == ["unknown"]
    assert _audit(grid, "auth.login", "sec2") == []


def test_the_pin_screen_offers_the_claimed_or_last_user(grid, pins):
    """A session of another operator, or an ended one, is no session: the PIN is asked, for
    --as if given, else for whoever logged in here last."""
    from textual.widgets import Input

    from baiyin_cli import store
    from baiyin_cli.services import auth

    url = store.database_url()
    with store.session(write=True) as s:
        other, _ = auth.issue_token(s, "sec2")
        ended, row = auth.issue_token(s, "sec1")
    auth.save_token(url, ended, "sec1", row.expires_at)
    with store.session(write=True) as s:
        auth.revoke_sessions(s, "sec1")

    async def scenario() -> None:
        async with signing_in(_credentials("sec1", other, "env")) as (app, pilot):
            assert app.screen.id == "login-screen"
            assert app.screen.query_one("#pin-user", Input).value == "sec1"
            await pilot.press("ctrl+q")
            await pilot.pause()
            assert not app.is_running
        async with signing_in(_credentials(None, ended, "file")) as (app, pilot):
            assert app.screen.id == "login-screen"
            assert app.screen.query_one("#pin-user", Input).value == "sec1"
            await type_pin(pilot, PIN)
            assert app.screen.id == "queue-screen"
            assert app.gateway.operator.username == "sec1"

    run(scenario())
    assert auth.load_token(url) not in (ended, None)


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_idle_lock_hides_everything_and_the_same_pin_unlocks(grid, pins):
    """After auth.idle_lock_minutes without input the screen locks (a key resets the wait);
    a wrong PIN counts toward the lockout; the operator's PIN unlocks, the session goes on."""
    from baiyin_cli import store
    from baiyin_cli.services import auth

    from textual import events

    p = pins
    grid("config", "set", "auth.idle_lock_minutes", "3")
    with store.session(write=True) as s:
        token, _ = auth.issue_token(s, "sec1")
    clock = FakeClock()

    async def scenario() -> None:
        async with signing_in(_credentials("sec1", token, "env"), clock=clock) as (app, pilot):
            assert app.screen.id == "queue-screen" and app.idle_seconds == 180
            await pilot.press("j")  # the cursor on the second petition
            clock.t += 179
            assert not app.check_idle()
            await pilot.press("k")  # a key: the wait starts again
            clock.t += 179
            app._tick()
            assert not app.check_idle() and app.screen.id == "queue-screen"
            clock.t += 100
            # The mouse counts as well (as the terminal driver sends it: through the app).
            app._driver.send_message(events.MouseMove(None, 10, 10, 1, 0, 0, False, False, False))
            await pilot.pause()
            clock.t += 179
            assert not app.check_idle()
            clock.t += 1
            app.notify("旧的通知 " + p["light"])
            assert app.check_idle()
            await settle(pilot)
            assert app.screen.id == "lock-screen" and app.locked
            _hides_the_queue(app, p)
            assert "sec1" in screen_text(app)
            app.notify("锁定时的通知 " + p["manhole"])  # waits until the screen is unlocked
            app._tick()  # the timers go on underneath
            app.reload_all()
            await settle(pilot)
            _hides_the_queue(app, p)
            await pilot.press("ctrl+p", "w", "question_mark")
            await settle(pilot)
            assert app.screen.id == "lock-screen"
            app.screen.query_one("#pin").value = ""
            await type_pin(pilot, "135790")
            assert app.screen.id == "lock-screen"
            assert auth.LOGIN_FAILED.zh in screen_text(app)
            _hides_the_queue(app, p)
            await type_pin(pilot, PIN)
            assert app.screen.id == "queue-screen" and not app.locked
            assert len(numbers(app)) == 5
            assert any(p["manhole"] in str(n.message) for n in app._notifications)
            assert not app.check_idle()

    run(scenario())
    assert [e["detail"]["failures"] for e in _audit(grid, "auth.login_failed", "sec1")] == [1]
    assert [e["actor"] for e in _audit(grid, "auth.unlock", "sec1")] == ["sec1"]
    assert _audit(grid, "auth.login", "sec1") == []  # the same session went on
    with store.session() as s:
        assert auth.session_operator(s, token).username == "sec1"


def test_unlock_after_the_session_ended_opens_a_new_one(grid, pins):
    """The session ended while the screen was locked (the shift is over, or revoked): the PIN
    opens a new one, kept like a login's, and the queue works on."""
    import os
    import stat

    from baiyin_cli import store
    from baiyin_cli.services import auth

    with store.session(write=True) as s:
        token, _ = auth.issue_token(s, "sec1")
    clock = FakeClock()

    async def scenario() -> None:
        async with signing_in(_credentials("sec1", token, "env"), clock=clock) as (app, pilot):
            assert app.idle_seconds == 600  # the default: 10 minutes
            clock.t += 600
            assert app.check_idle()
            await settle(pilot)
            with store.session(write=True) as s:
                auth.revoke_sessions(s, "sec1")
            await type_pin(pilot, PIN)
            assert app.screen.id == "queue-screen"
            app.action_refresh_now()
            await settle(pilot)
            assert len(numbers(app)) == 5 and app.gateway.credentials.token != token

    run(scenario())
    url = store.database_url()
    assert stat.S_IMODE(os.stat(auth.token_path(url)).st_mode) == 0o600
    with store.session() as s:
        assert auth.session_operator(s, auth.load_token(url)).username == "sec1"
    assert [e["actor"] for e in _audit(grid, "auth.login", "sec1")] == ["sec1"]


def test_demo_database_opens_without_a_session_and_still_locks(grid, pins, backend):
    """`grid --demo triage` on a database `grid demo` made: no session needed, but the idle lock
    holds all the same, and the operator's PIN (the demo PIN) opens it."""
    if backend != "sqlite":
        pytest.skip("only a SQLite file can be a demo database")
    from baiyin_cli import store
    from baiyin_cli.services import auth
    from baiyin_cli.tui.gateway import Credentials

    with store.session(write=True) as s:
        auth.mark_demo(s)
    clock = FakeClock()

    async def scenario() -> None:
        async with signing_in(Credentials("sec1", None, None, demo=True), clock=clock) as (app, pilot):
            assert app.screen.id == "queue-screen" and len(numbers(app)) == 5
            clock.t += app.idle_seconds
            assert app.check_idle()
            await settle(pilot)
            assert app.screen.id == "lock-screen"
            await type_pin(pilot, "135790")
            assert app.screen.id == "lock-screen"
            await type_pin(pilot, PIN)
            assert app.screen.id == "queue-screen"

    run(scenario())
    assert [e["detail"]["failures"] for e in _audit(grid, "auth.login_failed", "sec1")] == [1]
    assert len(_audit(grid, "auth.unlock", "sec1")) == 1

    async def nobody() -> None:  # a refusal that no PIN can mend: the app ends with its code
        async with signing_in(Credentials("ghost", None, None, demo=True)) as (app, pilot):
            await pilot.pause()
            assert not app.is_running and app.return_code == 4

    run(nobody())


def test_grid_triage_in_a_terminal_without_a_session_asks_for_the_pin(grid, pins, db_url):
    """The installed command on a terminal, nobody logged in: the PIN screen (for --as), then
    the queue; the session is kept for the next command, as `grid login` keeps it."""
    import fcntl
    import os
    import pty
    import select
    import struct
    import subprocess
    import sys
    import termios
    import time

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "GRID_NOW": NOW}
    env.pop("GRID_TOKEN", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "baiyin_cli", "--as", "sec1", "triage"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        close_fds=True,
    )
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + 120

    def read_until(needle: bytes) -> bool:
        nonlocal seen
        while needle not in seen and time.monotonic() < deadline and proc.poll() is None:
            if select.select([master], [], [], 0.2)[0]:
                try:
                    seen += os.read(master, 65536)
                except OSError:
                    break
        return needle in seen

    try:
        assert read_until("PIN".encode())
        assert pins["light"].encode() not in seen
        seen = b""
        os.write(master, (PIN + "\r").encode())
        assert read_until(pins["light"].encode()), _visible(seen)  # the queue, after the PIN
        os.write(master, b"q")
        read_until(b"\x00never")
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    assert b"Traceback" not in seen
    r = grid("whoami", "--json", env={"GRID_TOKEN": ""})  # no harness session: the saved one
    assert r.json()["username"] == "sec1"


def test_an_area_out_of_scope_is_refused_before_the_pin_screen(grid, pins, db_url):
    """Regression: with no session, a wrong --area opened the PIN screen and, after the PIN, became
    a notification; it is refused first (exit 4, one line), as it is when a session exists."""
    import os
    import pty
    import subprocess
    import sys

    master, slave = pty.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "GRID_NOW": NOW}
    env.pop("GRID_TOKEN", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "baiyin_cli", "--as", "sec1", "--lang", "en", "triage", "--area", C2],
        stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True,
    )
    os.close(slave)
    seen = b""
    try:
        assert proc.wait(timeout=60) == 4
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    text = seen.decode(errors="replace")
    assert "sec1" in text and C1 in text and "PIN" not in text and "Traceback" not in text, text
    assert text.strip().count("\n") == 0  # one line


def test_a_session_ended_under_the_screen_asks_for_the_pin(grid, pins):
    """The session ends while the queue is open (revoked: logout elsewhere, a PIN change; or the
    shift is over): the next call finds it, the screen locks, and the PIN opens a new session."""
    from baiyin_cli import store
    from baiyin_cli.services import auth

    p = pins
    with store.session(write=True) as s:
        token, _ = auth.issue_token(s, "sec1")

    async def scenario() -> None:
        async with signing_in(_credentials("sec1", token, "env")) as (app, pilot):
            assert app.screen.id == "queue-screen"
            with store.session(write=True) as s:
                auth.revoke_sessions(s, "sec1")
            app.action_refresh_now()
            await settle(pilot)
            app._tick()
            await settle(pilot)
            assert app.screen.id == "lock-screen"
            assert "会话已结束" in screen_text(app)
            _hides_the_queue(app, p)
            await type_pin(pilot, PIN)
            assert app.screen.id == "queue-screen" and not app.gateway.session_lost
            app._tick()
            await settle(pilot)
            assert app.screen.id == "queue-screen" and len(numbers(app)) == 5

    run(scenario())
    new = auth.load_token(store.database_url())
    assert new and new != token
    with store.session() as s:
        assert auth.session_operator(s, new).username == "sec1"
