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

    @app.command("export", help=L("把一段时间的审计记录导出为带签名（HMAC）的 JSON Lines 归档文件", "Export a period of the audit log as a signed (HMAC) JSON Lines archive"))
    def export(
        start: Annotated[str, typer.Option("--from", help=L("起始日期（含）", "First day (inclusive)"))],
        end: Annotated[str, typer.Option("--to", help=L("结束日期（含）", "Last day (inclusive)"))],
        output: Annotated[str, typer.Option("--out", "-o", help=L("输出文件（- 表示标准输出）", "Output file ('-' = stdout)"))] = "-",
        force: Annotated[bool, typer.Option("--force", help=L("覆盖已存在的文件", "Overwrite an existing file"))] = False,
    ) -> None:
        import os
        import sys

        from baiyin_cli import timeutil
        from baiyin_cli.errors import InvalidInput
        from baiyin_cli.services import audit_archive

        d0, d1 = timeutil.parse_date(start), timeutil.parse_date(end)
        if d0 > d1:
            raise InvalidInput(audit_archive.BAD_RANGE, start=start, end=end)
        a, b = timeutil.day_bounds(d0)[0], timeutil.day_bounds(d1)[1]
        if output != "-" and os.path.exists(output) and not force:
            from baiyin_cli.services.system import BACKUP_EXISTS

            raise InvalidInput(BACKUP_EXISTS, path=output)
        tmp = output + ".partial" if output != "-" else None
        count = 0
        from baiyin_cli.errors import os_error_text
        from baiyin_cli.io.writers import IO_CANNOT_WRITE

        with ctx.session(write=True) as (s, op):
            try:
                fh = open(tmp, "wb") if tmp else sys.stdout.buffer
            except OSError as exc:  # no such folder, not writable: one line, nothing recorded
                raise InvalidInput(IO_CANNOT_WRITE, name=output, error=os_error_text(exc)) from None
            try:
                for line in audit_archive.export_lines(s, op, start=a, end=b):
                    fh.write(line)
                    count += 1
            except BaseException:
                if tmp:
                    fh.close()
                    os.unlink(tmp)
                raise
            finally:
                if tmp and not fh.closed:
                    fh.close()
                elif not tmp:
                    fh.flush()
        if tmp:
            os.replace(tmp, output)
            out.info(L(f"已导出 {count - 2} 条审计记录到 {output}（已签名）", f"Exported {count - 2} audit entries to {output} (signed)"))

    @app.command("verify-export", help=L("校验审计归档文件的签名与哈希链", "Check an audit archive's signature and hash chain"))
    def verify_export(
        file: Annotated[str, typer.Argument(help=L("归档文件", "Archive file"))],
        json_: Annotated[bool, typer.Option("--json", help=L("以 JSON 输出", "Output JSON"))] = False,
    ) -> None:
        from pathlib import Path

        from baiyin_cli.services import audit_archive

        r = audit_archive.verify_file(Path(file))
        if json_:
            out.print_json(r)
        else:
            out.info(L(f"归档完好：{r['count']} 条，签名与哈希链均正确", f"The archive is intact: {r['count']} entries, signature and chain correct"))

    return app
