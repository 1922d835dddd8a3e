"""SQLModel tables. Importing this package registers every table on `SQLModel.metadata`.

Conventions: area codes are the natural keys that link everything to the grid tree
(`grid_code`, `community_code`); since a child's code extends its parent's, "inside
area C" is the range `code >= C AND code < C || ':'` on a B-tree index on both backends.
Workers are referenced by `username`, departments by `code`, petitions by `number`
where a person types them. All datetimes are `UTCDateTime`.
"""

from baiyin_cli.models.audit import AuditEntry
from baiyin_cli.models.auth import AuthSession, DbRole, GridMeta, OperatorCredential
from baiyin_cli.models.org import Area, Department, Worker
from baiyin_cli.models.petition import Petition, PetitionEvent, PetitionReporter, PetitionSequence
from baiyin_cli.models.registry import (
    Household,
    HouseholdAddressKey,
    HouseholdCare,
    HouseholdEvent,
    Resident,
    ResidentCare,
)
from baiyin_cli.models.visit import Visit, VisitDay

__all__ = [
    "Area",
    "AuditEntry",
    "AuthSession",
    "DbRole",
    "Department",
    "GridMeta",
    "Household",
    "HouseholdAddressKey",
    "HouseholdCare",
    "HouseholdEvent",
    "OperatorCredential",
    "Petition",
    "PetitionEvent",
    "PetitionReporter",
    "PetitionSequence",
    "Resident",
    "ResidentCare",
    "Visit",
    "VisitDay",
    "Worker",
]
