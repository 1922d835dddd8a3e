"""grid audit: read the audit log."""

from typing import Annotated

import typer

from baiyin_cli.cli import _context as ctx
from baiyin_cli.cli import _output as out
from baiyin_cli.i18n import L


def build() -> typer.Typer:
    app = typer.Typer(no_args_is_help=True)

    @app.command("list", help=L("列出审计记录（最新在前）", "List audit entries (newest first)"))
    def list_(
        user: Annotated[str | None, typer.Option("--user", help=L("操作员", "Operator"))] = None,
        since: Annotated[str | None, typer.Option("--since", help=L("起始日期或时间", "From this date or time"))] = None,
        action: Annotated[str | None, typer.Option("--action", help=L("动作前缀，如 resident.", "Action prefix, e.g. resident."))] = None,
        entity: Annotated[str | None, typer.Option("--entity", help=L("对象类型，如 household", "Entity, e.g. household"))] = None,
        key: Annotated[str | None, typer.Option("--key", help=L("对象编号", "Entity key"))] = None,
        limit: Annotated[int, typer.Option("--limit", min=1, help=L("最多显示条数", "At most this many rows"))] = 100,
        json_: Annotated[bool, typer.Option("--json", help=L("以 JSON 输出", "Output JSON"))] = False,
    ) -> None:
        from baiyin_cli import timeutil
        from baiyin_cli.services import audit

        start = timeutil.parse_time(since) if since else None
        with ctx.session() as (s, op):
            rows = audit.list_entries(s, op, user=user, since=start, action=action, entity=entity, key=key, limit=limit)
        if json_:
            out.print_json(rows)
            return

        def brief(r: dict) -> str:  # type: ignore[type-arg]
            parts = []
            if r["before"] or r["after"]:
                keys = sorted(set((r["before"] or {}).keys()) | set((r["after"] or {}).keys()))
                parts.append(", ".join(keys)[:60])
            if r["detail"]:
                parts.append(", ".join(f"{k}={v}" for k, v in r["detail"].items())[:60])
            return " ".join(parts)

        out.table(
            [L("时间", "Recorded"), L("发生于", "Occurred"), L("操作员", "Operator"), L("动作", "Action"), L("对象", "Record"), L("内容", "What")],
            (
                [r["recorded_at"][:16].replace("T", " "), (r["occurred_at"] or "")[:16].replace("T", " "), r["actor"] or "-",
                 r["action"], f"{r['entity']} {r['entity_key'] or ''}", brief(r)]
                for r in rows
            ),
            empty=L("没有审计记录", "No audit entries"),
        )

    @app.command("verify", help=L("校验审计日志哈希链，指出第一处断链", "Verify the audit hash chain; name the first broken link"))
    def verify(json_: Annotated[bool, typer.Option("--json", help=L("以 JSON 输出", "Output JSON"))] = False) -> None:
        from baiyin_cli.errors import InvalidInput
        from baiyin_cli.services import audit

        with ctx.session() as (s, op):
            r = audit.verify(s, op)
        if json_:
            out.print_json(r)
        if not r["ok"]:
            why = {"prev_hash": L("链接不符", "link does not match"), "content": L("内容被改动", "content was altered")}
            raise InvalidInput(audit.BROKEN, id=r["broken_at"], why=why[r["reason"]])
        if not json_:
            out.info(L(f"审计日志完好：已校验 {r['checked']} 条", f"The audit log is intact: {r['checked']} entries checked"))

    return app
