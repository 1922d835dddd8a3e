"""The grid tree (areas), departments and workers: rules for adding, listing and changing them."""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from baiyin_cli import timeutil
from baiyin_cli.errors import Conflict, InvalidInput, NotFound
from baiyin_cli.i18n import M
from baiyin_cli.models.org import LEVEL_CODE_LENGTH, LEVEL_ORDER, AreaLevel, Role, WorkerKind
from baiyin_cli.services import audit, choices, validate
from baiyin_cli.services.access import Operator, require_area, require_role, scope_clause

if TYPE_CHECKING:
    from sqlmodel import Session

    from baiyin_cli.models import Area, Department, Worker

AREA_NOT_FOUND = M("area.not_found", "找不到区域 {code}", "No area with code {code}")
AREA_EXISTS = M("area.exists", "区域代码 {code} 已存在（{name}）", "Area code {code} already exists ({name})")
AREA_BAD_LEVEL = M(
    "area.bad_level",
    "级别无效：{value}（可选 district/street/community/grid）",
    "Invalid level: {value} (district/street/community/grid)",
)
AREA_BAD_CODE = M(
    "area.bad_code",
    "{level}级区域代码应为 {length} 位数字：{code}",
    "A {level} code has {length} digits: {code}",
)
AREA_CODE_LENGTH = M(
    "area.code_length",
    "区域代码应为 6、9、12 或 15 位数字（区县、街道、社区、网格）：{code}",
    "An area code has 6, 9, 12 or 15 digits (district, street, community, grid): {code}",
)
AREA_PARENT_MISSING = M(
    "area.parent_missing",
    "上级区域 {parent} 不存在，请先添加",
    "The parent area {parent} does not exist; add it first",
)
AREA_PARENT_LEVEL = M(
    "area.parent_level",
    "上级区域 {parent} 的级别是 {actual}，应为 {expected}",
    "Parent area {parent} is a {actual}, expected a {expected}",
)
AREA_PARENT_PREFIX = M(
    "area.parent_prefix",
    "区域代码 {code} 必须以上级代码 {parent} 开头",
    "Area code {code} must begin with its parent's code {parent}",
)
AREA_DISTRICT_PARENT = M("area.district_parent", "区县级区域没有上级", "A district has no parent")
DEPT_NOT_FOUND = M("dept.not_found", "找不到部门 {code}", "No department with code {code}")
DEPT_EXISTS = M("dept.exists", "部门代码 {code} 已存在（{name}）", "Department code {code} already exists ({name})")
DEPT_BAD_CODE = M(
    "dept.bad_code",
    "部门代码无效：{code}（字母、数字、下划线，最长 32 位）",
    "Invalid department code: {code} (letters, digits, '_', at most 32)",
)
WORKER_NOT_FOUND = M("worker.not_found", "找不到人员 {username}", "No worker with username {username}")
WORKER_EXISTS = M("worker.exists", "用户名 {username} 已存在", "Username {username} already exists")
WORKER_BAD_ROLE = M(
    "worker.bad_role",
    "角色无效：{value}（可选：{choices}）",
    "Invalid role: {value} (one of: {choices})",
)
WORKER_BAD_KIND = M(
    "worker.bad_kind", "网格员类型无效：{value}（可选：{choices}）", "Invalid kind: {value} (one of: {choices})"
)
WORKER_AREA_LEVEL = M(
    "worker.area_level",
    "{role}必须属于一个{level}级区域（{area} 是{actual}）",
    "A {role} belongs to a {level} ({area} is a {actual})",
)
WORKER_NEEDS_AREA = M(
    "worker.needs_area", "{role}需要 --area（所属{level}）", "A {role} needs --area (their {level})"
)
WORKER_NEEDS_DEPT = M("worker.needs_dept", "部门人员需要 --dept", "A department user needs --dept")
WORKER_KIND_ONLY_GRID = M(
    "worker.kind_grid_only", "只有网格员有类型（--kind）", "Only grid workers have a kind (--kind)"
)
WORKER_INACTIVE = M("worker.inactive", "{username} 已停用", "{username} is already inactive")
WORKER_SELF_DEACTIVATE = M(
    "worker.self_deactivate", "不能停用自己", "You cannot deactivate yourself"
)
WORKER_LAST_ADMIN = M(
    "worker.last_admin", "不能停用最后一个管理员", "Cannot deactivate the last active admin"
)

# Which area level each role belongs to.
ROLE_LEVEL = {Role.secretary: AreaLevel.community, Role.grid_worker: AreaLevel.grid}


def _label(level: str) -> str:
    from baiyin_cli.i18n import get_lang

    zh = {"district": "区县", "street": "街道", "community": "社区", "grid": "网格"}
    return level if get_lang() == "en" else zh.get(level, level)


def _role_label(role: str) -> str:
    """A role's label inside a sentence ("A grid worker belongs to a grid")."""
    from baiyin_cli.services.access import role_label

    return role_label(role, in_sentence=True)


# ---------------------------------------------------------------- areas


LEVEL_WORDS = {"区县": "district", "区": "district", "县": "district", "街道": "street", "乡镇": "street",
               "社区": "community", "村": "community", "网格": "grid"}


def level_of(value: str) -> AreaLevel:
    """A level from its code or its Chinese name (社区 -> community), as a spreadsheet writes it."""
    v = value.strip()
    try:
        return AreaLevel(LEVEL_WORDS.get(v, v.lower()))
    except ValueError:
        raise InvalidInput(AREA_BAD_LEVEL, value=value, field_key="level") from None


def get_area(session: Session, code: str) -> Area:
    from sqlmodel import select

    from baiyin_cli.models import Area

    validate.not_blank(code, "区域代码", "Area code")
    a = session.exec(select(Area).where(Area.code == code.strip())).first()
    if a is None:
        raise NotFound(AREA_NOT_FOUND, code=code)
    return a


def area_public(a: Area, **extra: Any) -> dict[str, Any]:
    return {
        "code": a.code,
        "name": a.name,
        "level": a.level,
        "parent": a.parent_code,
        "created_at": timeutil.iso(a.created_at),
        **extra,
    }


def prepare_area(
    session: Session | None, values: Mapping[str, Any], *, areas: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """One area's fields, validated and normalised: code, name, level, parent_code.

    The rules of `area add`, for one row of an import too. The level may be left out (an
    import row): it follows from the code's length. The parent is the code's prefix of the
    level above unless given, and must exist with that level: looked up in `areas` (code ->
    level, prefetched by an importer) or else in the database. Access and "already exists"
    are the caller's to check.
    """
    code = str(values.get("code") or "").strip()
    f = validate.Fields()  # every refused field named (InvalidFields when more than one)
    lvl = f.check(None, _level_of, code, values.get("level"))
    name = f.text("name", values.get("name"), max_len=100) or ""
    parent_code = None
    if lvl is not None:
        length = LEVEL_CODE_LENGTH[lvl]
        if len(code) != length or not code.isdigit():
            f.add(InvalidInput(AREA_BAD_CODE, level=_label(lvl), length=length, code=code, field_key="code"))
        else:
            parent_code = f.check(None, _parent_of, session, code, lvl, values.get("parent"), areas)
    f.done()
    assert lvl is not None
    return {"code": code, "name": name, "level": lvl.value, "parent_code": parent_code}


def _level_of(code: str, level: Any) -> AreaLevel:
    """The level of an area code: the one given, or the one its length says."""
    if level not in (None, ""):
        return level_of(str(level))
    found = next((lv for lv in LEVEL_ORDER if LEVEL_CODE_LENGTH[lv] == len(code)), None)
    if found is None:
        raise InvalidInput(AREA_CODE_LENGTH, code=code, field_key="code")
    return found


def _parent_of(
    session: Session | None, code: str, lvl: AreaLevel, parent: Any, areas: Mapping[str, str] | None
) -> str | None:
    """The parent of a well-formed area code: the one given, else the code's prefix of the level
    above; it must exist with that level (looked up in `areas`, else in the database)."""
    from sqlmodel import select

    from baiyin_cli.models import Area

    parent = str(parent or "").strip() or None
    idx = LEVEL_ORDER.index(lvl)
    if idx == 0:
        if parent:
            raise InvalidInput(AREA_DISTRICT_PARENT, field_key="parent")
        return None
    expected = LEVEL_ORDER[idx - 1]
    parent_code = parent or code[: LEVEL_CODE_LENGTH[expected]]
    if areas is not None:
        parent_level = areas.get(parent_code)
    else:
        assert session is not None
        found = session.exec(select(Area).where(Area.code == parent_code)).first()
        parent_level = found.level if found is not None else None
    if parent_level is None:
        raise NotFound(AREA_PARENT_MISSING, parent=parent_code, field_key="parent")
    if parent_level != expected:
        raise InvalidInput(
            AREA_PARENT_LEVEL, parent=parent_code, actual=_label(parent_level), expected=_label(expected),
            field_key="parent",
        )
    if not code.startswith(parent_code):
        raise InvalidInput(AREA_PARENT_PREFIX, code=code, parent=parent_code, field_key="code")
    return parent_code


def require_manage_area(op: Operator | None, level: str, parent_code: str | None) -> Operator:
    """Districts are the admin's; an area below is managed by whoever may write in its parent."""
    if level == AreaLevel.district.value or not parent_code:
        return require_role(op, "admin")
    return require_area(op, parent_code)


def add_area(
    session: Session,
    op: Operator | None,
    code: str,
    name: str,
    level: str,
    parent: str | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """Add an area. The parent is the code's prefix of the level above unless given."""
    from sqlmodel import select

    from baiyin_cli.models import Area

    values = prepare_area(session, {"code": code, "name": name, "level": level, "parent": parent})
    require_manage_area(op, values["level"], values["parent_code"])
    existing = session.exec(select(Area).where(Area.code == values["code"])).first()
    if existing is not None:
        raise Conflict(AREA_EXISTS, code=values["code"], name=existing.name)
    area = Area(**values, created_at=timeutil.now())
    session.add(area)
    session.flush()
    audit.record(session, op, "area.add", "area", area.code, after=area_public(area), occurred_at=at)
    return area_public(area)


def list_areas(
    session: Session,
    *,
    level: str | None = None,
    parent: str | None = None,
    under: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    from sqlmodel import select

    from baiyin_cli.models import Area

    q = select(Area)
    if level:
        q = q.where(Area.level == level_of(level).value)
    if parent:
        get_area(session, parent)
        q = q.where(Area.parent_code == parent.strip())
    if under:
        q = q.where(scope_clause(Area.code, under.strip()))
    q = q.order_by(Area.code)
    if limit:
        q = q.limit(limit)
    return [area_public(a) for a in session.exec(q)]


def show_area(session: Session, code: str) -> dict[str, Any]:
    from sqlalchemy import func
    from sqlmodel import select

    from baiyin_cli.models import Area, Household, Worker

    a = get_area(session, code)
    children = session.exec(select(func.count()).select_from(Area).where(Area.parent_code == a.code)).one()
    by_level = dict(
        session.exec(
            select(Area.level, func.count())
            .where(scope_clause(Area.code, a.code), Area.code != a.code)
            .group_by(Area.level)
        ).all()
    )
    workers = session.exec(
        select(func.count()).select_from(Worker).where(scope_clause(Worker.area_code, a.code), Worker.active)
    ).one()
    households = session.exec(
        select(func.count())
        .select_from(Household)
        .where(scope_clause(Household.grid_code, a.code), Household.archived_at.is_(None))  # type: ignore[union-attr]
    ).one()
    path = []
    node = a
    while node.parent_code:
        node = get_area(session, node.parent_code)
        path.append({"code": node.code, "name": node.name, "level": node.level})
    return area_public(
        a,
        children=children,
        descendants={lvl.value: by_level.get(lvl.value, 0) for lvl in LEVEL_ORDER if lvl.value in by_level},
        workers=workers,
        households=households,
        ancestors=list(reversed(path)),
    )


def area_tree(session: Session, root: str | None = None) -> list[dict[str, Any]]:
    """Nested areas: [{code, name, level, children: [...]}], under `root` or the whole city."""
    from sqlmodel import select

    from baiyin_cli.models import Area

    q = select(Area).order_by(Area.code)
    if root:
        get_area(session, root)
        q = q.where(scope_clause(Area.code, root.strip()))
    nodes: dict[str, dict[str, Any]] = {}
    roots: list[dict[str, Any]] = []
    for a in session.exec(q):
        node = {"code": a.code, "name": a.name, "level": a.level, "children": []}
        nodes[a.code] = node
        parent = nodes.get(a.parent_code or "")
        if parent is not None:
            parent["children"].append(node)
        else:
            roots.append(node)
    return roots


def rename_area(
    session: Session, op: Operator | None, code: str, name: str, at: datetime | None = None
) -> dict[str, Any]:
    a = get_area(session, code)
    require_area(op, a.code if a.level != "district" else None) if a.level != "district" else require_role(
        op, "admin"
    )
    name = validate.text(name, "name", max_len=100) or ""
    before = {"name": a.name}
    a.name = name
    session.add(a)
    audit.record(session, op, "area.rename", "area", a.code, before=before, after={"name": name}, occurred_at=at)
    return area_public(a)


# ---------------------------------------------------------------- departments


def get_dept(session: Session, code: str) -> Department:
    from sqlmodel import select

    from baiyin_cli.models import Department

    d = session.exec(select(Department).where(Department.code == code.strip())).first()
    if d is None:
        raise NotFound(DEPT_NOT_FOUND, code=code)
    return d


def dept_public(d: Department) -> dict[str, Any]:
    return {"code": d.code, "name": d.name, "active": d.active, "created_at": timeutil.iso(d.created_at)}


def add_dept(
    session: Session, op: Operator | None, code: str, name: str, at: datetime | None = None
) -> dict[str, Any]:
    import re

    from sqlmodel import select

    from baiyin_cli.models import Department

    require_role(op, "admin")
    code = code.strip()
    if not re.fullmatch(r"[A-Za-z0-9_]{1,32}", code):
        raise InvalidInput(DEPT_BAD_CODE, code=code)
    name = validate.text(name, "name", max_len=100) or ""
    existing = session.exec(select(Department).where(Department.code == code)).first()
    if existing is not None:
        raise Conflict(DEPT_EXISTS, code=code, name=existing.name)
    d = Department(code=code, name=name, created_at=timeutil.now())
    session.add(d)
    session.flush()
    audit.record(session, op, "dept.add", "department", code, after=dept_public(d), occurred_at=at)
    return dept_public(d)


def list_depts(session: Session) -> list[dict[str, Any]]:
    from sqlmodel import select

    from baiyin_cli.models import Department

    return [dept_public(d) for d in session.exec(select(Department).order_by(Department.code))]


# ---------------------------------------------------------------- workers


def get_worker(session: Session, username: str) -> Worker:
    from sqlmodel import select

    from baiyin_cli.models import Worker

    validate.not_blank(username, "用户名", "Username")
    w = session.exec(select(Worker).where(Worker.username == username.strip())).first()
    if w is None:
        raise NotFound(WORKER_NOT_FOUND, username=username)
    return w


def worker_public(w: Worker, *, reveal: bool = False, **extra: Any) -> dict[str, Any]:
    from baiyin_cli.services.privacy import mask_phone

    return {
        "username": w.username,
        "name": w.name,
        "phone": w.phone if reveal else mask_phone(w.phone),
        "role": w.role,
        "kind": w.kind,
        "area": w.area_code,
        "dept": w.dept_code,
        "active": w.active,
        "created_at": timeutil.iso(w.created_at),
        **extra,
    }


def _check_role_fields(
    session: Session | None,
    role: Role,
    kind: str | None,
    area: str | None,
    dept: str | None,
    *,
    areas: Mapping[str, str] | None = None,
    depts: Container[str] | None = None,
) -> tuple[str | None, str | None, str | None]:
    """Kind, area and department as the role needs them. Areas and departments are looked up
    in `areas` (code -> level) and `depts` when an importer prefetched them, else in the database.
    Each of the three is checked on its own: every one refused is named (InvalidFields)."""
    f = validate.Fields()
    kind = f.check("kind", _role_kind, role, kind)
    area = f.check("area", _role_area, session, role, area, areas)
    dept = f.check("dept", _role_dept, session, role, dept, depts)
    f.done()
    return kind, area, dept


def _role_kind(role: Role, kind: str | None) -> str | None:
    if kind and role != Role.grid_worker:
        raise InvalidInput(WORKER_KIND_ONLY_GRID, field_key="kind")
    if role != Role.grid_worker:
        return None
    if not kind:
        return WorkerKind.full_time.value
    kinds = _enum_choices("worker_kinds", WorkerKind)
    return WorkerKind(choices.pick(kinds, kind, WORKER_BAD_KIND, field_key="kind")).value


def _role_area(
    session: Session | None, role: Role, area: str | None, areas: Mapping[str, str] | None
) -> str | None:
    need = ROLE_LEVEL.get(role)
    area = (area or "").strip()
    if need is not None and not area:
        raise InvalidInput(WORKER_NEEDS_AREA, role=_role_label(role), level=_label(need), field_key="area")
    if not area:
        return None  # not "": an empty code is no area (it broke the foreign key to area)
    if areas is not None:
        level = areas.get(area)
        if level is None:
            raise NotFound(AREA_NOT_FOUND, code=area, field_key="area")
    else:
        assert session is not None
        a = get_area(session, area)
        area, level = a.code, a.level
    if need is not None and level != need.value:
        raise InvalidInput(
            WORKER_AREA_LEVEL, role=_role_label(role), level=_label(need), area=area, actual=_label(level),
            field_key="area",
        )
    return area


def _role_dept(session: Session | None, role: Role, dept: str | None, depts: Container[str] | None) -> str | None:
    dept = (dept or "").strip()
    if role == Role.department and not dept:
        raise InvalidInput(WORKER_NEEDS_DEPT, field_key="dept")
    if not dept:
        return None
    if depts is not None:
        if dept not in depts:
            raise NotFound(DEPT_NOT_FOUND, code=dept, field_key="dept")
        return dept
    assert session is not None
    return get_dept(session, dept).code


def _enum_choices(table: str, enum: Iterable[StrEnum]) -> dict[str, tuple[str, str]]:
    """An enum's codes with their names from config `[table.*]`."""
    named = choices.from_config(table)
    return {m.value: named.get(m.value, (m.value, m.value)) for m in enum}


def role_code(value: Any) -> str | None:
    """The role `value` names (code or name), or None when it names none."""
    return choices.code_of(_enum_choices("roles", Role), value)


def _role_of(value: str) -> Role:
    """A role by its code or its Chinese or English name (网格员, grid worker)."""
    return Role(choices.pick(_enum_choices("roles", Role), value, WORKER_BAD_ROLE, field_key="role"))


def require_manage_worker(op: Operator | None, role: Role | str, area: str | None) -> Operator:
    """Admins manage everyone; a secretary adds and manages grid workers of their community."""
    if Role(role) == Role.grid_worker and area:
        return require_area(op, area) if op and op.role == "secretary" else require_role(op, "admin")
    return require_role(op, "admin")


def prepare_worker(
    session: Session | None,
    values: Mapping[str, Any],
    *,
    areas: Mapping[str, str] | None = None,
    depts: Container[str] | None = None,
) -> dict[str, Any]:
    """One worker's fields, validated and normalised: username, name, phone, role, kind, area_code,
    dept_code. The rules of `worker add`, for one row of an import too; access and "already
    exists" are the caller's to check."""
    f = validate.Fields()  # every refused field is named (InvalidFields when more than one)
    username = f.check("username", validate.username, str(values.get("username") or ""))
    name = f.text("name", values.get("name"), max_len=50) or ""
    phone = f.check("phone", validate.phone, values.get("phone"))
    role_raw = values.get("role")
    r = None
    if role_raw in (None, ""):
        f.add(InvalidInput(validate.REQUIRED, field=validate.field_name("role"), field_key="role"))
    else:
        r = f.check("role", _role_of, str(role_raw))
    kind = area = dept = None
    if r is not None:
        kind, area, dept = f.check(
            None, _check_role_fields,
            session, r, values.get("kind") or None, values.get("area") or None, values.get("dept") or None,
            areas=areas, depts=depts,
        ) or (None, None, None)
    f.done()
    assert r is not None
    return {
        "username": username, "name": name, "phone": phone, "role": r.value, "kind": kind,
        "area_code": area, "dept_code": dept,
    }


def add_worker(
    session: Session,
    op: Operator | None,
    *,
    username: str,
    name: str,
    phone: str | None,
    role: str,
    kind: str | None = None,
    area: str | None = None,
    dept: str | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    from sqlmodel import select

    from baiyin_cli.models import Worker

    values = prepare_worker(
        session, {"username": username, "name": name, "phone": phone, "role": role, "kind": kind, "area": area,
                  "dept": dept},
    )
    require_manage_worker(op, values["role"], values["area_code"])
    if session.exec(select(Worker).where(Worker.username == values["username"])).first() is not None:
        raise Conflict(WORKER_EXISTS, username=values["username"])
    now = timeutil.now()
    w = Worker(**values, active=True, created_at=now, updated_at=now)
    session.add(w)
    session.flush()
    audit.record(session, op, "worker.add", "worker", w.username, after=worker_public(w, reveal=True), occurred_at=at)
    return worker_public(w)


def list_workers(
    session: Session,
    *,
    area: str | None = None,
    role: str | None = None,
    include_inactive: bool = False,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    from sqlmodel import select

    from baiyin_cli.models import Worker

    q = select(Worker)
    if area:
        get_area(session, area)
        q = q.where(scope_clause(Worker.area_code, area.strip()))
    if role:
        q = q.where(Worker.role == _role_of(role).value)
    if not include_inactive:
        q = q.where(Worker.active)
    q = q.order_by(Worker.area_code, Worker.username)
    if limit:
        q = q.limit(limit)
    return [worker_public(w) for w in session.exec(q)]


def show_worker(session: Session, op: Operator | None, username: str, *, reveal: bool = False) -> dict[str, Any]:
    w = get_worker(session, username)
    if reveal:
        if not (op and (op.is_admin or op.username == w.username or (
            op.role == "secretary" and w.area_code and w.area_code.startswith(op.area_code or "~")
        ))):
            from baiyin_cli.errors import NotPermitted
            from baiyin_cli.services.access import CANNOT_REVEAL, require

            require(op)
            raise NotPermitted(CANNOT_REVEAL, username=op.username if op else "-")
        audit.record(session, op, "worker.reveal", "worker", w.username, detail={"fields": ["phone"]})
    return worker_public(w, reveal=reveal)


def assign_worker(
    session: Session, op: Operator | None, username: str, area: str, at: datetime | None = None
) -> dict[str, Any]:
    w = get_worker(session, username)
    r = Role(w.role)
    _, new_area, _ = _check_role_fields(session, r, w.kind, area, w.dept_code)
    require_manage_worker(op, r, w.area_code)
    require_manage_worker(op, r, new_area)
    before = {"area": w.area_code}
    w.area_code = new_area
    w.updated_at = timeutil.now()
    session.add(w)
    audit.record(session, op, "worker.assign", "worker", w.username, before=before, after={"area": new_area}, occurred_at=at)
    return worker_public(w)


def deactivate_worker(
    session: Session, op: Operator | None, username: str, at: datetime | None = None
) -> dict[str, Any]:
    from sqlalchemy import func
    from sqlmodel import select

    from baiyin_cli.models import Worker

    w = get_worker(session, username)
    require_manage_worker(op, Role(w.role), w.area_code)
    if not w.active:
        raise Conflict(WORKER_INACTIVE, username=w.username)
    if op is not None and op.username == w.username:
        raise InvalidInput(WORKER_SELF_DEACTIVATE)
    if w.role == "admin":
        admins = session.exec(
            select(func.count()).select_from(Worker).where(Worker.role == "admin", Worker.active)
        ).one()
        if admins <= 1:
            raise Conflict(WORKER_LAST_ADMIN)
    w.active = False
    w.updated_at = timeutil.now()
    session.add(w)
    audit.record(session, op, "worker.deactivate", "worker", w.username, before={"active": True}, after={"active": False}, occurred_at=at)
    return worker_public(w)
