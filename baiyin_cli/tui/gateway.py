"""The TUI's one door to the services.

Every method is blocking and opens its own session (one transaction), so it can run in a
Textual thread worker: sessions never cross threads, and nothing here holds a session
between calls. It returns plain data (the services' `*_public` dicts, wrapped in small
frozen rows for the queue). No petition rule and no SQL live here: the queue order,
filters, counts, clocks and allowed events all come from services/petitions.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from baiyin_cli import timeutil
from baiyin_cli.i18n import L, M, t

if TYPE_CHECKING:
    from sqlmodel import Session

    from baiyin_cli.services.access import Operator

UNEXPECTED = M(
    "triage.unexpected",
    "出错了：{error}（设置 GRID_DEBUG=1 查看详情）",
    "Something went wrong: {error} (GRID_DEBUG=1 for details)",
)


@dataclass(frozen=True)
class Filters:
    """What the queue shows: the operator's scope narrowed by these."""

    text: str = ""
    overdue: bool = False
    awaiting_callback: bool = False
    escalated: bool = False
    mine: bool = False
    category: str | None = None
    grid: str | None = None
    area: str | None = None  # an admin's chosen area (a secretary's is their community)

    def toggled(self, name: str) -> Filters:
        value = not getattr(self, name)
        changes: dict[str, Any] = {name: value}
        # "awaiting callback" and "escalated" are states: one at a time.
        if value and name == "awaiting_callback":
            changes["escalated"] = False
        if value and name == "escalated":
            changes["awaiting_callback"] = False
        return replace(self, **changes)

    def service_args(self) -> dict[str, Any]:
        statuses = None
        if self.awaiting_callback:
            statuses = ["assigned"]
        elif self.escalated:
            statuses = ["escalated"]
        return {
            "statuses": statuses,
            "area": self.grid or self.area,
            "category": self.category,
            "overdue": self.overdue,
            "mine": self.mine,
            "text": self.text or None,
        }

    @property
    def active(self) -> bool:
        return any(
            (
                self.text,
                self.overdue,
                self.awaiting_callback,
                self.escalated,
                self.mine,
                self.category,
                self.grid,
            )
        )

    def cleared(self) -> Filters:
        return Filters(area=self.area)


@dataclass(frozen=True)
class Row:
    """One petition of the queue, ready to draw."""

    number: str
    summary: str
    category_label: str
    grid_label: str
    assignee_label: str
    status: str
    status_label: str
    waiting_label: str
    version: int
    data: dict[str, Any] = field(repr=False, compare=False)
    # What the clock looks at, with the times parsed once (the countdown redraws every second).
    timing: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)

    @property
    def position(self) -> str:
        """The keyset anchor: the next page starts after this petition."""
        return self.number


@dataclass(frozen=True)
class Window:
    """The pages under the viewport, read in one transaction: what the first paint needs."""

    pages: dict[int, list[Row]]
    more: bool  # the last page read was full: there are rows after it
    marker: Any
    follow_index: int | None
    operator: dict[str, Any]


@dataclass(frozen=True)
class Tally:
    """How many rows the query has, and the header counts (these scan the scope: read second)."""

    total: int
    counts: dict[str, int]


@dataclass
class Names:
    """Names for codes (areas, workers, departments), loaded once per app."""

    areas: dict[str, str] = field(default_factory=dict)
    workers: dict[str, str] = field(default_factory=dict)
    depts: dict[str, str] = field(default_factory=dict)


def error_text(exc: BaseException | None) -> str:
    """A GridError's localised line; anything else as one short line (never a traceback)."""
    from baiyin_cli.errors import GridError
    from baiyin_cli.services.privacy import scrub

    if isinstance(exc, GridError):
        return scrub(exc.text()) or ""
    first = str(exc).strip().splitlines()[0] if exc is not None and str(exc).strip() else type(exc).__name__
    return scrub(t(UNEXPECTED, error=f"{type(exc).__name__}: {first}"[:200])) or ""


Identify = Callable[["Session"], "Operator | None"]


@dataclass
class Credentials:
    """What this terminal presents to prove who works at it, as every `grid` command does:
    the claimed name (--as / GRID_USER), the session token and where it came from ("env":
    GRID_TOKEN, "file": the state dir), and `--demo`. The PIN screen replaces the token."""

    claimed: str | None
    token: str | None = None
    source: str | None = None
    demo: bool = False

    def identify(self, session: Session) -> Operator | None:
        from baiyin_cli.services.access import authenticate

        return authenticate(
            session, claimed=self.claimed, token=self.token, source=self.source, demo=self.demo
        )


class Gateway:
    """Blocking calls into the services for one operator (run them in thread workers).

    `identify(session)` says who the operator is, inside each session: `grid triage` passes the
    same authentication every command goes through (a revoked or expired session, or a
    deactivated operator, stops the next call). Without it, `username` is looked up as is,
    which is what tests of the app do.
    """

    def __init__(
        self,
        username: str | None,
        url: str | None = None,
        identify: Identify | None = None,
        credentials: Credentials | None = None,
    ) -> None:
        self.username = username
        self.url = url
        self.credentials = credentials
        self.identify = credentials.identify if credentials is not None else identify
        self.names = Names()
        self._op: Operator | None = None
        self.session_lost = False  # a call found the presented session no longer valid

    # ------------------------------------------------------------ sessions

    @contextmanager
    def session(self, write: bool = False) -> Iterator[tuple[Session, Operator]]:
        from baiyin_cli import store
        from baiyin_cli.errors import NotPermitted
        from baiyin_cli.services.access import load_operator, require
        from baiyin_cli.services.auth import login_required

        with store.session(write=write, url=self.url) as s:
            try:
                op = require(self.identify(s) if self.identify else load_operator(s, self.username))
            except NotPermitted as exc:
                # The session ended under the screen (expired at the end of the shift, revoked,
                # the PIN changed): the app asks for the PIN instead of failing every call.
                if self.credentials is not None and login_required(exc):
                    self.session_lost = True
                raise
            self._op = op
            yield s, op

    @property
    def operator(self) -> Operator | None:
        """The operator as of the last call (for the pure checks the UI thread makes)."""
        return self._op

    error_text = staticmethod(error_text)

    # ------------------------------------------------------------ who is working

    def database_url(self) -> str:
        from baiyin_cli import store

        return self.url or store.database_url()

    def start(self) -> dict[str, Any] | None:
        """Who is working, and the names the screens show for codes; None when the presented
        session does not hold (none, expired, revoked, another operator's): the PIN is asked."""
        from baiyin_cli.errors import NotPermitted
        from baiyin_cli.services import auth

        try:
            with self.session() as (s, op):
                self._load_names(s)
                return self.operator_info(op)
        except NotPermitted as exc:
            if auth.login_required(exc):
                return None
            raise

    def login_name(self) -> str | None:
        """The name the PIN screen offers: the claimed one, else whoever last logged in here,
        else config `operator` / GRID_USER."""
        from baiyin_cli.services import access, auth

        claimed = self.credentials.claimed if self.credentials else self.username
        return claimed or auth.saved_username(self.database_url()) or access.default_username()

    def login(self, username: str, secret: str) -> dict[str, Any]:
        """Check the PIN as `grid login` does (auth.sign_in: lockout, audit, token file 0600)
        and work on with the new session. A wrong PIN raises NotPermitted(LOGIN_FAILED)."""
        from baiyin_cli.services import auth

        r = auth.sign_in(self.database_url(), username, secret)
        self._use_session(username, r["token"])
        return r

    def unlock(self, secret: str) -> dict[str, Any]:
        """The idle lock: the PIN of the operator at work (auth.unlock, judged like a login).
        If their session ended meanwhile, the new one is kept like a login's."""
        from baiyin_cli import store
        from baiyin_cli.errors import NotPermitted
        from baiyin_cli.services import auth

        username = self.locked_by()
        creds = self.credentials
        token = creds.token if creds is not None and not creds.demo else None
        with store.session(write=True, url=self.url) as s:
            r = auth.unlock(s, username or "", secret, token)
        if not r["ok"]:
            raise NotPermitted(auth.LOGIN_FAILED)
        self.session_lost = False
        if r["renewed"]:
            auth.save_token(self.database_url(), r["token"], username or "", r["expires_at"])
            self._use_session(username or "", r["token"])
        return r

    def locked_by(self) -> str | None:
        """The operator whose PIN opens the lock: who the last call worked for."""
        return self._op.username if self._op is not None else self.username

    def _use_session(self, username: str, token: str) -> None:
        self.session_lost = False
        self.username = username
        if self.credentials is not None:
            self.credentials.claimed = username
            self.credentials.token = token
            self.credentials.source = "file"

    def _load_names(self, s: Session) -> None:
        from sqlmodel import select

        from baiyin_cli.models import Area, Department, Worker

        self.names = Names(
            areas={a: n for a, n in s.execute(select(Area.code, Area.name))},
            workers={u: n for u, n in s.execute(select(Worker.username, Worker.name))},
            depts={c: n for c, n in s.execute(select(Department.code, Department.name))},
        )

    def operator_info(self, op: Operator) -> dict[str, Any]:
        from baiyin_cli import config

        scope = op.scope
        return {
            "username": op.username,
            "name": op.name,
            "role": op.role,
            "role_label": config.load().label("roles", op.role),
            "scope": scope,
            "scope_name": self.names.areas.get(scope or "", "") if scope else L("全市", "whole city"),
            "dept": op.dept_code,
        }

    # ------------------------------------------------------------ the queue

    def _row(self, d: dict[str, Any]) -> Row:
        from baiyin_cli import config
        from baiyin_cli.services import petition_workflow as wf

        cfg = config.load()
        grid = d.get("grid")
        grid_label = self.names.areas.get(grid or "", grid or "") if grid else L("（社区）", "(community)")
        assignee = d.get("assignee")
        waiting = ""
        if d["status"] == "resolved":
            waiting = L("待评价", "to rate")
        timing = {k: d.get(k) for k in ("status", "due_estimated")}
        for k in ("filed_at", "contact_due", "resolve_due", "contacted_at", "resolved_at"):
            timing[k] = datetime.fromisoformat(d[k]) if d.get(k) else None
        return Row(
            timing=timing,
            number=d["number"],
            summary=d.get("text") or "",
            category_label=cfg.label("categories", d["category"]),
            grid_label=grid_label,
            assignee_label=self.names.workers.get(assignee, assignee) if assignee else "",
            status=d["status"],
            status_label=wf.status_label(d["status"]),
            waiting_label=waiting,
            version=int(d.get("version") or 1),
            data=d,
        )

    def window(
        self,
        filters: Filters,
        *,
        first_page: int,
        pages: int,
        page_size: int,
        follow: str | None = None,
    ) -> Window:
        """`pages` pages from `first_page` on (by offset once, then by keyset), in one transaction.

        No count here: the rows come first, so the screen paints at once whatever the size of
        the queue; `tally` brings the total and the header counts right after.
        """
        from baiyin_cli.services import petitions

        args = filters.service_args()
        with self.session() as (s, op):
            if not self.names.areas:
                self._load_names(s)
            marker = petitions.change_marker(s)
            loaded: dict[int, list[Row]] = {}
            after: str | None = None
            more = False
            for k in range(first_page, first_page + pages):
                if after is None:
                    rows = petitions.list_petitions(s, op, limit=page_size, offset=k * page_size, **args)
                else:
                    rows = petitions.list_petitions(s, op, limit=page_size, after=after, **args)
                if not rows:
                    more = False
                    break
                loaded[k] = [self._row(d) for d in rows]
                more = len(rows) == page_size
                if not more:
                    break
                after = rows[-1]["number"]
            follow_index = None
            if follow:
                for k, rows_k in loaded.items():
                    for i, r in enumerate(rows_k):
                        if r.number == follow:
                            follow_index = k * page_size + i
            return Window(loaded, more, marker, follow_index, self.operator_info(op))

    def tally(self, filters: Filters) -> Tally:
        """The total of the filtered queue and the header counts of the scope, in one transaction."""
        from baiyin_cli.services import petitions

        with self.session() as (s, op):
            counts = petitions.queue_counts(s, op, area=filters.area)
            # Unfiltered, the queue is exactly what the header calls open: no second count.
            total = counts["open"]
            if filters.active:
                total = petitions.count_petitions(s, op, **filters.service_args())
            return Tally(total, counts)

    def page(self, filters: Filters, *, after: str | None, offset: int | None, limit: int) -> list[Row]:
        from baiyin_cli.services import petitions

        with self.session() as (s, op):
            rows = petitions.list_petitions(
                s,
                op,
                limit=limit,
                after=after,
                offset=offset if after is None else None,
                **filters.service_args(),
            )
            return [self._row(d) for d in rows]

    def marker(self) -> Any:
        """A value that changes whenever any petition changes (the refresh timer polls it)."""
        from baiyin_cli.services import petitions

        with self.session() as (s, _op):
            return petitions.change_marker(s)

    # ------------------------------------------------------------ pure checks (UI thread)

    def clock(self, row: Row, now: datetime) -> dict[str, Any]:
        """Urgency and the running deadline of a row as of `now` (the service's rule, no query)."""
        from baiyin_cli.services import petitions

        t = row.timing or row.data
        c = petitions.clock(t, now)
        if c.get("next_due") is None:
            return {"urgency": "stopped", "kind": None, "due": None}
        called = t.get("contacted_at") is not None
        kind = "resolve" if called else "contact"
        due = t.get("resolve_due" if called else "contact_due")
        if isinstance(due, str):
            due = datetime.fromisoformat(due)
        return {"urgency": c["state"], "kind": kind, "due": due}

    def allowed(self, data: dict[str, Any] | None) -> list[str]:
        from baiyin_cli.services import petitions

        if data is None or self._op is None:
            return []
        return petitions.allowed_events(self._op, data)

    # ------------------------------------------------------------ one petition

    def detail(self, number: str, *, reveal: bool = False) -> dict[str, Any]:
        """The petition with history and reporters, its household and its duplicate candidates.

        With `reveal` the services check the role and write the audit entries (one transaction).
        """
        from baiyin_cli.errors import GridError
        from baiyin_cli.services import petitions, registry

        with self.session(write=reveal) as (s, op):
            d = petitions.show_petition(s, op, number, reveal=reveal)
            d["similar"] = petitions.similar_petitions(s, op, number)
            d["household_detail"] = None
            if d.get("household"):
                try:
                    d["household_detail"] = registry.show_household(s, op, d["household"], reveal=reveal)
                except GridError as exc:
                    if reveal:
                        raise
                    d["household_error"] = exc.text()
            d["revealed"] = reveal
            return d

    def apply(
        self, number: str, event: str, *, expected_version: int | None, note: str | None = None, **data: Any
    ) -> dict[str, Any]:
        from baiyin_cli.services import petitions

        with self.session(write=True) as (s, op):
            return petitions.apply(s, op, number, event, note=note, expected_version=expected_version, **data)

    def current(self, number: str) -> dict[str, Any]:
        """The petition as it is now (after a conflict: what the other terminal did)."""
        from baiyin_cli.services import petitions

        with self.session() as (s, op):
            return petitions.show_petition(s, op, number)

    def similar(self, number: str) -> list[dict[str, Any]]:
        """Open petitions that look like this one (duplicate candidates)."""
        from baiyin_cli.services import petitions

        with self.session() as (s, op):
            return petitions.similar_petitions(s, op, number)

    # ------------------------------------------------------------ pickers

    def workers(self, *, area: str | None = None, grid_first: str | None = None) -> list[dict[str, Any]]:
        """Grid workers with their open load, overdue count and minutes walked today."""
        from baiyin_cli.services import workload

        with self.session() as (s, op):
            return workload.worker_load(s, op, area=area, grid_first=grid_first)

    def departments(self) -> list[dict[str, Any]]:
        from baiyin_cli.services import org

        with self.session() as (s, _op):
            return [d for d in org.list_depts(s) if d.get("active", True)]

    def areas(self, level: str, under: str | None = None) -> list[dict[str, Any]]:
        from baiyin_cli.services import org

        with self.session() as (s, op):
            scope = op.scope
            if under is None and scope is not None:
                under = scope
            return org.list_areas(s, level=level, under=under)

    @staticmethod
    def categories() -> list[tuple[str, str]]:
        from baiyin_cli import config
        from baiyin_cli.services import petitions

        cfg = config.load()
        return [(code, cfg.label("categories", code)) for code in petitions.categories()]

    @staticmethod
    def now() -> datetime:
        return timeutil.now()
