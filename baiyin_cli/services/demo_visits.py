"""Demo step "visits": six weeks of grid workers' rounds up to yesterday.

Each grid worker has a habit: most full-time workers are diligent (walk nearly every day, an
hour or more), some patchy, a few lax; red, mobile and liaison workers walk on the side, half of
them diligent. So `grid visit stats` shows most workers meeting the hour most days (about 70 %,
several standard deviations clear of "most" whatever the date) and some not. Household visits
follow the schedule the way a worker with a paper list would: the households whose window is most elapsed first (care households early), with some
randomness, so care households end up mostly within their window and the lax workers' grids
have overdue ones. A few visits find hazards or disputes, filed as grid_report petitions
through the petitions service; some later mediation visits work on those disputes.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from baiyin_cli import timeutil

if TYPE_CHECKING:
    from baiyin_cli.services.demo import DemoContext

DAYS = 42
HABITS = {
    # share of full-time workers, chance to walk on a day, minutes walked on such a day
    "diligent": (0.78, 0.96, (60, 130)),
    "patchy": (0.15, 0.75, (30, 95)),
    "lax": (0.07, 0.45, (15, 55)),
}
MEDIATION_SITTINGS = 3  # mediation visits a dispute gets at most in the demo
MEDIATION_DAYS = 21  # ... within this many days of being found
KIND_WEIGHTS = {"household": 55, "info_gathering": 15, "mediation": 8, "service": 22}
FINDINGS = [
    ("hazard_manhole", "小区门口井盖松动，行人易踩空"),
    ("hazard_streetlight", "巷道路灯不亮，老人夜间出行不便"),
    ("hazard_fire", "楼道堆放杂物和电动车，堵塞消防通道"),
    ("hazard_building", "平房后墙开裂，雨后有坍塌风险"),
    ("hazard_rental", "出租房私拉电线，群租人员较多"),
    ("environment", "垃圾收集点清运不及时，异味较大"),
    ("water_heating", "单元暖气不热，住户反映室温偏低"),
    ("dispute_neighbour", "楼上楼下因漏水产生纠纷"),
    ("dispute_family", "老人赡养问题子女之间有争执"),
]
NOTES = {
    "household": ["老人身体状况良好，生活能自理", "了解家庭近况，宣传防诈骗知识", "询问冬季取暖情况", "帮助核对低保材料",
                  "老人血压偏高，已提醒按时服药", "孩子学习情况正常，家长在外务工"],
    "info_gathering": ["排查出租房住户信息", "核对新入住人员信息", "走访商铺，了解经营情况"],
    "mediation": ["上门调解，双方情绪平稳", "组织双方协商，初步达成一致"],
    "service": ["代办老年证", "帮助办理医保缴费", "陪同老人就医", "代缴水电费"],
}


def step_visits(ctx: DemoContext) -> None:
    from sqlalchemy import select, update

    from baiyin_cli.models import Petition, Visit, Worker
    from baiyin_cli.services import petitions, visits
    from baiyin_cli.services.access import Operator

    s, rng = ctx.session, ctx.rng
    conf = visits.settings()
    today = timeutil.local_date(ctx.now)
    first = today - timedelta(days=DAYS)
    households_by_grid: dict[str, list[dict[str, Any]]] = {}
    for h in ctx.households:
        households_by_grid.setdefault(h["grid"], []).append(h)
    registered = _registration_days(s)

    crew: dict[str, list[tuple[str, str]]] = {}
    for username, kind, area in s.execute(
        select(Worker.username, Worker.kind, Worker.area_code)
        .where(Worker.role == "grid_worker", Worker.active)
        .order_by(Worker.area_code, Worker.username)
    ):
        crew.setdefault(area, []).append((username, kind or "full_time"))

    rows: list[dict[str, Any]] = []
    plans: list[tuple[int, str, Any]] = []  # (row index, what, payload): findings and mediations
    for g in ctx.grids:
        homes = households_by_grid.get(g["code"], [])
        team = [(u, HABITS[_habit(rng, kind)]) for u, kind in crew.get(g["code"], [])]
        last: dict[int, date] = {}  # shared by the grid's workers: one schedule per grid
        for offset in range(DAYS):
            day = first + timedelta(days=offset)
            for username, (_share, walk_chance, (lo, hi)) in team:
                if rng.random() > walk_chance:
                    continue
                total = rng.randint(lo, hi)
                n = max(1, min(6, round(total / rng.randint(18, 32))))
                clock = datetime(day.year, day.month, day.day, rng.randint(8, 10), rng.choice((0, 15, 30)),
                                 tzinfo=timeutil.zone())
                for m in _split(rng, total, n):
                    kind = rng.choices(list(KIND_WEIGHTS), weights=list(KIND_WEIGHTS.values()))[0]
                    household = None
                    if kind == "household" and homes:
                        household = _most_urgent(rng, homes, last, registered, day, conf)
                        last[household["id"]] = day
                    elif kind == "service" and homes and rng.random() < 0.6:
                        household = rng.choice(homes)
                        last[household["id"]] = day
                    rows.append({
                        "worker": username, "household_id": household["id"] if household else None,
                        "grid_code": g["code"], "kind": kind, "started_at": clock.astimezone(timeutil.UTC),
                        "minutes": m, "note": rng.choice(NOTES[kind]), "recorded_by": username,
                        "recorded_at": (clock + timedelta(minutes=m + rng.randint(1, 90))).astimezone(timeutil.UTC),
                    })
                    if kind in ("household", "info_gathering") and rng.random() < 0.01:
                        plans.append((len(rows) - 1, "finding", rng.choice(FINDINGS)))
                    elif kind == "mediation":
                        plans.append((len(rows) - 1, "mediation", None))
                    clock += timedelta(minutes=m + rng.randint(5, 40))
    ids = visits.insert_bulk(s, rows, returning=True, refresh=False)

    names = {u: (n, a) for u, n, a in s.execute(select(Worker.username, Worker.name, Worker.area_code))}
    codes = {h["id"]: h["code"] for h in ctx.households}
    disputes: dict[str, list[tuple[datetime, str]]] = {}
    sittings: dict[str, int] = {}  # mediation visits per dispute
    found = mediated = 0
    # In time order, so that a mediation only ever works on a dispute found before it.
    for index, what, payload in sorted(plans, key=lambda p: rows[p[0]]["started_at"]):
        r = rows[index]
        name, area = names[r["worker"]]
        op = Operator(r["worker"], name, "grid_worker", area)
        if what == "finding":
            category, text = payload
            filed_at = r["started_at"] + timedelta(minutes=r["minutes"])
            p = petitions.file_petition(
                s, op, text=text, category=category, channel=visits.FINDING_CHANNEL, grid=r["grid_code"],
                household=codes.get(r["household_id"]), at=filed_at, visit_id=ids[index],
            )
            found += 1
            if category.startswith("dispute_"):
                disputes.setdefault(r["grid_code"], []).append((filed_at, p["number"]))
            continue
        # A dispute takes a few sittings within its first weeks, not every mediation of the grid.
        earlier = [
            number
            for filed_at, number in disputes.get(r["grid_code"], [])
            if filed_at < r["started_at"] <= filed_at + timedelta(days=MEDIATION_DAYS)
            and sittings.get(number, 0) < MEDIATION_SITTINGS
        ]
        if not earlier:
            continue
        number = earlier[-1]
        sittings[number] = sittings.get(number, 0) + 1
        petitions.note_mediation(s, op, number, visit_id=ids[index], at=r["started_at"], note=r["note"])
        pid = s.execute(select(Petition.id).where(Petition.number == number)).scalar_one()
        s.execute(update(Visit).where(Visit.id == ids[index]).values(petition_id=pid))
        mediated += 1
    visits.refresh_days(s, visits.day_keys(rows))
    ctx.made.update(visits=len(rows), findings=found, mediations=mediated)


def _registration_days(s: Any) -> dict[int, date]:
    from sqlalchemy import select

    from baiyin_cli.models import Household

    return {hid: timeutil.local_date(created) for hid, created in s.execute(select(Household.id, Household.created_at))}


def _habit(rng: Any, kind: str) -> str:
    """Full-time workers are mostly diligent; red, mobile and liaison workers walk on the side."""
    if kind != "full_time":
        return rng.choices(["diligent", "patchy", "lax"], weights=[50, 35, 15])[0]
    x = rng.random()
    for name, (share, _walk, _minutes) in HABITS.items():
        if x < share:
            return name
        x -= share
    return "diligent"


def _split(rng: Any, total: int, n: int) -> list[int]:
    """`total` minutes in `n` visits of at least 5 minutes each."""
    if n == 1:
        return [max(total, 5)]
    cuts = sorted(rng.sample(range(1, max(total, n + 1)), n - 1))
    parts = [b - a for a, b in zip([0, *cuts], [*cuts, max(total, n + 1)])]
    return [max(p, 5) for p in parts]


def _most_urgent(rng: Any, homes: list[dict[str, Any]], last: dict[int, date], registered: dict[int, date],
                 day: date, conf: dict[str, Any]) -> dict[str, Any]:
    """A household picked the way a worker with the schedule would: by elapsed share of the
    interval (visits.interval_for), with a little noise; not one visited in the last two days."""
    from baiyin_cli.services.visits import interval_for

    def score(h: dict[str, Any]) -> float:
        interval, _tag = interval_for(h["care"], conf)
        base = last.get(h["id"]) or registered.get(h["id"], day)
        return (day - base).days / interval + rng.random() * 0.35

    fresh = [h for h in homes if h["id"] not in last or (day - last[h["id"]]).days > 2] or homes
    return max(fresh, key=score)

