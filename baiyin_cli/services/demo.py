"""The demo city: Baiyin's five districts and counties, with streets, communities, grids,
people and departments; later capabilities add households, petitions and visits as steps.

Deterministic: a seeded generator, so the same seed builds the same city (dates are
relative to the clock, which GRID_NOW can fix).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from baiyin_cli import store, timeutil
from baiyin_cli.errors import Conflict
from baiyin_cli.i18n import M

DEMO_EXISTS = M(
    "demo.exists",
    "演示数据库已存在：{path}（用 --force 重建）",
    "The demo database exists: {path} (use --force to rebuild)",
)

DISTRICTS: list[tuple[str, str, list[tuple[str, list[str]]]]] = [
    ("620402", "白银区", [
        ("人民路街道", ["新华社区", "兴华社区", "公园社区"]),
        ("工农路街道", ["建设社区", "金鱼社区", "北环路社区"]),
        ("纺织路街道", ["银光社区", "新丰社区"]),
        ("四龙镇", ["四龙村", "民勤村"]),
    ]),
    ("620403", "平川区", [
        ("长征街道", ["长征社区", "向阳社区"]),
        ("电力路街道", ["电力路社区", "新建社区"]),
        ("兴平路街道", ["兴平社区", "宝积社区"]),
    ]),
    ("620421", "靖远县", [
        ("乌兰镇", ["东关社区", "西关社区", "北关社区"]),
        ("东湾镇", ["东湾村", "大坝村"]),
    ]),
    ("620422", "会宁县", [
        ("会师镇", ["会师社区", "南关社区", "东关社区"]),
        ("郭城驿镇", ["郭城社区", "新堡子村"]),
    ]),
    ("620423", "景泰县", [
        ("一条山镇", ["城北社区", "城南社区", "新城社区"]),
        ("芦阳镇", ["芦阳社区", "响水村"]),
    ]),
]

DEPARTMENTS = [
    ("sifa", "司法所"),
    ("zhujian", "住房和城乡建设局"),
    ("shuiwu", "水务局"),
    ("minzheng", "民政局"),
    ("jiaoyu", "教育局"),
    ("paichusuo", "派出所"),
    ("chengguan", "城市管理局"),
    ("gongdian", "供电公司"),
]

SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段雷钱汤尹黎易常武乔贺赖龚文"
GIVEN_M = "伟刚勇毅俊峰强军平保东文辉力明永健世广志义兴良海山仁波宁贵福生龙元全国胜学祥才发武新利清飞彬富顺信子杰涛昌成康星光天达安岩中茂进林有坚和彪博诚先敬震振壮会思群豪心邦承乐绍功松善厚庆磊民友裕河哲江超浩亮政谦亨奇固之轮翰朗伯宏言若鸣朋斌梁栋维启克伦翔旭鹏泽晨辰士以建家致树炎德行时泰盛雄琛钧冠策腾楠榕风航弘"
GIVEN_F = "秀娟英华慧巧美娜静淑惠珠翠雅芝玉萍红娥玲芬芳燕彩春菊兰凤洁梅琳素云莲真环雪荣爱妹霞香月莺媛艳瑞凡佳嘉琼勤珍贞莉桂娣叶璧璐娅琦晶妍茜秋珊莎锦黛青倩婷姣婉娴瑾颖露瑶怡婵雁蓓纨仪荷丹蓉眉君琴蕊薇菁梦岚苑婕馨瑗琰韵融园艺咏卿聪澜纯毓悦昭冰爽琬茗羽希宁欣飘育滢馥筠柔竹霭凝晓欢霄枫芸菲寒伊亚宜可姬舒影荔枝丽阳妮宝贝初程梵罡恒鸿桦骅剑娇纪宽苛灵玛媚琪晴容睿烁堂唯威韦雯苇萱阅彦宇雨洋忠宗曼紫逸贤蝶菡绿蓝儿翠烟"


def person_name(rng: random.Random, sex: str = "M") -> str:
    pool = GIVEN_M if sex == "M" else GIVEN_F
    given = rng.choice(pool) + (rng.choice(pool) if rng.random() < 0.7 else "")
    return rng.choice(SURNAMES) + given


def mobile(rng: random.Random) -> str:
    return rng.choice(["138", "139", "150", "151", "177", "180", "189", "133", "153", "199"]) + f"{rng.randrange(10**8):08d}"


@dataclass
class DemoContext:
    """What the steps share: the session, a seeded generator, the clock, and what was made."""

    session: Any
    rng: random.Random
    now: Any
    grids: list[dict[str, Any]] = field(default_factory=list)
    communities: list[dict[str, Any]] = field(default_factory=list)
    # Filled by the registry step: {id, code, grid, address, care (set of tags), head, phone}.
    households: list[dict[str, Any]] = field(default_factory=list)
    made: dict[str, int] = field(default_factory=dict)


def step_org(ctx: DemoContext) -> None:
    """Areas, departments and people, inserted in bulk through SQLAlchemy Core."""
    from sqlalchemy import insert

    from baiyin_cli.models import Area, Department, Worker

    s, rng, now = ctx.session, ctx.rng, ctx.now
    areas: list[dict[str, Any]] = []
    workers: list[dict[str, Any]] = []
    grid_words = ["一", "二", "三", "四", "五", "六"]
    for dcode, dname, streets in DISTRICTS:
        areas.append(dict(code=dcode, name=dname, level="district", parent_code=None, created_at=now))
        for si, (sname, communities) in enumerate(streets, 1):
            scode = f"{dcode}{si:03d}"
            areas.append(dict(code=scode, name=sname, level="street", parent_code=dcode, created_at=now))
            for ci, cname in enumerate(communities, 1):
                ccode = f"{scode}{ci:03d}"
                areas.append(dict(code=ccode, name=cname, level="community", parent_code=scode, created_at=now))
                ctx.communities.append({"code": ccode, "name": cname, "district": dname, "street": sname})
                sec = f"sj{ccode[-9:]}"
                workers.append(dict(username=sec, name=person_name(rng, rng.choice("MF")), phone=mobile(rng),
                                    role="secretary", kind=None, area_code=ccode, dept_code=None,
                                    active=True, created_at=now, updated_at=now))
                for gi in range(1, rng.randint(3, 5) + 1):
                    gcode = f"{ccode}{gi:03d}"
                    gname = f"{cname}第{grid_words[gi - 1]}网格"
                    areas.append(dict(code=gcode, name=gname, level="grid", parent_code=ccode, created_at=now))
                    uname = f"wg{gcode[-12:]}"
                    workers.append(dict(username=uname, name=person_name(rng, rng.choice("MF")), phone=mobile(rng),
                                        role="grid_worker", kind="full_time", area_code=gcode, dept_code=None,
                                        active=True, created_at=now, updated_at=now))
                    ctx.grids.append({"code": gcode, "name": gname, "community": ccode, "worker": uname,
                                      "street": sname, "district": dname})
                    if rng.random() < 0.35:
                        kind = rng.choice(["red", "mobile", "liaison"])
                        workers.append(dict(username=f"{kind[:2]}{gcode[-12:]}", name=person_name(rng, rng.choice("MF")),
                                            phone=mobile(rng), role="grid_worker", kind=kind, area_code=gcode,
                                            dept_code=None, active=True, created_at=now, updated_at=now))
    s.execute(insert(Area), areas)
    s.execute(insert(Department), [dict(code=c, name=n, active=True, created_at=now) for c, n in DEPARTMENTS])
    for code, name in DEPARTMENTS:
        workers.append(dict(username=f"dept_{code}", name=person_name(rng, rng.choice("MF")), phone=mobile(rng),
                            role="department", kind=None, area_code=None, dept_code=code,
                            active=True, created_at=now, updated_at=now))
    workers.append(dict(username="viewer", name="督查室", phone=None, role="viewer", kind=None, area_code=None,
                        dept_code=None, active=True, created_at=now, updated_at=now))
    s.execute(insert(Worker), workers)
    ctx.made.update(
        districts=len(DISTRICTS),
        streets=sum(1 for a in areas if a["level"] == "street"),
        communities=len(ctx.communities),
        grids=len(ctx.grids),
        workers=len(workers),
        departments=len(DEPARTMENTS),
    )


def step_registry(ctx: DemoContext) -> None:
    """Households and residents of every grid (services/demo_registry.py)."""
    from baiyin_cli.services.demo_registry import step_registry as households_and_residents

    households_and_residents(ctx)


def step_visits(ctx: DemoContext) -> None:
    """Six weeks of grid workers' rounds, with findings filed as petitions (services/demo_visits.py)."""
    from baiyin_cli.services.demo_visits import step_visits as rounds

    rounds(ctx)


# Later capabilities append their steps: (name, function(DemoContext)).
def step_petitions(ctx: DemoContext) -> None:
    """A month of petitions worked through the workflow (services/demo_petitions.py); after the
    households (linked as reporters) and the visits (whose findings are worked too)."""
    from baiyin_cli.services.demo_petitions import step_petitions as month_of_petitions

    month_of_petitions(ctx)


STEPS: list[tuple[str, Callable[[DemoContext], None]]] = [
    ("org", step_org), ("registry", step_registry), ("visits", step_visits), ("petitions", step_petitions),
]


def _empty_sqlite(path: Path) -> bool:
    """An SQLite file without a single table (an older grid left one behind when a command ran
    on the demo before it was built): nothing to lose, so `grid demo` replaces it unasked."""
    import sqlite3

    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return con.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0
        finally:
            con.close()
    except sqlite3.DatabaseError:  # not an SQLite file: not ours to replace without --force
        return False


def build(path: Path, *, force: bool = False, seed: int = 2026, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Build the demo city in its own SQLite file at `path`."""
    from sqlmodel import Session

    from baiyin_cli.services import system

    path = path.expanduser().resolve()
    if path.exists():
        if not force and not _empty_sqlite(path):
            raise Conflict(DEMO_EXISTS, path=str(path))
        store.dispose_all()
        for suffix in ("", "-wal", "-shm"):
            p = Path(str(path) + suffix)
            if p.exists():
                p.unlink()
    url = store.to_url(str(path))
    pin = demo_pin(seed)
    system.init(url)
    eng = store.engine(url)
    ctx = None
    with Session(eng.execution_options(grid_write=True)) as s:
        ctx = DemoContext(session=s, rng=random.Random(seed), now=timeutil.now())
        for name, fn in STEPS:
            if progress:
                progress(name)
            fn(ctx)
            s.flush()
        _demo_credentials(s, pin, ctx.now)
        s.commit()
    return {"path": str(path), "seed": seed, "pin": pin, **ctx.made}


def demo_pin(seed: int) -> str:
    """The demo accounts' PIN: printed by `grid demo`, the same for the same seed."""
    from baiyin_cli.services import auth

    rng = random.Random(f"pin-{seed}")
    while True:
        pin = f"{rng.randrange(10**6):06d}"
        if not auth._trivial_pin(pin):
            return pin


def _demo_credentials(s: Any, pin: str, now: Any) -> None:
    """Mark the database as synthetic (so `--demo` may act without a login) and give every demo
    account the demo PIN (one argon2 hash shared: these are not real people)."""
    from sqlalchemy import insert, select

    from baiyin_cli.models import OperatorCredential, Worker
    from baiyin_cli.services import auth

    auth.mark_demo(s)
    encoded = auth.hash_secret(pin)
    names = [u for (u,) in s.execute(select(Worker.username))]
    s.execute(insert(OperatorCredential), [
        dict(username=u, secret_hash=encoded, kind="pin", set_at=now, set_by=None, failed_count=0) for u in names
    ])
