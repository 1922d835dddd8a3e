"""grid resident: the people of each household: register, find, correct, move, archive."""

from typing import Annotated

import typer

from baiyin_cli.cli import _context as ctx
from baiyin_cli.cli import _output as out
from baiyin_cli.cli.household import DEFAULT_LIMIT, care_text, resident_table, status_text, truncated
from baiyin_cli.i18n import L

RELATION_HELP_ZH = "与户主关系（GB/T 4761）：02 户主、10 配偶、20 子、30 女、40 孙子女、50 父母、60 祖父母、70 兄弟姐妹、80 其他亲属、99 非亲属；代码或名称均可"
RELATION_HELP_EN = "Relation to the head (GB/T 4761): 02 head, 10 spouse, 20 son, 30 daughter, 40 grandchild, 50 parent, 60 grandparent, 70 sibling, 80 other relative, 99 non-relative; code or name"


def build() -> typer.Typer:
    app = typer.Typer(no_args_is_help=True)
    json_help = L("以 JSON 输出", "Output JSON")
    at_help = L("实际发生时间（补录纸质记录）YYYY-MM-DD HH:MM", "When it happened (entering paper records) YYYY-MM-DD HH:MM")
    reveal_help = L("显示完整身份证号、电话、出生日期（需有权限，记入审计）", "Show full ID numbers, phones, birth dates (if permitted; audited)")
    ref_help = L("居民编号，或 18 位公民身份号码", "Resident number, or the 18-character ID number")
    force_help = L("确认不是重复登记（同一网格已有同名同生日的居民时）", "Not a duplicate (when the grid has someone with this name and birth date)")
    relation_help = L(RELATION_HELP_ZH, RELATION_HELP_EN)

    @app.command("add", help=L("登记居民；出生日期和性别由身份证号得出", "Register a resident; birth date and sex come from the ID number"))
    def add(
        household: Annotated[str | None, typer.Option("--household", help=L("户编号", "Household code"))] = None,
        name: Annotated[str | None, typer.Option("--name", help=L("姓名", "Name"))] = None,
        id_number: Annotated[str | None, typer.Option("--id-number", help=L("公民身份号码（18 位）", "ID number (18 characters)"))] = None,
        phone: Annotated[str | None, typer.Option("--phone", help=L("联系电话（手机或带区号座机）", "Phone (mobile, or landline with area code)"))] = None,
        relation: Annotated[str | None, typer.Option("--relation", help=relation_help)] = None,
        ethnicity: Annotated[str | None, typer.Option("--ethnicity", help=L("民族（如 汉族、回族）", "Ethnicity (e.g. Han, Hui)"))] = None,
        birth_date: Annotated[str | None, typer.Option("--birth-date", help=L("出生日期 YYYY-MM-DD（无身份证号时）", "Birth date YYYY-MM-DD (without an ID number)"))] = None,
        sex: Annotated[str | None, typer.Option("--sex", help=L("性别 男/女（无身份证号时）", "Sex M/F (without an ID number)"))] = None,
        care: Annotated[list[str] | None, typer.Option("--care", help=L("关爱标签（可重复，见 grid care list）", "Care tag (repeatable; see grid care list)"))] = None,
        note: Annotated[str | None, typer.Option("--note", help=L("备注", "Note"))] = None,
        force: Annotated[bool, typer.Option("--force", help=force_help)] = False,
        at: Annotated[str | None, typer.Option("--at", help=at_help)] = None,
        json_: Annotated[bool, typer.Option("--json", help=json_help)] = False,
    ) -> None:
        from baiyin_cli.cli._prompt import ask
        from baiyin_cli.models.registry import RELATIONS
        from baiyin_cli.services import registry, validate

        when = ctx.at_option(at)
        household = ask(household, flag="--household", label=L("户编号", "Household code"))
        name = ask(name, flag="--name", label=L("姓名", "Name"),
                   validate=lambda v: validate.text(v, registry.field_label("name"), max_len=50))
        relation = ask(relation, flag="--relation", label=L("与户主关系", "Relation to the head"),
                       choices=[(c, L(zh, en)) for c, (zh, en) in RELATIONS.items()])
        values = dict(household=household, name=name, id_number=id_number, phone=phone, relation=relation,
                      ethnicity=ethnicity, birth_date=birth_date, sex=sex, care=care or [], note=note)
        with ctx.session(write=True) as (s, op):
            r = registry.add_resident(s, op, values, force=force, at=when)
        if json_:
            out.print_json(r)
        else:
            out.info(L(f"已登记居民 #{r['id']} {r['name']}（户 {r['household']}，{registry.relation_label(r['relation'])}）",
                       f"Registered resident #{r['id']} {r['name']} (household {r['household']}, {registry.relation_label(r['relation'])})"))

    @app.command("list", help=L("列出居民（默认为操作员管辖范围）", "List residents (the operator's area by default)"))
    def list_(
        household: Annotated[str | None, typer.Option("--household", help=L("只列此户", "Only this household"))] = None,
        grid: Annotated[str | None, typer.Option("--grid", help=L("只列此网格", "Only this grid"))] = None,
        community: Annotated[str | None, typer.Option("--community", help=L("只列此社区", "Only this community"))] = None,
        care: Annotated[str | None, typer.Option("--care", help=L("有此关爱标签（本人或本户）", "With this care tag (own or the household's)"))] = None,
        archived: Annotated[bool, typer.Option("--archived", help=L("包括已注销的居民", "Include archived residents"))] = False,
        reveal: Annotated[bool, typer.Option("--reveal", help=reveal_help)] = False,
        limit: Annotated[int, typer.Option("--limit", min=1, help=L("最多显示条数", "At most this many rows"))] = DEFAULT_LIMIT,
        json_: Annotated[bool, typer.Option("--json", help=json_help)] = False,
    ) -> None:
        from baiyin_cli.services import registry

        with ctx.session(write=reveal) as (s, op):
            rows = registry.list_residents(s, op, household=household, grid=grid, community=community, care=care,
                                           archived=archived, reveal=reveal, limit=limit + 1)
        rows = truncated(rows, limit)
        if json_:
            out.print_json(rows)
            return
        resident_table(rows, show_status=archived)

    @app.command("search", help=L("查找居民：姓名、拼音（zhangsan）、首字母（zs）、电话或身份证号后 4 位、地址",
                                  "Find residents: name, pinyin (zhangsan), initials (zs), last 4 digits of a phone or ID number, address"))
    def search(
        query: Annotated[str, typer.Argument(help=L("查询内容", "What to look for"))],
        grid: Annotated[str | None, typer.Option("--grid", help=L("只在此网格内查找", "Only in this grid"))] = None,
        reveal: Annotated[bool, typer.Option("--reveal", help=reveal_help)] = False,
        limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help=L("最多显示条数", "At most this many rows"))] = 50,
        json_: Annotated[bool, typer.Option("--json", help=json_help)] = False,
    ) -> None:
        from baiyin_cli.services import registry_search

        with ctx.session(write=reveal) as (s, op):
            rows = registry_search.search_residents(s, op, query, grid=grid, limit=limit, reveal=reveal)
        if json_:
            out.print_json(rows)
            return
        resident_table(rows, show_matched=True)

    @app.command("show", help=L("查看居民", "Show a resident"))
    def show(
        ref: Annotated[str, typer.Argument(help=ref_help)],
        reveal: Annotated[bool, typer.Option("--reveal", help=reveal_help)] = False,
        json_: Annotated[bool, typer.Option("--json", help=json_help)] = False,
    ) -> None:
        from baiyin_cli.services import registry

        with ctx.session(write=reveal) as (s, op):
            r = registry.show_resident(s, op, ref, reveal=reveal)
        if json_:
            out.print_json(r)
            return
        pairs = [
            (L("编号", "No."), r["id"]),
            (L("姓名", "Name"), r["name"]),
            (L("拼音", "Pinyin"), r["name_pinyin"] or ""),
            (L("性别", "Sex"), registry.sex_label(r["sex"])),
            (L("年龄", "Age"), r["age"] if r["age"] is not None else ""),
        ]
        if r["birth_date"]:
            pairs.append((L("出生日期", "Birth date"), r["birth_date"]))
        pairs += [
            (L("公民身份号码", "ID number"), r["id_number"] or ""),
            (L("电话", "Phone"), r["phone"] or ""),
            (L("民族", "Ethnicity"), registry.ethnicity_label(r["ethnicity"])),
            (L("户编号", "Household"), r["household"]),
            (L("与户主关系", "Relation"), registry.relation_label(r["relation"])),
            (L("地址", "Address"), r["address"]),
            (L("关爱标签", "Care tags"), care_text(r["care"])),
            (L("本户关爱标签", "Household care tags"), care_text(r["household_care"])),
            (L("备注", "Note"), r["note"] or ""),
            (L("状态", "Status"), status_text(r) + (f"（{r['archive_reason']}）" if r["archived"] else "")),
        ]
        out.kv(pairs, title=f"#{r['id']} {r['name']}")

    @app.command("edit", help=L("更正居民信息（空字符串清除可选项；变更户主用 household set-head）",
                                "Correct a resident (an empty string clears an optional field; change the head with household set-head)"))
    def edit(
        ref: Annotated[str, typer.Argument(help=ref_help)],
        name: Annotated[str | None, typer.Option("--name", help=L("姓名", "Name"))] = None,
        id_number: Annotated[str | None, typer.Option("--id-number", help=L("公民身份号码", "ID number"))] = None,
        phone: Annotated[str | None, typer.Option("--phone", help=L("联系电话", "Phone"))] = None,
        relation: Annotated[str | None, typer.Option("--relation", help=relation_help)] = None,
        ethnicity: Annotated[str | None, typer.Option("--ethnicity", help=L("民族", "Ethnicity"))] = None,
        birth_date: Annotated[str | None, typer.Option("--birth-date", help=L("出生日期（无身份证号时）", "Birth date (without an ID number)"))] = None,
        sex: Annotated[str | None, typer.Option("--sex", help=L("性别（无身份证号时）", "Sex (without an ID number)"))] = None,
        note: Annotated[str | None, typer.Option("--note", help=L("备注", "Note"))] = None,
        add_care: Annotated[list[str] | None, typer.Option("--add-care", help=L("添加关爱标签", "Add a care tag"))] = None,
        remove_care: Annotated[list[str] | None, typer.Option("--remove-care", help=L("去掉关爱标签", "Remove a care tag"))] = None,
        force: Annotated[bool, typer.Option("--force", help=force_help)] = False,
        at: Annotated[str | None, typer.Option("--at", help=at_help)] = None,
        json_: Annotated[bool, typer.Option("--json", help=json_help)] = False,
    ) -> None:
        from baiyin_cli.services import registry

        when = ctx.at_option(at)
        changes = dict(name=name, id_number=id_number, phone=phone, relation=relation, ethnicity=ethnicity,
                       birth_date=birth_date, sex=sex, note=note)
        with ctx.session(write=True) as (s, op):
            r = registry.edit_resident(s, op, ref, changes, add_care=add_care or [], remove_care=remove_care or [],
                                       force=force, at=when)
        if json_:
            out.print_json(r)
        else:
            out.info(L(f"已更正居民 #{r['id']} {r['name']}", f"Corrected resident #{r['id']} {r['name']}"))

    @app.command("move", help=L("把居民迁到另一户", "Move a resident to another household"))
    def move(
        ref: Annotated[str, typer.Argument(help=ref_help)],
        household: Annotated[str, typer.Option("--household", help=L("迁入的户编号", "The household moved into"))],
        relation: Annotated[str, typer.Option("--relation", help=relation_help)],
        at: Annotated[str | None, typer.Option("--at", help=at_help)] = None,
        json_: Annotated[bool, typer.Option("--json", help=json_help)] = False,
    ) -> None:
        from baiyin_cli.services import registry

        when = ctx.at_option(at)
        with ctx.session(write=True) as (s, op):
            r = registry.move_resident(s, op, ref, household, relation, at=when)
        if json_:
            out.print_json(r)
        else:
            out.info(L(f"居民 #{r['id']} {r['name']} 已从户 {r['from_household']} 迁入户 {r['household']}",
                       f"Resident #{r['id']} {r['name']} moved from household {r['from_household']} to {r['household']}"))

    @app.command("archive", help=L("注销居民（迁出、死亡等；记录保留）", "Archive a resident (moved away, deceased...; the record is kept)"))
    def archive(
        ref: Annotated[str, typer.Argument(help=ref_help)],
        reason: Annotated[str, typer.Option("--reason", help=L("原因", "Reason"))],
        at: Annotated[str | None, typer.Option("--at", help=at_help)] = None,
        json_: Annotated[bool, typer.Option("--json", help=json_help)] = False,
    ) -> None:
        from baiyin_cli.services import registry

        when = ctx.at_option(at)
        with ctx.session(write=True) as (s, op):
            r = registry.archive_resident(s, op, ref, reason, at=when)
        if json_:
            out.print_json(r)
        else:
            out.info(L(f"已注销居民 #{r['id']} {r['name']}", f"Archived resident #{r['id']} {r['name']}"))

    return app


def register(app: typer.Typer) -> None:
    app.add_typer(build(), name="resident", help=L("居民：登记、查找、更正、迁移、注销", "Residents: register, find, correct, move, archive"))
