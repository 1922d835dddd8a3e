"""Open311 GeoReport v2 documents: the requests array or the service list, as JSON or XML.

JSON is the array the specification's `requests.json` / `services.json` return; XML the
`<service_requests>` / `<services>` documents of `requests.xml` / `services.xml`. Every field
is present: JSON gives null, XML an empty element, for a value the city does not have.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from xml.etree import ElementTree as ET

from baiyin_cli.errors import InvalidInput
from baiyin_cli.i18n import M

FORMATS = ("json", "xml")
BAD_FORMAT = M("open311.bad_format", "格式无效：{value}（json 或 xml）", "Invalid format: {value} (json or xml)")

ROOTS = {"requests": ("service_requests", "request"), "services": ("services", "service")}


def format_of(value: str | None, path: str | None) -> str:
    if value:
        v = value.strip().lower().lstrip(".")
        if v not in FORMATS:
            raise InvalidInput(BAD_FORMAT, value=value)
        return v
    if path and path != "-" and path.lower().endswith(".xml"):
        return "xml"
    return "json"


def _xml_text(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def render(items: Sequence[dict[str, Any]], *, kind: str, fmt: str, fields: Sequence[str]) -> bytes:
    if fmt == "json":
        rows = [{f: item.get(f) for f in fields} for item in items]
        return (json.dumps(rows, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    root_tag, item_tag = ROOTS[kind]
    root = ET.Element(root_tag)
    for item in items:
        el = ET.SubElement(root, item_tag)
        for f in fields:
            ET.SubElement(el, f).text = _xml_text(item.get(f))
    ET.indent(root)
    return ('<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n").encode("utf-8")
