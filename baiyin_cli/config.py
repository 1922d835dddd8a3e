"""Configuration: packaged defaults < user file < GRID_* environment < command-line flags.

Who reads what:
  defaults   baiyin_cli/data/default.toml (shipped, never written)
  user file  $GRID_CONFIG, else <platformdirs user config dir>/config.toml (`grid config set` writes it)
  env        GRID_LANG, GRID_DATABASE_URL, GRID_USER, GRID_TZ
Read with tomllib, written with tomli-w. Every key and type is declared by the defaults;
entries may be added only to the open tables (categories, care_tags), shaped like their siblings.
"""

from __future__ import annotations

import copy
import os
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any

from baiyin_cli.errors import InvalidInput
from baiyin_cli.i18n import M

APP_NAME = "grid"
OPEN_TABLES = ("categories", "care_tags")

UNKNOWN_KEY = M("config.unknown_key", "未知的配置项：{key}", "Unknown config key: {key}")
BAD_TYPE = M(
    "config.bad_type",
    "配置项 {key} 应为{expected}，而不是 {value!r}",
    "Config key {key} must be {expected}, not {value!r}",
)
BAD_FILE = M(
    "config.bad_file", "配置文件 {path} 无法读取：{error}", "Cannot read config file {path}: {error}"
)
BAD_FILE_KEY = M(
    "config.bad_file_key",
    "配置文件 {path} 中的 {key} 无效：{error}",
    "Config file {path}: invalid {key}: {error}",
)
NOT_A_LEAF = M(
    "config.not_leaf", "配置项 {key} 是一个表，请指定其中的键", "Config key {key} is a table; name a key inside it"
)

_TYPE_NAMES = {
    bool: ("布尔值 (true/false)", "a boolean (true/false)"),
    int: ("整数", "an integer"),
    float: ("数字", "a number"),
    str: ("文本", "text"),
    list: ("列表", "a list"),
}


def defaults_path() -> Path:
    return Path(__file__).parent / "data" / "default.toml"


def user_config_path() -> Path:
    env = os.environ.get("GRID_CONFIG")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)) / "config.toml"


def data_dir() -> Path:
    env = os.environ.get("GRID_DATA_DIR")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def state_dir() -> Path:
    env = os.environ.get("GRID_STATE_DIR")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_state_dir(APP_NAME, appauthor=False))


@lru_cache(maxsize=1)
def load_defaults() -> dict[str, Any]:
    with defaults_path().open("rb") as fh:
        return tomllib.load(fh)


def read_user_file(path: Path | None = None) -> dict[str, Any]:
    path = path or user_config_path()
    if not path.exists():
        return {}
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InvalidInput(BAD_FILE, path=str(path), error=str(exc)) from None


def _schema_for(key_parts: list[str]) -> Any:
    """The default value that declares the type of a dotted key, or raise UNKNOWN_KEY."""
    node: Any = load_defaults()
    for i, part in enumerate(key_parts):
        if isinstance(node, dict) and part in node:
            node = node[part]
            continue
        # A new entry in an open table takes the shape of any sibling entry.
        if i == 1 and key_parts[0] in OPEN_TABLES and isinstance(node, dict) and node:
            node = next(iter(node.values()))
            continue
        raise InvalidInput(UNKNOWN_KEY, key=".".join(key_parts))
    return node


BAD_RANGE = M(
    "config.bad_range",
    "配置项 {key} 应在 {low} 到 {high} 之间，而不是 {value!r}",
    "Config key {key} must be between {low} and {high}, not {value!r}",
)
BAD_MIN = M(
    "config.bad_min",
    "配置项 {key} 应为不小于 {low} 的整数，而不是 {value!r}",
    "Config key {key} must be a whole number of at least {low}, not {value!r}",
)


def _check_range(key: str, value: Any) -> None:
    """Every number in the config is a count of minutes, hours, days or tries (at least 1), or a
    ratio (`*_ratio`, `*_threshold`: 0 to 1). Zero minutes of idle lock or zero days to resolve
    would silently break the feature that reads them."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return
    last = key.rsplit(".", 1)[-1]
    if last.endswith(("_ratio", "_threshold")):
        if not 0 <= value <= 1:
            raise InvalidInput(BAD_RANGE, key=key, low=0, high=1, value=value)
    elif value < 1:
        raise InvalidInput(BAD_MIN, key=key, low=1, value=value)


BAD_CHOICE = M(
    "config.bad_choice",
    "配置项 {key} 应为 {choices} 之一，而不是 {value!r}",
    "Config key {key} must be one of {choices}, not {value!r}",
)
BAD_ZONE = M(
    "config.bad_zone",
    "未知的时区：{value!r}（应为 IANA 时区名，如 Asia/Shanghai）",
    "Unknown time zone: {value!r} (an IANA name such as Asia/Shanghai)",
)
BAD_DAY = M(
    "config.bad_day",
    "配置项 {key} 中的 {value!r} 不是日期（应为 YYYY-MM-DD）",
    "Config key {key}: {value!r} is not a date (YYYY-MM-DD)",
)
LANGUAGES = ("zh", "en")
DAY_LISTS = ("calendar.extra_holidays", "calendar.extra_workdays")


def check_zone(name: str) -> str:
    """An IANA time zone name, or InvalidInput (from config or GRID_TZ)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise InvalidInput(BAD_ZONE, value=name) from None
    return name


def _check_value(key: str, value: Any) -> None:
    """Keys whose text must be one of a few things: caught when set, not when first read."""
    if key == "language" and value not in LANGUAGES:
        raise InvalidInput(BAD_CHOICE, key=key, choices="|".join(LANGUAGES), value=value)
    if key == "timezone":
        check_zone(value)
    if key in DAY_LISTS:
        from datetime import date

        for v in value:
            try:
                date.fromisoformat(str(v).strip())
            except ValueError:
                raise InvalidInput(BAD_DAY, key=key, value=v) from None


def _check_type(key: str, template: Any, value: Any) -> Any:
    expected = type(template)
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        _check_range(key, value)
        return float(value)
    if expected is int and isinstance(value, bool):
        ok = False
    else:
        ok = isinstance(value, expected)
    if not ok:
        from baiyin_cli.i18n import get_lang

        names = _TYPE_NAMES.get(expected, (expected.__name__, expected.__name__))
        raise InvalidInput(
            BAD_TYPE, key=key, expected=names[1] if get_lang() == "en" else names[0], value=value
        )
    _check_range(key, value)
    _check_value(key, value)
    return value


def _validate_tree(tree: dict[str, Any], prefix: list[str], path: Path) -> None:
    for k, v in tree.items():
        parts = [*prefix, k]
        try:
            template = _schema_for(parts)
            if isinstance(template, dict):
                if not isinstance(v, dict):
                    raise InvalidInput(NOT_A_LEAF, key=".".join(parts))
                _validate_tree(v, parts, path)
            else:
                _check_type(".".join(parts), template, v)
        except InvalidInput as exc:
            raise InvalidInput(BAD_FILE_KEY, path=str(path), key=".".join(parts), error=exc.text()) from None


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


class Config:
    """The effective configuration. Access with `cfg.get("petition.contact_minutes")` or `cfg.data`."""

    def __init__(self, data: dict[str, Any], user_path: Path, stamp: float | None = None) -> None:
        self.data = data
        self.user_path = user_path
        self.stamp = stamp

    def get(self, key: str, default: Any = None) -> Any:
        node: Any = self.data
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node

    def __getitem__(self, key: str) -> Any:
        value = self.get(key, _MISSING)
        if value is _MISSING:
            raise InvalidInput(UNKNOWN_KEY, key=key)
        return value

    # Convenience views used across services.
    @property
    def timezone(self) -> str:
        return os.environ.get("GRID_TZ") or self.data.get("timezone") or "Asia/Shanghai"

    def label(self, table: str, code: str, lang: str | None = None) -> str:
        from baiyin_cli.i18n import get_lang

        entry = self.data.get(table, {}).get(code)
        if not isinstance(entry, dict):
            return code
        return entry.get("en" if (lang or get_lang()) == "en" else "zh", code)


_MISSING = object()
_cached: Config | None = None


def load(reload: bool = False) -> Config:
    global _cached
    path = user_config_path()
    try:
        stamp: float | None = path.stat().st_mtime_ns
    except OSError:
        stamp = None
    if _cached is not None and not reload and _cached.user_path == path and _cached.stamp == stamp:
        return _cached
    user = read_user_file(path)
    _validate_tree(user, [], path)
    data = _merge(load_defaults(), user)
    _cached = Config(data, path, stamp)
    return _cached


def parse_value(key: str, raw: str) -> Any:
    """Parse a command-line string into the type the key is declared with."""
    template = _schema_for(key.split("."))
    if isinstance(template, dict):
        raise InvalidInput(NOT_A_LEAF, key=key)
    value: Any = raw
    if isinstance(template, bool):
        low = raw.strip().lower()
        if low in ("true", "yes", "1", "on", "是"):
            value = True
        elif low in ("false", "no", "0", "off", "否"):
            value = False
    elif isinstance(template, int):
        try:
            value = int(raw)
        except ValueError:
            pass
    elif isinstance(template, float):
        try:
            value = float(raw)
        except ValueError:
            pass
    elif isinstance(template, list):
        try:
            parsed = tomllib.loads(f"v = {raw}")["v"]
            value = parsed if isinstance(parsed, list) else raw
        except tomllib.TOMLDecodeError:
            value = [p.strip() for p in raw.split(",") if p.strip()]
    return _check_type(key, template, value)


def set_value(key: str, raw: str) -> tuple[Path, Any]:
    """Validate and write KEY = VALUE into the user config file only."""
    import tomli_w

    value = parse_value(key, raw)
    path = user_config_path()
    user = read_user_file(path)
    node = user
    parts = key.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".toml.tmp")
    with tmp.open("wb") as fh:
        tomli_w.dump(user, fh)
    tmp.replace(path)
    load(reload=True)
    return path, value
