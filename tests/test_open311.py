"""grid export open311: the GeoReport v2 requests and service list, checked field by field."""

from __future__ import annotations

import json
import re
from datetime import datetime
from xml.etree import ElementTree as ET

import pytest

from tests import checklist_city as cc
from tests.checklist_city import demo_city, fixed_db, fixed_template  # noqa: F401 - fixtures

# GeoReport v2, GET Service Requests (https://wiki.open311.org/GeoReport_v2#GET_Service_Requests):
# every field of a request and the JSON types it may take.
STR, NUM, NONE = (str,), (int, float), (type(None),)
REQUEST_SPEC = {
    "service_request_id": STR,
    "status": STR,
    "status_notes": STR + NONE,
    "service_name": STR,
    "service_code": STR,
    "description": STR + NONE,
    "agency_responsible": STR + NONE,
    "service_notice": STR + NONE,
    "requested_datetime": STR,
    "updated_datetime": STR + NONE,
    "expected_datetime": STR + NONE,
    "address": STR + NONE,
    "address_id": STR + NONE,
    "zipcode": STR + NONE,
    "lat": NUM + NONE,
    "long": NUM + NONE,
    "media_url": STR + NONE,
}
# GET Service List.
SERVICE_SPEC = {
    "service_code": STR,
    "service_name": STR,
    "description": STR + NONE,
    "metadata": (bool,),
    "type": STR,
    "keywords": STR + NONE,
    "group": STR + NONE,
}
DATETIME_FIELDS = ("requested_datetime", "updated_datetime", "expected_datetime")


@pytest.fixture
def db_url(fixed_db):  # noqa: F811 - every test here starts from the fixed dataset
    return fixed_db


def requests(grid, *args: str, who: str = "admin") -> list[dict]:
    return grid("--as", who, "export", "open311", *args).json()


def check_request(item: dict) -> None:
    assert list(item) == list(REQUEST_SPEC), "fields and their order as the specification lists them"
    for key, types in REQUEST_SPEC.items():
        assert isinstance(item[key], types), (key, item[key])
    assert item["status"] in ("open", "closed")
    for key in DATETIME_FIELDS:
        if item[key] is not None:
            dt = datetime.fromisoformat(item[key])  # W3C / ISO 8601 with an offset
            assert dt.tzinfo is not None and item[key].endswith("+08:00"), (key, item[key])


def test_every_request_follows_the_specification(grid):
    items = requests(grid)
    assert [i["service_request_id"] for i in items] == sorted(p.number for p in cc.PETITIONS)
    for item in items:
        check_request(item)


def test_status_follows_the_workflow_table(grid):
    from baiyin_cli.services import petition_workflow as wf

    items = {i["service_request_id"]: i for i in requests(grid)}
    for p in cc.PETITIONS:
        assert items[p.number]["status"] == wf.STATES[p.status].open311, p.number
    assert items["BY-20260302-0001"]["status"] == "open"  # escalated
    assert items["BY-20260215-0001"]["status"] == "closed"  # resolved, awaiting the rating
    assert items["BY-20260315-0001"]["status_notes"] == "不予受理：不属于社区职责范围"
    assert items["BY-20260312-0002"]["status_notes"] == "重复已合并：并入 BY-20260312-0001"
    assert items["BY-20260203-0001"]["status_notes"] == "已结案：已更换井盖"


def test_fields_carry_the_petition(grid):
    items = {i["service_request_id"]: i for i in requests(grid)}
    manhole = items["BY-20260203-0001"]
    assert manhole["service_code"] == "hazard_manhole" and manhole["service_name"] == "井盖破损"
    assert manhole["requested_datetime"] == "2026-02-03T09:00:00+08:00"
    assert manhole["expected_datetime"] == "2026-02-06T23:59:59+08:00"
    assert manhole["service_notice"] == "3 个工作日内办结"
    assert manhole["address"] == "新华路12号门口" and manhole["address_id"] == cc.G11  # a public place
    assert manhole["agency_responsible"] == "新华社区"
    complaint = items["BY-20260215-0001"]
    assert complaint["address"] == "新华社区 网格12"  # not a home address
    assert items["BY-20260302-0001"]["agency_responsible"] == "住建局"  # escalated there
    assert items["BY-20260305-0001"]["agency_responsible"] == "新华社区"  # sent back to the grid
    assert items["BY-20260315-0001"]["address_id"] == cc.C2  # filed without a grid
    assert all(i["lat"] is None and i["long"] is None and i["media_url"] is None for i in items.values())


def test_updated_is_when_the_case_last_changed(grid):
    """Regression: updated_datetime was the row's write time, so a step entered later from a paper
    record (`--at`), and every petition of the demo, read as updated when it was typed in."""
    number = grid("--as", "sec1", "petition", "file", "--text", "楼道灯不亮", "--category", "hazard_streetlight",
                  "--channel", "qr", "--grid", cc.G11, "--at", "2026-03-20 09:00").stdout.strip()
    grid("--as", "sec1", "petition", "assign", number, "--to", "wg11", "--at", "2026-03-20 09:05")
    grid("--as", "wg11", "petition", "contact", number, "--how", "phone", "--outcome", "已联系", "--at", "2026-03-20 09:20")
    items = {i["service_request_id"]: i for i in requests(grid)}
    assert items[number]["requested_datetime"] == "2026-03-20T09:00:00+08:00"
    assert items[number]["updated_datetime"] == "2026-03-20T09:20:00+08:00"  # not 10:00, when it was entered
    for p in cc.PETITIONS:  # the fixed dataset's rows were written when their last step happened
        assert items[p.number]["updated_datetime"] is not None


def test_no_personal_data_leaves(grid):
    text = grid("--as", "admin", "export", "open311").stdout
    for p in cc.PETITIONS:
        if p.reporter:
            assert p.reporter not in text, p.reporter
        if p.phone:
            assert p.phone not in text, p.phone
    manhole = next(i for i in json.loads(text) if i["service_request_id"] == "BY-20260203-0001")
    assert manhole["description"] == "新华路12号门口井盖破损，联系电话138****5678"
    assert "reporter" not in text and "phone" not in text


def test_period_area_and_scope(grid):
    march = requests(grid, "--from", "2026-03-01", "--to", "2026-03-31")
    assert len(march) == 10 and march[0]["service_request_id"] == "BY-20260301-0001"
    assert {i["service_request_id"] for i in requests(grid, "--area", cc.G12)} == {
        "BY-20260215-0001", "BY-20260305-0001", "BY-20260320-0001"}
    assert all(i["address_id"].startswith(cc.C1) for i in requests(grid, who="sec1"))
    grid("--as", "sec1", "export", "open311", "--area", cc.C2, expect=4)
    grid("export", "open311", expect=4)


def test_xml_document(grid, tmp_path):
    target = tmp_path / "requests.xml"
    grid("--as", "admin", "export", "open311", "-o", str(target))
    root = ET.parse(target).getroot()
    assert root.tag == "service_requests"
    reqs = root.findall("request")
    assert len(reqs) == len(cc.PETITIONS)
    for r in reqs:
        assert [c.tag for c in r] == list(REQUEST_SPEC)
        assert r.findtext("status") in ("open", "closed")
        assert r.findtext("lat") == ""  # present and empty: unknown
    services = ET.fromstring(grid("--as", "admin", "export", "open311", "--services", "--format", "xml").stdout)
    assert services.tag == "services" and services.find("service/metadata").text == "false"


def test_service_list(grid):
    from baiyin_cli import config

    items = grid("--as", "admin", "export", "open311", "--services").json()
    cats = config.load().data["categories"]
    assert [i["service_code"] for i in items] == list(cats)
    for i in items:
        assert list(i) == list(SERVICE_SPEC)
        for key, types in SERVICE_SPEC.items():
            assert isinstance(i[key], types), (key, i[key])
        assert i["metadata"] is False and i["type"] == "realtime"
    manhole = next(i for i in items if i["service_code"] == "hazard_manhole")
    assert manhole["group"] == "隐患" and "井盖破损" in manhole["keywords"] and "hazard" in manhole["keywords"]
    en = grid("--lang", "en", "--as", "admin", "export", "open311", "--services").json()
    assert next(i for i in en if i["service_code"] == "hazard_manhole")["service_name"] == "Broken manhole cover"


def test_exports_are_audited(grid, tmp_path):
    grid("--as", "sec1", "export", "open311", "--from", "2026-03-01", "-o", str(tmp_path / "r.json"))
    (entry,) = grid("--as", "admin", "audit", "list", "--action", "export.open311", "--json").json()
    assert entry["actor"] == "sec1" and entry["detail"]["count"] == 4
    assert entry["detail"]["period"] == {"from": "2026-03-01", "to": None}
    grid("--as", "sec1", "export", "open311", "--format", "csv", expect=1)


def test_the_demo_feed(env_dirs, demo_city, monkeypatch):  # noqa: F811
    """The demo city's feed: every request to the specification, open ones exactly the open
    queue, updated when the case last changed (not when the demo was built), no reporter's
    name or phone, hazards at their place."""
    import sqlite3

    from tests.conftest import invoke

    monkeypatch.setenv("GRID_NOW", cc.DEMO_NOW)
    items = invoke("--demo", "--db", str(demo_city), "export", "open311").json()
    for item in items:
        check_request(item)
    st = invoke("--demo", "--db", str(demo_city), "stats", "overview", "--json").json()
    assert sum(i["status"] == "open" for i in items) == st["queue"]["open"]
    built = cc.DEMO_NOW.replace(" ", "T")
    old = [i for i in items if i["requested_datetime"] < "2026-11-01"]
    assert old and all(not i["updated_datetime"].startswith(built) for i in old)
    assert all(i["updated_datetime"] >= i["requested_datetime"] for i in items)
    text = json.dumps(items, ensure_ascii=False)
    con = sqlite3.connect(demo_city)
    names = [n for (n,) in con.execute("SELECT DISTINCT name FROM petition_reporter WHERE name IS NOT NULL")]
    con.close()
    full = [n for n in names if len(n) >= 3]  # two-character names also spell places (康乐小区)
    assert len(full) > 100 and not [n for n in full if n in text]
    assert not re.search(r"1[3-9]\d{9}", text)  # no mobile number anywhere
    hazards = [i for i in items if i["service_code"].startswith("hazard_")]
    assert sum(i["address"] is not None and "号" in i["address"] for i in hazards) > len(hazards) // 3
