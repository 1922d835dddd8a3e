"""Bulk import and export of the population base: households (户) and residents (居民).

Each row goes through the registry's own rules: `registry.prepare_household` and
`registry.prepare_resident` validate and normalise it, and the database rules of
`household add/edit` and `resident add/edit` (grid exists, no second household at the same
address in a grid, one active record per ID number, one head per household, scope) are
checked here in batches: one query per chunk for each, never one per row.

Natural keys: a household by its code (户编号), or, without one, by grid + address (so a
spreadsheet without our codes imports once and re-imports as a no-op); a resident by its
number (居民编号, which exports carry so a masked export re-imports cleanly), else by ID
number, else by household + name.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from baiyin_cli.errors import Conflict, GridError, InvalidInput, NotFound
from baiyin_cli.i18n import M
from baiyin_cli.services import validate
from baiyin_cli.services.access import Operator, read_scope, require_area, require_reveal
from baiyin_cli.services.bulk import (
    Column,
    Plan,
    Problem,
    Row,
    Target,
    allocate_ids,
    batches,
    fetch,
    ids_by,
    insert_rows,
    mask,
    problem,
    stream,
    unmask,
    update_rows,
)
from baiyin_cli.services.registry_keys import normalised_address

if TYPE_CHECKING:
    from sqlmodel import Session

RESIDENT_OTHER_HOUSEHOLD = M(
    "import.resident_other_household",
    "{who}已登记在户 {current}（居民 #{rid} {name}），不在户 {household}；如是迁户请用 grid resident move",
    "{who} is registered in household {current} (resident #{rid} {name}), not {household}; "
    "to move them use `grid resident move`",
)
SECOND_HEAD = M(
    "import.second_head",
    "户 {key} 在本文件第 {first} 行已有户主；一户只有一位户主",
    "Household {key} already has its head on row {first} of this file; a household has one head",
)
SAME_NAME = M(
    "import.same_name",
    "与第 {first} 行是同一户的同名居民（{key}）；请填写公民身份号码以区分",
    "Same household and name as row {first} ({key}); give the ID numbers to tell them apart",
)
RESIDENT_HEAD_REJECTED = M(
    "import.head_rejected",
    "户 {household} 的户主行（第 {row} 行）未通过校验，本行无法导入",
    "The head of household {household} (row {row}) was rejected, so this row cannot be imported",
)


def _text(value: Any) -> str:
    return unicodedata.normalize("NFKC", str(value or "")).strip()


def _care_show(codes: Any) -> str:
    from baiyin_cli.services.registry import care_label

    if not codes:
        return ""
    return "、".join(care_label(c) for c in codes)


def _show(fn_name: str) -> Any:
    def show(code: Any) -> str:
        from baiyin_cli.services import registry

        return getattr(registry, fn_name)(code) if code not in (None, "") else ""

    return show


def _tags(session: Session, model: Any, owner: str, ids: list[int]) -> dict[int, list[str]]:
    """Own care tags of many households or residents, in config order: one query per 900 ids."""
    from sqlalchemy import select

    from baiyin_cli.services.registry import _ordered

    t = model.__table__
    out: dict[int, list[str]] = {}
    for i in range(0, len(ids), 900):
        for oid, tag in session.execute(select(t.c[owner], t.c.tag).where(t.c[owner].in_(ids[i : i + 900]))):
            out.setdefault(oid, []).append(tag)
    return {k: _ordered(v) for k, v in out.items()}


def _replace_tags(session: Session, model: Any, owner: str, tags: Mapping[int, list[str]]) -> None:
    if not tags:
        return
    from sqlalchemy import delete

    t = model.__table__
    ids = list(tags)
    for i in range(0, len(ids), 900):
        session.execute(delete(t).where(t.c[owner].in_(ids[i : i + 900])))
    insert_rows(session, t, [{owner: oid, "tag": tag} for oid, ts in tags.items() for tag in ts])


# ---------------------------------------------------------------- households


def households_at(places: Iterable[tuple[str, str]]) -> Any:
    """Active households at these (grid, normalised address) places, oldest first. Each place is
    one probe of the (grid_code, address_norm) index: an address lookup alone scanned every
    household on PostgreSQL (a million-household import spent 1.8 s a batch on it), and every
    grid crossed with every address made SQLite probe a hundred grids for each address (45 ms a
    batch, 9 ms this way). A row value IN (...) would scan the table on SQLite."""
    from sqlalchemy import and_, or_, select

    from baiyin_cli.models import Household

    H = Household.__table__
    by_grid: dict[str, list[str]] = {}
    for grid, norm in dict.fromkeys(places):
        by_grid.setdefault(grid, []).append(norm)
    return (
        select(H)
        .where(
            or_(*(and_(H.c.grid_code == g, H.c.address_norm.in_(norms)) for g, norms in by_grid.items())),
            H.c.archived_at.is_(None),
        )
        .order_by(H.c.id)
    )


class HouseholdsTarget(Target):
    entity = "households"
    record = "household"
    what = ("住户", "household")
    personal = True
    columns = (
        Column("code", "户编号", "Household code", width=22, aliases=("household", "household_code")),
        Column(
            "grid", "网格", "Grid", required=True, width=17, aliases=("grid_code", "网格代码", "网格编码")
        ),
        Column("address", "地址", "Address", required=True, width=30, aliases=("住址", "门牌地址")),
        Column("building", "楼栋", "Building", width=8, aliases=("楼号", "栋")),
        Column("unit", "单元", "Unit", width=8),
        Column("room", "房号", "Room", width=8, aliases=("室", "门牌号")),
        Column("type", "类型", "Type", width=8, show=_show("type_label"), aliases=("户类型",)),
        Column("care", "关爱标签", "Care tags", width=18, show=_care_show, aliases=("care_tags", "重点关爱")),
        Column("note", "备注", "Note", personal="note", width=30),
        Column("created_at", "登记时间", "Registered", read_only=True, width=17),
    )
    key_fields = (("code",), ("grid", "address"))
    key_columns = {"address": "address"}

    def begin(self, session: Session, op: Operator | None, strategy: str) -> None:
        super().begin(session, op, strategy)
        self.next_no: dict[str, int] = {}
        self.actor = op.username if op else None

    def keys(self, values: Mapping[str, str | None]) -> list[tuple[str, str]]:
        out = []
        code = _text(values.get("code"))
        if code:
            out.append(("code", code))
        grid, address = _text(values.get("grid")), _text(values.get("address"))
        if grid and address:
            parts = tuple(_text(values.get(k)).replace(" ", "") or None for k in ("building", "unit", "room"))
            norm = normalised_address(address, *parts)
            if norm:
                out.append(("address", f"{grid} {norm}"))
        return out

    @staticmethod
    def _current(cur: Any, care: list[str]) -> dict[str, Any]:
        return {
            "code": cur.code,
            "grid": cur.grid_code,
            "address": cur.address,
            "building": cur.building,
            "unit": cur.unit,
            "room": cur.room,
            "type": cur.type,
            "note": cur.note,
            "care": care,
        }

    def _prepare(self, row: Row, cur: Any, care: list[str]) -> dict[str, Any]:
        from baiyin_cli.services.registry import prepare_household

        current = self._current(cur, care) if cur is not None else None
        merged: dict[str, Any] = dict(current or {})
        merged.update(row.values)
        unmask(merged, current, self.columns)
        return prepare_household(None, merged)

    def plan(self, session: Session, op: Operator | None, rows: list[Row]) -> list[Plan | Problem]:
        from baiyin_cli.models import Area, Household, HouseholdCare
        from baiyin_cli.services import org, registry

        H = Household.__table__
        out: list[Plan | Problem] = []
        by_code = fetch(session, H, "code", (_text(r.values.get("code")) for r in rows), lock=True)
        own = _tags(session, HouseholdCare, "household_id", [h.id for h in by_code.values()])
        staged: list[tuple[Row, Any, dict[str, Any]]] = []
        for r in rows:
            code = _text(r.values.get("code"))
            cur = by_code.get(code)
            try:
                if code:
                    self.decide(code, cur is not None)
                staged.append((r, cur, self._prepare(r, cur, own.get(cur.id, []) if cur is not None else [])))
            except GridError as exc:
                out.append(problem(r.row, exc))
        # Households at the same addresses (active), the grids, and their communities (default type).
        places = sorted({(p["grid_code"], p["address_norm"]) for _r, _c, p in staged})
        at_address: dict[tuple[str, str], Any] = {}
        for i in range(0, len(places), 450):  # two bound values a place
            q = households_at(places[i : i + 450])
            if session.get_bind().dialect.name == "postgresql":
                q = q.with_for_update()  # a row without a code may update the household found at its address
            for h in session.execute(q):
                at_address.setdefault((h.grid_code, h.address_norm), h)
        grids = {p["grid_code"] for _r, _c, p in staged}
        areas = fetch(session, Area.__table__, "code", grids | {g[:12] for g in grids})
        # Rows without a code find their household by grid + address; prepare again over it.
        matched = [
            h
            for r, c, p in staged
            if c is None and not p["code"]
            for h in [at_address.get((p["grid_code"], p["address_norm"]))]
            if h is not None
        ]
        own.update(_tags(session, HouseholdCare, "household_id", [h.id for h in matched]))
        for r, cur, p in staged:
            try:
                if cur is None and not p["code"]:
                    cur = at_address.get((p["grid_code"], p["address_norm"]))
                    if cur is not None:
                        p = self._prepare(r, cur, own.get(cur.id, []))
                if not p["code"]:
                    self.decide(
                        cur.code if cur is not None else f"{p['grid_code']} {p['address']}", cur is not None
                    )
                grid = areas.get(p["grid_code"])
                if grid is None:
                    raise NotFound(org.AREA_NOT_FOUND, code=p["grid_code"], field_key="grid")
                if grid.level != "grid":
                    raise InvalidInput(
                        registry.HOUSEHOLD_NOT_GRID,
                        code=grid.code,
                        level=org._label(grid.level),
                        field_key="grid",
                    )
                require_area(op, grid.code)
                dup = at_address.get((p["grid_code"], p["address_norm"]))
                if cur is None:
                    if dup is not None:
                        raise self._duplicate(dup)
                    community = areas.get(p["grid_code"][:12])
                    p["type"] = p["type"] or (
                        "rural" if community and community.name.endswith("村") else "urban"
                    )
                    p["code"] = p["code"] or self._new_code(session, p["grid_code"])
                    out.append(Plan(r.row, "create", p["code"], p))
                    continue
                require_area(op, cur.grid_code)
                p["type"] = p["type"] or cur.type
                changes = {
                    k: p[k]
                    for k in (
                        "grid_code",
                        "address",
                        "address_norm",
                        "building",
                        "unit",
                        "room",
                        "type",
                        "note",
                    )
                    if p[k] != getattr(cur, k)
                }
                if p["care"] != own.get(cur.id, []):
                    changes["care"] = p["care"]
                if changes and cur.archived_at is not None:
                    raise Conflict(
                        registry.HOUSEHOLD_ARCHIVED, code=cur.code, reason=cur.archive_reason or "-"
                    )
                if (
                    ("grid_code" in changes or "address_norm" in changes)
                    and dup is not None
                    and dup.id != cur.id
                ):
                    raise self._duplicate(dup)
                out.append(Plan(r.row, "update" if changes else "ignore", cur.code, p, cur, changes))
            except GridError as exc:
                out.append(problem(r.row, exc))
        return out

    @staticmethod
    def _duplicate(dup: Any) -> GridError:
        from baiyin_cli.services import registry
        from baiyin_cli.services.registry_keys import full_address

        return InvalidInput(
            registry.HOUSEHOLD_DUPLICATE,
            grid=dup.grid_code,
            code=dup.code,
            address=full_address(dup.address, dup.building, dup.unit, dup.room),
            field_key="address",
        )

    def _new_code(self, session: Session, grid: str) -> str:
        """GRID-NNNN as `household add` issues it: the next number after the grid's highest,
        counted once per grid per import (the grid's row is locked on PostgreSQL)."""
        if grid not in self.next_no:
            from sqlalchemy import select

            from baiyin_cli.models import Area, Household
            from baiyin_cli.services.registry_keys import prefix_clause

            session.execute(
                select(Area.__table__.c.id).where(Area.__table__.c.code == grid).with_for_update()
            )
            prefix = grid + "-"
            H = Household.__table__
            codes = session.execute(select(H.c.code).where(prefix_clause(H.c.code, prefix))).scalars()
            numbers = [int(c[len(prefix) :]) for c in codes if c[len(prefix) :].isdigit()]
            self.next_no[grid] = max(numbers, default=0)
        while True:
            self.next_no[grid] += 1
            code = f"{grid}-{self.next_no[grid]:04d}"
            if self.seen("code", code) is None:
                return code

    def write(self, session: Session, op: Operator | None, plans: list[Plan]) -> None:
        from baiyin_cli.models import Household, HouseholdAddressKey, HouseholdCare, HouseholdEvent
        from baiyin_cli.services import registry
        from baiyin_cli.services.registry_keys import address_keys

        H = Household.__table__
        now = self.now
        creates = [p for p in plans if p.action == "create"]
        rows, care, keys = [], [], []
        for plan, hid in zip(creates, allocate_ids(session, H, len(creates))):
            v = plan.values
            rows.append(
                {
                    "id": hid,
                    "code": v["code"],
                    "grid_code": v["grid_code"],
                    "address": v["address"],
                    "address_norm": v["address_norm"],
                    "building": v["building"],
                    "unit": v["unit"],
                    "room": v["room"],
                    "type": v["type"],
                    "note": v["note"],
                    "created_at": now,
                    "updated_at": now,
                    "version": 1,
                }
            )
            care.extend({"household_id": hid, "tag": t} for t in v["care"])
            keys.extend({"household_id": hid, "key": k} for k in address_keys(v["address_norm"]))
        insert_rows(session, H, rows)
        insert_rows(session, HouseholdCare.__table__, care)
        insert_rows(session, HouseholdAddressKey.__table__, keys)
        updates = [p for p in plans if p.action == "update"]
        update_rows(
            session,
            H,
            "id",
            [
                {
                    "id": p.current.id,
                    **{k: v for k, v in p.changes.items() if k != "care"},
                    "updated_at": now,
                    "version": p.current.version + 1,
                }
                for p in updates
            ],
        )
        _replace_tags(
            session,
            HouseholdCare,
            "household_id",
            {p.current.id: p.changes["care"] for p in updates if "care" in p.changes},
        )
        # Each moved household's keys: those of its old address go, its new address's come.
        gone: list[dict[str, Any]] = []
        added: list[dict[str, Any]] = []
        for p in updates:
            if "address_norm" in p.changes:
                out_keys, in_keys = registry.address_key_changes(p.current.address_norm, p.changes["address_norm"])
                gone += ({"h": p.current.id, "k": k} for k in out_keys)
                added += ({"household_id": p.current.id, "key": k} for k in in_keys)
        t = HouseholdAddressKey.__table__
        if gone:
            from sqlalchemy import bindparam, delete

            session.execute(delete(t).where(t.c.key == bindparam("k"), t.c.household_id == bindparam("h")), gone)
        registry.add_address_keys(session, added)
        events = [
            {
                "household_id": p.current.id,
                "kind": "move",
                "from_grid": p.current.grid_code,
                "to_grid": p.changes["grid_code"],
                "note": None,
                "actor": self.actor,
                "occurred_at": now,
                "recorded_at": now,
            }
            for p in updates
            if "grid_code" in p.changes
        ]
        insert_rows(session, HouseholdEvent.__table__, events)

    # -- export

    def export(
        self, session: Session, op: Operator | None, *, reveal: bool = False, **filters: Any
    ) -> Iterator[dict[str, Any]]:
        """Households in the operator's scope, as `household list` filters them, streamed."""
        from sqlalchemy import select

        from baiyin_cli.errors import only_one
        from baiyin_cli.models import Household, HouseholdCare, Resident, ResidentCare
        from baiyin_cli.services import registry
        from baiyin_cli.services.access import scope_clause
        from baiyin_cli.services.privacy import scrub

        grid, community = filters.get("grid"), filters.get("community")
        only_one(registry.HOUSEHOLD_GRID_AND_COMMUNITY, {"--grid": grid, "--community": community})
        area = registry.get_grid(session, grid).code if grid else None
        if community:
            from baiyin_cli.services.org import get_area

            area = get_area(session, community).code
        prefix = read_scope(op, area)
        if reveal:
            require_reveal(op, prefix)
        H = Household.__table__
        q = select(H).where(scope_clause(H.c.grid_code, prefix))
        if not filters.get("archived"):
            q = q.where(H.c.archived_at.is_(None))
        if filters.get("care"):
            tag = registry.care_tag_of(filters["care"])
            hc, r, rc = HouseholdCare.__table__, Resident.__table__, ResidentCare.__table__
            members = (
                select(r.c.household_id)
                .join(rc, rc.c.resident_id == r.c.id)
                .where(rc.c.tag == tag, r.c.archived_at.is_(None))
            )
            q = q.where(H.c.id.in_(select(hc.c.household_id).where(hc.c.tag == tag)) | H.c.id.in_(members))
        if filters.get("address"):
            from baiyin_cli.services.registry_search import household_ids_at_address

            q = q.where(H.c.id.in_(household_ids_at_address(filters["address"])))
        q = q.order_by(H.c.code)
        for batch in batches(stream(session, q), 1000):
            own = _tags(session, HouseholdCare, "household_id", [h.id for h in batch])
            for h in batch:
                yield {
                    "code": h.code,
                    "grid": h.grid_code,
                    "address": h.address,
                    "building": h.building,
                    "unit": h.unit,
                    "room": h.room,
                    "type": h.type,
                    "care": own.get(h.id, []),
                    "note": h.note if reveal else scrub(h.note),
                    "created_at": h.created_at,
                }


# ---------------------------------------------------------------- residents


def _resident_current(r: Any, care: list[str], clear: Mapping[str, str | None]) -> dict[str, Any]:
    return {
        "id": str(r.id),
        "name": r.name,
        "id_number": clear["id_number"],
        "sex": r.sex,
        "birth_date": r.birth_date,
        "phone": clear["phone"],
        "relation": r.relation,
        "ethnicity": r.ethnicity,
        "care": care,
        "note": r.note,
    }


class ResidentsTarget(Target):
    entity = "residents"
    record = "resident"
    what = ("居民", "resident")
    personal = True
    columns = (
        Column("id", "居民编号", "Resident no.", width=10, aliases=("resident_id", "resident", "#")),
        Column("household", "户编号", "Household code", required=True, width=22, aliases=("household_code",)),
        Column("name", "姓名", "Name", required=True, personal="name", width=10),
        Column(
            "id_number",
            "公民身份号码",
            "ID number",
            personal="id",
            width=20,
            aliases=("身份证号", "身份证号码", "身份证", "idnumber", "id_card"),
        ),
        Column("sex", "性别", "Sex", width=6, show=_show("sex_label")),
        Column(
            "birth_date", "出生日期", "Birth date", personal="date", width=12, aliases=("birthday", "生日")
        ),
        Column("phone", "联系电话", "Phone", personal="phone", width=14, aliases=("电话", "手机", "手机号")),
        Column(
            "relation",
            "与户主关系",
            "Relation to head",
            required=True,
            width=10,
            show=_show("relation_label"),
            aliases=("关系", "家庭关系"),
        ),
        Column("ethnicity", "民族", "Ethnicity", width=8, show=_show("ethnicity_label")),
        Column("care", "关爱标签", "Care tags", width=18, show=_care_show, aliases=("care_tags", "重点关爱")),
        Column("note", "备注", "Note", personal="note", width=30),
        Column("grid", "网格", "Grid", read_only=True, width=17),
        Column("address", "地址", "Address", read_only=True, width=30),
        Column("age", "年龄", "Age", read_only=True, width=6),
        Column("created_at", "登记时间", "Registered", read_only=True, width=17),
    )
    key_fields = (("id",), ("household", "name"))
    key_columns = {"head": "relation"}
    key_messages = {"head": SECOND_HEAD, "name": SAME_NAME}

    def begin(self, session: Session, op: Operator | None, strategy: str) -> None:
        super().begin(session, op, strategy)
        self.bad_heads: set[int] = set()  # rows of head rows this import rejected

    def keys(self, values: Mapping[str, str | None]) -> list[tuple[str, str]]:
        from baiyin_cli.models.registry import HEAD_RELATION
        from baiyin_cli.services.registry import relation_of

        out: list[tuple[str, str]] = []
        rid = _text(values.get("id")).lstrip("#")
        if rid:
            out.append(("id", rid))
        idn = _text(values.get("id_number")).upper()
        if idn and "*" not in idn:
            out.append(("id_number", idn))
        household = _text(values.get("household"))
        if not rid and not idn and household:
            out.append(("name", f"{household} {_text(values.get('name'))}"))
        if household and values.get("relation"):
            try:
                if relation_of(values.get("relation"), "M") == HEAD_RELATION:
                    out.append(("head", household))
            except GridError:
                pass
        return out

    def plan(self, session: Session, op: Operator | None, rows: list[Row]) -> list[Plan | Problem]:
        from sqlalchemy import select

        from baiyin_cli.models import Household, Resident, ResidentCare
        from baiyin_cli.models.registry import HEAD_RELATION
        from baiyin_cli.services import crypto, registry
        from baiyin_cli.services.access import in_scope
        from baiyin_cli.services.privacy import mask_id

        R, H = Resident.__table__, Household.__table__
        out: list[Plan | Problem] = []
        cipher = crypto.for_session(session)
        decrypted: dict[int, dict[str, str | None]] = {}

        def clear(m: Any) -> dict[str, str | None]:
            """A stored resident's ID number and phone, decrypted once per chunk."""
            c = decrypted.get(m.id)
            if c is None:
                c = decrypted[m.id] = registry.resident_clear(m, cipher)
            return c

        def by_id_number(numbers: list[str]) -> dict[str, Any]:
            """Active residents by ID number, found through the keyed hash."""
            digests = cipher.lookups(numbers, "resident.id_number")
            ids = ids_by(session, R, "id_number_hash", digests, active=True)
            found = fetch(session, R, "id", ids.values())
            return {digests[d]: found[rid] for d, rid in ids.items() if rid in found}

        # 1. The records rows name: by number, by ID number (active), and every active member of
        #    the households in this chunk (for household + name, and the one-head rule).
        rids = [n for r in rows if (n := validate.record_id(_text(r.values.get("id")))) is not None]
        by_id = fetch(session, R, "id", rids)
        idns = [_text(r.values.get("id_number")).upper() for r in rows]
        by_idn = by_id_number([i for i in idns if i and "*" not in i])
        households = fetch(session, H, "code", (_text(r.values.get("household")) for r in rows))
        known_ids = {h.id for h in households.values()}
        extra = {x.household_id for x in [*by_id.values(), *by_idn.values()]} - known_ids
        if extra:
            for h in fetch(session, H, "id", extra).values():
                households[h.code] = h
        hh_by_id = {h.id: h for h in households.values()}
        members: dict[int, list[Any]] = {}
        hids = list(hh_by_id)
        for i in range(0, len(hids), 900):
            q = (
                select(R)
                .where(R.c.household_id.in_(hids[i : i + 900]), R.c.archived_at.is_(None))
                .order_by(R.c.id)
            )
            for m in session.execute(q):
                members.setdefault(m.household_id, []).append(m)
        # 2. Each row: find its record, merge, validate with the registry's rules.
        staged: list[tuple[Row, Any, Any, dict[str, Any]]] = []
        cur_ids: list[int] = []
        found: list[tuple[Row, Any]] = []
        for r, idn in zip(rows, idns):
            rid = _text(r.values.get("id")).lstrip("#")
            cur = None
            if rid:
                cur = by_id.get(validate.record_id(rid))
                if cur is None:
                    out.append(Problem(r.row, "id", NotFound(registry.RESIDENT_NOT_FOUND, ref=f"#{rid}")))
                    continue
            else:
                # By ID number; else by household + name (a record entered without an ID number
                # gets the one the file brings).
                cur = by_idn.get(idn) if idn and "*" not in idn else None
                h = households.get(_text(r.values.get("household")))
                name = _text(r.values.get("name"))
                if cur is None and h is not None and name:
                    cur = next(
                        (
                            m
                            for m in members.get(h.id, [])
                            if m.name == name and (not idn or "*" in idn or m.id_number_enc is None)
                        ),
                        None,
                    )
            found.append((r, cur))
            if cur is not None:
                cur_ids.append(cur.id)
        own = _tags(session, ResidentCare, "resident_id", cur_ids)
        for r, cur in found:
            try:
                current = None
                if cur is not None:
                    current = _resident_current(cur, own.get(cur.id, []), clear(cur))
                    h = hh_by_id.get(cur.household_id)
                    current["household"] = h.code if h is not None else None
                merged: dict[str, Any] = dict(current or {})
                if current is not None and (current["id_number"] or r.values.get("id_number")):
                    # As `resident edit`: birth date and sex follow the ID number.
                    merged.pop("birth_date")
                    merged.pop("sex")
                merged.update(r.values)
                unmask(merged, current, self.columns)
                staged.append((r, cur, current, registry.prepare_resident(None, merged)))
            except GridError as exc:
                if any(ns == "head" for ns, _k in self.keys(r.values)):
                    self.bad_heads.add(r.row)
                out.append(problem(r.row, exc))
        # 3. Owners of the ID numbers as normalised, and the same name and birth date already in
        #    the grid (the registry's duplicate rule): one query each.
        asked = set(idns)  # looked up already, found or not
        more = [p["id_number"] for _r, _c, _cu, p in staged if p["id_number"] and p["id_number"] not in asked]
        by_idn.update(by_id_number(more))
        missing = {x.household_id for x in by_idn.values()} - set(hh_by_id)
        if missing:
            hh_by_id.update({h.id: h for h in fetch(session, H, "id", missing).values()})
        pairs = {(p["name"], p["birth_date"]) for _r, _c, _cu, p in staged if p["birth_date"] is not None}
        names = sorted({n for n, _b in pairs})
        births = sorted({b for _n, b in pairs})
        # By name (ix_resident_name) and the rows' birth dates: a common name (王伟) is held by
        # thousands in a city, its birth dates by a handful. The grids are sorted out here, not in
        # SQL: with a grid filter SQLite (which has no statistics) walked every household of the
        # grids instead, and a batch slowed as the table grew (242 000 residents: 0.34 s a batch
        # against 2 ms).
        twins: dict[tuple[str, Any, str], tuple[Any, str]] = {}
        for i in range(0, len(names), 900):
            q = (
                select(R.c.id, R.c.name, R.c.birth_date, H.c.grid_code, H.c.code)
                .join(H, H.c.id == R.c.household_id)
                .where(
                    R.c.name.in_(names[i : i + 900]),
                    R.c.birth_date.in_(births),
                    R.c.archived_at.is_(None),
                )
                .order_by(R.c.id)
            )
            for t in session.execute(q):
                if (t.name, t.birth_date) in pairs:
                    twins.setdefault((t.name, t.birth_date, t.grid_code), (t.id, t.code))
        # Heads first, so a member finds the head that the same chunk adds.
        staged.sort(key=lambda s: (s[3]["relation"] != HEAD_RELATION, s[0].row))
        new_heads: set[int] = set()
        first_row = self.chunk_start
        for r, cur, current, p in staged:
            try:
                h = households.get(p["household"] or "")
                if h is None:
                    raise NotFound(
                        registry.HOUSEHOLD_NOT_FOUND, code=p["household"] or "-", field_key="household"
                    )
                key = str(cur.id) if cur is not None else (mask_id(p["id_number"]) or f"{h.code} {p['name']}")
                self.decide(f"#{key}" if cur is not None else key, cur is not None)
                if cur is not None and cur.household_id != h.id:
                    old = hh_by_id.get(cur.household_id)
                    cur_idn = clear(cur)["id_number"]
                    by_number = bool(cur_idn) and not _text(r.values.get("id"))
                    if old is None or not in_scope(op, old.grid_code):
                        raise InvalidInput(
                            registry.RESIDENT_ID_TAKEN_ELSEWHERE,
                            id=mask_id(cur_idn) or "-",
                            field_key="id_number" if by_number else "id",
                        )
                    who = f"{self.columns[3].label()} {mask_id(cur_idn)}" if by_number else f"#{cur.id}"
                    raise Conflict(
                        RESIDENT_OTHER_HOUSEHOLD,
                        who=who,
                        rid=cur.id,
                        name=cur.name,
                        current=old.code,
                        household=h.code,
                        field_key="id_number" if by_number else "household",
                    )
                require_area(op, h.grid_code)
                owner = by_idn.get(p["id_number"]) if p["id_number"] else None
                if owner is not None and (cur is None or owner.id != cur.id):
                    oh = hh_by_id.get(owner.household_id)
                    shown = mask_id(p["id_number"])
                    if oh is None or not in_scope(op, oh.grid_code):
                        raise InvalidInput(
                            registry.RESIDENT_ID_TAKEN_ELSEWHERE, id=shown, field_key="id_number"
                        )
                    raise InvalidInput(
                        registry.RESIDENT_ID_TAKEN,
                        id=shown,
                        name=owner.name,
                        rid=owner.id,
                        household=oh.code,
                        field_key="id_number",
                    )
                identity = (p["id_number"], p["name"], p["birth_date"])
                if cur is None or identity != (clear(cur)["id_number"], cur.name, cur.birth_date):
                    twin = twins.get((p["name"], p["birth_date"], h.grid_code))
                    if twin is not None and (cur is None or twin[0] != cur.id):
                        raise InvalidInput(
                            registry.RESIDENT_DUPLICATE,
                            grid=h.grid_code,
                            name=p["name"],
                            rid=twin[0],
                            household=twin[1],
                            field_key="name",
                        )
                is_head = p["relation"] == HEAD_RELATION
                head = next((m for m in members.get(h.id, []) if m.relation == HEAD_RELATION), None)
                if cur is None:
                    if is_head and (head is not None or h.id in new_heads):
                        name, rid = (head.name, head.id) if head is not None else (p["name"], "-")
                        raise InvalidInput(
                            registry.RESIDENT_HEAD_EXISTS,
                            household=h.code,
                            name=name,
                            rid=rid,
                            field_key="relation",
                        )
                    if not is_head and head is None and h.id not in new_heads:
                        # The head is in the file: earlier in this chunk (then it is in new_heads
                        # unless rejected), or in an earlier chunk (accepted unless rejected).
                        first = self.seen("head", h.code)
                        if first is None:
                            raise InvalidInput(
                                registry.RESIDENT_NO_HEAD, household=h.code, field_key="relation"
                            )
                        if first >= first_row or first in self.bad_heads:
                            raise InvalidInput(
                                RESIDENT_HEAD_REJECTED, household=h.code, row=first, field_key="relation"
                            )
                    if h.archived_at is not None:
                        raise Conflict(
                            registry.HOUSEHOLD_ARCHIVED, code=h.code, reason=h.archive_reason or "-"
                        )
                    if is_head:
                        new_heads.add(h.id)
                    p["household_id"] = h.id
                    out.append(Plan(r.row, "create", key, p))
                    continue
                if is_head != (cur.relation == HEAD_RELATION):
                    raise InvalidInput(registry.RESIDENT_HEAD_RELATION, field_key="relation")
                changes = {k: p[k] for k in registry.RESIDENT_COLUMNS if p[k] != getattr(cur, k)}
                changes.update({k: p[k] for k in registry.RESIDENT_SECRETS if p[k] != clear(cur)[k]})
                if p["care"] != own.get(cur.id, []):
                    changes["care"] = p["care"]
                if changes and cur.archived_at is not None:
                    raise Conflict(registry.RESIDENT_ARCHIVED, rid=cur.id, reason=cur.archive_reason or "-")
                out.append(Plan(r.row, "update" if changes else "ignore", key, p, cur, changes))
            except GridError as exc:
                if p["relation"] == HEAD_RELATION:
                    self.bad_heads.add(r.row)
                out.append(problem(r.row, exc))
        return out

    def write(self, session: Session, op: Operator | None, plans: list[Plan]) -> None:
        from baiyin_cli.models import Resident, ResidentCare
        from baiyin_cli.services import crypto
        from baiyin_cli.services.registry import RESIDENT_COLUMNS, RESIDENT_SECRETS, resident_secret_columns

        R = Resident.__table__
        cipher = crypto.for_session(session)
        now = self.now
        creates = [p for p in plans if p.action == "create"]
        rows, care = [], []
        for plan, rid in zip(creates, allocate_ids(session, R, len(creates))):
            v = plan.values
            rows.append(
                {
                    "id": rid,
                    "household_id": v["household_id"],
                    **{k: v[k] for k in RESIDENT_COLUMNS},
                    **resident_secret_columns(cipher, v),
                    "created_at": now,
                    "updated_at": now,
                    "version": 1,
                }
            )
            care.extend({"resident_id": rid, "tag": t} for t in v["care"])
        insert_rows(session, R, rows)
        insert_rows(session, ResidentCare.__table__, care)
        updates = [p for p in plans if p.action == "update"]
        update_rows(
            session,
            R,
            "id",
            [
                {
                    "id": p.current.id,
                    **{k: v for k, v in p.changes.items() if k != "care" and k not in RESIDENT_SECRETS},
                    **{
                        column: value
                        for k in RESIDENT_SECRETS
                        if k in p.changes
                        for column, value in cipher.columns(f"resident.{k}", p.changes[k]).items()
                    },
                    "updated_at": now,
                    "version": p.current.version + 1,
                }
                for p in updates
            ],
        )
        _replace_tags(
            session,
            ResidentCare,
            "resident_id",
            {p.current.id: p.changes["care"] for p in updates if "care" in p.changes},
        )

    # -- export

    def export(
        self, session: Session, op: Operator | None, *, reveal: bool = False, **filters: Any
    ) -> Iterator[dict[str, Any]]:
        """Residents in the operator's scope, as `resident list` filters them, streamed. Masked
        unless revealed: ID number, phone, birth date, numbers in notes; the names of people with
        care tags too, for operators who may not reveal them."""
        from sqlalchemy import select

        from baiyin_cli.errors import only_one
        from baiyin_cli.models import Household, HouseholdCare, Resident, ResidentCare
        from baiyin_cli.services import crypto, registry
        from baiyin_cli.services.access import may_reveal, require_area, scope_clause
        from baiyin_cli.services.privacy import scrub
        from baiyin_cli.services.registry_keys import full_address

        household, grid, community = filters.get("household"), filters.get("grid"), filters.get("community")
        only_one(registry.HOUSEHOLD_GRID_AND_COMMUNITY,
                 {"--household": household, "--grid": grid, "--community": community})
        R, H = Resident.__table__, Household.__table__
        q = select(
            R,
            H.c.code.label("h_code"),
            H.c.grid_code,
            H.c.address.label("h_address"),
            H.c.building,
            H.c.unit,
            H.c.room,
        ).join(H, H.c.id == R.c.household_id)
        if household:
            h = registry.get_household(session, household)
            require_area(op, h.grid_code, write=False)
            q = q.where(R.c.household_id == h.id)
            prefix = h.grid_code
        else:
            area = registry.get_grid(session, grid).code if grid else None
            if community:
                from baiyin_cli.services.org import get_area

                area = get_area(session, community).code
            prefix = read_scope(op, area)
            q = q.where(scope_clause(H.c.grid_code, prefix))
        if reveal:
            require_reveal(op, prefix)
        if not filters.get("archived"):
            q = q.where(R.c.archived_at.is_(None))
        if filters.get("care"):
            tag = registry.care_tag_of(filters["care"])
            rc, hc = ResidentCare.__table__, HouseholdCare.__table__
            q = q.where(
                R.c.id.in_(select(rc.c.resident_id).where(rc.c.tag == tag))
                | R.c.household_id.in_(select(hc.c.household_id).where(hc.c.tag == tag))
            )
        q = q.order_by(H.c.code, R.c.relation, R.c.id)
        mine: dict[str, bool] = {}
        cipher = crypto.for_session(session)
        for batch in batches(stream(session, q), 1000):
            rtags = _tags(session, ResidentCare, "resident_id", [r.id for r in batch])
            htags = _tags(session, HouseholdCare, "household_id", list({r.household_id for r in batch}))
            for r in batch:
                tags = rtags.get(r.id, [])
                if r.grid_code not in mine:
                    mine[r.grid_code] = may_reveal(op, r.grid_code)
                hide_name = not reveal and bool(tags or htags.get(r.household_id)) and not mine[r.grid_code]
                clear = registry.resident_clear(r, cipher)
                yield {
                    "id": r.id,
                    "household": r.h_code,
                    "name": mask("name", r.name) if hide_name else r.name,
                    "id_number": clear["id_number"] if reveal else mask("id", clear["id_number"]),
                    "sex": r.sex,
                    "birth_date": r.birth_date if reveal else mask("date", r.birth_date),
                    "phone": clear["phone"] if reveal else mask("phone", clear["phone"]),
                    "relation": r.relation,
                    "ethnicity": r.ethnicity,
                    "care": tags,
                    "note": r.note if reveal else scrub(r.note),
                    "grid": r.grid_code,
                    "address": full_address(r.h_address, r.building, r.unit, r.room),
                    "age": registry.age_on(r.birth_date),
                    "created_at": r.created_at,
                }
