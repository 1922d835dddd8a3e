"""The population base (人口底数): households, residents and their care tags."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, Date, ForeignKey, Index, Integer, LargeBinary, PrimaryKeyConstraint, String, Text, text
from sqlmodel import Field, SQLModel

from baiyin_cli.models.types import UTCDateTime

# GB/T 4761-2008 family relation codes (与户主关系), the ones registries use.
RELATIONS: dict[str, tuple[str, str]] = {
    "02": ("户主", "head"),
    "10": ("配偶", "spouse"),
    "20": ("子", "son"),
    "30": ("女", "daughter"),
    "40": ("孙子女", "grandchild"),
    "50": ("父母", "parent"),
    "60": ("祖父母", "grandparent"),
    "70": ("兄弟姐妹", "sibling"),
    "80": ("其他亲属", "other relative"),
    "99": ("非亲属", "non-relative"),
}
HEAD_RELATION = "02"

# GB/T 3304-1991 codes of China's nationalities (民族), as registries record them.
ETHNICITIES: dict[str, tuple[str, str]] = {
    "01": ("汉族", "Han"), "02": ("蒙古族", "Mongol"), "03": ("回族", "Hui"), "04": ("藏族", "Tibetan"),
    "05": ("维吾尔族", "Uyghur"), "06": ("苗族", "Miao"), "07": ("彝族", "Yi"), "08": ("壮族", "Zhuang"),
    "09": ("布依族", "Buyei"), "10": ("朝鲜族", "Korean"), "11": ("满族", "Manchu"), "12": ("侗族", "Dong"),
    "13": ("瑶族", "Yao"), "14": ("白族", "Bai"), "15": ("土家族", "Tujia"), "16": ("哈尼族", "Hani"),
    "17": ("哈萨克族", "Kazakh"), "18": ("傣族", "Dai"), "19": ("黎族", "Li"), "20": ("傈僳族", "Lisu"),
    "21": ("佤族", "Va"), "22": ("畲族", "She"), "23": ("高山族", "Gaoshan"), "24": ("拉祜族", "Lahu"),
    "25": ("水族", "Sui"), "26": ("东乡族", "Dongxiang"), "27": ("纳西族", "Nakhi"), "28": ("景颇族", "Jingpo"),
    "29": ("柯尔克孜族", "Kyrgyz"), "30": ("土族", "Monguor"), "31": ("达斡尔族", "Daur"), "32": ("仫佬族", "Mulao"),
    "33": ("羌族", "Qiang"), "34": ("布朗族", "Blang"), "35": ("撒拉族", "Salar"), "36": ("毛南族", "Maonan"),
    "37": ("仡佬族", "Gelao"), "38": ("锡伯族", "Xibe"), "39": ("阿昌族", "Achang"), "40": ("普米族", "Pumi"),
    "41": ("塔吉克族", "Tajik"), "42": ("怒族", "Nu"), "43": ("乌孜别克族", "Uzbek"), "44": ("俄罗斯族", "Russian"),
    "45": ("鄂温克族", "Evenki"), "46": ("德昂族", "De'ang"), "47": ("保安族", "Bonan"), "48": ("裕固族", "Yugur"),
    "49": ("京族", "Gin"), "50": ("塔塔尔族", "Tatar"), "51": ("独龙族", "Derung"), "52": ("鄂伦春族", "Oroqen"),
    "53": ("赫哲族", "Hezhen"), "54": ("门巴族", "Monpa"), "55": ("珞巴族", "Lhoba"), "56": ("基诺族", "Jino"),
    "97": ("其他未识别民族", "Unrecognised"), "98": ("外国血统中国籍人士", "Naturalised citizen"),
}

# Longest address search key (characters). A query longer than this is looked up by its first
# ADDRESS_KEY_LEN characters and then checked against the whole normalised address.
ADDRESS_KEY_LEN = 10


def _search_str(length: int) -> String:
    """A string searched by prefix ranges (`col >= q AND col < q'`): byte order on PostgreSQL too.

    Under a linguistic collation (en_US.UTF-8, zh_CN.UTF-8) range bounds built from code points
    do not bracket a prefix, and PostgreSQL will not use the index for them; "C" orders by code
    point, as SQLite's BINARY does.
    """
    return String(length).with_variant(String(length, collation="C"), "postgresql")  # type: ignore[return-value]


class Household(SQLModel, table=True):
    __tablename__ = "household"
    __table_args__ = (
        # Scope and listing by grid; duplicate check on (grid, normalised address).
        Index("ix_household_grid_address", "grid_code", "address_norm"),
    )

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(sa_column=Column(String(32), nullable=False, unique=True))
    grid_code: str = Field(sa_column=Column(String(15), ForeignKey("area.code"), nullable=False))
    address: str = Field(sa_column=Column(String(200), nullable=False))
    address_norm: str = Field(sa_column=Column(String(200), nullable=False))
    building: str | None = Field(default=None, sa_column=Column(String(20), nullable=True))
    unit: str | None = Field(default=None, sa_column=Column(String(20), nullable=True))
    room: str | None = Field(default=None, sa_column=Column(String(20), nullable=True))
    type: str = Field(default="urban", sa_column=Column(String(8), nullable=False))
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    archived_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    archive_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    version: int = Field(default=1, sa_column=Column(Integer, nullable=False, server_default="1"))


class HouseholdCare(SQLModel, table=True):
    __tablename__ = "household_care"
    __table_args__ = (Index("ix_household_care_tag", "tag", "household_id"),)

    household_id: int = Field(
        sa_column=Column(Integer, ForeignKey("household.id", ondelete="CASCADE"), primary_key=True)
    )
    tag: str = Field(sa_column=Column(String(32), primary_key=True))


class HouseholdEvent(SQLModel, table=True):
    """What happened to a household over time: moves between grids, archive, restore."""

    __tablename__ = "household_event"
    __table_args__ = (Index("ix_household_event_household", "household_id", "occurred_at"),)

    id: int | None = Field(default=None, primary_key=True)
    household_id: int = Field(sa_column=Column(Integer, ForeignKey("household.id"), nullable=False))
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    from_grid: str | None = Field(default=None, sa_column=Column(String(15), nullable=True))
    to_grid: str | None = Field(default=None, sa_column=Column(String(15), nullable=True))
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    actor: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    occurred_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    recorded_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class Resident(SQLModel, table=True):
    __tablename__ = "resident"
    __table_args__ = (
        Index("ix_resident_household", "household_id"),
        Index("ix_resident_name", "name"),
        Index("ix_resident_pinyin", "name_pinyin"),
        Index("ix_resident_initials", "name_initials"),
        Index("ix_resident_id_last4", "id_last4"),
        Index("ix_resident_phone_last4", "phone_last4"),
        # One active resident per ID number (by its keyed hash: the number itself is encrypted).
        Index(
            "uq_resident_active_id_hash",
            "id_number_hash",
            unique=True,
            sqlite_where=text("archived_at IS NULL AND id_number_hash IS NOT NULL"),
            postgresql_where=text("archived_at IS NULL AND id_number_hash IS NOT NULL"),
        ),
        # Exactly one active head per household (the "at least one" half is a service rule).
        Index(
            "uq_resident_active_head",
            "household_id",
            unique=True,
            sqlite_where=text("archived_at IS NULL AND relation = '02'"),
            postgresql_where=text("archived_at IS NULL AND relation = '02'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    household_id: int = Field(sa_column=Column(Integer, ForeignKey("household.id"), nullable=False))
    name: str = Field(sa_column=Column(_search_str(50), nullable=False))
    name_pinyin: str = Field(sa_column=Column(_search_str(200), nullable=False))
    name_initials: str = Field(sa_column=Column(_search_str(50), nullable=False))
    # ID number and phone: AES-256-GCM ciphertext and HMAC-SHA256 lookup hash (services/crypto.py);
    # the last four digits in clear for search; birth date and sex derived from the ID number.
    id_number_enc: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    id_number_hash: bytes | None = Field(default=None, sa_column=Column(LargeBinary(32), nullable=True))
    id_last4: str | None = Field(default=None, sa_column=Column(String(4), nullable=True))
    birth_date: date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    sex: str | None = Field(default=None, sa_column=Column(String(1), nullable=True))
    phone_enc: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    phone_hash: bytes | None = Field(default=None, sa_column=Column(LargeBinary(32), nullable=True))
    phone_last4: str | None = Field(default=None, sa_column=Column(String(4), nullable=True))
    relation: str = Field(sa_column=Column(String(2), nullable=False))
    ethnicity: str | None = Field(default=None, sa_column=Column(String(20), nullable=True))
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    archived_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    archive_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    version: int = Field(default=1, sa_column=Column(Integer, nullable=False, server_default="1"))


class HouseholdAddressKey(SQLModel, table=True):
    """Address search index: the normalised address from every token start (each CJK character,
    each start of a run of digits or letters), cut to ADDRESS_KEY_LEN. A substring query that
    begins at a token start is then a B-tree prefix range on `key`, on SQLite and PostgreSQL alike.

    The table is its own one index, (key, household_id) (WITHOUT ROWID on SQLite): searches read
    nothing else, and a household's keys are replaced by deleting the keys of its old address
    (services/registry.py replace_address_keys). Derived data, like a full-text index: no foreign
    key to check for each of a household's 13-odd keys (migration 0005).
    """

    __tablename__ = "household_address_key"
    __table_args__ = (
        PrimaryKeyConstraint("key", "household_id", name="pk_household_address_key"),
        {"sqlite_with_rowid": False},
    )

    household_id: int = Field(sa_column=Column(Integer, nullable=False))
    key: str = Field(sa_column=Column(_search_str(ADDRESS_KEY_LEN), nullable=False))


class ResidentCare(SQLModel, table=True):
    __tablename__ = "resident_care"
    __table_args__ = (Index("ix_resident_care_tag", "tag", "resident_id"),)

    resident_id: int = Field(
        sa_column=Column(Integer, ForeignKey("resident.id", ondelete="CASCADE"), primary_key=True)
    )
    tag: str = Field(sa_column=Column(String(32), primary_key=True))


__all__ = [
    "ADDRESS_KEY_LEN",
    "ETHNICITIES",
    "HEAD_RELATION",
    "RELATIONS",
    "Household",
    "HouseholdAddressKey",
    "HouseholdCare",
    "HouseholdEvent",
    "Resident",
    "ResidentCare",
    "date",
]
