"""grid household: the households (户) of a grid: register, list, show, correct, move, archive."""

from typing import Annotated, Any

import typer

from baiyin_cli.cli import _context as ctx
from baiyin_cli.cli import _output as out
from baiyin_cli.i18n import L

TYPES = "urban|rural"
DEFAULT_LIMIT = 200


# ---------------------------------------------------------------- shared by the registry commands


def care_text(codes: list[str] | None) -> str:
    if not codes:
        return ""
    from baiyin_cli.services import registry

    return "、".join(registry.care_label(c) for c in codes)


def care_choices() -> list[tuple[str, str]]:
    from baiyin_cli.services import registry

    return [(code, registry.care_label(code)) for code in registry.care_tags_config()]


def status_text(row: dict[str, Any]) -> str:
    return L("已注销", "archived") if row.get("archived") else L("在册", "active")


def truncated(rows: list[Any], limit: int) -> list[Any]:
    """Rows beyond `limit` (one extra was fetched to know) are dropped with a note on stderr."""
    if len(rows) > limit:
        out.info(L(f"只显示前 {limit} 条（用 --limit 调整）", f"Only the first {limit} shown (see --limit)"))
        return rows[:limit]
    return rows


def scope_grids(op: Any, session: Any) -> list[tuple[str, str]]:
    """The grids an operator may register households in (for prompting)."""
    from baiyin_cli.services import org

    if op is None or op.role == "department":
        return []
    return [(a["code"], a["name"]) for a in org.list_areas(session, level="grid", under=op.scope, limit=60)]


def _household_table(rows: list[dict[str, Any]], *, show_status: bool) -> None:
    from baiyin_cli.services import registry

    cols = [L("户编号", "Code"), L("网格", "Grid"), L("地址", "Address"), L("类型", "Type"),
            L("户主", "Head"), L("人数", "Members"), L("关爱", "Care")]
    if show_status:
        cols.append(L("状态", "Status"))
    out.table(
        cols,
        (
            [r["code"], r["grid"], r["full_address"], registry.type_label(r["type"]), r.get("head") or "",
             r.get("member_count", 0), care_text(r.get("care_all"))] + ([status_text(r)] if show_status else [])
            for r in rows
        ),
        empty=L("没有住户", "No households"),
        drop=(1, 3, 5),  # on a narrow terminal: the grid (the code begins with it), the type, the count
    )


def build() -> typer.Typer:
    app = typer.Typer(no_args_is_help=True)
    json_help = L("以 JSON 输出", "Output JSON")
    at_help = L("实际发生时间（补录纸质记录）YYYY-MM-DD HH:MM", "When it happened (entering paper records) YYYY-MM-DD HH:MM")
    force_help = L("确认不是重复登记（同一网格、同一地址已有住户时）", "Not a duplicate (when the grid already has a household at this address)")
    care_help = L("关爱标签（可重复，见 grid care list）", "Care tag (repeatable; see grid care list)")

    @app.command("add", help=L("登记住户；省略 --code 时按网格代码自动编号", "Register a household; without --code one is generated from the grid code"))
    def add(
        code: Annotated[str | None, typer.Option("--code", help=L("户编号", "Household code"))] = None,
        grid: Annotated[str | None, typer.Option("--grid", help=L("所在网格代码", "Grid code"))] = None,
        address: Annotated[str | None, typer.Option("--address", help=L("地址（路、号、小区或村、组）", "Address (road and number, estate or village)"))] = None,
        building: Annotated[str | None, typer.Option("--building", help=L("楼栋", "Building"))] = None,
        unit: Annotated[str | None, typer.Option("--unit", help=L("单元", "Unit (entrance)"))] = None,
        room: Annotated[str | None, typer.Option("--room", help=L("房号", "Room"))] = None,
        type_: Annotated[str | None, typer.Option("--type", help=L(f"类型：{TYPES}（默认按社区/村推断）", f"Type: {TYPES} (default: from the community or village)"))] = None,
        care: Annotated[list[str] | None, typer.Option("--care", help=care_help)] = None,
        note: Annotated[str | None, typer.Option("--note", help=L("备注", "Note"))] = None,
        force: Annotated[bool, typer.Option("--force", help=force_help)] = False,
        at: Annotated[str | None, typer.Option("--at", help=at_help)] = None,
        json_: Annotated[bool, typer.Option("--json", help=json_help)] = False,
    ) -> None:
        from baiyin_cli.cli._prompt import ask
        from baiyin_cli.services import registry, validate

        when = ctx.at_option(at)
        if not grid:
            with ctx.session() as (s, op):
                choices = scope_grids(op, s)
            if op is not None and op.role == "grid_worker" and op.area_code:
                grid = op.area_code
            else:
                grid = ask(grid, flag="--grid", label=L("网格", "Grid"), choices=choices if 0 < len(choices) <= 30 else None)
        address = ask(address, flag="--address", label=L("地址", "Address"),
                      validate=lambda v: validate.text(v, registry.field_label("address"), max_len=200))
        values = dict(code=code, grid=grid, address=address, building=building, unit=unit, room=room,
                      type=type_, care=care or [], note=note)
        with ctx.session(write=True) as (s, op):
            h = registry.add_household(s, op, values, force=force, at=when)
        if json_:
            out.print_json(h)
        else:
            out.info(L(f"已登记住户 {h['code']}：{h['full_address']}", f"Registered household {h['code']}: {h['full_address']}"))

    @app.command("list", help=L("列出住户（默认为操作员管辖范围）", "List households (the operator's area by default)"))
    def list_(
        grid: Annotated[str | None, typer.Option("--grid", help=L("只列此网格", "Only this grid"))] = None,
        community: Annotated[str | None, typer.Option("--community", help=L("只列此社区", "Only this community"))] = None,
        care: Annotated[str | None, typer.Option("--care", help=L("有此关爱标签（本户或成员）", "With this care tag (the household's or a member's)"))] = None,
        address: Annotated[str | None, typer.Option("--address", help=L("地址包含（如 人民路12号、3栋2单元）", "Address contains (e.g. a road, a building)"))] = None,
        archived: Annotated[bool, typer.Option("--archived", help=L("包括已注销的住户", "Include archived households"))] = False,
        limit: Annotated[int, typer.Option("--limit", min=1, help=L("最多显示条数", "At most this many rows"))] = DEFAULT_LIMIT,
        json_: Annotated[bool, typer.Option("--json", help=json_help)] = False,
    ) -> None:
        from baiyin_cli.services import registry

        with ctx.session() as (s, op):
            rows = registry.list_households(s, op, grid=grid, community=community, care=care, address=address,
                                            archived=archived, limit=limit + 1)
        rows = truncated(rows, limit)
        if json_:
            out.print_json(rows)
            return
        _household_table(rows, show_status=archived)

    @app.command("show", help=L("查看住户：成员、关爱标签、最近走访、变更记录", "Show a household: members, care tags, last visit, history"))
    def show(
        code: Annotated[str, typer.Argument(help=L("户编号", "Household code"))],
        all_: Annotated[bool, typer.Option("--all", help=L("包括已注销的成员", "Include archived members"))] = False,
        reveal: Annotated[bool, typer.Option("--reveal", help=L("显示完整身份证号、电话（记入审计）", "Show full ID numbers and phones (audited)"))] = False,
        json_: Annotated[bool, typer.Option("--json", help=json_help)] = False,
    ) -> None:
        from baiyin_cli import timeutil
        from baiyin_cli.services import registry

        with ctx.session(write=reveal) as (s, op):
            h = registry.show_household(s, op, code, reveal=reveal, include_archived=all_)
        if json_:
            out.print_json(h)
            return
        visit = h["last_visit"]
        pairs = [
            (L("户编号", "Code"), h["code"]),
            (L("网格", "Grid"), f"{h['grid']} {h['grid_name']}"),
            (L("地址", "Address"), h["full_address"]),
            (L("类型", "Type"), registry.type_label(h["type"])),
            (L("户主", "Head"), h["head"] or ""),
            (L("本户关爱标签", "Household care tags"), care_text(h["care"])),
            (L("全部关爱标签", "All care tags"), care_text(h["care_all"])),
            (L("最近走访", "Last visit"), f"{visit['at'][:16].replace('T', ' ')} {visit['worker']}" if visit else L("无", "none")),
            (L("备注", "Note"), h["note"] or ""),
            (L("状态", "Status"), status_text(h) + (f"（{h['archive_reason']}）" if h["archived"] else "")),
        ]
        out.kv(pairs, title=h["code"])
        resident_table(h["members"], show_household=False, show_status=all_)
        if h["history"]:
            out.table(
                [L("时间", "When"), L("事项", "Event"), L("从", "From"), L("到", "To"), L("说明", "Note"), L("操作员", "By")],
                ([timeutil.fmt(timeutil.parse_time(e["occurred_at"])), event_label(e["kind"]), e["from_grid"], e["to_grid"],
                  e["note"], e["actor"]] for e in h["history"]),
                title=L("变更记录", "History"),
            )

    @app.command("edit", help=L("修改住户信息（空字符串清除可选项）", "Change a household (an empty string clears an optional field)"))
    def edit(
        code: Annotated[str, typer.Argument(help=L("户编号", "Household code"))],
        address: Annotated[str | None, typer.Option("--address", help=L("地址", "Address"))] = None,
        building: Annotated[str | None, typer.Option("--building", help=L("楼栋", "Building"))] = None,
        unit: Annotated[str | None, typer.Option("--unit", help=L("单元", "Unit"))] = None,
        room: Annotated[str | None, typer.Option("--room", help=L("房号", "Room"))] = None,
        type_: Annotated[str | None, typer.Option("--type", help=L(f"类型：{TYPES}", f"Type: {TYPES}"))] = None,
        note: Annotated[str | None, typer.Option("--note", help=L("备注", "Note"))] = None,
        add_care: Annotated[list[str] | None, typer.Option("--add-care", help=L("添加关爱标签", "Add a care tag"))] = None,
        remove_care: Annotated[list[str] | None, typer.Option("--remove-care", help=L("去掉关爱标签", "Remove a care tag"))] = None,
        force: Annotated[bool, typer.Option("--force", help=force_help)] = False,
        at: Annotated[str | None, typer.Option("--at", help=at_help)] = None,
        json_: Annotated[bool, typer.Option("--json", help=json_help)] = False,
    ) -> None:
        from baiyin_cli.services import registry

        when = ctx.at_option(at)
        changes = dict(address=address, building=building, unit=unit, room=room, type=type_, note=note)
        with ctx.session(write=True) as (s, op):
            h = registry.edit_household(s, op, code, changes, add_care=add_care or [], remove_care=remove_care or [],
                                        force=force, at=when)
        if json_:
            out.print_json(h)
        else:
            out.info(L(f"已修改住户 {h['code']}", f"Changed household {h['code']}"))

    @app.command("move", help=L("把住户调整到另一个网格（记入变更记录）", "Move a household to another grid (kept in its history)"))
    def move(
        code: Annotated[str, typer.Argument(help=L("户编号", "Household code"))],
        grid: Annotated[str, typer.Option("--grid", help=L("新的网格代码", "New grid code"))],
        note: Annotated[str | None, typer.Option("--note", help=L("说明", "Note"))] = None,
        force: Annotated[bool, typer.Option("--force", help=force_help)] = False,
        at: Annotated[str | None, typer.Option("--at", help=at_help)] = None,
        json_: Annotated[bool, typer.Option("--json", help=json_help)] = False,
    ) -> None:
        from baiyin_cli.services import registry

        when = ctx.at_option(at)
        with ctx.session(write=True) as (s, op):
            h = registry.move_household(s, op, code, grid, note=note, force=force, at=when)
        if json_:
            out.print_json(h)
        else:
            out.info(L(f"住户 {h['code']} 已从网格 {h['from_grid']} 调整到 {h['grid']}", f"Household {h['code']} moved from grid {h['from_grid']} to {h['grid']}"))

    @app.command("archive", help=L("注销住户及其在册成员（记录保留，不删除）", "Archive a household and its members (kept, never deleted)"))
    def archive(
        code: Annotated[str, typer.Argument(help=L("户编号", "Household code"))],
        reason: Annotated[str, typer.Option("--reason", help=L("原因（如 整户迁出）", "Reason (e.g. moved away)"))],
        at: Annotated[str | None, typer.Option("--at", help=at_help)] = None,
        json_: Annotated[bool, typer.Option("--json", help=json_help)] = False,
    ) -> None:
        from baiyin_cli.services import registry

        when = ctx.at_option(at)
        with ctx.session(write=True) as (s, op):
            h = registry.archive_household(s, op, code, reason, at=when)
        if json_:
            out.print_json(h)
        else:
            out.info(L(f"已注销住户 {h['code']}（成员 {h['residents_archived']} 人）", f"Archived household {h['code']} ({h['residents_archived']} members)"))

    @app.command("restore", help=L("撤销注销（连同一起注销的成员）", "Undo an archive (with the members archived with it)"))
    def restore(
        code: Annotated[str, typer.Argument(help=L("户编号", "Household code"))],
        force: Annotated[bool, typer.Option("--force", help=force_help)] = False,
        at: Annotated[str | None, typer.Option("--at", help=at_help)] = None,
        json_: Annotated[bool, typer.Option("--json", help=json_help)] = False,
    ) -> None:
        from baiyin_cli.services import registry

        when = ctx.at_option(at)
        with ctx.session(write=True) as (s, op):
            h = registry.restore_household(s, op, code, force=force, at=when)
        if json_:
            out.print_json(h)
        else:
            out.info(L(f"已恢复住户 {h['code']}（成员 {h['residents_restored']} 人）", f"Restored household {h['code']} ({h['residents_restored']} members)"))
            if h["residents_left_archived"]:
                out.warn(L(f"{h['residents_left_archived']} 名成员未恢复：户主或其身份证号已在别处登记，请重新登记",
                           f"{h['residents_left_archived']} members stay archived: the head or their ID numbers are registered elsewhere now; register them again"))

    @app.command("set-head", help=L("变更户主：指定新户主，并给出原户主的新关系", "Change the head: name the new head and the former head's new relation"))
    def set_head(
        code: Annotated[str, typer.Argument(help=L("户编号", "Household code"))],
        resident: Annotated[str, typer.Argument(help=L("新户主的居民编号", "The new head's resident number"))],
        former: Annotated[str, typer.Option("--former", help=L("原户主与新户主的关系（如 配偶、父母）", "The former head's relation to the new head (e.g. spouse, parent)"))],
        at: Annotated[str | None, typer.Option("--at", help=at_help)] = None,
        json_: Annotated[bool, typer.Option("--json", help=json_help)] = False,
    ) -> None:
        from baiyin_cli.services import registry

        when = ctx.at_option(at)
        with ctx.session(write=True) as (s, op):
            h = registry.set_head(s, op, code, resident, former, at=when)
        if json_:
            out.print_json(h)
        else:
            out.info(L(f"住户 {h['code']} 的户主已变更为 {h['head']}", f"{h['head']} now heads household {h['code']}"))

    return app


EVENTS = {
    "move": ("调整网格", "moved grid"),
    "archive": ("注销", "archived"),
    "restore": ("恢复", "restored"),
    "head": ("变更户主", "new head"),
    "member_in": ("成员迁入", "member in"),
    "member_out": ("成员迁出/注销", "member out"),
}


def event_label(kind: str) -> str:
    zh, en = EVENTS.get(kind, (kind, kind))
    return L(zh, en)


def resident_table(
    rows: list[dict[str, Any]], *, show_household: bool = True, show_status: bool = False, show_matched: bool = False
) -> None:
    from baiyin_cli.services import registry

    cols = [L("编号", "No."), L("姓名", "Name"), L("性别", "Sex"), L("年龄", "Age"), L("关系", "Relation"),
            L("公民身份号码", "ID number"), L("电话", "Phone")]
    if show_household:
        cols += [L("户编号", "Household"), L("地址", "Address")]
    cols.append(L("关爱", "Care"))
    if show_status:
        cols.append(L("状态", "Status"))
    if show_matched:
        cols.append(L("匹配", "Matched"))
    matched_labels = {
        "id_number": L("身份证号", "ID number"), "phone": L("电话", "phone"), "name": L("姓名", "name"),
        "name_prefix": L("姓名", "name"), "name_part": L("姓名", "name"), "pinyin": L("拼音", "pinyin"), "initials": L("首字母", "initials"),
        "id_last4": L("身份证后4位", "ID last 4"), "phone_last4": L("电话后4位", "phone last 4"),
        "address": L("地址", "address"),
    }

    def row(r: dict[str, Any]) -> list[Any]:
        cells = [r["id"], r["name"], registry.sex_label(r["sex"]), r["age"], registry.relation_label(r["relation"]),
                 r["id_number"], r["phone"]]
        if show_household:
            cells += [r["household"], r.get("address", "")]
        cells.append(care_text(r["care"]))
        if show_status:
            cells.append(status_text(r))
        if show_matched:
            cells.append("、".join(dict.fromkeys(matched_labels.get(m, m) for m in r.get("matched", []))))
        return cells

    out.table(cols, (row(r) for r in rows), empty=L("没有居民", "No residents"))


def register(app: typer.Typer) -> None:
    app.add_typer(build(), name="household", help=L("住户（户）：登记、查询、调整网格、注销", "Households: register, list, move between grids, archive"))
