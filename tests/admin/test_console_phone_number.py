"""Mobile numbers in the console: registered and corrected through the forms (validated by the domain, audited),
shown in the list in full and logged with pii:read, masked without it (the list's, details' and export's one
formatter)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from admin.access_log import console_reads
from admin.display import changes_shown
from admin.views.participants import ParticipantView
from auth.policy import masked_changes
from domain.audit.models import AuditEvent, DataAccessEvent
from domain.participants.models import Participant
from domain.participants.phone import mask_phone_number
from tests.admin.conftest import Browser, submit
from tests.admin.test_console_corrections import REASON, events_of, participant_in, reload
from tests.admin.test_console_masking import ADMIN_WITHOUT_PII, WITH_PII, WITHOUT_PII, _request_as

NEW = {
    "full_name": "Baiq Sinta",
    "birth_date": "1991-06-18",
    "sex": "F",
    "segment": "BPU",
    "funding_source": "SELF",
    "region_code": "52.71.01.1004",
    "programs": ["JKK", "JKM"],
}


async def _count(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Participant)) or 0)


async def test_the_registration_form_takes_and_checks_the_number(
    signed_in: Callable[[str], Any], sessions: async_sessionmaker[AsyncSession]
) -> None:
    b: Browser = await signed_in("officer.rina")
    before = await _count(sessions)
    nik = "5271015806919101"  # a woman born 18 June 1991, issued in 52.71.01
    for bad in ("021 555 1234", "0812", "9" * 41):
        refused = await submit(b, "/admin/participant/create", {**NEW, "nik": nik, "phone_number": bad})
        assert refused.status_code == 400, bad
        assert await _count(sessions) == before
    refused = await submit(b, "/admin/participant/create", {**NEW, "nik": nik, "phone_number": "021 555 1234"})
    field = refused.text[refused.text.index('id="phone_number"') :]
    assert "landline numbers are not accepted" in field[: field.index("</div>")]

    created = await submit(b, "/admin/participant/create", {**NEW, "nik": nik, "phone_number": "0812 3456 7890"})
    assert created.status_code == 303, created.text
    async with sessions() as session:
        row = (await session.scalars(select(Participant).where(Participant.nik == nik))).one()
    assert row.phone_number == "+6281234567890"


async def test_the_edit_form_corrects_and_removes_the_number_with_an_audit_event(
    signed_in: Callable[[str], Any], sessions: async_sessionmaker[AsyncSession]
) -> None:
    p = await participant_in(sessions, "52.71", 5)
    earlier = len(await events_of(sessions, "Participant", p.id))  # other tests may have corrected it
    b: Browser = await signed_in("officer.rina")
    response = await submit(b, f"/admin/participant/edit/{p.id}", {"phone_number": "+62 857-1111-2222", **REASON})
    assert response.status_code == 303, response.text
    assert (await reload(sessions, Participant, p.id)).phone_number == "+6285711112222"
    bad = await submit(b, f"/admin/participant/edit/{p.id}", {"phone_number": "0857 1111 2222 3333", **REASON})
    assert bad.status_code == 400
    assert (await reload(sessions, Participant, p.id)).phone_number == "+6285711112222"
    removed = await submit(b, f"/admin/participant/edit/{p.id}", {"phone_number": "", **REASON})
    assert removed.status_code == 303, removed.text
    assert (await reload(sessions, Participant, p.id)).phone_number is None
    changes = [e.changes for e in (await events_of(sessions, "Participant", p.id))[earlier:]]
    assert changes == [
        {"phone_number": {"before": p.phone_number, "after": "+6285711112222"}},
        {"phone_number": {"before": "+6285711112222", "after": None}},
    ]


async def test_the_list_shows_numbers_in_full_and_logged_with_pii_read_and_masked_without(
    signed_in: Callable[[str], Any], sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions() as session:
        stmt = select(Participant).where(Participant.regency_code == "52.71", Participant.phone_number.is_not(None))
        row = (await session.scalars(stmt.order_by(Participant.id).limit(1))).one()
        last = int(await session.scalar(select(func.coalesce(func.max(DataAccessEvent.id), 0))) or 0)
    search = f"/admin/participant/list?search={row.membership_number}"
    assert row.phone_number is not None

    # Nobody who signs in to the console lacks pii:read; the list's formatter is the one the export uses.
    for principal, expected in ((WITHOUT_PII, mask_phone_number(row.phone_number)), (WITH_PII, row.phone_number)):
        assert ParticipantView().export_value(row, "phone_number", _request_as(principal)) == expected
    assert mask_phone_number(row.phone_number).startswith(row.phone_number[:6])

    admin: Browser = await signed_in("admin.nasional")
    full = await admin.get(search)
    assert row.phone_number in full.text
    async with sessions() as session:
        [entry] = (await session.scalars(select(DataAccessEvent).where(DataAccessEvent.id > last))).all()
    assert entry.entity_type == "Participant"
    assert entry.entity_ids == [str(row.id)]
    assert "phoneNumber" in entry.fields


def test_the_audit_trail_masks_the_number_with_its_own_mask() -> None:
    """Read without pii:read, an event's phone_number is masked as the API masks it, not as an identity number."""
    event = AuditEvent(id=8, changes={"phone_number": {"before": "+6281234567889", "after": None}})
    request = _request_as(ADMIN_WITHOUT_PII)
    assert changes_shown(request, event)["phone_number"] == {"before": "+62812******89", "after": None}
    assert not console_reads(request)
    assert masked_changes(WITH_PII, event.changes) == (event.changes, {"phone_number"})
