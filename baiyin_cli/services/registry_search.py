"""Finding residents: by name, pinyin, initials, the last 4 digits of a phone or ID number,
a whole ID or phone number, or address text.

Every way is an indexed lookup (equality, or a B-tree prefix range `col >= q AND col < q'`)
joined to the household for the operator's scope, so it stays fast on 1.5 M residents and
never returns (or counts) a match outside that scope.
"""

from __future__ import annotations

import re
import unicodedata
from typing import TYPE_CHECKING, Any

from baiyin_cli.errors import InvalidInput
from baiyin_cli.i18n import M
from baiyin_cli.models.registry import ADDRESS_KEY_LEN
from baiyin_cli.services.access import Operator, read_scope, require_reveal, scope_clause
from baiyin_cli.services.registry_keys import normalise_address, prefix_clause

if TYPE_CHECKING:
    from sqlmodel import Session

SEARCH_TOO_SHORT = M(
    "resident.search_short",
    "查询内容太短：{value}（至少 2 个字，或手机号/身份证号后 4 位）",
    "Query too short: {value} (at least 2 characters, or the last 4 digits of a phone or ID number)",
)

# Up to this many households in scope, lookups are restricted by household id (see search_residents).
NARROW_SCOPE = 3000

# Ways of matching, in the order results are listed.
MATCHES = ("id_number", "phone", "name", "name_prefix", "name_part", "pinyin", "initials", "id_last4",
           "phone_last4", "address")

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]")


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def household_ids_at_address(text: str):  # type: ignore[no-untyped-def]
    """A subquery of the ids of households whose address contains `text` from a token start
    (a Chinese character, or the start of a number or a word): 人民路, 12号, 3栋2单元, 501."""
    from sqlmodel import col, select

    from baiyin_cli.models import Household, HouseholdAddressKey

    q = normalise_address(text)
    if len(q) < 2:
        raise InvalidInput(SEARCH_TOO_SHORT, value=text)
    sub = select(HouseholdAddressKey.household_id).where(prefix_clause(HouseholdAddressKey.key, q[:ADDRESS_KEY_LEN]))
    if len(q) > ADDRESS_KEY_LEN:
        sub = (
            select(Household.id)
            .where(col(Household.id).in_(sub))
            .where(col(Household.address_norm).like("%" + _like_escape(q) + "%", escape="\\"))
        )
    return sub


def _plan(query: str, cipher: Any, *, narrow: bool = False) -> list[tuple[str, Any]]:
    """Which lookups a query asks for: [(match kind, where-clause on Resident/Household)].

    A whole ID number or phone is found by its keyed hash (the values are encrypted). `narrow`:
    the lookups run over the named households of a grid or a community, where a name may also
    be found by any part of it (仁龙 finds 石仁龙); city-wide, names match from their start
    (an index range), as a scan of every name would not stay fast."""
    from sqlmodel import col

    from baiyin_cli.models import Household, Resident
    from baiyin_cli.services import validate

    validate.not_blank(query, "查询内容", "Query", error=InvalidInput)
    raw = unicodedata.normalize("NFKC", query or "").strip()
    compact = re.sub(r"[\s·'’-]+", "", raw)
    plan: list[tuple[str, Any]] = []
    if not compact:
        raise InvalidInput(SEARCH_TOO_SHORT, value=raw)
    upper = compact.upper()
    if re.fullmatch(r"\d{17}[\dX]", upper):
        # id_last4 keeps the lookup on an index whatever the planner makes of the partial unique one.
        plan.append(("id_number", (Resident.id_last4 == upper[-4:]) & (
            Resident.id_number_hash == cipher.lookup(upper, "resident.id_number")
        )))
    if re.fullmatch(r"\d{3}[\dX]", upper):
        plan.append(("id_last4", Resident.id_last4 == upper))
        if upper.isdigit():
            plan.append(("phone_last4", Resident.phone_last4 == upper))
    if re.fullmatch(r"[\d+-]{7,}", raw.replace(" ", "")):
        try:
            phone = validate.phone(raw)
        except InvalidInput:
            phone = None
        if phone:
            # phone_last4 narrows through its index; the equality checks the rest.
            plan.append(("phone", (Resident.phone_last4 == phone[-4:]) & (
                Resident.phone_hash == cipher.lookup(phone, "resident.phone")
            )))
    if _CJK.search(compact):
        name = re.sub(r"\s+", " ", raw)
        plan.append(("name", Resident.name == name))
        plan.append(("name_prefix", prefix_clause(Resident.name, name)))
        if narrow and len(name) >= 2:
            plan.append(("name_part", col(Resident.name).like("%" + _like_escape(name) + "%", escape="\\")))
    if re.fullmatch(r"[A-Za-z]+", compact):
        low = compact.lower()
        if len(low) >= 2:
            plan.append(("pinyin", prefix_clause(Resident.name_pinyin, low)))
            plan.append(("initials", prefix_clause(Resident.name_initials, low)))
        else:
            plan.append(("initials", Resident.name_initials == low))
    if len(normalise_address(raw)) >= 2 and not re.fullmatch(r"\d{17}[\dXx]", compact):
        plan.append(("address", Household.id.in_(household_ids_at_address(raw))))  # type: ignore[union-attr]
    if not plan:
        raise InvalidInput(SEARCH_TOO_SHORT, value=raw)
    return plan


def search_residents(
    session: Session,
    op: Operator | None,
    query: str,
    *,
    grid: str | None = None,
    limit: int = 50,
    reveal: bool = False,
) -> list[dict[str, Any]]:
    """Active residents inside the operator's scope (narrowed to `grid`) matching `query`.

    Each way of matching is one indexed query limited to `limit` rows; results are merged in
    the order of MATCHES, each with `matched`: the ways it matched (id_number, phone, name,
    pinyin, initials, id_last4, phone_last4, address).
    """
    from sqlalchemy import false
    from sqlmodel import col, select

    from baiyin_cli.models import Household, Resident
    from baiyin_cli.services import crypto, registry

    area = registry.get_grid(session, grid).code if grid else None
    prefix = read_scope(op, area)
    if reveal:
        require_reveal(op, prefix)
    scope = scope_clause(Household.grid_code, prefix)
    narrow = False
    if prefix:
        # A grid or a community holds a few hundred to a few thousand households: name the
        # households, so that every lookup is driven by the resident-household index instead of
        # walking a common prefix (王, zh) across the whole city and dropping what is outside.
        ids = list(session.exec(select(Household.id).where(scope).limit(NARROW_SCOPE + 1)))
        if len(ids) <= NARROW_SCOPE:
            scope = col(Resident.household_id).in_(ids) if ids else false()
            narrow = True
    found: dict[int, tuple[Any, Any]] = {}
    matched: dict[int, list[str]] = {}
    order_for = {
        "name_prefix": Resident.name, "name_part": Resident.name, "pinyin": Resident.name_pinyin,
        "initials": Resident.name_initials,
    }
    plan = _plan(query, crypto.for_session(session), narrow=narrow)
    for kind, clause in sorted(plan, key=lambda p: MATCHES.index(p[0])):
        q = (
            select(Resident, Household)
            .join(Household, Household.id == Resident.household_id)  # type: ignore[arg-type]
            .where(clause, col(Resident.archived_at).is_(None), scope)
        )
        order = order_for.get(kind)
        q = q.order_by(*([order] if order is not None else []), Resident.id).limit(limit)
        for r, h in session.exec(q):
            if r.id not in found:
                if len(found) >= limit:
                    continue
                found[r.id] = (r, h)
            kinds = matched.setdefault(r.id, [])
            label = "name" if kind in ("name_prefix", "name_part") else kind  # exact names first, then the rest
            if label not in kinds:
                kinds.append(label)
    rows = list(found.values())
    extra = {rid: {"matched": kinds} for rid, kinds in matched.items()}
    out = registry._resident_rows(session, op, rows, reveal=reveal, extra=extra)
    if reveal and out:
        registry._audit_reveal(session, op, "resident", None, [r["id"] for r in out], "resident search")
    return out
