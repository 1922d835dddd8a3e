"""grid key: the database's key set (show, rotate the data key)."""

from typing import Annotated

import typer

from baiyin_cli.cli import _context as ctx
from baiyin_cli.cli import _output as out
from baiyin_cli.i18n import L


def build() -> typer.Typer:
    app = typer.Typer(no_args_is_help=True)

    @app.command(
        "show",
        help=L(
            "显示密钥文件位置、指纹、当前数据密钥及各密钥加密的值数（不显示任何密钥；仅管理员）",
            "Show the key file, its fingerprint, the current data key and how many values each key encrypts (no secret is shown; admins only)",
        ),
    )
    def show(json_: Annotated[bool, typer.Option("--json", help=L("以 JSON 输出", "Output JSON"))] = False) -> None:
        from baiyin_cli.services import keys

        with ctx.session() as (s, op):
            d = keys.describe(s, op)
        if json_:
            out.print_json(d)
            return
        counts = ", ".join(f"{k}{' *' if k == d['current'] else ''}: {n}" for k, n in d["values_by_key"].items())
        out.kv(
            [
                (L("密钥文件", "Key file"), d["path"]),
                (L("指纹", "Fingerprint"), d["key_id"]),
                (L("当前数据密钥", "Current data key"), d["current"]),
                (L("各密钥加密的值", "Values per data key"), counts),
                (L("未完成的轮换", "Unfinished rotation"), d["rotation_unfinished"] or "-"),
                (L("已准备、未启用的密钥", "Prepared, not yet in use"), d["prepared"] or "-"),
            ]
        )

    @app.command(
        "rotate",
        help=L(
            "新增一把数据密钥作为当前密钥，并分批把所有身份证号和电话重新加密（每批提交；中断后再次执行即可继续）。"
            "查找用的 HMAC 密钥不轮换。多个终端时先用 --prepare 分发下一把密钥，轮换时无需停机。完成后把新的密钥文件复制到每个终端，并另行备份。仅管理员，记入审计",
            "Add a new data key as current and re-encrypt every ID number and phone under it in batches (each batch "
            "committed; if interrupted, run it again to finish). The lookup (HMAC) key does not rotate. With many terminals, "
            "hand out the next key first with --prepare, so none has to stop. Afterwards copy "
            "the new key file to every terminal and back it up separately. Admins only; audited",
        ),
    )
    def rotate(
        prepare: Annotated[
            bool,
            typer.Option(
                "--prepare",
                help=L(
                    "只准备：把下一把数据密钥加入密钥文件但暂不启用。多终端（PostgreSQL）时先运行它，把密钥文件复制到每个终端，"
                    "再运行 grid key rotate：轮换期间每个终端都能读两把密钥，无需停机",
                    "Prepare only: add the next data key to the key file without using it yet. With many terminals "
                    "(PostgreSQL) run this first, copy the key file to every terminal, then run `grid key rotate`: every "
                    "terminal reads both keys during the rotation, none has to stop",
                ),
            ),
        ] = False,
        batch_size: Annotated[int, typer.Option("--batch-size", min=1, max=100000, help=L("每批的值数", "Values per batch"))] = 2000,
        stop_after: Annotated[int | None, typer.Option("--stop-after", min=1, hidden=True, help=L("在 N 批后停止，如同被中断（演练用）", "Stop after N batches, as if killed (drills)"))] = None,
        json_: Annotated[bool, typer.Option("--json", help=L("以 JSON 输出", "Output JSON"))] = False,
    ) -> None:
        from baiyin_cli.services import keys

        if prepare:
            with ctx.session(write=True) as (s, op):
                p = keys.prepare_rotation(s, op)
            if json_:
                out.print_json(p)
                return
            out.info(
                L(
                    f"已准备数据密钥 {p['prepared']}（尚未启用，当前仍为 {p['current']}）。请先把 {p['path']} 复制到每个终端，"
                    "再运行 grid key rotate",
                    f"Data key {p['prepared']} is prepared (not in use yet; {p['current']} is still current). Copy "
                    f"{p['path']} to every terminal first, then run `grid key rotate`",
                )
            )
            return
        with ctx.session(write=True) as (s, op):
            r = keys.rotate(s, op, batch=batch_size, stop_after=stop_after)
        if json_:
            out.print_json(r)
            return
        if r["finished"]:
            out.info(
                L(
                    f"已轮换到数据密钥 {r['to']}：重新加密 {r['reencrypted']} 个值。请把 {r['path']} 复制到每个终端，并另行备份",
                    f"Rotated to data key {r['to']}: {r['reencrypted']} values re-encrypted. Copy {r['path']} to every "
                    "terminal and back it up separately",
                )
            )
        else:
            out.warn(
                L(
                    f"轮换到 {r['to']} 尚未完成（仍有值在其他密钥下，可能有终端使用旧密钥文件写入）：请再次执行 grid key rotate",
                    f"The rotation to {r['to']} is not finished (values remain under other keys, perhaps written by a "
                    "terminal with the old key file): run `grid key rotate` again",
                )
            )

    return app


def register(app: typer.Typer) -> None:
    app.add_typer(build(), name="key", help=L("密钥：查看、轮换数据密钥", "Keys: show, rotate the data key"))
