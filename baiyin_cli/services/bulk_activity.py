"""Bulk import and export of what happens on the grid: visits (走访) and petitions (诉求).

Both are records of events, not registers: a visit is never edited (a mistake is voided), and a
petition changes only through its workflow verbs. So an import adds new records, and a row that
matches a stored one is either identical (ignored: re-running a file changes nothing) or
refused with a pointer to the command that changes it.

Each row goes through the rules of `visit log` / `petition file`, using the helpers and messages
of services/visits.py and services/petitions.py; lookups are batched per chunk. Natural keys: a
visit by its number, else by worker + start time (a worker starts one visit at a time); a
petition by its number, else by filing time + text + place.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from baiyin_cli import timeutil
from baiyin_cli.errors import Conflict, GridError, InvalidInput, NotFound, NotPermitted
from baiyin_cli.i18n import M, get_lang
from baiyin_cli.services import crypto, validate
from baiyin_cli.services.access import Operator, read_scope, require_area, require_reveal, require_role
from baiyin_cli.services.bulk import (
    Column,
    Plan,
    Problem,
    Row,
    Target,
    allocate_ids,
    batches,
    choice_label,
    fetch,
    insert_rows,
    mask,
    parse_bool,
    problem,
    stream,
    unmask,
)

if TYPE_CHECKING:
    from sqlmodel import Session

VISIT_FIXED = M(
    "import.visit_fixed",
    "走访记录 #{id} 已存在且内容不同：走访记录不能修改，请作废（grid visit void）后重新登记",
    "Visit #{id} exists with other contents: visits are not edited; void it (grid visit void) and log it again",
)
PETITION_FIXED = M(
    "import.petition_fixed",
    "诉求 {number} 已存在且内容不同：导入不修改已受理的诉求，请用 grid petition 的命令办理",
    "Petition {number} exists with other contents: an import does not change a filed petition; use grid petition",
)
BAD_TIME_CELL = M(
    "import.bad_time", "{column}不是有效的时间：{value}", "{column} is not a valid time: {value}"
)


def _text(value: Any) -> str:
    return unicodedata.normalize("NFKC", str(value or "")).strip()


def _second(dt: datetime | None) -> datetime | None:
    """Times are compared to the second, as exports write them."""
    return timeutil.ensure_utc(dt).replace(microsecond=0) if dt is not None else None


def _time(value: str | None, column: str, label: str | None = None) -> datetime | None:
    """A time cell of field `column` (None when empty); its refusal names the column by `label`."""
    if not value:
        return None
    try:
        return _second(timeutil.parse_time(value))
    except GridError:
        raise InvalidInput(BAD_TIME_CELL, column=label or column, value=value[:30], field_key=column) from None


def _pair_label(pairs: Mapping[str, tuple[str, str]]) -> Any:
    def show(code: Any) -> str:
        if code in (None, ""):
            return ""
        zh, en = pairs.get(str(code), (str(code), str(code)))
        return en if get_lang() == "en" else zh

    return show


def _status_label(code: Any) -> str:
    from baiyin_cli.services.petition_workflow import status_label

    return status_label(code) if code else ""


def _rating_label(code: Any) -> str:
    from baiyin_cli.services import petition_workflow as wf

    return wf.label(code, wf.RATING_LABELS) if code else ""


def _kinds() -> dict[str, tuple[str, str]]:
    from baiyin_cli.services.visits import KINDS

    return KINDS


# ---------------------------------------------------------------- visits


class VisitsTarget(Target):
    entity = "visits"
    record = "visit"
    what = ("走访记录", "visit")
    personal = True
    columns = (
        Column("id", "走访编号", "Visit no.", width=10, aliases=("visit", "#")),
        Column("worker", "网格员", "Worker", required=True, width=16, aliases=("username", "网格员用户名")),
        Column("household", "户编号", "Household code", width=22, aliases=("household_code",)),
        Column(
            "kind",
            "走访类型",
            "Kind",
            required=True,
            width=12,
            show=lambda c: _pair_label(_kinds())(c),
            aliases=("类型",),
        ),
        Column("started_at", "开始时间", "Started", required=True, width=19, aliases=("start", "时间")),
        Column("minutes", "时长（分钟）", "Minutes", required=True, width=8, aliases=("时长", "分钟")),
        Column("note", "记录", "Note", personal="note", width=40, aliases=("备注", "情况")),
        Column("grid", "网格", "Grid", read_only=True, width=17),
        Column("petition", "调解诉求", "Mediated petition", read_only=True, width=18),
        Column("findings", "发现问题", "Findings", read_only=True, width=18),
        Column(
            "voided",
            "已作废",
            "Voided",
            read_only=True,
            width=8,
            show=lambda v: ("是" if v else "") if get_lang() != "en" else ("yes" if v else ""),
        ),
        Column("recorded_by", "录入人", "Recorded by", read_only=True, width=12),
    )
    key_fields = (("id",), ("worker", "started_at"))

    def begin(self, session: Session, op: Operator | None, strategy: str) -> None:
        from baiyin_cli.services import visits

        super().begin(session, op, strategy)
        self.op = require_role(op, "grid_worker", "secretary", "admin")
        self.max_minutes = visits.settings()["max_minutes"]

    def keys(self, values: Mapping[str, str | None]) -> list[tuple[str, str]]:
        out = []
        vid = _text(values.get("id")).lstrip("#")
        if vid:
            out.append(("id", vid))
        worker, start = _text(values.get("worker")), values.get("started_at")
        if worker and start:
            try:
                t = _time(start, "started_at")
            except GridError:
                t = None
            if t is not None:
                out.append(("started_at", f"{worker} {timeutil.iso(t)}"))
        return out

    def _minutes(self, value: Any) -> int:
        from baiyin_cli.services import visits

        try:
            mins = int(str(value or "").strip())
        except ValueError:
            raise InvalidInput(visits.BAD_MINUTES, value=value, max=self.max_minutes, field_key="minutes") from None
        if not 1 <= mins <= self.max_minutes:
            raise InvalidInput(visits.BAD_MINUTES, value=mins, max=self.max_minutes, field_key="minutes")
        return mins

    def _start(self, value: Any) -> datetime:
        start = _time(value, "started_at", self.columns[4].label())
        if start is None:
            raise InvalidInput(validate.REQUIRED, field=self.columns[4].label(), field_key="started_at")
        return start

    def _worker(self, workers: Mapping[str, Any], value: Any) -> Any:
        """The grid worker a row names, who must be one the operator may log rounds for."""
        from baiyin_cli.services import org, visits

        w = workers.get(_text(value))
        if w is None:
            raise NotFound(org.WORKER_NOT_FOUND, username=_text(value), field_key="worker")
        if w.role != "grid_worker" or not w.active:
            raise InvalidInput(visits.NOT_GRID_WORKER, username=w.username, field_key="worker")
        if not w.area_code:
            raise InvalidInput(visits.WORKER_NO_GRID, username=w.username, field_key="worker")
        if self.op.role == "grid_worker" and w.username != self.op.username:
            raise NotPermitted(
                visits.OWN_ROUNDS_ONLY, username=self.op.username, worker=w.username, field_key="worker"
            )
        require_area(self.op, w.area_code)
        return w

    def plan(self, session: Session, op: Operator | None, rows: list[Row]) -> list[Plan | Problem]:
        from sqlalchemy import select

        from baiyin_cli.models import Household, Visit, Worker
        from baiyin_cli.services import org, visits

        V, W, H = Visit.__table__, Worker.__table__, Household.__table__
        out: list[Plan | Problem] = []
        by_id = fetch(
            session,
            V,
            "id",
            [n for r in rows if (n := validate.record_id(_text(r.values.get("id")))) is not None],
        )
        names = {_text(r.values.get("worker")) for r in rows} | {v.worker for v in by_id.values()}
        workers = fetch(session, W, "username", names)
        # Stored visits of these workers around these times, to find a row's visit by its start.
        starts: list[datetime] = []
        for r in rows:
            try:
                t = _time(r.values.get("started_at"), "started_at")
            except GridError:
                t = None
            if t is not None:
                starts.append(t)
        at_start: dict[tuple[str, datetime], Any] = {}
        if starts and names:
            q = select(V).where(
                V.c.worker.in_(sorted(names)),
                V.c.started_at >= min(starts),
                V.c.started_at < max(starts) + timedelta(seconds=1),
            )
            for v in session.execute(q):
                at_start.setdefault((v.worker, _second(v.started_at)), v)
        hh_ids = {v.household_id for v in [*by_id.values(), *at_start.values()] if v.household_id}
        households = fetch(session, H, "code", (_text(r.values.get("household")) for r in rows))
        households.update(
            {
                h.code: h
                for h in fetch(session, H, "id", hh_ids - {h.id for h in households.values()}).values()
            }
        )
        code_of = {h.id: h.code for h in households.values()}
        now = timeutil.now()
        for r in rows:
            try:
                vid = _text(r.values.get("id")).lstrip("#")
                cur = None
                if vid:
                    cur = by_id.get(validate.record_id(vid))
                    if cur is None:
                        raise NotFound(visits.VISIT_NOT_FOUND, id=vid, field_key="id")
                current = None
                if cur is not None:
                    current = {
                        "worker": cur.worker,
                        "household": code_of.get(cur.household_id),
                        "kind": cur.kind,
                        "started_at": timeutil.iso(cur.started_at),
                        "minutes": str(cur.minutes),
                        "note": cur.note,
                    }
                merged: dict[str, Any] = dict(current or {})
                merged.update(r.values)
                unmask(merged, current, self.columns)
                # Every refused cell of the row is named (validate.Fields).
                f = validate.Fields()
                kind = f.check("kind", visits.kind_of, merged.get("kind"))
                mins = f.check("minutes", self._minutes, merged.get("minutes"))
                start = f.check("started_at", self._start, merged.get("started_at"))
                w = f.check("worker", self._worker, workers, merged.get("worker"))
                if start is not None and start > now + visits.CLOCK_SLACK:
                    f.add(InvalidInput(visits.IN_FUTURE, value=timeutil.fmt(start), field_key="started_at"))
                elif start is not None and mins is not None:
                    end = start + timedelta(minutes=mins)
                    if end > now + visits.CLOCK_SLACK:
                        f.add(
                            InvalidInput(
                                visits.ENDS_IN_FUTURE,
                                start=timeutil.fmt(start),
                                minutes=mins,
                                end=timeutil.fmt(end),
                                field_key="minutes",
                            )
                        )
                h = None
                code = _text(merged.get("household"))
                if code:
                    h = households.get(code)
                    if h is None:
                        from baiyin_cli.services.registry import HOUSEHOLD_NOT_FOUND

                        f.add(NotFound(HOUSEHOLD_NOT_FOUND, code=code, field_key="household"))
                    elif w is not None and h.grid_code != w.area_code:
                        f.add(
                            InvalidInput(
                                visits.HOUSEHOLD_ELSEWHERE,
                                code=h.code,
                                worker=w.username,
                                grid=w.area_code,
                                field_key="household",
                            )
                        )
                elif kind == "household":
                    f.add(InvalidInput(visits.NEEDS_HOUSEHOLD, field_key="household"))
                note = f.text("note", merged.get("note"), required=False, max_len=2000)
                if cur is None and w is not None and start is not None:
                    cur = at_start.get((w.username, start))
                    if cur is None and h is not None and h.archived_at is not None:  # a new visit
                        f.add(InvalidInput(visits.HOUSEHOLD_ARCHIVED, code=h.code, field_key="household"))
                f.done()
                values = {
                    "worker": w.username,
                    "household_id": h.id if h is not None else None,
                    "grid_code": w.area_code,
                    "kind": kind,
                    "started_at": start,
                    "minutes": mins,
                    "note": note,
                }
                if cur is None:
                    self.decide(f"{w.username} {timeutil.fmt(start)}", False)
                    out.append(Plan(r.row, "create", f"{w.username} {timeutil.iso(start)}", values))
                    continue
                self.decide(f"#{cur.id}", True)
                stored = (
                    cur.worker,
                    cur.household_id,
                    cur.grid_code,
                    cur.kind,
                    _second(cur.started_at),
                    cur.minutes,
                    cur.note,
                )
                if stored != tuple(values.values()):
                    raise Conflict(VISIT_FIXED, id=cur.id)
                out.append(Plan(r.row, "ignore", str(cur.id), values, cur))
            except GridError as exc:
                out.append(problem(r.row, exc))
        return out

    def write(self, session: Session, op: Operator | None, plans: list[Plan]) -> None:
        from baiyin_cli.services import visits

        rows = [
            {**p.values, "recorded_at": self.now, "recorded_by": self.op.username}
            for p in plans
            if p.action == "create"
        ]
        if rows:
            # The visits service's own bulk insert: it keeps the day ledger (visit_day) in step.
            visits.insert_bulk(session, rows)

    def export(
        self, session: Session, op: Operator | None, *, reveal: bool = False, **filters: Any
    ) -> Iterator[dict[str, Any]]:
        """Visits in the operator's area, as `visit list` filters them, oldest first, streamed."""
        from sqlalchemy import select

        from baiyin_cli.models import Household, Petition, Visit
        from baiyin_cli.services import visits
        from baiyin_cli.services.access import scope_clause
        from baiyin_cli.services.privacy import scrub

        V = Visit.__table__
        scope = read_scope(op, visits._area(session, filters.get("area")))
        if reveal:
            require_reveal(op, scope)
        lo, hi = visits._period(filters.get("start"), filters.get("end"))
        q = select(V).where(scope_clause(V.c.grid_code, scope))
        if filters.get("worker"):
            from baiyin_cli.services.org import get_worker

            q = q.where(V.c.worker == get_worker(session, filters["worker"]).username)
        if filters.get("household"):
            q = q.where(V.c.household_id == visits._household(session, filters["household"]).id)
        if filters.get("kind"):
            q = q.where(V.c.kind == visits.kind_of(filters["kind"]))
        if lo is not None:
            q = q.where(V.c.started_at >= lo)
        if hi is not None:
            q = q.where(V.c.started_at < hi)
        if not filters.get("include_voided"):
            q = q.where(V.c.voided_at.is_(None))
        q = q.order_by(V.c.started_at, V.c.id)
        H, P = Household.__table__, Petition.__table__
        for batch in batches(stream(session, q), 1000):
            codes = {
                h.id: h.code
                for h in fetch(session, H, "id", {v.household_id for v in batch if v.household_id}).values()
            }
            numbers = {
                p.id: p.number
                for p in fetch(session, P, "id", {v.petition_id for v in batch if v.petition_id}).values()
            }
            found: dict[int, list[str]] = {}
            vids = [v.id for v in batch]
            for i in range(0, len(vids), 900):
                for vid, number in session.execute(
                    select(P.c.visit_id, P.c.number)
                    .where(P.c.visit_id.in_(vids[i : i + 900]))
                    .order_by(P.c.id)
                ):
                    found.setdefault(vid, []).append(number)
            for v in batch:
                yield {
                    "id": v.id,
                    "worker": v.worker,
                    "household": codes.get(v.household_id),
                    "kind": v.kind,
                    "started_at": v.started_at,
                    "minutes": v.minutes,
                    "note": v.note if reveal else scrub(v.note),
                    "grid": v.grid_code,
                    "petition": numbers.get(v.petition_id),
                    "findings": found.get(v.id, []),
                    "voided": v.voided_at is not None,
                    "recorded_by": v.recorded_by,
                }


# ---------------------------------------------------------------- petitions


class PetitionsTarget(Target):
    entity = "petitions"
    record = "petition"
    what = ("诉求", "petition")
    personal = True
    columns = (
        Column("number", "诉求编号", "Number", width=18, aliases=("petition", "工单号", "编号")),
        Column(
            "text", "诉求内容", "Text", required=True, personal="note", width=40, aliases=("内容", "反映内容")
        ),
        Column(
            "category",
            "诉求类别",
            "Category",
            required=True,
            width=12,
            show=choice_label("categories"),
            aliases=("类别",),
        ),
        Column(
            "channel",
            "反映渠道",
            "Channel",
            required=True,
            width=12,
            show=choice_label("channels"),
            aliases=("渠道", "来源"),
        ),
        Column("community", "社区", "Community", width=15, aliases=("community_code",)),
        Column("grid", "网格", "Grid", width=17, aliases=("grid_code",)),
        Column("household", "户编号", "Household code", width=22, aliases=("household_code",)),
        Column("reporter_name", "反映人", "Reporter", personal="name", width=10, aliases=("name", "姓名")),
        Column("reporter_phone", "联系电话", "Phone", personal="phone", width=14, aliases=("phone", "电话")),
        Column("address", "地址", "Address", width=30),
        Column(
            "anonymous",
            "匿名",
            "Anonymous",
            width=6,
            show=lambda v: ("是" if v else "否") if get_lang() != "en" else ("yes" if v else "no"),
        ),
        Column("filed_at", "受理时间", "Filed", width=19, aliases=("filed", "时间")),
        Column("status", "状态", "Status", read_only=True, width=10, show=lambda c: _status_label(c)),
        Column("assignee", "承办网格员", "Assignee", read_only=True, width=12),
        Column("dept", "承办部门", "Department", read_only=True, width=12),
        Column("contact_due", "回访期限", "Call back by", read_only=True, width=17),
        Column("resolve_due", "办结期限", "Resolve by", read_only=True, width=17),
        Column("resolved_at", "办结时间", "Resolved", read_only=True, width=17),
        Column("rating", "评价", "Rating", read_only=True, width=10, show=lambda c: _rating_label(c)),
    )
    key_fields = (("number",), ("text", "filed_at"))

    def begin(self, session: Session, op: Operator | None, strategy: str) -> None:
        from baiyin_cli.services.access import require

        super().begin(session, op, strategy)
        self.op = require(op)
        self.file_name = ""

    def keys(self, values: Mapping[str, str | None]) -> list[tuple[str, str]]:
        number = _text(values.get("number")).upper()
        if number:
            return [("number", number)]
        try:
            t = _time(values.get("filed_at"), "filed_at")
        except GridError:
            t = None
        text = _text(values.get("text"))
        if t is not None and text:
            return [("text", f"{timeutil.iso(t)} {text[:80]}")]
        return []

    def plan(self, session: Session, op: Operator | None, rows: list[Row]) -> list[Plan | Problem]:
        from sqlalchemy import select

        from baiyin_cli import config
        from baiyin_cli.models import Area, Household, Petition
        from baiyin_cli.services import petitions, validate

        P, H, A = Petition.__table__, Household.__table__, Area.__table__
        out: list[Plan | Problem] = []
        by_number = fetch(session, P, "number", (_text(r.values.get("number")).upper() for r in rows))
        times = []
        for r in rows:
            try:
                t = _time(r.values.get("filed_at"), "filed_at")
            except GridError:
                t = None
            if t is not None and not _text(r.values.get("number")):
                times.append(t)
        at_time: dict[datetime, list[Any]] = {}
        if times:
            q = select(P).where(P.c.filed_at >= min(times), P.c.filed_at < max(times) + timedelta(seconds=1))
            for p in session.execute(q):
                at_time.setdefault(_second(p.filed_at), []).append(p)
        stored = [*by_number.values(), *(p for ps in at_time.values() for p in ps)]
        households = fetch(session, H, "code", (_text(r.values.get("household")) for r in rows))
        households.update(
            {
                h.code: h
                for h in fetch(
                    session,
                    H,
                    "id",
                    {p.household_id for p in stored if p.household_id} - {h.id for h in households.values()},
                ).values()
            }
        )
        code_of = {h.id: h.code for h in households.values()}
        places = {_text(r.values.get(k)) for r in rows for k in ("grid", "community")}
        places |= {h.grid_code for h in households.values()}
        places |= {c for p in stored for c in (p.community_code, p.grid_code) if c}
        areas = fetch(session, A, "code", places)
        cfg = config.load()
        contact_minutes = int(cfg.get("petition.contact_minutes", 30))
        now = timeutil.now()
        cipher = crypto.for_session(session)
        for r in rows:
            try:
                number = _text(r.values.get("number")).upper()
                cur = by_number.get(number) if number else None
                if number:
                    self.decide(number, cur is not None)
                current = None
                if cur is not None:
                    current = {
                        "text": cur.text,
                        "category": cur.category,
                        "channel": cur.channel,
                        "community": cur.community_code,
                        "grid": cur.grid_code,
                        "household": code_of.get(cur.household_id),
                        "reporter_name": cur.reporter_name,
                        "reporter_phone": crypto.read(cur, "petition.reporter_phone", cipher),
                        "address": cur.address,
                        "anonymous": "true" if cur.anonymous else "false",
                        "filed_at": timeutil.iso(cur.filed_at),
                    }
                merged: dict[str, Any] = dict(current or {})
                merged.update(r.values)
                unmask(merged, current, self.columns)
                # The rules of `petition file`, in its own words; every refused cell is named.
                f = validate.Fields()
                text = f.text("text", merged.get("text"), max_len=2000) or ""
                category = f.check("category", petitions._category, merged.get("category"))
                channel = f.check("channel", petitions._channel, merged.get("channel"))
                hh = None
                hcode = _text(merged.get("household"))
                if hcode:
                    hh = households.get(hcode)
                    if hh is None:
                        f.add(NotFound(petitions.HOUSEHOLD_NOT_FOUND, code=hcode, field_key="household"))
                # The place: from the grid or community cells, else the household's (when it was found).
                place_key = next((k for k in ("grid", "community") if _text(merged.get(k))), None)
                place = None
                if place_key is not None or not hcode or hh is not None:
                    place = f.check(place_key or ("household" if hh is not None else None), self._placed,
                                    areas, merged, hh)
                name = f.text(
                    "reporter_name", merged.get("reporter_name"), required=False, max_len=50, word="name"
                )
                anonymous = bool(f.check("anonymous", parse_bool, merged.get("anonymous"), "anonymous"))
                if anonymous and name:
                    f.add(InvalidInput(petitions.ANONYMOUS_NAME, field_key="reporter_name"))
                phone = f.check("reporter_phone", validate.phone, merged.get("reporter_phone"))
                address = f.text("address", merged.get("address"), required=False, max_len=200) or (
                    hh.address if hh is not None else None
                )
                filed_raw = merged.get("filed_at")
                filed_at = f.check("filed_at", _time, filed_raw, "filed_at", self.columns[11].label())
                if not filed_raw:
                    if not number:  # without a number, the filing time is what finds it again
                        f.add(
                            InvalidInput(validate.REQUIRED, field=self.columns[11].label(), field_key="filed_at")
                        )
                    filed_at = _second(now)
                if filed_at is not None and filed_at > now + timedelta(minutes=5):
                    f.add(InvalidInput(timeutil.FUTURE_TIME, value=timeutil.fmt(filed_at), field_key="filed_at"))
                f.done()
                cat_code, cat = category
                community_code, grid_code = place
                values = {
                    "text": text,
                    "category": cat_code,
                    "channel": channel,
                    "community_code": community_code,
                    "grid_code": grid_code,
                    "household_id": hh.id if hh is not None else None,
                    "reporter_name": name,
                    "reporter_phone": phone,
                    "address": address,
                    "anonymous": anonymous,
                    "filed_at": filed_at,
                }
                if cur is None and not number:
                    norm = petitions._norm_text(text)
                    cur = next(
                        (
                            p
                            for p in at_time.get(filed_at, [])
                            if petitions._norm_text(p.text) == norm and p.community_code == community_code
                        ),
                        None,
                    )
                    self.decide(cur.number if cur is not None else timeutil.fmt(filed_at), cur is not None)
                if cur is None:
                    contact_due = filed_at + timedelta(minutes=contact_minutes)
                    from baiyin_cli.services import petition_workflow as wf
                    from baiyin_cli.services import workcalendar

                    resolve_due, estimated = workcalendar.resolve_due(filed_at, int(cat.get("days", 5)))
                    values.update(
                        number=number or None,
                        contact_due=contact_due,
                        resolve_due=resolve_due,
                        due_estimated=estimated,
                        due_at=wf.next_due(wf.INITIAL, None, contact_due, resolve_due),
                    )
                    out.append(Plan(r.row, "create", number or timeutil.iso(filed_at), values))
                    continue
                was = {k: getattr(cur, k) for k in values if k != "reporter_phone"}
                was["reporter_phone"] = crypto.read(cur, "petition.reporter_phone", cipher)
                was["filed_at"] = _second(cur.filed_at)
                if was != values:
                    raise Conflict(PETITION_FIXED, number=cur.number)
                out.append(Plan(r.row, "ignore", cur.number, values, cur))
            except GridError as exc:
                out.append(problem(r.row, exc))
        return out

    def _placed(
        self, areas: Mapping[str, Any], merged: Mapping[str, Any], household: Any
    ) -> tuple[str, str | None]:
        """(community, grid) of a row, which the operator must be allowed to file in."""
        community_code, grid_code = self._place(
            self.op, areas, _text(merged.get("community")) or None, _text(merged.get("grid")) or None, household
        )
        require_area(self.op, grid_code or community_code)
        return community_code, grid_code

    @staticmethod
    def _place(
        op: Operator, areas: Mapping[str, Any], community: str | None, grid: str | None, household: Any
    ) -> tuple[str, str | None]:
        """(community, grid) as `petition file` decides them (petitions._place), from prefetched areas."""
        from baiyin_cli.services import petitions
        from baiyin_cli.services.org import AREA_NOT_FOUND

        if not community and not grid:
            if household is not None:
                grid = household.grid_code
            elif op.role == "grid_worker" and op.area_code:
                grid = op.area_code
            elif op.role == "secretary" and op.area_code:
                community = op.area_code
            else:
                raise InvalidInput(petitions.NEEDS_PLACE, field_key="grid")
        g = None
        if grid:
            g = areas.get(grid)
            if g is None:
                raise NotFound(AREA_NOT_FOUND, code=grid, field_key="grid")
            if g.level != "grid":
                raise InvalidInput(
                    petitions.BAD_PLACE_LEVEL,
                    flag="grid",
                    level=petitions._label("grid"),
                    code=g.code,
                    actual=petitions._label(g.level),
                    field_key="grid",
                )
        if community:
            c = areas.get(community)
            if c is None:
                raise NotFound(AREA_NOT_FOUND, code=community, field_key="community")
            if c.level != "community":
                raise InvalidInput(
                    petitions.BAD_PLACE_LEVEL,
                    flag="community",
                    level=petitions._label("community"),
                    code=c.code,
                    actual=petitions._label(c.level),
                    field_key="community",
                )
            if g is not None and g.parent_code != c.code:
                raise InvalidInput(petitions.PLACE_MISMATCH, grid=g.code, community=c.code, field_key="grid")
            community_code = c.code
        else:
            community_code = g.parent_code  # type: ignore[union-attr]
        grid_code = g.code if g is not None else None
        if household is not None:
            inside = (
                household.grid_code == grid_code
                if grid_code
                else household.grid_code.startswith(community_code)
            )
            if not inside:
                raise InvalidInput(
                    petitions.HOUSEHOLD_ELSEWHERE,
                    code=household.code,
                    grid=household.grid_code,
                    place=grid_code or community_code,
                    field_key="household",
                )
            grid_code = grid_code or household.grid_code
        return community_code, grid_code

    def _numbers(self, session: Session, days: Mapping[str, int]) -> dict[str, list[str]]:
        """`n` numbers per local filing day, reserved with one upsert each (petitions.next_number's
        sequence, advanced by n at once)."""
        from baiyin_cli.models import PetitionSequence

        if session.get_bind().dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        table = PetitionSequence.__table__
        out: dict[str, list[str]] = {}
        for day, n in sorted(days.items()):
            stmt = insert(table).values(day=day, last=n)
            stmt = stmt.on_conflict_do_update(index_elements=[table.c.day], set_={"last": table.c.last + n})
            last = session.execute(stmt.returning(table.c.last)).scalar_one()
            out[day] = [f"BY-{day}-{k:04d}" for k in range(last - n + 1, last + 1)]
        return out

    def write(self, session: Session, op: Operator | None, plans: list[Plan]) -> None:
        from baiyin_cli.models import Petition, PetitionEvent, PetitionReporter
        from baiyin_cli.services import petition_workflow as wf

        creates = [p for p in plans if p.action == "create"]
        if not creates:
            return
        cipher = crypto.for_session(session)
        need: dict[str, int] = {}
        for p in creates:
            if not p.values["number"]:
                day = timeutil.local_date(p.values["filed_at"]).strftime("%Y%m%d")
                need[day] = need.get(day, 0) + 1
        issued = self._numbers(session, need)
        now, actor = self.now, self.op.username
        rows, reporters, events = [], [], []
        for p, pid in zip(creates, allocate_ids(session, Petition.__table__, len(creates))):
            v = dict(p.values)
            if not v["number"]:
                v["number"] = issued[timeutil.local_date(v["filed_at"]).strftime("%Y%m%d")].pop(0)
            phone = v.pop("reporter_phone")
            rows.append(
                {
                    "id": pid,
                    **v,
                    **cipher.columns("petition.reporter_phone", phone),
                    "status": wf.INITIAL,
                    "phone_last4": phone[-4:] if phone else None,
                    "filed_by": actor,
                    "recorded_at": now,
                    "updated_at": now,
                    "updated_by": actor,
                    "version": 1,
                }
            )
            if v["reporter_name"] or phone:
                reporters.append(
                    {
                        "petition_id": pid,
                        "name": v["reporter_name"],
                        **cipher.columns("petition_reporter.phone", phone),
                        "from_number": v["number"],
                        "added_at": v["filed_at"],
                    }
                )
            events.append(
                {
                    "petition_id": pid,
                    "seq": 1,
                    "event": wf.FILE_EVENT,
                    "from_status": None,
                    "to_status": wf.INITIAL,
                    "actor": actor,
                    "occurred_at": v["filed_at"],
                    "recorded_at": now,
                    "note": None,
                    "data": {"channel": v["channel"], "imported": True},
                }
            )
        insert_rows(session, Petition.__table__, rows)
        insert_rows(session, PetitionReporter.__table__, reporters)
        insert_rows(session, PetitionEvent.__table__, events)

    def export(
        self, session: Session, op: Operator | None, *, reveal: bool = False, **filters: Any
    ) -> Iterator[dict[str, Any]]:
        """Petitions the operator may see, as `petition list` filters them, by filing time, streamed."""
        from sqlalchemy import select

        from baiyin_cli.models import Household, Petition
        from baiyin_cli.services import petitions
        from baiyin_cli.services.access import require

        op = require(op)
        if reveal:
            require_reveal(op, op.scope)
        clauses, _wanted = petitions._queue_filter(
            session,
            op,
            statuses=filters.get("statuses"),
            area=filters.get("area"),
            assignee=filters.get("assignee"),
            category=filters.get("category"),
            overdue=bool(filters.get("overdue")),
            due_within=None,
            mine=bool(filters.get("mine")),
            text=filters.get("text"),
            now=timeutil.now(),
        )
        P, H = Petition.__table__, Household.__table__
        q = (
            select(P, H.c.code.label("h_code"))
            .outerjoin(H, H.c.id == P.c.household_id)
            .where(*clauses)
            .order_by(P.c.filed_at, P.c.id)
        )
        from baiyin_cli.services.privacy import scrub

        cipher = crypto.for_session(session)
        for p in stream(session, q):
            yield {
                "number": p.number,
                "text": p.text if reveal else scrub(p.text),
                "category": p.category,
                "channel": p.channel,
                "community": p.community_code,
                "grid": p.grid_code,
                "household": p.h_code,
                "reporter_name": p.reporter_name if reveal else mask("name", p.reporter_name),
                "reporter_phone": (
                    crypto.read(p, "petition.reporter_phone", cipher)
                    if reveal else mask("phone", crypto.read(p, "petition.reporter_phone", cipher))
                ),
                "address": p.address,
                "anonymous": p.anonymous,
                "filed_at": p.filed_at,
                "status": p.status,
                "assignee": p.assignee,
                "dept": p.dept_code,
                "contact_due": p.contact_due,
                "resolve_due": p.resolve_due,
                "resolved_at": p.resolved_at,
                "rating": p.rating,
            }
