"""Who the operator is, and what they may touch. The one place that decides.

The operator is whoever holds a valid session (`authenticate`): a token from
`grid login` (kept in the user's state dir, or given in GRID_TOKEN), checked against
the sha256 stored in `auth_session` (services/auth.py). `--as U` / GRID_USER is a claim
that must match the session; alone it proves nothing. Only a database made by
`grid demo` (synthetic people, SQLite) lets `--demo` act without a session.
`load_operator` reads a worker as an Operator WITHOUT authentication: for code that has
already authenticated, and for tests of services. Every service takes the `Operator` and
asks this module: may they write at all, may they touch this area, may they see personal
data in clear.

Scope by role:
  admin        everything
  secretary    their community (everything whose area code starts with it)
  grid_worker  their grid
  department   petitions escalated to their department (read + the department's verbs)
  viewer       reads only; their area if they have one, else everything
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from baiyin_cli.errors import NotPermitted
from baiyin_cli.i18n import M

if TYPE_CHECKING:
    from sqlmodel import Session

NO_OPERATOR = M(
    "access.no_operator",
    "未登录：请先运行 grid login 用户名（脚本：grid login --pin-file 文件，或 GRID_TOKEN 配合 --as 用户名）",
    "Not logged in: run `grid login USERNAME` first (scripts: `grid login --pin-file FILE`, or GRID_TOKEN with --as USERNAME)",
)
UNKNOWN_OPERATOR = M(
    "access.unknown_operator", "操作员 {username} 不存在或已停用", "Operator {username} does not exist or is inactive"
)
READ_ONLY = M(
    "access.read_only",
    "操作员 {username} 的角色是{role}，只有查看权限",
    "Operator {username} has the role {role} and may only read",
)
OUT_OF_SCOPE = M(
    "access.out_of_scope",
    "操作员 {username} 无权操作 {area} 范围外的数据",
    "Operator {username} may not touch data outside {scope}",
)
DEPARTMENT_NO_AREA = M(
    "access.department_no_area",
    "操作员 {username} 是部门人员，没有所辖区域：只能处理转办给本部门的诉求",
    "Operator {username} is a department user with no area: they may only act on petitions escalated to their department",
)
ROLE_REQUIRED = M(
    "access.role_required",
    "此操作需要{roles}角色（{username} 的角色是{role}）",
    "This is for {roles} only ({username} has the role {role})",
)
CANNOT_REVEAL = M(
    "access.cannot_reveal",
    "操作员 {username} 无权查看此人的完整个人信息",
    "Operator {username} may not see this person's personal data in full",
)


@dataclass(frozen=True)
class Operator:
    username: str
    name: str
    role: str
    area_code: str | None = None
    dept_code: str | None = None
    # The login session this operator acts through (None: not from a session, e.g. tests of services).
    session_id: int | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def scope(self) -> str | None:
        """The area code prefix this operator is limited to; None means the whole city."""
        if self.role == "admin":
            return None
        if self.role in ("secretary", "grid_worker", "viewer"):
            return self.area_code
        return None

    def may_write(self) -> bool:
        return self.role != "viewer"


def resolve_username(flag: str | None) -> str | None:
    """The operator a command claims to act as: `--as`, else GRID_USER. A claim, not a proof."""
    if flag:
        return flag
    env = os.environ.get("GRID_USER")
    if env:
        return env
    return None


def default_username() -> str | None:
    """Whom `grid login` logs in when no name is given: GRID_USER, else config `operator`."""
    env = os.environ.get("GRID_USER")
    if env:
        return env
    from baiyin_cli import config

    value = config.load().get("operator")
    return value or None


def authenticate(
    session: Session,
    *,
    claimed: str | None,
    token: str | None,
    source: str | None,
    demo: bool = False,
) -> Operator | None:
    """Who the operator of this command is. The one gate every command passes.

    - `token` (from GRID_TOKEN, `source="env"`, or the user's token file, `"file"`) must be a live
      session (services/auth.session_operator); a `claimed` name (--as, GRID_USER) must match it.
    - A claim without a session, or an explicit token (GRID_TOKEN) that is not valid, is refused
      at once (exit 4), whatever the command.
    - A stale token file with no claim leaves the command without an operator: it may still read
      what needs no operator (the area tree), and anything else says "log in" (NO_OPERATOR).
    - `demo=True` (`--demo`) acts as `claimed` or admin without a session, but only on a database
      that `grid demo` marked as synthetic (auth.is_demo); elsewhere it changes nothing.
    """
    from baiyin_cli.services import auth

    if demo and auth.is_demo(session):
        return load_operator(session, claimed or "admin")
    if token:
        try:
            op = auth.session_operator(session, token)
        except NotPermitted:
            if claimed or source == "env":
                raise
            return None
        if claimed and claimed != op.username:
            raise NotPermitted(auth.SESSION_OTHER_USER, username=claimed, session_user=op.username)
        return op
    if claimed:
        raise NotPermitted(auth.NO_SESSION, username=claimed)
    return None


def load_operator(session: Session, username: str | None) -> Operator | None:
    """The active worker named `username` as an Operator, or None when nobody is named.

    No authentication happens here: callers are `authenticate` (demo database) and tests of
    services. Commands get their operator from `authenticate`."""
    if not username:
        return None
    from sqlmodel import select

    from baiyin_cli.models import Worker

    w = session.exec(select(Worker).where(Worker.username == username)).first()
    if w is None or not w.active:
        raise NotPermitted(UNKNOWN_OPERATOR, username=username)
    return Operator(w.username, w.name, w.role, w.area_code, w.dept_code)


def role_label(role: str, *, in_sentence: bool = False) -> str:
    """A role as people call it (config `roles`), in the operator's language: 网格员 / Grid worker.

    `in_sentence` lowers an English label's first letter for use inside a sentence ("a grid worker");
    a label that starts with an acronym ("IT staff") stays as written."""
    from baiyin_cli import config
    from baiyin_cli.i18n import get_lang

    label = config.load().label("roles", role)
    if in_sentence and get_lang() == "en" and label[:1].isupper() and not label[1:2].isupper():
        label = label[:1].lower() + label[1:]
    return label


def role_labels(roles: tuple[str, ...] | list[str]) -> str:
    """Several roles joined as a choice: 管理员、网格员或书记 / Administrator, Grid worker or Secretary."""
    from baiyin_cli.i18n import get_lang

    labels = [role_label(r) for r in roles]
    if len(labels) < 2:
        return "".join(labels)
    en = get_lang() == "en"
    return (", " if en else "、").join(labels[:-1]) + (" or " if en else "或") + labels[-1]


def require(op: Operator | None) -> Operator:
    if op is None:
        raise NotPermitted(NO_OPERATOR)
    return op


def require_write(op: Operator | None) -> Operator:
    op = require(op)
    if not op.may_write():
        raise NotPermitted(READ_ONLY, username=op.username, role=role_label(op.role))
    return op


def require_role(op: Operator | None, *roles: str) -> Operator:
    op = require(op)
    if op.role not in roles and not op.is_admin:
        allowed = roles if "admin" in roles else ("admin", *roles)  # an admin may always
        raise NotPermitted(ROLE_REQUIRED, roles=role_labels(allowed), username=op.username, role=role_label(op.role))
    return op


def in_scope(op: Operator | None, area_code: str | None) -> bool:
    """May `op` see records of `area_code`? Without an operator, nothing personal is in scope."""
    if op is None:
        return False
    scope = op.scope
    if scope is None:
        return op.role != "department" or area_code is None
    return area_code is not None and area_code.startswith(scope)


def require_area(op: Operator | None, area_code: str | None, *, write: bool = True) -> Operator:
    op = require_write(op) if write else require(op)
    if op.is_admin:
        return op
    if op.role == "department":
        raise NotPermitted(DEPARTMENT_NO_AREA, username=op.username)
    if not in_scope(op, area_code):
        raise NotPermitted(
            OUT_OF_SCOPE, username=op.username, area=op.scope or "-", scope=op.scope or "-"
        )
    return op


def may_reveal(op: Operator | None, area_code: str | None) -> bool:
    """Admin; the secretary of that community; the grid worker of that grid."""
    if op is None:
        return False
    if op.is_admin:
        return True
    if op.role in ("secretary", "grid_worker"):
        return in_scope(op, area_code)
    return False


def require_reveal(op: Operator | None, area_code: str | None) -> Operator:
    op = require(op)
    if not may_reveal(op, area_code):
        raise NotPermitted(CANNOT_REVEAL, username=op.username)
    return op


PERSONAL_READERS = ("admin", "secretary", "grid_worker", "viewer")


def read_scope(op: Operator | None, area: str | None = None) -> str | None:
    """The area prefix inside which `op` may read personal records (households, residents),
    narrowed to `area` if one is asked for; None means the whole city.

    Department users see the petitions escalated to them, not the population registry. An
    `area` wholly outside the operator's scope is refused; one that contains the scope (a grid
    worker asking for their community) narrows to the scope.
    """
    op = require_role(op, *PERSONAL_READERS)
    scope = op.scope
    if not area:
        return scope
    if scope is None or area.startswith(scope):
        return area
    if scope.startswith(area):
        return scope
    raise NotPermitted(OUT_OF_SCOPE, username=op.username, area=scope, scope=scope)


def scope_clause(column, prefix: str | None):  # type: ignore[no-untyped-def]
    """SQL for `column` inside the area `prefix` (a B-tree range, fast on both backends)."""
    from sqlalchemy import and_, true

    if not prefix:
        return true()
    return and_(column >= prefix, column < prefix + ":")


# ---------------------------------------------------------------- petitions
#
# How an operator stands to one petition. The workflow table (services/petition_workflow.py)
# names, for each transition, which of these relations may fire it; reading follows the same
# lines: a secretary sees their community's petitions, a grid worker those of their grid and
# those assigned to them, a department those escalated to it, a viewer their area (or all).


def petition_relations(
    op: Operator | None, *, community: str | None, grid: str | None, assignee: str | None, dept: str | None
) -> frozenset[str]:
    """The relations `op` has to a petition: admin, secretary, assignee, grid_worker, department, viewer."""
    if op is None:
        return frozenset()
    if op.is_admin:
        return frozenset({"admin"})
    rel: set[str] = set()
    if op.role == "secretary" and op.area_code and community and community.startswith(op.area_code):
        rel.add("secretary")
    elif op.role == "grid_worker":
        if assignee and assignee == op.username:
            rel.update({"assignee", "grid_worker"})
        elif op.area_code and grid and grid.startswith(op.area_code):
            rel.add("grid_worker")
    elif op.role == "department" and op.dept_code and dept == op.dept_code:
        rel.add("department")
    elif op.role == "viewer" and (not op.area_code or (community or "").startswith(op.area_code)):
        rel.add("viewer")
    return frozenset(rel)


def sees_petition(op: Operator | None, **where: str | None) -> bool:
    return bool(petition_relations(op, **where))  # type: ignore[arg-type]


def require_petition(op: Operator | None, **where: str | None) -> Operator:
    """Refuse a petition outside the operator's reach (exit 4)."""
    op = require(op)
    if not sees_petition(op, **where):
        if op.role == "department":
            raise NotPermitted(DEPARTMENT_NO_AREA, username=op.username)
        raise NotPermitted(OUT_OF_SCOPE, username=op.username, area=op.scope or op.dept_code or "-",
                           scope=op.scope or op.dept_code or "-")
    return op


def petition_scope_clause(op: Operator, *, community, grid, assignee, dept):  # type: ignore[no-untyped-def]
    """SQL for "petitions `op` may see", given the petition table's columns."""
    from sqlalchemy import false, or_, true

    if op.is_admin:
        return true()
    # A secretary's area is a community, a grid worker's a grid: equality (not a prefix range),
    # so the queue reads the (community_code, due_at, id) / (grid_code, due_at, id) index in order.
    if op.role == "secretary":
        return community == op.area_code if op.area_code else false()
    if op.role == "grid_worker":
        mine = assignee == op.username
        return or_(grid == op.area_code, mine) if op.area_code else mine
    if op.role == "department":
        return dept == op.dept_code if op.dept_code else false()
    if op.role == "viewer":
        return scope_clause(community, op.area_code) if op.area_code else true()
    return false()
