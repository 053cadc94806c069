"""The console writes the personal-data access log as the API does: a list, a details page, the audit trail or
a CSV export that shows NIKs (or birth dates, wages, family-card numbers) in full leaves one entry per entity
type and request, naming who, what and which rows; a page without personal data leaves none; and when the log
cannot be written, the data is withheld.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import admin.access_log
from domain.audit.models import DataAccessEvent
from domain.audit.writes import record
from domain.claims.models import Claim, ClaimBenefit
from domain.participants.models import Participant
from tests.admin.conftest import OPERATOR, Browser


async def _last_id(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.coalesce(func.max(DataAccessEvent.id), 0))) or 0)


async def _logged_since(sessions: async_sessionmaker[AsyncSession], last: int) -> list[DataAccessEvent]:
    async with sessions() as session:
        stmt = select(DataAccessEvent).where(DataAccessEvent.id > last).order_by(DataAccessEvent.id)
        return list((await session.scalars(stmt)).all())


async def test_a_list_with_niks_in_full_is_logged(
    signed_in: Callable[[str], Any], sessions: async_sessionmaker[AsyncSession]
) -> None:
    rina: Browser = await signed_in("officer.rina")
    last = await _last_id(sessions)
    page = await rina.get("/admin/participant/list")
    assert page.status_code == 200
    (entry,) = await _logged_since(sessions, last)
    assert entry.actor_subject == "user:officer.rina"
    assert entry.actor_kind == "user"
    assert entry.entity_type == "Participant"
    assert "nik" in entry.fields
    assert entry.count == len(entry.entity_ids) > 0
    async with sessions() as session:
        shown = (await session.scalars(select(Participant).where(Participant.id.in_(map(int, entry.entity_ids))))).all()
    assert len(shown) == entry.count
    assert all(p.region_code.startswith("52.71") for p in shown)  # only rows she may see, all of them shown
    assert all(p.nik in page.text for p in shown)


async def test_a_page_without_personal_data_logs_nothing(
    signed_in: Callable[[str], Any], sessions: async_sessionmaker[AsyncSession]
) -> None:
    rina: Browser = await signed_in("officer.rina")
    last = await _last_id(sessions)
    assert (await rina.get("/admin/region/list")).status_code == 200
    assert await _logged_since(sessions, last) == []


async def test_a_claims_benefit_lines_are_logged_as_reads_of_the_claim(
    signed_in: Callable[[str], Any], sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions() as session:
        claim_id = await session.scalar(
            select(Claim.id)
            .join(ClaimBenefit, ClaimBenefit.claim_id == Claim.id)
            .where(ClaimBenefit.recipient_nik.is_not(None), Claim.region_code.startswith("52.71"))
            .limit(1)
        )
    if claim_id is None:
        pytest.skip("the seed has no benefit line with a recipient NIK in 52.71")
    rina: Browser = await signed_in("officer.rina")
    last = await _last_id(sessions)
    assert (await rina.get(f"/admin/claim/details/{claim_id}")).status_code == 200
    entries = await _logged_since(sessions, last)
    assert [(e.entity_type, e.entity_ids, e.fields) for e in entries] == [("Claim", [str(claim_id)], ["recipientNik"])]


async def test_an_export_is_logged_batch_by_batch_for_every_row_it_sends(
    signed_in: Callable[[str], Any], sessions: async_sessionmaker[AsyncSession]
) -> None:
    admin_user: Browser = await signed_in("admin.nasional")
    last = await _last_id(sessions)
    response = await admin_user.get("/admin/participant/export/csv")
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.text)))
    entries = await _logged_since(sessions, last)
    assert entries
    assert {e.entity_type for e in entries} == {"Participant"}
    logged = {i for e in entries for i in e.entity_ids}
    assert len(logged) == len(rows) == sum(e.count for e in entries)


async def test_the_audit_trail_showing_niks_in_full_is_logged(
    signed_in: Callable[[str], Any], sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions() as session, session.begin():
        event = await record(
            session,
            actor=OPERATOR,
            action="participant.correct",
            entity_type="Participant",
            entity_id=1,
            changes={"nik": {"before": "5271064603890001", "after": "5271064603890002"}},
            reason="typo in the NIK",
        )
        event_id = event.id
    admin_user: Browser = await signed_in("admin.kedua")
    last = await _last_id(sessions)
    assert (await admin_user.get(f"/admin/audit-event/details/{event_id}")).status_code == 200
    entries = await _logged_since(sessions, last)
    assert [(e.entity_type, e.entity_ids, e.fields) for e in entries] == [("AuditEvent", [str(event_id)], ["nik"])]


async def test_the_page_is_withheld_when_the_log_cannot_be_written(
    signed_in: Callable[[str], Any], sessions: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    async with sessions() as session:
        nik = await session.scalar(select(Participant.nik).where(Participant.region_code.startswith("52.71")).limit(1))
    assert nik is not None

    async def broken(*_: Any) -> None:
        raise OSError("the database went away")

    rina: Browser = await signed_in("officer.rina")
    monkeypatch.setattr(admin.access_log, "log_reads", broken)
    page = await rina.get("/admin/participant/list")
    assert page.status_code == 503
    assert nik not in page.text
    assert "access log" in page.text
