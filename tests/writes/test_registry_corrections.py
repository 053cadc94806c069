"""The write functions the console added to the domain: employers, beneficiary corrections, region figures.

Each follows the pattern of ``domain.participants.writes``: a Caller, problems per field, a version check, a reason, and
one audit event with the values before and after, in the caller's transaction.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import Any, TypeVar

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from domain.audit.models import AuditEvent
from domain.audit.writes import Actor
from domain.beneficiaries.models import BeneficiarySource, PovertyBeneficiary
from domain.beneficiaries.writes import BeneficiaryChanges, update_beneficiary
from domain.db import make_engine, make_sessionmaker
from domain.nik import Sex
from domain.participants.employer_writes import EmployerChanges, EmployerData, register_employer, update_employer
from domain.regions.rules import RegionCode
from domain.regions.writes import RegionFigures, record_region_figures
from domain.writes.caller import Caller
from domain.writes.errors import Conflict, Invalid, NotFound
from domain.writes.placement import OutOfRegion
from domain.writes.reasons import ReasonCode, check_reason

T = TypeVar("T")
MATARAM = Caller(Actor("user:officer.rina", "user"), RegionCode.parse("52.71"))
LOTIM = Caller(Actor("user:officer.dewi", "user"), RegionCode.parse("52.03"))
NATIONAL = Caller(Actor("user:admin", "user"))


@pytest.fixture(scope="module")
def registry_url(backend: str, seeded_database: Callable[[str, str], str]) -> str:
    return seeded_database(backend, "registry")


@pytest.fixture(scope="module")
async def sessions(registry_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine: AsyncEngine = make_engine(registry_url)
    yield make_sessionmaker(engine)
    await engine.dispose()


@pytest.fixture
def write(sessions: async_sessionmaker[AsyncSession]) -> Callable[..., Awaitable[Any]]:
    async def run(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        async with sessions() as session, session.begin():
            return await work(session)

    return run


async def last_event(sessions: async_sessionmaker[AsyncSession], entity_type: str, entity_id: object) -> AuditEvent:
    async with sessions() as session:
        stmt = select(AuditEvent).where(AuditEvent.entity_type == entity_type, AuditEvent.entity_id == str(entity_id))
        event = (await session.scalars(stmt.order_by(AuditEvent.seq.desc()).limit(1))).first()
    assert event is not None
    return event


def codes(exc: pytest.ExceptionInfo[Invalid]) -> set[tuple[str | None, str]]:
    return {(p.field, p.code) for p in exc.value.problems}


def test_reason_codes() -> None:
    assert check_reason("KTP checked", "TYPO")[1:] == (ReasonCode.TYPO, [])
    _, _, problems = check_reason("", "NONSENSE")
    assert {(p.field, p.code) for p in problems} == {("reason", "REQUIRED"), ("reasonCode", "UNKNOWN_REASON")}
    assert {p.code for p in check_reason("x", None)[2]} == {"REQUIRED"}


async def test_employer_register_and_correct(write: Any, sessions: async_sessionmaker[AsyncSession]) -> None:
    data = EmployerData("npp5271x0000001", "PT Rinjani Sejahtera", 3, "52.71.01.1004")
    employer = await write(lambda s: register_employer(s, MATARAM, data))
    assert employer.registration_number == "NPP5271X0000001"
    assert (await last_event(sessions, "Employer", employer.id)).action == "employer.register"

    with pytest.raises(Invalid) as bad:
        await write(lambda s: register_employer(s, MATARAM, EmployerData("NPP5271X0000001", " ", 9, "52.71")))
    assert codes(bad) == {
        ("registrationNumber", "DUPLICATE_REGISTRATION_NUMBER"),
        ("name", "REQUIRED"),
        ("jkkRiskClass", "OUT_OF_RANGE"),
        ("regionCode", "NOT_A_VILLAGE"),
    }
    with pytest.raises(OutOfRegion):
        await write(
            lambda s: register_employer(s, MATARAM, EmployerData("NPP5203X0000001", "CV Lotim", 1, "52.03.01.2001"))
        )

    changes = EmployerChanges(name="PT Rinjani Sejahtera Abadi", jkk_risk_class=2)
    updated = await write(
        lambda s: update_employer(
            s, MATARAM, employer.id, changes, expected_version=1, reason="Akta", reason_code="TYPO"
        )
    )
    assert updated.version == 2
    event = await last_event(sessions, "Employer", employer.id)
    assert event.changes == {
        "jkk_risk_class": {"before": 3, "after": 2},
        "name": {"before": "PT Rinjani Sejahtera", "after": "PT Rinjani Sejahtera Abadi"},
    }
    assert (event.reason_code, event.reason) == ("TYPO", "Akta")

    with pytest.raises(Conflict, match="changed by someone else"):
        await write(
            lambda s: update_employer(
                s, MATARAM, employer.id, changes, expected_version=1, reason="x", reason_code="TYPO"
            )
        )
    with pytest.raises(NotFound):
        await write(
            lambda s: update_employer(
                s, LOTIM, employer.id, changes, expected_version=2, reason="x", reason_code="TYPO"
            )
        )
    with pytest.raises(Invalid) as no_reason:
        await write(
            lambda s: update_employer(
                s,
                MATARAM,
                employer.id,
                EmployerChanges(jkk_risk_class=7),
                expected_version=2,
                reason="",
                reason_code=None,
            )
        )
    assert codes(no_reason) == {("reason", "REQUIRED"), ("reasonCode", "REQUIRED"), ("jkkRiskClass", "OUT_OF_RANGE")}


async def _p3ke_in(sessions: async_sessionmaker[AsyncSession], regency: str) -> PovertyBeneficiary:
    async with sessions() as session:
        stmt = select(PovertyBeneficiary).where(
            PovertyBeneficiary.regency_code == regency, PovertyBeneficiary.source == BeneficiarySource.P3KE
        )
        found = (await session.scalars(stmt.order_by(PovertyBeneficiary.id).limit(1))).first()
    assert found is not None
    return found


async def test_beneficiary_corrections(write: Any, sessions: async_sessionmaker[AsyncSession]) -> None:
    b = await _p3ke_in(sessions, "52.71")
    other_sex = Sex.M if b.sex is Sex.F else Sex.F
    with pytest.raises(Invalid) as bad:
        await write(
            lambda s: update_beneficiary(
                s,
                MATARAM,
                b.id,
                BeneficiaryChanges(decile=5, family_card_number="12345", sex=other_sex),
                expected_version=b.version,
                reason="visit",
                reason_code="OTHER",
            )
        )
    assert codes(bad) == {("decile", "OUT_OF_RANGE"), ("familyCardNumber", "INVALID_KK"), ("sex", "DISAGREES_WITH_NIK")}

    changes = BeneficiaryChanges(extreme_poor=not b.extreme_poor, family_card_number="5271010101200001")
    done = await write(
        lambda s: update_beneficiary(
            s,
            MATARAM,
            b.id,
            changes,
            expected_version=b.version,
            reason="Dinsos visit",
            reason_code="CIVIL_REGISTRY_UPDATE",
        )
    )
    assert done.version == b.version + 1
    event = await last_event(sessions, "PovertyBeneficiary", b.id)
    assert event.action == "beneficiary.update"
    assert event.changes == {
        "extreme_poor": {"before": b.extreme_poor, "after": not b.extreme_poor},
        "family_card_number": {"before": b.family_card_number, "after": "5271010101200001"},
    }
    with pytest.raises(Conflict):
        await write(
            lambda s: update_beneficiary(
                s,
                MATARAM,
                b.id,
                BeneficiaryChanges(decile=1),
                expected_version=b.version,
                reason="x",
                reason_code="TYPO",
            )
        )
    elsewhere = await _p3ke_in(sessions, "52.03")
    with pytest.raises(NotFound):
        await write(
            lambda s: update_beneficiary(
                s,
                MATARAM,
                elsewhere.id,
                BeneficiaryChanges(decile=1),
                expected_version=1,
                reason="x",
                reason_code="TYPO",
            )
        )


async def test_region_figures(write: Any, sessions: async_sessionmaker[AsyncSession]) -> None:
    figures = RegionFigures("52.71", 2030, 250_000, Decimal("0.5"))
    row = await write(lambda s: record_region_figures(s, NATIONAL, figures, expected_version=None))
    assert (row.version, row.ucj_target) == (1, Decimal("0.5000"))
    created = await last_event(sessions, "RegionYearFigure", "52.71/2030")
    assert created.action == "region_figures.create"
    assert created.reason is None

    with pytest.raises(Conflict):
        await write(lambda s: record_region_figures(s, NATIONAL, figures, expected_version=None))
    with pytest.raises(Invalid) as bad:
        await write(
            lambda s: record_region_figures(
                s,
                NATIONAL,
                RegionFigures("52.71", 1999, -1, Decimal("1.5")),
                expected_version=1,
                reason="",
                reason_code="",
            )
        )
    assert codes(bad) == {
        ("year", "OUT_OF_RANGE"),
        ("employedPopulation", "OUT_OF_RANGE"),
        ("ucjTarget", "OUT_OF_RANGE"),
        ("reason", "REQUIRED"),
        ("reasonCode", "REQUIRED"),
    }
    with pytest.raises(NotFound):
        await write(
            lambda s: record_region_figures(s, LOTIM, figures, expected_version=1, reason="x", reason_code="TYPO")
        )

    corrected = RegionFigures("52.71", 2030, 251_000, Decimal("0.5"))
    updated = await write(
        lambda s: record_region_figures(
            s, MATARAM, corrected, expected_version=1, reason="BPS revision", reason_code="OTHER"
        )
    )
    assert updated.version == 2
    event = await last_event(sessions, "RegionYearFigure", "52.71/2030")
    assert event.changes == {"employed_population": {"before": 250_000, "after": 251_000}}
    assert (event.reason_code, event.reason) == ("OTHER", "BPS revision")


async def test_concurrent_figure_corrections_one_wins(write: Any, sessions: async_sessionmaker[AsyncSession]) -> None:
    await write(
        lambda s: record_region_figures(s, NATIONAL, RegionFigures("52.72", 2030, 1, None), expected_version=None)
    )

    async def correct(population: int) -> str:
        try:
            await write(
                lambda s: record_region_figures(
                    s,
                    NATIONAL,
                    RegionFigures("52.72", 2030, population, None),
                    expected_version=1,
                    reason="r",
                    reason_code="TYPO",
                )
            )
        except Conflict:
            return "conflict"
        except Exception as exc:  # SQLite: the losing writer may find the database locked
            return type(exc).__name__
        return "ok"

    outcomes = await asyncio.gather(correct(2), correct(3))
    assert outcomes.count("ok") == 1
    async with sessions() as session:
        events = await session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.entity_id == "52.72/2030", AuditEvent.action == "region_figures.update")
        )
    assert events == 1
