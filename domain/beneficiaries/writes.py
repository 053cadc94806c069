"""Corrections of poverty-beneficiary records, audited in the caller's transaction.

A beneficiary record is a registry's (P3KE, DTKS, DTSEN) row as of a snapshot. Its NIK, source and snapshot
date identify it and are not corrected here (a wrong NIK is corrected at the source and comes back with the
next snapshot); the person's details, the decile and the extreme-poor flag can be, with a reason.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from domain.audit import writes as audit
from domain.beneficiaries.codes import BeneficiaryCode
from domain.beneficiaries.models import MIN_DECILE, SOURCE_MAX_DECILE, PovertyBeneficiary
from domain.nik import InvalidNIK, Sex, check_consistency, parse_nik
from domain.text import clean_text
from domain.writes.caller import Caller
from domain.writes.codes import WriteCode
from domain.writes.corrections import check_version, save_correction
from domain.writes.errors import Invalid, Problem
from domain.writes.placement import visible_placement
from domain.writes.reasons import check_reason
from domain.writes.visible import load_visible

_KK_RE = re.compile(r"^\d{16}$", re.ASCII)
AUDITED = ("full_name", "family_card_number", "birth_date", "sex", "decile", "extreme_poor", "region_code")


@dataclass
class BeneficiaryChanges:
    """A correction: only the fields that are not None change (``family_card_number=""`` clears it)."""

    full_name: str | None = None
    family_card_number: str | None = None
    birth_date: dt.date | None = None
    sex: Sex | None = None
    decile: int | None = None
    extreme_poor: bool | None = None
    region_code: str | None = None


def snapshot(b: PovertyBeneficiary) -> dict[str, Any]:
    return {name: getattr(b, name) for name in AUDITED}


def _family_card(raw: str) -> tuple[str | None, list[Problem]]:
    value = raw.strip()
    if not value:
        return None, []
    if not _KK_RE.match(value):
        return value, [
            Problem(
                "familyCardNumber",
                BeneficiaryCode.INVALID_KK,
                f"a family-card number has 16 digits; this one has {len(value)}",
            )
        ]
    return value, []


def _decile_problems(decile: int, b: PovertyBeneficiary) -> list[Problem]:
    highest = SOURCE_MAX_DECILE[b.source]
    if not MIN_DECILE <= decile <= highest:
        return [
            Problem(
                "decile",
                WriteCode.OUT_OF_RANGE,
                f"{b.source.value} publishes deciles 1 to {highest}; {decile} is not one",
            )
        ]
    return []


def _nik_agreement(b: PovertyBeneficiary, sex: Sex, birth: dt.date) -> list[Problem]:
    """The birth date and sex must agree with what the NIK encodes (the NIK itself is not corrected here)."""
    try:
        nik = parse_nik(b.nik)
    except InvalidNIK:
        return []  # a registry row with a malformed NIK: nothing to check against
    return [
        *(Problem("sex", BeneficiaryCode.DISAGREES_WITH_NIK, p) for p in check_consistency(nik, sex=sex)),
        *(
            Problem("birthDate", BeneficiaryCode.DISAGREES_WITH_NIK, p)
            for p in check_consistency(nik, birth_date=birth)
        ),
    ]


async def update_beneficiary(
    session: AsyncSession,
    caller: Caller,
    beneficiary_id: int,
    changes: BeneficiaryChanges,
    *,
    expected_version: int,
    reason: str,
    reason_code: str | None,
) -> PovertyBeneficiary:
    b = await load_visible(session, caller, PovertyBeneficiary, beneficiary_id, "beneficiary")
    check_version("beneficiary", beneficiary_id, expected_version, b.version)
    reason_text, code, problems = check_reason(reason, reason_code)
    before = snapshot(b)
    # Every value is checked before any is set: setting one and then querying would flush it half-checked.
    new: dict[str, Any] = {}
    if changes.full_name is not None:
        new["full_name"], name_problems = clean_text(changes.full_name, "fullName", max_length=200)
        problems += name_problems
    if changes.family_card_number is not None:
        new["family_card_number"], kk_problems = _family_card(changes.family_card_number)
        problems += kk_problems
    if changes.decile is not None:
        problems += _decile_problems(changes.decile, b)
        new["decile"] = changes.decile
    if changes.extreme_poor is not None:
        new["extreme_poor"] = changes.extreme_poor
    if changes.sex is not None or changes.birth_date is not None:
        new["sex"], new["birth_date"] = changes.sex or b.sex, changes.birth_date or b.birth_date
        problems += _nik_agreement(b, new["sex"], new["birth_date"])
    if changes.region_code is not None:
        placed, region_problems = await visible_placement(session, caller, changes.region_code, "regionCode")
        problems += region_problems
        new.update(placed)
    if problems:
        raise Invalid(problems)
    for column, value in new.items():
        setattr(b, column, value)
    await save_correction(
        session,
        caller,
        entity="beneficiary",
        key=beneficiary_id,
        entity_type="PovertyBeneficiary",
        entity_id=beneficiary_id,
        changed=audit.diff(before, snapshot(b)),
        reason=reason_text,
        reason_code=code.value if code else None,
    )
    return b
