"""Grid workers' load: what the dispatcher needs to pick who gets the next petition.

For each active grid worker in an area: the petitions they hold whose clock runs (open load),
how many of those are past their running deadline (overdue), and the visits they walked
today against the daily target, read from the visit day ledger (`visit_day`, kept by
services/visits.py: a visit counts whole on the local day it started, voided ones do not).
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from baiyin_cli import timeutil
from baiyin_cli.services import petition_workflow as wf
from baiyin_cli.services.access import Operator, read_scope, scope_clause

if TYPE_CHECKING:
    from sqlmodel import Session


def worker_load(
    session: Session,
    op: Operator | None,
    *,
    area: str | None = None,
    grid_first: str | None = None,
    day: date | None = None,
) -> list[dict[str, Any]]:
    """Active grid workers inside `area` (default: the operator's scope) with their load.

    `grid_first` puts the workers of that grid first (the assign picker: the petition's own
    grid, then the rest of the community); otherwise by grid, then username.
    """
    from sqlalchemy import case, func, select

    from baiyin_cli import config
    from baiyin_cli.models import Area, Petition, VisitDay, Worker

    prefix = read_scope(op, area)
    now = timeutil.now()
    day = day or timeutil.today()

    workers = session.execute(
        select(Worker.username, Worker.name, Worker.kind, Worker.area_code, Area.name)
        .join(Area, Area.code == Worker.area_code)
        .where(Worker.role == "grid_worker", Worker.active, scope_clause(Worker.area_code, prefix))
        .order_by(Worker.area_code, Worker.username)
    ).all()
    names = [w[0] for w in workers]
    if not names:
        return []
    load = {
        r[0]: (int(r[1] or 0), int(r[2] or 0))
        for r in session.execute(
            select(
                Petition.assignee,
                func.count(),
                func.sum(case((Petition.due_at < now, 1), else_=0)),  # type: ignore[operator]
            )
            .where(Petition.assignee.in_(names), Petition.status.in_(sorted(wf.RUNNING)))  # type: ignore[union-attr, attr-defined]
            .group_by(Petition.assignee)
        )
    }
    walked = {
        r[0]: (int(r[1] or 0), int(r[2] or 0))
        for r in session.execute(
            select(VisitDay.worker, VisitDay.visits, VisitDay.minutes).where(
                VisitDay.worker.in_(names),
                VisitDay.day == day,  # type: ignore[attr-defined]
            )
        )
    }
    target = int(config.load().get("visits.daily_minutes", 60))
    out = []
    for username, name, kind, grid, grid_name in workers:
        open_, overdue = load.get(username, (0, 0))
        visits, minutes = walked.get(username, (0, 0))
        out.append(
            {
                "username": username,
                "name": name,
                "kind": kind,
                "grid": grid,
                "grid_name": grid_name,
                "open": open_,
                "overdue": overdue,
                "visits_today": visits,
                "minutes_today": minutes,
                "daily_minutes": target,
            }
        )
    if grid_first:
        out.sort(key=lambda w: w["grid"] != grid_first)
    return out
