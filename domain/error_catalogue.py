"""Every user error code of every family, gathered: the SDL's ``UserErrorCode`` and docs/api.md are built from it.

A family declares its codes beside its code (a :class:`domain.codes.UserErrorCode` subclass) and is listed once
in :data:`FAMILIES`. A code string means one thing: two families declaring the same string is refused when this
module is imported, so a family that needs a shared code uses the family that owns it (``WriteCode.REQUIRED``).
"""

from __future__ import annotations

from domain.beneficiaries.codes import BeneficiaryCode
from domain.claims.codes import ClaimCode
from domain.codes import UserErrorCode
from domain.identity.codes import IdentityCode
from domain.imports.codes import ImportCode
from domain.jobs.codes import JobCode
from domain.participants.codes import ContributionCode, ParticipantCode
from domain.regions.codes import RegionErrorCode
from domain.writes.codes import WriteCode

#: The families, in the order docs/api.md lists them.
FAMILIES: tuple[type[UserErrorCode], ...] = (
    WriteCode,
    RegionErrorCode,
    ParticipantCode,
    ContributionCode,
    ClaimCode,
    BeneficiaryCode,
    ImportCode,
    IdentityCode,
    JobCode,
)


class UnknownCode(ValueError):
    """A string that is no code of the catalogue (from storage, a file, another process)."""

    def __init__(self, value: str) -> None:
        super().__init__(f"{value[:60]!r} is not a user error code of the catalogue (domain/error_catalogue.py)")


def gather(families: tuple[type[UserErrorCode], ...]) -> dict[str, UserErrorCode]:
    """Every code of `families` by its string; refuses a member not named as its string, one without a
    description, and a string declared twice."""
    codes: dict[str, UserErrorCode] = {}
    for family in families:
        for member in family:
            if member.value != member.name:
                raise ValueError(f"{family.__name__}.{member.name} is {member.value!r}; a code is its own name")
            if not member.description.strip():
                raise ValueError(f"{family.__name__}.{member.name} has no description")
            earlier = codes.get(member.value)
            if earlier is not None:
                raise ValueError(
                    f"{member.value} is declared by {type(earlier).__name__} and {family.__name__}; "
                    f"use {type(earlier).__name__}.{member.name} in both places"
                )
            codes[member.value] = member
    return codes


_CODES = gather(FAMILIES)


def user_error_codes() -> list[UserErrorCode]:
    """Every user error code, sorted by its string (the order of the SDL enum)."""
    return sorted(_CODES.values(), key=lambda c: c.value)


def user_error_code(value: str) -> UserErrorCode:
    """The catalogue's member for a code string read back from outside; :class:`UnknownCode` for anything else."""
    try:
        return _CODES[value]
    except (KeyError, TypeError):
        raise UnknownCode(str(value)) from None
