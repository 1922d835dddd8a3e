"""Demo step "petitions": a quarter of 诉求 across channels and categories, worked through the workflow.

Every petition goes through the real services (file_petition, apply), so the demo's history is
exactly what the workflow allows. Each one's path is planned up front from the seeded
generator, then all events of all petitions run in time order (a merge meets its target in
the state it is in at that moment), and planning stops at the clock: recent petitions are
still waiting for dispatch, a callback or a department, older ones are resolved, rated and
closed. Nothing below sets a figure: the figures `grid stats` shows come out of these paths.

The paths follow a well-run city's practice (接诉即办: the grid handles small things within the
day, departments take a few days), which is why its published ratios look as they do:

* callbacks: ~96 % within the 30 minutes, the rest late (never lost);
* handling time by category group, long-tailed (a consultation is often answered on the
  callback itself, a dispute takes a day or two), so most petitions are 办结 within a day or
  two and well inside their working-day deadline; ~3.5 % are resolved late, ~0.5 % stuck (overdue);
* ~12 % escalated to a department, a third of those sent back to the grid first;
* work other than the callback happens in office hours (08:00-20:00 local);
* ~80 % rated, ~4 % of them unsatisfied and reopened to the grid, resolved again;
* a few rejected, a few duplicates merged (their reporters kept), a few reassigned.

Over a quarter, what is still open at the clock is the last day or two's work, the stuck few
and this morning's, so 办结 / 受理 lands near the 96-98 % Baiyin publishes, whatever the date.
The grid_report petitions that the visits step filed are worked the same way. A few filed in
the last hours are left waiting for dispatch and the callback, for the triage queue.
"""

from __future__ import annotations

import heapq
import itertools
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from baiyin_cli import timeutil

if TYPE_CHECKING:
    from baiyin_cli.services.demo import DemoContext

DAYS = 91  # a quarter: three whole months and the current one for `--by month` and the monthly report
PER_DAY = 7

# The shape of the paths (see the module docstring); shares of petitions.
REJECTED = 0.02
LATE_CALLBACK = 0.04
STUCK = 0.005
LATE = 0.035
ESCALATED = 0.12
SENT_BACK = 0.33  # of the escalated
ANSWERED_ON_CALL = 0.6  # of consultations
# Median handling time in hours (from the start of the work to 办结), by category group; the
# spread is log-normal (sigma HANDLING_SIGMA), capped inside the deadline for the in-time ones.
HANDLING_HOURS = {
    "consultation": 2.0,
    "help": 4.0,
    "complaint": 6.0,
    "suggestion": 24.0,
    "hazard": 5.0,
    "dispute": 16.0,
    "other": 6.0,
}
HANDLING_SIGMA = 0.8
DEPT_HOURS = 24.0  # median time a department takes
OFFICE = (8, 20)  # local hours in which the offices work (the callback line runs round the clock)

CHANNEL_WEIGHTS = {
    "hotline_12345": 30,
    "mini_program": 24,
    "qr": 20,
    "grid_report": 9,
    "walk_in": 9,
    "phone": 8,
}

PLACES = [
    "3号楼",
    "5号楼2单元",
    "小区南门",
    "小区北门",
    "菜市场旁",
    "幼儿园门口",
    "12栋",
    "老年活动中心",
    "公交站旁",
    "巷子口",
    "8号楼东侧",
    "停车场",
]
# category: (weight, texts); {place} is filled in.
TEXTS: dict[str, tuple[int, list[str]]] = {
    "consultation": (
        10,
        [
            "咨询城乡居民养老保险怎么缴费",
            "咨询孩子入学需要准备哪些材料",
            "咨询高龄补贴申领条件",
            "咨询医保异地备案怎么办理",
            "咨询公租房申请流程",
        ],
    ),
    "help": (
        9,
        [
            "独居老人家中水管爆裂，需要帮忙联系维修",
            "家中老人行动不便，想申请上门代办服务",
            "残疾证到期需要换证，不知道去哪里办",
            "{place}有老人摔倒后无人照看，请帮忙联系家属",
        ],
    ),
    "complaint": (
        7,
        ["{place}夜间施工噪音扰民", "{place}商户占道经营，行人通行困难", "快递车辆长期占用{place}消防通道"],
    ),
    "suggestion": (
        4,
        ["建议在{place}增设休息座椅", "建议{place}增设充电桩，避免飞线充电", "建议在{place}设置减速带"],
    ),
    "property_service": (
        8,
        [
            "物业长期不清理{place}垃圾",
            "{place}电梯经常故障，物业维修不及时",
            "物业费收费标准不清楚，要求公示",
        ],
    ),
    "water_heating": (
        9,
        ["{place}暖气不热，室温只有十几度", "{place}停水两天了，没有任何通知", "{place}自来水发黄，有异味"],
    ),
    "environment": (
        7,
        ["{place}垃圾堆放多日无人清运", "{place}下水道堵塞，污水外溢", "{place}有人饲养家禽，气味很大"],
    ),
    "hazard_manhole": (5, ["{place}井盖破损，夜间行人容易踩空", "{place}井盖缺失，已用树枝临时围挡"]),
    "hazard_streetlight": (6, ["{place}路灯不亮，晚上出行不安全", "{place}路灯坏了一个多星期"]),
    "hazard_building": (2, ["{place}外墙瓷砖脱落，有砸人风险", "{place}平房墙体开裂"]),
    "hazard_fire": (4, ["{place}楼道堆放杂物，堵塞消防通道", "{place}电动车在楼道内充电"]),
    "hazard_rental": (2, ["{place}出租房群租，私拉电线", "{place}出租房住户频繁更换，未登记"]),
    "dispute_neighbour": (
        6,
        ["{place}楼上漏水导致楼下天花板发霉，协商不成", "{place}邻居长期占用公共楼道堆放杂物，引发争吵"],
    ),
    "dispute_family": (3, ["老人赡养问题，子女之间互相推诿", "夫妻因家务琐事多次争吵，请求调解"]),
    "dispute_property": (4, ["业主与物业因停车位收费发生纠纷", "{place}业主拒交物业费，与物业发生争执"]),
    "dispute_labour": (4, ["在{place}装修工地务工，工资被拖欠两个月", "餐馆拖欠服务员工资，多次讨要未果"]),
}
DEPTS: dict[str, list[str]] = {
    "consultation": ["minzheng", "jiaoyu"],
    "help": ["minzheng"],
    "complaint": ["chengguan", "paichusuo"],
    "suggestion": ["chengguan", "zhujian"],
    "property_service": ["zhujian"],
    "water_heating": ["shuiwu", "zhujian"],
    "environment": ["chengguan"],
    "hazard_manhole": ["shuiwu", "chengguan"],
    "hazard_streetlight": ["gongdian", "chengguan"],
    "hazard_building": ["zhujian"],
    "hazard_fire": ["paichusuo", "zhujian"],
    "hazard_rental": ["paichusuo"],
    "dispute_neighbour": ["sifa"],
    "dispute_family": ["sifa", "minzheng"],
    "dispute_property": ["sifa", "zhujian"],
    "dispute_labour": ["sifa"],
}
OUTCOMES = [
    "已电话联系群众，说明办理时限",
    "已与群众约定上门时间",
    "已告知群众办理进度和联系方式",
    "群众表示理解，等待处理",
]
RESULTS = {
    "hazard": ["已设置警示标志并完成修复", "已联系责任单位更换，现场复查正常", "已清理完毕，建立巡查台账"],
    "dispute": ["经人民调解，双方达成书面协议", "组织双方协商，已和解", "已引导当事人依法维权，并跟踪回访"],
    "consultation": ["已电话解答政策，群众表示清楚", "已将办事指南发送给群众"],
    "other": ["已协调相关单位处理完毕", "已现场处理，群众确认", "已督促物业整改到位", "已上门服务，问题解决"],
}
REJECT_REASONS = [
    "属于司法诉讼程序，已告知群众向人民法院起诉",
    "不属于本社区受理范围，已告知群众向相关单位反映",
]
ESCALATE_REASONS = ["超出网格处置能力，需部门处理", "需专业维修队伍", "涉及执法事项"]
SEND_BACK_REASONS = ["属于网格日常管理事项，请网格先行处置", "材料不全，请补充现场情况后再报"]
COMMENTS = {
    "satisfied": ["处理及时，谢谢网格员", "很满意", None],
    "basically_satisfied": ["基本解决了", None],
    "unsatisfied": ["问题没有根本解决", "处理太慢了"],
}


@dataclass(order=True)
class Step:
    at: datetime
    order: int
    number: str = field(compare=False)
    verb: str = field(compare=False)
    actor: str = field(compare=False)
    data: dict[str, Any] = field(compare=False, default_factory=dict)


def step_petitions(ctx: DemoContext) -> None:
    from sqlalchemy import func, select

    from baiyin_cli.errors import GridError
    from baiyin_cli.models import Household, Petition, Worker
    from baiyin_cli.services import petitions
    from baiyin_cli.services.access import Operator
    from baiyin_cli.services.demo import mobile, person_name

    s, rng, now = ctx.session, ctx.rng, ctx.now
    ops = {
        w.username: Operator(w.username, w.name, w.role, w.area_code, w.dept_code)
        for w in s.execute(select(Worker).where(Worker.active)).scalars()
    }  # type: ignore[arg-type]
    secretary = {o.area_code: o.username for o in ops.values() if o.role == "secretary"}
    workers: dict[str, list[str]] = {}
    for o in sorted(ops.values(), key=lambda o: o.username):
        if o.role == "grid_worker":
            workers.setdefault(o.area_code or "", []).append(o.username)
    homes: dict[str, list[dict[str, Any]]] = {}
    for h in ctx.households:
        homes.setdefault(h["grid"], []).append(h)
    grids = [g for g in ctx.grids if workers.get(g["code"])]
    if not grids:
        return
    registered = dict(s.execute(select(Household.id, Household.created_at)).all())
    estates: dict[str, list[str]] = {}
    for gcode, addr in s.execute(
        select(Household.grid_code, Household.address)
        .distinct()
        .order_by(Household.grid_code, Household.address)
    ):
        estates.setdefault(gcode, []).append(addr)
    cats = list(TEXTS)
    counter = itertools.count()
    queue: list[Step] = []
    planner = _Planner(rng, now, secretary, workers, counter)

    # The month of filings: planned first, filed in time order together with everything else.
    start = now - timedelta(days=DAYS)
    for _ in range(DAYS * PER_DAY):
        at = start + timedelta(seconds=rng.randrange(DAYS * 86400))
        local = timeutil.local(at)
        if not 7 <= local.hour <= 21 and rng.random() < 0.8:
            at += timedelta(hours=10)
        if at >= now:
            continue
        g = rng.choice(grids)
        cat = rng.choices(cats, weights=[TEXTS[c][0] for c in cats])[0]
        channel = rng.choices(list(CHANNEL_WEIGHTS), weights=list(CHANNEL_WEIGHTS.values()))[0]
        template, place = rng.choice(TEXTS[cat][1]), rng.choice(PLACES)
        text = template.format(place=place)
        home = rng.choice(homes[g["code"]]) if homes.get(g["code"]) and rng.random() < 0.4 else None
        if home and registered[home["id"]] > at:  # not yet registered then: an unlinked reporter
            home = None
        anonymous = home is None and rng.random() < 0.05
        # A matter at a place (a manhole, a street light) gets that place as its address.
        at_place = home is None and "{place}" in template
        address = estate(rng, estates.get(g["code"]), place) if at_place else None
        filing = {
            "text": text,
            "category": cat,
            "channel": channel,
            "grid": g["code"],
            "household": home["code"] if home else None,
            "name": None
            if anonymous
            else (home["head"] if home and home.get("head") else person_name(rng, rng.choice("MF"))),
            "phone": (home.get("phone") if home else None) or mobile(rng),
            "anonymous": anonymous,
            "address": address,
        }
        who = g["worker"] if channel == "grid_report" else secretary[g["community"]]
        original = Step(at, next(counter), "", "file", who, filing)
        heapq.heappush(queue, original)
        if rng.random() < 0.03:  # the same matter raised again by a neighbour: a duplicate to merge
            dup = dict(
                filing,
                text=text + "，希望尽快处理",
                name=person_name(rng, rng.choice("MF")),
                phone=mobile(rng),
                household=None,
                anonymous=False,
                channel="hotline_12345",
                duplicate_of=original.order,
            )
            heapq.heappush(
                queue,
                Step(
                    at + timedelta(minutes=rng.randint(40, 600)),
                    next(counter),
                    "",
                    "file",
                    secretary[g["community"]],
                    dup,
                ),
            )

    # This morning's: some still waiting for dispatch or for the callback (the triage queue's top).
    for i in range(6):
        at = now - timedelta(minutes=rng.randint(5, 180))
        g = rng.choice(grids)
        cat = rng.choices(cats, weights=[TEXTS[c][0] for c in cats])[0]
        filing = {
            "text": rng.choice(TEXTS[cat][1]).format(place=rng.choice(PLACES)),
            "category": cat,
            "channel": rng.choice(["hotline_12345", "mini_program", "qr"]),
            "grid": g["code"],
            "name": person_name(rng, rng.choice("MF")),
            "phone": mobile(rng),
            # The newest wait for the secretary (submitted) or, dispatched, for the callback (assigned).
            "hold": {0: "dispatch", 1: "dispatch", 2: "callback"}.get(i),
        }
        if i == 2:
            at = now - timedelta(minutes=15)  # dispatched minutes ago: the callback is still due
        heapq.heappush(queue, Step(at, next(counter), "", "file", secretary[g["community"]], filing))

    # The grid_report petitions the visits step filed are worked the same way.
    for p in s.execute(select(Petition).where(Petition.status == "submitted")).scalars():
        for st in planner.plan(p.number, p.category, p.community_code, p.grid_code, p.filed_at, p.filed_at):
            heapq.heappush(queue, st)

    filed_numbers: dict[int, str] = {}  # order of the filing step -> number (to merge duplicates)
    broken: set[str] = set()
    skipped = 0
    while queue:
        st = heapq.heappop(queue)
        if st.at > now or st.number in broken:
            continue
        op = ops[st.actor]
        try:
            if st.verb == "file":
                d = dict(st.data)
                original = d.pop("duplicate_of", None)
                hold = d.pop("hold", None)
                p = petitions.file_petition(s, op, at=st.at, **d)
                number = p["number"]
                filed_numbers[st.order] = number
                target = filed_numbers.get(original) if original is not None else None
                if target:
                    heapq.heappush(
                        queue,
                        Step(
                            st.at + timedelta(minutes=rng.randint(5, 40)),
                            next(counter),
                            number,
                            "merge",
                            secretary[p["community"]],
                            {"into": target},
                        ),
                    )
                    continue
                plan = planner.plan(number, p["category"], p["community"], p["grid"], st.at, st.at)
                if hold == "dispatch":
                    plan = []
                elif hold == "callback":
                    plan = [x for x in plan if x.verb == "assign"][:1]
                for nxt in plan:
                    heapq.heappush(queue, nxt)
            else:
                petitions.apply(s, op, st.number, st.verb, at=st.at, **st.data)
        except GridError as exc:
            if st.verb == "merge":  # the original was no longer running: the duplicate is declined instead
                petitions.apply(
                    s,
                    op,
                    st.number,
                    "reject",
                    at=st.at,
                    reason="重复反映，原诉求已办结：" + str(st.data["into"]),
                )
                continue
            # A plan the workflow refuses is a bug in the plan: leave the petition where it is, count it.
            broken.add(st.number)
            skipped += 1
            ctx.made["petition_demo_skipped"] = skipped
            if skipped > 25:
                raise RuntimeError(f"demo petitions: {st.verb} {st.number}: {exc.key}") from exc
    total = s.execute(select(func.count()).select_from(Petition)).scalar_one()
    ctx.made.update(petitions=total)


def estate(rng: Any, addresses: list[str] | None, place: str) -> str | None:
    """Where in the grid a place is: one of its estates (a village for a rural address) and the place."""
    import re

    if not addresses:
        return None
    base = rng.choice(addresses)
    village = re.match(r"(.+?[村镇])\d+社", base)
    return (village.group(1) if village else base) + place


class _Planner:
    """One petition's path from filing to closing, as timed steps (stopping at the clock)."""

    def __init__(
        self, rng: Any, now: datetime, secretary: dict[str, str], workers: dict[str, list[str]], counter: Any
    ) -> None:
        from baiyin_cli import config

        self.rng, self.now, self.secretary, self.workers, self.counter = rng, now, secretary, workers, counter
        self.config = config.load()

    def plan(
        self, number: str, category: str, community: str, grid: str | None, base: datetime, filed_at: datetime
    ) -> list[Step]:
        from baiyin_cli.services import workcalendar

        rng, conf = self.rng, self.config
        steps: list[Step] = []
        t = base

        def add(minutes: float, verb: str, actor: str, office: bool = True, **data: Any) -> None:
            nonlocal t
            t = t + timedelta(minutes=max(1.0, minutes))
            if office:
                t = office_hours(rng, t)
            steps.append(Step(t, next(self.counter), number, verb, actor, data))

        sec = self.secretary[community]
        group = conf.get(f"categories.{category}.group") or "other"
        pool = self.workers.get(grid or "") or [
            w for g, ws in self.workers.items() if g.startswith(community) for w in ws
        ]
        if not pool:
            return []
        full_time = [w for w in pool if w.startswith("wg")] or pool
        worker = rng.choice(full_time)
        if rng.random() < REJECTED:
            add(rng.uniform(10, 60), "reject", sec, office=False, reason=rng.choice(REJECT_REASONS))
            return steps
        late_callback = rng.random() < LATE_CALLBACK
        # Dispatch and the callback run round the clock (the 12345 line and the grid's duty phone).
        add(rng.uniform(2, 12), "assign", sec, office=False, to=worker)
        if rng.random() < 0.03 and len(pool) > 1:
            worker = rng.choice([w for w in pool if w != worker])
            add(rng.uniform(2, 8), "assign", sec, office=False, to=worker, note="原网格员请假，改派")
        callback = rng.uniform(35, 240) if late_callback else rng.uniform(4, 27)
        add(
            (filed_at + timedelta(minutes=callback) - t).total_seconds() / 60,
            "contact",
            worker,
            office=False,
            how=rng.choices(["phone", "visit", "sms"], weights=[80, 15, 5])[0],
            outcome=rng.choice(OUTCOMES),
        )
        days = int(conf.get(f"categories.{category}.days") or 5)
        due, _ = workcalendar.resolve_due(filed_at, days)
        fate = rng.random()
        stuck = fate < STUCK
        late = STUCK <= fate < STUCK + LATE
        on_call = group == "consultation" and rng.random() < ANSWERED_ON_CALL
        if not on_call:
            add(rng.uniform(10, 120), "start", worker)
        holder = worker
        median = HANDLING_HOURS.get(group, HANDLING_HOURS["other"])
        if group != "consultation" and rng.random() < ESCALATED:
            dept = rng.choice(DEPTS.get(category, ["chengguan"]))
            add(rng.uniform(30, 360), "escalate", worker, dept=dept, reason=rng.choice(ESCALATE_REASONS))
            if rng.random() < SENT_BACK:
                add(rng.uniform(60, 1440), "send_back", f"dept_{dept}", reason=rng.choice(SEND_BACK_REASONS))
            else:
                holder, median = f"dept_{dept}", DEPT_HOURS
        if stuck:
            return steps  # never resolved: overdue in the queue
        result = rng.choice(RESULTS.get(group, RESULTS["other"]))
        if late:
            at = office_hours(rng, max(t, due) + timedelta(minutes=rng.uniform(60, 3 * 1440)))
        else:
            if on_call:
                minutes = rng.uniform(5, 60)
            else:
                minutes = 60 * rng.lognormvariate(math.log(median), HANDLING_SIGMA)
            at = office_hours(rng, t + timedelta(minutes=minutes))
            if at > due:  # the worker sees the deadline coming: done on its last stretch
                room = max((due - t).total_seconds() / 60, 2.0)
                at = t + timedelta(minutes=rng.uniform(0.5, 0.95) * room)
        steps.append(Step(max(at, t + timedelta(minutes=1)), next(self.counter), number, "resolve", holder,
                          {"result": result}))
        t = steps[-1].at
        self._rate_and_close(add, sec, worker, group)
        return steps

    def _rate_and_close(self, add: Any, sec: str, worker: str, group: str) -> None:
        rng = self.rng
        lapse = float(self.config.get("petition.evaluation_days", 7)) * 1440
        if rng.random() < 0.80:
            rating = rng.choices(["satisfied", "basically_satisfied", "unsatisfied"], weights=[86, 10, 4])[0]
            add(rng.uniform(60, 3 * 1440), "rate", sec, rating=rating, comment=rng.choice(COMMENTS[rating]))
            if rating == "unsatisfied":
                add(
                    rng.uniform(60, 1440),
                    "resolve",
                    worker,
                    result="重新处理：" + rng.choice(RESULTS.get(group, RESULTS["other"])),
                )
                second = rng.choice(["satisfied", "basically_satisfied"])
                add(
                    rng.uniform(60, 2 * 1440),
                    "rate",
                    sec,
                    rating=second,
                    comment=rng.choice(COMMENTS[second]),
                )
            add(rng.uniform(30, 1440), "close", sec)
        else:
            add(lapse + rng.uniform(10, 2 * 1440), "close", sec)


def office_hours(rng: Any, at: datetime) -> datetime:
    """`at`, or the next morning's opening (plus a little) when it falls outside office hours."""
    local = timeutil.local(at)
    opens, closes = OFFICE
    if opens <= local.hour < closes:
        return at
    day = local.date() if local.hour < opens else local.date() + timedelta(days=1)
    start = datetime(day.year, day.month, day.day, opens, tzinfo=local.tzinfo)
    return start.astimezone(timeutil.UTC) + timedelta(minutes=rng.uniform(0, 90))
