"""Writes of employers: registration and corrections, each audited in the caller's transaction.

An employer is placed in a village like a participant, so a caller bound to a region registers and corrects
only employers there. A correction needs the version the caller read and a reason (code and note).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.audit import writes as audit
from domain.participants.codes import ParticipantCode
from domain.participants.models import Employer
from domain.participants.rules import JKK_RISK_CLASS_MAX, JKK_RISK_CLASS_MIN, JKK_RISK_RATES
from domain.regions.rules import placement
from domain.text import clean_text
from domain.writes.caller import Caller
from domain.writes.codes import WriteCode
from domain.writes.corrections import check_version, save_correction
from domain.writes.errors import Invalid, Problem
from domain.writes.placement import visible_placement, visible_village
from domain.writes.reasons import check_reason
from domain.writes.visible import load_visible

#: NPP-style registration numbers: capital letters and digits, 5-20 characters.
REGISTRATION_RE = re.compile(r"^[A-Z0-9]{5,20}$", re.ASCII)
AUDITED = ("registration_number", "name", "jkk_risk_class", "region_code")


@dataclass
class EmployerData:
    registration_number: str
    name: str
    jkk_risk_class: int
    region_code: str


@dataclass
class EmployerChanges:
    """A correction: only the fields that are not None change."""

    registration_number: str | None = None
    name: str | None = None
    jkk_risk_class: int | None = None
    region_code: str | None = None


def snapshot(employer: Employer) -> dict[str, Any]:
    return {name: getattr(employer, name) for name in AUDITED}


def _risk_problems(value: int) -> list[Problem]:
    if value not in JKK_RISK_RATES:
        return [
            Problem(
                "jkkRiskClass",
                WriteCode.OUT_OF_RANGE,
                f"the JKK risk class is {JKK_RISK_CLASS_MIN} to {JKK_RISK_CLASS_MAX}, not {value}",
            )
        ]
    return []


async def _registration_problems(
    session: AsyncSession, raw: str, own_id: int | None = None
) -> tuple[str, list[Problem]]:
    number = raw.strip().upper()
    if not REGISTRATION_RE.match(number):
        return number, [
            Problem(
                "registrationNumber",
                ParticipantCode.INVALID_REGISTRATION_NUMBER,
                "a registration number (NPP) has 5-20 capital letters and digits, e.g. NPP52710000001",
            )
        ]
    taken = await session.scalar(select(Employer.id).where(Employer.registration_number == number))
    if taken is not None and taken != own_id:
        return number, [
            Problem(
                "registrationNumber", ParticipantCode.DUPLICATE_REGISTRATION_NUMBER, f"{number} is already registered"
            )
        ]
    return number, []


async def register_employer(session: AsyncSession, caller: Caller, data: EmployerData) -> Employer:
    problems: list[Problem] = []
    name, name_problems = clean_text(data.name, "name", max_length=200)
    problems += name_problems
    number, number_problems = await _registration_problems(session, data.registration_number)
    problems += number_problems
    problems += _risk_problems(data.jkk_risk_class)
    region_code, region_problems = await visible_village(session, caller, data.region_code, "regionCode")
    problems += region_problems
    if problems:
        raise Invalid(problems)
    employer = Employer(
        registration_number=number, name=name, jkk_risk_class=data.jkk_risk_class, **placement(region_code)
    )
    session.add(employer)
    await session.flush()
    await audit.record(
        session,
        actor=caller.actor,
        action="employer.register",
        entity_type="Employer",
        entity_id=employer.id,
        changes=audit.diff({}, snapshot(employer)),
        meta=caller.meta,
    )
    return employer


async def load_visible_employer(session: AsyncSession, caller: Caller, employer_id: int) -> Employer:
    return await load_visible(session, caller, Employer, employer_id, "employer")


async def update_employer(
    session: AsyncSession,
    caller: Caller,
    employer_id: int,
    changes: EmployerChanges,
    *,
    expected_version: int,
    reason: str,
    reason_code: str | None,
) -> Employer:
    employer = await load_visible_employer(session, caller, employer_id)
    check_version("employer", employer.registration_number, expected_version, employer.version)
    reason_text, code, problems = check_reason(reason, reason_code)
    before = snapshot(employer)
    # Every value is checked before any is set: setting one and then querying would flush it half-checked.
    new: dict[str, Any] = {}
    if changes.name is not None:
        new["name"], name_problems = clean_text(changes.name, "name", max_length=200)
        problems += name_problems
    if changes.registration_number is not None:
        new["registration_number"], number_problems = await _registration_problems(
            session, changes.registration_number, own_id=employer.id
        )
        problems += number_problems
    if changes.jkk_risk_class is not None:
        problems += _risk_problems(changes.jkk_risk_class)
        new["jkk_risk_class"] = changes.jkk_risk_class
    if changes.region_code is not None:
        placed, region_problems = await visible_placement(session, caller, changes.region_code, "regionCode")
        problems += region_problems
        new.update(placed)
    if problems:
        raise Invalid(problems)
    for column, value in new.items():
        setattr(employer, column, value)
    await save_correction(
        session,
        caller,
        entity="employer",
        key=before["registration_number"],
        entity_type="Employer",
        entity_id=employer.id,
        changed=audit.diff(before, snapshot(employer)),
        reason=reason_text,
        reason_code=code.value if code else None,
    )
    return employer
