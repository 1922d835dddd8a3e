"""A small fixed dataset for the statistics, checklist and Open311 tests (golden files).

The people and places of the `city` fixture (conftest), and thirteen petitions in February and March 2026 in every
state the workflow has, with their histories, written straight into the database so that the
golden files do not move when the filing rules change. The clock is fixed at NOW.

Times are local (Asia/Shanghai). One petition is filed at 00:30 on 1 March, which is still
28 February in UTC: it must count in March.

Building the city through the CLI costs ~5 s a test, so the dataset is written once per backend
into a template database (like conftest's migrated templates) and each test gets a copy: a test
module overrides `db_url` with `fixed_db`, and the `grid` fixture then runs against the copy.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

NOW = "2026-03-20 10:00"
C1, C2 = "620402001001", "620402001002"
G11, G12, G21, G22 = "620402001001001", "620402001001002", "620402001002001", "620402001002002"


def t(local: str) -> datetime:
    from baiyin_cli import timeutil

    return timeutil.parse_time(local)


@dataclass
class P:
    number: str
    filed: str
    category: str
    channel: str
    community: str
    grid: str | None
    status: str
    text: str
    due: str  # resolve_due, local
    assignee: str | None = None
    reporter: str | None = None
    phone: str | None = None
    address: str | None = None
    anonymous: bool = False
    filed_by: str = "sec1"
    contacted: int | None = None  # minutes after filing
    resolved: str | None = None
    result: str | None = None
    rating: str | None = None
    dept: str | None = None
    reject_reason: str | None = None
    merged_into: str | None = None
    # extra history entries: (event, local time, actor, from, to, data)
    extra: list[tuple[str, str, str, str | None, str, dict[str, Any]]] = field(default_factory=list)


PETITIONS = [
    P("BY-20260131-0001", "2026-01-31 23:30", "property_service", "hotline_12345", C1, G11, "closed",
      "小区电梯经常停运", "2026-02-09 23:59:59", assignee="wg11", reporter="钱进", phone="13900000101",
      contacted=12, resolved="2026-02-03 11:00", result="物业已维修电梯", rating="satisfied"),
    P("BY-20260203-0001", "2026-02-03 09:00", "hazard_manhole", "qr", C1, G11, "closed",
      "新华路12号门口井盖破损，联系电话13812345678", "2026-02-06 23:59:59", assignee="wg11", reporter="王秀英",
      phone="13812345678", address="新华路12号门口", contacted=20, resolved="2026-02-04 16:00",
      result="已更换井盖", rating="satisfied"),
    P("BY-20260215-0001", "2026-02-15 14:00", "complaint", "hotline_12345", C1, G12, "resolved",
      "夜间施工噪音扰民", "2026-02-22 23:59:59", assignee="wg12", reporter="李建国", phone="13900000102",
      contacted=45, resolved="2026-02-25 10:00", result="已协调施工方调整作业时间"),
    P("BY-20260301-0001", "2026-03-01 00:30", "water_heating", "hotline_12345", C2, G21, "resolved",
      "暖气不热", "2026-03-04 23:59:59", assignee="wg21", reporter="孙丽", phone="13900000103",
      contacted=12, resolved="2026-03-02 10:00", result="已排气，室温恢复"),
    P("BY-20260302-0001", "2026-03-02 09:00", "hazard_streetlight", "grid_report", C1, G11, "escalated",
      "公园路3号杆路灯不亮", "2026-03-05 23:59:59", assignee="wg11", filed_by="wg11",
      address="公园路3号灯杆", contacted=10, dept="zhujian",
      extra=[("escalate", "2026-03-02 14:00", "wg11", "contacted", "escalated",
              {"dept": "zhujian", "reason": "需更换灯具"})]),
    P("BY-20260303-0001", "2026-03-03 10:30", "dispute_neighbour", "walk_in", C1, G11, "closed",
      "楼上漏水与邻居发生争执", "2026-03-10 23:59:59", assignee="wg11", reporter="赵六", phone="13900000104",
      contacted=25, resolved="2026-03-06 17:00", result="双方达成调解协议，楼上修复防水", rating="basically_satisfied",
      extra=[("mediate", "2026-03-04 15:00", "wg11", "contacted", "contacted", {"visit_id": 1})]),
    P("BY-20260305-0001", "2026-03-05 08:15", "help", "mini_program", C1, G12, "in_progress",
      "独居老人申请临时救助", "2026-03-10 23:59:59", assignee="wg12", reporter="周桂兰", phone="13900000105",
      contacted=28, dept="sifa",
      extra=[("escalate", "2026-03-05 15:00", "wg12", "contacted", "escalated", {"dept": "sifa", "reason": "需法律援助"}),
             ("send_back", "2026-03-06 09:00", "dsifa", "escalated", "in_progress", {"reason": "属民政救助，退回"})]),
    P("BY-20260310-0001", "2026-03-10 11:00", "consultation", "phone", C2, G21, "in_progress",
      "咨询医保报销政策", "2026-03-11 23:59:59", assignee="wg21", reporter="吴刚", phone="13900000106",
      contacted=5, rating="unsatisfied",
      extra=[("resolve", "2026-03-10 15:00", "wg21", "contacted", "resolved", {"result": "已电话解答"}),
             ("rate", "2026-03-11 09:00", "sec2", "resolved", "in_progress", {"rating": "unsatisfied"})]),
    P("BY-20260312-0001", "2026-03-12 09:40", "environment", "qr", C2, G22, "assigned",
      "垃圾清运不及时", "2026-03-17 23:59:59", assignee="wg21", reporter="郑强", phone="13900000107"),
    P("BY-20260312-0002", "2026-03-12 10:00", "environment", "qr", C2, G22, "duplicate",
      "垃圾桶满了没人收", "2026-03-17 23:59:59", reporter="冯敏", phone="13900000108",
      merged_into="BY-20260312-0001"),
    P("BY-20260315-0001", "2026-03-15 16:20", "suggestion", "walk_in", C2, None, "rejected",
      "建议在小区内修建游泳池", "2026-03-27 23:59:59", reporter="陈晨", reject_reason="不属于社区职责范围"),
    P("BY-20260318-0001", "2026-03-18 09:00", "dispute_family", "grid_report", C2, G21, "in_progress",
      "父子因赡养问题争吵", "2026-03-25 23:59:59", assignee="wg21", filed_by="wg21", anonymous=True, contacted=15),
    P("BY-20260320-0001", "2026-03-20 09:45", "hazard_fire", "qr", C1, G12, "submitted",
      "楼道堆放杂物堵塞消防通道", "2026-03-25 23:59:59", reporter="黄磊", phone="13900000109",
      address="兴华小区5号楼楼道"),
]


def _history(p: P) -> list[tuple[str, datetime, str | None, str | None, str, dict[str, Any]]]:
    """A plausible history: file, assign, contact, the extras, resolve, rate, close / reject / merge."""
    filed = t(p.filed)
    h: list[tuple[str, datetime, str | None, str | None, str, dict[str, Any]]] = [
        ("file", filed, p.filed_by, None, "submitted", {"channel": p.channel})
    ]
    state = "submitted"
    if p.status == "rejected":
        h.append(("reject", filed + timedelta(hours=1), "sec2", state, "rejected", {"reason": p.reject_reason}))
        return h
    if p.status == "duplicate":
        h.append(("merge", filed + timedelta(minutes=20), "sec2", state, "duplicate", {"into": p.merged_into}))
        return h
    if p.assignee:
        h.append(("assign", filed + timedelta(minutes=3), "sec1" if p.community == C1 else "sec2", state, "assigned",
                  {"to": p.assignee}))
        state = "assigned"
    if p.contacted is not None:
        h.append(("contact", filed + timedelta(minutes=p.contacted), p.assignee, state, "contacted",
                  {"how": "phone", "outcome": "已联系"}))
        state = "contacted"
    for ev, when, actor, frm, to, data in p.extra:
        h.append((ev, t(when), actor, frm, to, data))
        state = to
    if p.resolved:
        frm = "escalated" if state == "escalated" else state
        h.append(("resolve", t(p.resolved), p.assignee, frm, "resolved", {"result": p.result}))
        if p.rating:
            h.append(("rate", t(p.resolved) + timedelta(days=1), "sec1" if p.community == C1 else "sec2",
                      "resolved", "resolved", {"rating": p.rating}))
        if p.status == "closed":
            h.append(("close", t(p.resolved) + timedelta(days=1, hours=1), "sec1" if p.community == C1 else "sec2",
                      "resolved", "closed", {}))
    return h


def build_org(s: Any) -> None:
    """The areas, departments and people of conftest's `city`, written directly."""
    from sqlalchemy import insert

    from baiyin_cli.models import Area, Department, Worker

    at = t("2026-01-01 08:00")
    areas = [("620402", "白银区", "district", None), ("620402001", "人民路街道", "street", "620402"),
             (C1, "新华社区", "community", "620402001"), (C2, "兴华社区", "community", "620402001")]
    for c in (C1, C2):
        for g in ("001", "002"):
            areas.append((c + g, f"网格{c[-1]}{g[-1]}", "grid", c))
    s.execute(insert(Area), [dict(code=c, name=n, level=lv, parent_code=p, created_at=at) for c, n, lv, p in areas])
    s.execute(insert(Department), [dict(code=c, name=n, active=True, created_at=at)
                                   for c, n in (("sifa", "司法所"), ("zhujian", "住建局"))])
    people = [
        ("sec1", "李书记", "13800000001", "secretary", None, C1, None),
        ("sec2", "王书记", "13800000002", "secretary", None, C2, None),
        ("wg11", "张网格", "13800000011", "grid_worker", "full_time", G11, None),
        ("wg12", "赵网格", "13800000012", "grid_worker", "red", G12, None),
        ("wg21", "孙网格", "13800000021", "grid_worker", "full_time", G21, None),
        ("dsifa", "周司法", "13800000031", "department", None, None, "sifa"),
        ("view", "督查", None, "viewer", None, None, None),
    ]
    s.execute(insert(Worker), [dict(username=u, name=n, phone=ph, role=r, kind=k, area_code=a, dept_code=d,
                                    active=True, created_at=at, updated_at=at) for u, n, ph, r, k, a, d in people])


# Households (code, grid, address, building, unit, room, own tags), residents
# (household, name, sex, birth, relation, tags) and visits (worker, household or None, kind, local start, minutes).
HOUSEHOLDS = [
    ("XH11001", G11, "新华路12号", "1栋", "1单元", "101", []),
    ("XH11002", G11, "新华路12号", "1栋", "2单元", "302", []),
    ("XH11003", G11, "新华路14号", "3栋", "1单元", "501", ["low_income"]),
    ("XH11004", G11, "新华路16号", None, None, None, []),
    ("XH12001", G12, "兴华路8号", "2栋", None, "101", []),
    ("XH21001", G21, "公园路5号", None, None, None, []),
]
RESIDENTS = [
    ("XH11001", "王秀英", "F", "1948-05-02", "02", ["elderly_alone"]),
    ("XH11002", "刘建军", "M", "1975-08-19", "02", []),
    ("XH11002", "林芳", "F", "1978-02-11", "10", []),
    ("XH11002", "刘小雨", "F", "2015-09-01", "30", ["left_behind_child"]),
    ("XH11003", "陈国强", "M", "1960-11-30", "02", []),
    ("XH11004", "马丽", "F", "1990-04-04", "02", []),
    ("XH12001", "赵桂兰", "F", "1940-01-20", "02", ["childless_elderly", "disabled"]),
    ("XH21001", "孙立", "M", "1950-07-01", "02", ["veteran"]),
]
VISITS = [
    ("wg11", "XH11001", "household", "2026-03-10 09:00", 60),
    ("wg11", "XH11002", "household", "2026-03-08 10:00", 40),
    ("wg11", "XH11004", "household", "2026-01-15 15:00", 30),
    ("wg11", None, "mediation", "2026-03-04 15:00", 45),
    ("wg11", None, "info_gathering", "2026-03-19 08:30", 70),
    ("wg12", "XH12001", "household", "2026-03-16 09:30", 50),
    ("wg21", "XH21001", "household", "2026-02-01 10:00", 30),
]


def build_registry(s: Any) -> None:
    """Households, residents, care tags and visits (the visits ledger refreshed by the visits service)."""
    from datetime import date

    from sqlalchemy import insert

    from baiyin_cli.models import Household, HouseholdCare, Resident, ResidentCare
    from baiyin_cli.services import visits
    from baiyin_cli.services.registry_keys import full_address, name_keys, normalise_address

    at = t("2025-12-01 09:00")
    ids: dict[str, int] = {}
    for code, grid, address, building, unit, room, tags in HOUSEHOLDS:
        hid = s.execute(insert(Household).values(
            code=code, grid_code=grid, address=address, building=building, unit=unit, room=room, type="urban",
            address_norm=normalise_address(full_address(address, building, unit, room)),
            created_at=at, updated_at=at, version=1,
        ).returning(Household.id)).scalar_one()
        ids[code] = hid
        for tag in tags:
            s.execute(insert(HouseholdCare).values(household_id=hid, tag=tag))
    for household, name, sex, birth, relation, tags in RESIDENTS:
        pinyin, initials = name_keys(name)
        rid = s.execute(insert(Resident).values(
            household_id=ids[household], name=name, name_pinyin=pinyin, name_initials=initials, sex=sex,
            birth_date=date.fromisoformat(birth), relation=relation, ethnicity="01", created_at=at, updated_at=at,
            version=1,
        ).returning(Resident.id)).scalar_one()
        for tag in tags:
            s.execute(insert(ResidentCare).values(resident_id=rid, tag=tag))
    grids = {code: grid for code, grid, *_ in HOUSEHOLDS}
    worker_grid = {"wg11": G11, "wg12": G12, "wg21": G21}
    visits.insert_bulk(s, [
        dict(worker=w, household_id=ids[h] if h else None, grid_code=grids[h] if h else worker_grid[w], kind=kind,
             started_at=t(start), minutes=minutes, recorded_at=t(start) + timedelta(minutes=minutes), recorded_by=w)
        for w, h, kind, start, minutes in VISITS
    ])


def build(db_url: str) -> None:
    """Write the whole dataset (org and petitions) into a migrated, empty database."""
    from sqlalchemy import insert

    from baiyin_cli import store
    from baiyin_cli.models import Petition, PetitionEvent, PetitionReporter, PetitionSequence
    from baiyin_cli.services import petition_workflow as wf

    with store.session(write=True, url=db_url) as s:
        build_org(s)
        build_registry(s)
        # The per-day number sequence, so that petitions filed in a test get the next number.
        last: dict[str, int] = {}
        for p in PETITIONS:
            day, n = p.number.split("-")[1:]
            last[day] = max(last.get(day, 0), int(n))
        s.execute(insert(PetitionSequence), [dict(day=d, last=n) for d, n in sorted(last.items())])
        from baiyin_cli.services import crypto

        cipher = crypto.for_session(s)  # reporter phones are stored encrypted
        for p in PETITIONS:
            filed = t(p.filed)
            hist = _history(p)
            contact_due = filed + timedelta(minutes=30)
            resolve_due = t(p.due)
            contacted_at = filed + timedelta(minutes=p.contacted) if p.contacted is not None else None
            resolved_at = t(p.resolved) if p.resolved else None
            last = hist[-1][1]
            closed_at = last if p.status == "closed" else None
            rated_at = None
            if p.rating:
                rated_at = next(when for ev, when, *_ in hist if ev == "rate")
            row = dict(
                number=p.number, text=p.text, category=p.category, channel=p.channel, status=p.status,
                community_code=p.community, grid_code=p.grid, address=p.address,
                reporter_name=None if p.anonymous else p.reporter,
                **cipher.columns("petition.reporter_phone", p.phone),
                phone_last4=p.phone[-4:] if p.phone else None, anonymous=p.anonymous, assignee=p.assignee,
                dept_code=p.dept, merged_into=p.merged_into, filed_by=p.filed_by, filed_at=filed, recorded_at=filed,
                contact_due=contact_due, resolve_due=resolve_due, due_estimated=False,
                due_at=wf.next_due(p.status, contacted_at, contact_due, resolve_due),
                contacted_at=contacted_at, resolved_at=resolved_at, result=p.result if resolved_at else None,
                rating=p.rating, rated_at=rated_at, closed_at=closed_at, reject_reason=p.reject_reason,
                updated_at=last, updated_by=hist[-1][2], version=len(hist),
            )
            pid = s.execute(insert(Petition).values(**row).returning(Petition.id)).scalar_one()
            if p.reporter or p.phone:
                s.execute(insert(PetitionReporter).values(petition_id=pid, name=None if p.anonymous else p.reporter,
                                                          **cipher.columns("petition_reporter.phone", p.phone),
                                                          from_number=p.number, added_at=filed))
            for seq, (ev, when, actor, frm, to, data) in enumerate(hist, 1):
                s.execute(insert(PetitionEvent).values(
                    petition_id=pid, seq=seq, event=ev, from_status=frm, to_status=to, actor=actor,
                    occurred_at=when, recorded_at=when, note=None, data=data or None,
                ))


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def fixed_template(request: pytest.FixtureRequest, backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database holding the dataset, built once per backend: a SQLite file or a PostgreSQL database name."""
    from baiyin_cli import store
    from tests.conftest import _pg_admin_engine, _pg_drop, _pg_url

    if backend == "sqlite":
        src = request.getfixturevalue("sqlite_template")
        path = tmp_path_factory.mktemp("fixed") / "fixed.db"
        shutil.copy(src, path)
        build(f"sqlite:///{path}")
        store.dispose_all()
        yield str(path)
        return
    src = request.getfixturevalue("pg_template")
    name = f"grid_fixed_{uuid.uuid4().hex[:10]}"
    admin_eng = _pg_admin_engine()
    with admin_eng.connect() as admin:
        admin.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{src}"')
    build(_pg_url(name))
    store.dispose_all()
    yield name
    with admin_eng.connect() as admin:
        _pg_drop(admin, name)
    admin_eng.dispose()


@pytest.fixture
def fixed_db(backend: str, env_dirs: Any, tmp_path: Any, fixed_template: str,
             monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh copy of the dataset for one test, with the clock fixed at NOW."""
    from baiyin_cli import store
    from tests.conftest import _pg_admin_engine, _pg_drop, _pg_url

    monkeypatch.setenv("GRID_NOW", NOW)
    if backend == "sqlite":
        path = tmp_path / "grid.db"
        shutil.copy(fixed_template, path)
        url = f"sqlite:///{path}"
    else:
        name = f"grid_t_{uuid.uuid4().hex[:12]}"
        admin_eng = _pg_admin_engine()
        with admin_eng.connect() as admin:
            admin.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{fixed_template}"')
        url = _pg_url(name)
    os.environ["GRID_DATABASE_URL"] = url
    try:
        yield url
    finally:
        store.dispose_all()
        os.environ.pop("GRID_DATABASE_URL", None)
        if backend == "postgres":
            with admin_eng.connect() as admin:
                _pg_drop(admin, name)
            admin_eng.dispose()


# ---------------------------------------------------------------- the demo city

DEMO_NOW = "2026-12-02 09:30"


@pytest.fixture(scope="session")
def demo_city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`grid demo` built once, at a fixed clock, in isolated dirs: the city a newcomer opens
    (SQLite only: the demo is its own file). Tests read it with `--demo --db PATH`; the exports
    they make add audit entries, which no figure counts."""
    from baiyin_cli import config, store
    from tests.conftest import invoke

    home = tmp_path_factory.mktemp("demo")
    path = home / "demo.db"
    with pytest.MonkeyPatch.context() as mp:
        # GRID_KEY stays: the tests' key (conftest) encrypts the demo's phones and ID numbers.
        for var in ("GRID_USER", "GRID_LANG", "GRID_DATABASE_URL", "GRID_DEBUG", "GRID_TZ", "GRID_TOKEN"):
            mp.delenv(var, raising=False)
        mp.setenv("GRID_CONFIG", str(home / "config.toml"))
        mp.setenv("GRID_DATA_DIR", str(home / "data"))
        mp.setenv("GRID_STATE_DIR", str(home / "state"))
        mp.setenv("GRID_NOW", DEMO_NOW)
        config.load(reload=True)
        made = invoke("demo", "--db", str(path), "--seed", "2026", "--json").json()
        # Every step the demo planned was one the workflow allows (a refused one is counted here).
        assert "petition_demo_skipped" not in made and made["petitions"] > 600, made
        store.dispose_all()
    config.load(reload=True)
    return path
