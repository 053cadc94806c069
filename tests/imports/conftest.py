"""Fixtures for the import tests: a seeded database of their own per backend, a way to run an import
against it, and rows that pass every rule unless a test spoils them."""

from __future__ import annotations

import datetime as dt
import io
import itertools
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from domain.audit.models import AuditEvent
from domain.audit.writes import Actor
from domain.beneficiaries.imports import ImportOptions, import_beneficiaries
from domain.beneficiaries.models import PovertyBeneficiary
from domain.db import make_engine
from domain.imports.report import ImportResult
from domain.nik import Sex, build_nik
from domain.regions.rules import RegionCode
from domain.writes.caller import Caller
from tests.rollup_check import rollup_drift

HEADER = "nik,nama,tanggal_lahir,jenis_kelamin,no_kk,kode_wilayah,desil,miskin_ekstrem,sumber,tanggal_data"
#: A NIK's serial has four digits; past 9999 the default birth date moves on a day, so both databases' runs in
#: one session never reuse a NIK.
_serials = itertools.count(7100)


def importer(region: str | None = "52.03", *, pii: bool = True) -> Caller:
    return Caller(
        actor=Actor(subject="test-importer", kind="system"),
        within=RegionCode.parse(region) if region else None,
        sees_personal_data=pii,
    )


def person(district: str = "52.03.01", village: str = "52.03.01.2001", **overrides: Any) -> dict[str, Any]:
    """One valid row (as the columns of HEADER), with a NIK nobody else in the tests uses."""
    n = next(_serials)
    birth = overrides.pop("birth", dt.date(1984, 6, 12) + dt.timedelta(days=n // 9999))
    sex = overrides.pop("sex_", Sex.F)
    values: dict[str, Any] = {
        "nik": build_nik(district, birth, sex, 1 + n % 9999),
        "nama": "Baiq Rahmawati",
        "tanggal_lahir": birth.isoformat(),
        "jenis_kelamin": "P" if sex is Sex.F else "L",
        "no_kk": "5203011203040001",
        "kode_wilayah": village,
        "desil": "1",
        "miskin_ekstrem": "ya",
        "sumber": "P3KE",
        "tanggal_data": "2026-09-30",
    }
    values.update(overrides)
    return values


def csv_text(rows: list[dict[str, Any]], header: str = HEADER, sep: str = ",", eol: str = "\n") -> str:
    names = HEADER.split(",")
    lines = [header.replace(",", sep)] + [sep.join(str(r[n]) for n in names) for r in rows]
    return eol.join(lines) + eol


@dataclass
class Outcome:
    result: ImportResult
    report: str
    beneficiaries_before: int
    beneficiaries_after: int
    audits_before: int
    audits_after: int

    @property
    def codes(self) -> list[str]:
        return [e.code for e in self.result.errors]

    @property
    def nothing_written(self) -> bool:
        return self.beneficiaries_after == self.beneficiaries_before and self.audits_after == self.audits_before


@dataclass
class ImportDB:
    url: str

    def engine(self) -> AsyncEngine:
        return make_engine(self.url, null_pool=True)

    async def counts(self) -> tuple[int, int]:
        engine = self.engine()
        try:
            async with engine.connect() as conn:
                b = (await conn.execute(select(func.count()).select_from(PovertyBeneficiary))).scalar_one()
                a = (await conn.execute(select(func.count()).select_from(AuditEvent))).scalar_one()
                return int(b), int(a)
        finally:
            await engine.dispose()

    async def run(
        self,
        content: bytes | str,
        filename: str = "list.csv",
        caller: Caller | None = None,
        **options: Any,
    ) -> Outcome:
        data = content.encode() if isinstance(content, str) else content
        b0, a0 = await self.counts()
        engine = self.engine()
        report = io.StringIO()
        try:
            async with AsyncSession(engine, expire_on_commit=False) as session:
                result = await import_beneficiaries(
                    session,
                    caller or importer(),
                    io.BytesIO(data),
                    filename,
                    ImportOptions(**options),
                    report=report,
                )
                if result.written:
                    await session.commit()
                else:
                    await session.rollback()
        finally:
            await engine.dispose()
        b1, a1 = await self.counts()
        return Outcome(result, report.getvalue(), b0, b1, a0, a1)

    async def rows(self, nik: str) -> list[PovertyBeneficiary]:
        engine = self.engine()
        try:
            async with AsyncSession(engine) as session:
                stmt = select(PovertyBeneficiary).where(PovertyBeneficiary.nik == nik)
                return list((await session.scalars(stmt.order_by(PovertyBeneficiary.snapshot_date))).all())
        finally:
            await engine.dispose()


@pytest.fixture(autouse=True)
async def rollups_stay_right(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """After every import test: the Monev rollups, kept by triggers in each write, equal a recount."""
    yield
    if "imports_db" not in request.fixturenames:
        return
    engine = request.getfixturevalue("imports_db").engine()
    try:
        drift = await rollup_drift(engine)
    finally:
        await engine.dispose()
    assert drift == {}, f"Monev rollups differ from a recount after {request.node.name}: {drift}"


@pytest.fixture(scope="session")
def imports_db(backend: str, seeded_database: Callable[[str, str], str]) -> ImportDB:
    return ImportDB(seeded_database(backend, "imports"))
