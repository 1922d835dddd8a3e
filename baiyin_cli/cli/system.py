"""grid init and grid demo: create the database, build the demo city."""

from pathlib import Path
from typing import Annotated

import typer

from baiyin_cli.cli import _output as out
from baiyin_cli.i18n import L


def register(app: typer.Typer) -> None:
    json_help = L("以 JSON 输出", "Output JSON")

    @app.command("init", help=L("创建或升级数据库，并创建首个管理员 admin（可重复运行）", "Create or upgrade the database and the first admin (safe to run again)"))
    def init(
        pin_file: Annotated[str | None, typer.Option("--pin-file", help=L("admin 的首个 PIN 从文件读取（首行；- 表示标准输入），供脚本使用", "Read admin's first PIN from a file (first line; '-' = stdin), for scripts"))] = None,
        json_: Annotated[bool, typer.Option("--json", help=json_help)] = False,
    ) -> None:
        from baiyin_cli.cli._prompt import interactive
        from baiyin_cli.cli.auth import read_secret
        from baiyin_cli.services import system

        pin = None
        if pin_file or (interactive() and system.admin_needs_pin()):
            pin = read_secret(pin_file, L("为 admin 设置 PIN（至少 6 位数字）", "Choose admin's PIN (at least 6 digits)"), confirm=not pin_file, check=True)
        r = system.init(admin_pin=pin)
        if json_:
            out.print_json(r)
            return
        if not r["changed"]:
            out.info(L(f"数据库已是最新（{r['revision']}），无需更改：{r['url']}", f"The database is up to date ({r['revision']}); nothing changed: {r['url']}"))
        if r["before"] != r["revision"]:
            out.info(L(f"数据库已初始化到 {r['revision']}：{r['url']}", f"Database at {r['revision']}: {r['url']}"))
        if r["created_admin"]:
            out.info(L("已创建管理员 admin", "Created the admin operator"))
        if r["key_created"]:
            out.info(L(f"已生成密钥文件 {r['key_path']}（权限 0600）：请另行安全备份，丢失则无法读取加密的身份证号和电话",
                       f"Created the key file {r['key_path']} (mode 0600): back it up separately and safely; without it the encrypted ID numbers and phones cannot be read"))
        if r["admin_pin_set"]:
            out.info(L("已设置 admin 的 PIN；登录：grid login admin", "admin's PIN is set; log in with: grid login admin"))
        elif not r["admin_has_pin"]:
            out.warn(L("admin 还没有 PIN，无法登录。请在终端上再运行 grid init 输入 PIN，或 grid init --pin-file 文件",
                       "admin has no PIN yet and cannot log in. Run `grid init` again on a terminal to type one, or `grid init --pin-file FILE`"))

    @app.command("demo", help=L("生成演示城市（独立的数据库，不动真实数据）", "Build the demo city (its own database; your real data is untouched)"))
    def demo(
        db: Annotated[Path | None, typer.Option("--db", help=L("演示数据库文件（默认在数据目录下）", "Demo database file (default: in the data dir)"))] = None,
        force: Annotated[bool, typer.Option("--force", help=L("删除并重建已存在的演示数据库", "Delete and rebuild an existing demo database"))] = False,
        seed: Annotated[int, typer.Option("--seed", help=L("随机种子（同一种子生成同一城市）", "Random seed (the same seed builds the same city)"))] = 2026,
        json_: Annotated[bool, typer.Option("--json", help=json_help)] = False,
    ) -> None:
        from baiyin_cli import store
        from baiyin_cli.cli._context import state
        from baiyin_cli.services import demo as demo_svc

        target = db or (Path(state.db) if state.db and "://" not in state.db else store.demo_sqlite_path())
        with _progress() as step:
            r = demo_svc.build(target, force=force, seed=seed, progress=step)
        if json_:
            out.print_json(r)
            return
        rows = [(L(k_zh, k_en), r[key]) for key, k_zh, k_en in SUMMARY if key in r]
        out.kv(rows, title=L("演示城市已生成", "Demo city built"))
        out.info(L(f"数据库：{r['path']}", f"Database: {r['path']}"))
        out.info(L(f"演示 PIN（所有演示账号，仅用于演示数据）：{r['pin']}", f"Demo PIN (every demo account; demo data only): {r['pin']}"))
        out.info(L("试试：grid --demo area tree 620402 --depth 2", "Try: grid --demo area tree 620402 --depth 2"))


SUMMARY = [
    ("districts", "区县", "Districts"),
    ("streets", "街道/乡镇", "Streets/towns"),
    ("communities", "社区/村", "Communities"),
    ("grids", "网格", "Grids"),
    ("workers", "人员", "People"),
    ("departments", "部门", "Departments"),
    ("households", "住户", "Households"),
    ("residents", "居民", "Residents"),
    ("petitions", "诉求", "Petitions"),
    ("visits", "走访记录", "Visits"),
]


class _progress:
    """Names each demo step on a TTY; silent in a pipe."""

    def __enter__(self):  # type: ignore[no-untyped-def]
        import sys

        self.tty = sys.stderr.isatty()
        return self.step

    def step(self, name: str) -> None:
        if self.tty:
            out.err_console().print(f"[dim]… {name}[/dim]")

    def __exit__(self, *exc: object) -> None:
        return None
