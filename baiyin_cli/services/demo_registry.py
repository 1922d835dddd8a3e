"""Demo step: households and residents for every demo grid.

Synthetic but shaped like a real 人口底数: families that make sense (couples of similar age,
children born when their mothers were 20-40, grandparents in three-generation and left-behind
households), valid ID numbers (Baiyin region prefixes, the birth date, a sequence whose parity
is the sex, the MOD 11-2 check digit), phones for adults, care tags on a plausible share of
people. Everything comes from the demo's seeded generator, so the same seed gives the same city.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

BAIYIN_PREFIXES = ["620402", "620403", "620421", "620422", "620423"]

ROADS = {
    "620402": ["人民路", "工农路", "纺织路", "北京路", "公园路", "友好路", "银光路", "诚信大道", "兰州路", "四龙路"],
    "620403": ["长征街", "电力路", "兴平路", "红会路", "宝积路", "平川大道"],
    "620421": ["乌兰大街", "北关街", "东关街", "西关街", "鹯阴路"],
    "620422": ["会师大街", "南关街", "东关街", "西岩路", "红军路"],
    "620423": ["一条山大街", "长城路", "昌林路", "兴水路", "寿鹿路"],
}
ESTATES = ["银光小区", "金鱼花园", "新世纪小区", "阳光家园", "幸福里", "铜城苑", "友谊小区", "和平家园",
           "锦绣花园", "康乐小区", "福源小区", "东方红小区", "建设里", "滨河小区", "枣园小区", "安居苑"]

# (template, weight in towns, weight in villages)
TEMPLATES = [
    ("elderly_alone", 8, 9),
    ("elderly_couple", 13, 14),
    ("single", 8, 5),
    ("young_couple", 9, 6),
    ("nuclear", 35, 27),
    ("three_generations", 15, 21),
    ("left_behind", 2, 13),
    ("single_parent", 6, 4),
]
ETHNICITY_WEIGHTS = [("01", 955), ("03", 35), ("26", 4), ("04", 3), ("02", 3)]


@dataclass
class Person:
    name: str
    sex: str
    birth: date
    relation: str
    care: set[str] = field(default_factory=set)


def _age_to_birth(rng: random.Random, today: date, age: int) -> date:
    """A birth date making the person exactly `age` years old today."""
    latest = date(today.year - age, today.month, min(today.day, 28))
    return latest - timedelta(days=rng.randrange(0, 364))


def _years(today: date, birth: date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def _given(rng: random.Random, sex: str) -> str:
    from baiyin_cli.services.demo import person_name

    return person_name(rng, sex)[1:]


def _surname(rng: random.Random) -> str:
    from baiyin_cli.services.demo import SURNAMES

    return rng.choice(SURNAMES)


def _child_of(rng: random.Random, today: date, surname: str, mother_birth: date, relation_son: str = "20",
              relation_daughter: str = "30", max_age: int = 40) -> Person | None:
    mother_age = _years(today, mother_birth)
    oldest = min(mother_age - 20, max_age)
    youngest = max(mother_age - 42, 0)
    if oldest < youngest:
        return None
    sex = rng.choice("MF")
    age = rng.randint(youngest, oldest)
    return Person(surname + _given(rng, sex), sex, _age_to_birth(rng, today, age),
                  relation_son if sex == "M" else relation_daughter)


def _couple(rng: random.Random, today: date, lo: int, hi: int, *, head_male: bool = True) -> tuple[Person, Person, str]:
    surname = _surname(rng)
    husband_age = rng.randint(lo, hi)
    wife_age = max(lo - 2, min(hi + 2, husband_age + rng.randint(-6, 2)))
    husband = Person(surname + _given(rng, "M"), "M", _age_to_birth(rng, today, husband_age), "02" if head_male else "10")
    wife = Person(_surname(rng) + _given(rng, "F"), "F", _age_to_birth(rng, today, wife_age), "10" if head_male else "02")
    return husband, wife, surname


def family(rng: random.Random, today: date, template: str) -> tuple[list[Person], set[str]]:
    """The members of one household (head first) and the household's own care tags."""
    people: list[Person] = []
    tags: set[str] = set()
    if template == "elderly_alone":
        sex = rng.choice("MFF")  # women outlive men
        p = Person(_surname(rng) + _given(rng, sex), sex, _age_to_birth(rng, today, rng.randint(65, 93)), "02",
                   {"elderly_alone"})
        if rng.random() < 0.3:
            p.care.add("childless_elderly")
            if rng.random() < 0.4:
                p.care.add("special_hardship")
        people.append(p)
        if rng.random() < 0.2:
            tags.add("low_income")
    elif template == "elderly_couple":
        h, w, _ = _couple(rng, today, 60, 88)
        for p in (h, w):
            p.care.add("empty_nest")
        people += [h, w]
    elif template == "single":
        sex = rng.choice("MMF")
        people.append(Person(_surname(rng) + _given(rng, sex), sex, _age_to_birth(rng, today, rng.randint(20, 59)), "02"))
    elif template == "young_couple":
        h, w, _ = _couple(rng, today, 23, 34, head_male=rng.random() < 0.85)
        people += [h, w] if h.relation == "02" else [w, h]
    elif template in ("nuclear", "three_generations"):
        h, w, surname = _couple(rng, today, 27, 56, head_male=rng.random() < 0.85)
        people += [h, w] if h.relation == "02" else [w, h]
        for _ in range(rng.choice([1, 1, 1, 2, 2, 3]) if template == "nuclear" else rng.choice([1, 2, 2])):
            c = _child_of(rng, today, surname, w.birth, max_age=28)
            if c:
                people.append(c)
        if template == "three_generations":
            # The head's parents (or, for a woman heading it, hers) live with them.
            head = people[0]
            elder_age = _years(today, head.birth) + rng.randint(22, 34)
            grandma = rng.random() < 0.75
            grandpa = rng.random() < 0.6 or not grandma
            if grandpa:
                people.append(Person(head.name[0] + _given(rng, "M"), "M", _age_to_birth(rng, today, min(elder_age, 96)), "50"))
            if grandma:
                age = min(elder_age + rng.randint(-4, 1), 96)
                people.append(Person(_surname(rng) + _given(rng, "F"), "F", _age_to_birth(rng, today, age), "50"))
    elif template == "left_behind":
        gp, gm, surname = _couple(rng, today, 52, 74)
        people += [gp, gm]
        # The parents work away (外出务工): the grandchildren stay with the grandparents.
        for _ in range(rng.choice([1, 1, 2, 2, 3])):
            sex = rng.choice("MF")
            people.append(Person(surname + _given(rng, sex), sex, _age_to_birth(rng, today, rng.randint(2, 15)), "40",
                                 {"left_behind_child"}))
        if rng.random() < 0.25:
            tags.add("low_income")
    elif template == "single_parent":
        sex = rng.choice("MFF")
        head = Person(_surname(rng) + _given(rng, sex), sex, _age_to_birth(rng, today, rng.randint(27, 52)), "02")
        people.append(head)
        surname = head.name[0]
        mother_birth = head.birth if sex == "F" else head.birth + timedelta(days=365 * 2)
        for _ in range(rng.choice([1, 1, 2])):
            c = _child_of(rng, today, surname, mother_birth, max_age=17)
            if c:
                if rng.random() < 0.2:
                    c.care.add("child_in_difficulty")
                people.append(c)
        if rng.random() < 0.35:
            tags.add("low_income")
    for p in people:
        age = _years(today, p.birth)
        if rng.random() < (0.05 if age >= 60 else 0.015):
            p.care.add("disabled")
        if p.sex == "M" and 40 <= age <= 85 and rng.random() < 0.03:
            p.care.add("veteran")
        if age < 18 and "left_behind_child" not in p.care and rng.random() < 0.005:
            p.care.add("child_in_difficulty")
    if not tags and rng.random() < 0.03:
        tags.add("low_income")
    return people, tags


def id_number_for(rng: random.Random, region: str, birth: date, sex: str, taken: set[str]) -> str:
    from stdnum.cn import ric

    while True:
        seq = rng.randrange(0, 1000)
        if (seq % 2 == 1) != (sex == "M"):
            seq = (seq + 1) % 1000
        body = f"{region}{birth:%Y%m%d}{seq:03d}"
        number = body + ric.calc_check_digit(body + "?")  # it reads number[:-1]
        if number not in taken:
            taken.add(number)
            return number


def _phone(rng: random.Random, age: int) -> str | None:
    from baiyin_cli.services.demo import mobile

    if age < 16:
        return None
    if age >= 76:
        r = rng.random()
        if r < 0.4:
            return mobile(rng)
        if r < 0.65:
            return f"0943-{rng.choice('3456789')}{rng.randrange(10**6):06d}"
        return None
    return mobile(rng) if rng.random() < 0.93 else None


def _address(rng: random.Random, grid: dict[str, Any], rural: bool, village: str, estates: list[tuple[str, str]],
             used: set[tuple[Any, ...]]) -> tuple[str, str | None, str | None, str | None]:
    while True:
        if rural:
            addr = f"{village}{rng.randint(1, 8)}社{rng.randint(1, 120)}号"
            key: tuple[Any, ...] = (addr,)
            parts: tuple[str | None, str | None, str | None] = (None, None, None)
        else:
            base = rng.choice(estates)[1]
            b, u = str(rng.randint(1, 12)), str(rng.randint(1, 4))
            room = f"{rng.randint(1, 7)}0{rng.randint(1, 2)}"
            addr, parts = base, (b, u, room)
            key = (addr, *parts)
        if key not in used:
            used.add(key)
            return (addr, *parts)


def _next_id(conn: Any, model: Any) -> int:
    from sqlalchemy import func, select

    return int(conn.execute(select(func.max(model.__table__.c.id))).scalar() or 0) + 1


def _sync_sequence(conn: Any, model: Any) -> None:
    """Ids were given explicitly (plain executemany is ~50x faster than ORM bulk inserts with
    RETURNING); on PostgreSQL move the serial past them so later inserts do not collide."""
    if conn.dialect.name != "postgresql":
        return
    from sqlalchemy import text

    table = model.__table__.name
    conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"))


def step_registry(ctx: Any) -> None:
    """Households (25-40 per grid) and their residents, inserted in bulk through SQLAlchemy Core."""
    from sqlalchemy import insert

    from baiyin_cli import timeutil
    from baiyin_cli.models import Household, HouseholdAddressKey, HouseholdCare, Resident, ResidentCare
    from baiyin_cli.services import crypto
    from baiyin_cli.services.registry import resident_secret_columns
    from baiyin_cli.services.registry_keys import address_keys, full_address, name_keys, normalise_address

    s, rng, now = ctx.session, ctx.rng, ctx.now
    cipher = crypto.for_session(s)  # ID numbers and phones are stored encrypted (the demo's own key)
    today = timeutil.local_date(now)
    community_names = {c["code"]: c["name"] for c in ctx.communities}
    taken: set[str] = set()
    households: list[dict[str, Any]] = []
    plans: list[tuple[list[Person], set[str], str]] = []
    for grid in ctx.grids:
        gcode = grid["code"]
        village = community_names.get(grid["community"], "")
        rural = village.endswith("村")
        district = gcode[:6]
        roads = ROADS.get(district, ROADS["620402"])
        estates = [(r, f"{r}{rng.randint(1, 260)}号{rng.choice(ESTATES)}") for r in rng.sample(roads, 2)]
        used: set[tuple[Any, ...]] = set()
        weights = [t[2] if rural else t[1] for t in TEMPLATES]
        for i in range(1, rng.randint(25, 40) + 1):
            template = rng.choices([t[0] for t in TEMPLATES], weights=weights)[0]
            people, tags = family(rng, today, template)
            address, building, unit, room = _address(rng, grid, rural, village, estates, used)
            created = now - timedelta(days=rng.randint(30, 900), minutes=rng.randint(0, 600))
            households.append(dict(
                code=f"{gcode}-{i:04d}", grid_code=gcode, address=address,
                address_norm=normalise_address(full_address(address, building, unit, room)),
                building=building, unit=unit, room=room, type="rural" if rural else "urban", note=None,
                archived_at=None, archive_reason=None, created_at=created, updated_at=created, version=1,
            ))
            plans.append((people, tags, district))
    conn = s.connection()
    first_hid = _next_id(conn, Household)
    ids = list(range(first_hid, first_hid + len(households)))
    for hid, h in zip(ids, households):
        h["id"] = hid
    conn.execute(insert(Household.__table__), households)
    hcare = []
    keys = []
    residents: list[dict[str, Any]] = []
    rcare_plan: list[set[str]] = []
    ctx_households: list[dict[str, Any]] = []
    for hid, h, (people, tags, district) in zip(ids, households, plans):
        hcare += [{"household_id": hid, "tag": t} for t in sorted(tags)]
        keys += [{"household_id": hid, "key": k} for k in address_keys(h["address_norm"])]
        ethnicity = rng.choices([e for e, _ in ETHNICITY_WEIGHTS], weights=[w for _, w in ETHNICITY_WEIGHTS])[0]
        all_tags = set(tags)
        head: dict[str, Any] | None = None
        head_phone: str | None = None
        for p in people:
            age = _years(today, p.birth)
            region = district if rng.random() < 0.85 else rng.choice(BAIYIN_PREFIXES)
            number = id_number_for(rng, region, p.birth, p.sex, taken) if rng.random() < 0.97 else None
            phone = _phone(rng, age)
            pinyin, initials = name_keys(p.name)
            row = dict(
                household_id=hid, name=p.name, name_pinyin=pinyin, name_initials=initials,
                id_last4=number[-4:] if number else None, birth_date=p.birth, sex=p.sex,
                phone_last4=phone[-4:] if phone else None, relation=p.relation,
                **resident_secret_columns(cipher, {"id_number": number, "phone": phone}),
                ethnicity=ethnicity if rng.random() < 0.97 else "01", note=None, archived_at=None,
                archive_reason=None, created_at=h["created_at"], updated_at=h["created_at"], version=1,
            )
            residents.append(row)
            rcare_plan.append(p.care)
            all_tags |= p.care
            if p.relation == "02":
                head, head_phone = row, phone
        ctx_households.append({
            "id": hid, "code": h["code"], "grid": h["grid_code"], "address": full_address(
                h["address"], h["building"], h["unit"], h["room"]),
            "care": all_tags, "head": head["name"] if head else None, "phone": head_phone,
        })
    first_rid = _next_id(conn, Resident)
    rids = list(range(first_rid, first_rid + len(residents)))
    for rid, r in zip(rids, residents):
        r["id"] = rid
    conn.execute(insert(Resident.__table__), residents)
    rcare = [{"resident_id": rid, "tag": t} for rid, tags in zip(rids, rcare_plan) for t in sorted(tags)]
    for model, rows in ((HouseholdCare, hcare), (ResidentCare, rcare), (HouseholdAddressKey, keys)):
        if rows:
            conn.execute(insert(model.__table__), rows)
    _sync_sequence(conn, Household)
    _sync_sequence(conn, Resident)
    ctx.households.extend(ctx_households)
    ctx.made.update(households=len(households), residents=len(residents))
