"""Corrections in the console go through the domain: validation onto the fields, the version check, a reason,
and an audit event with the values before and after. Bad input changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from markupsafe import escape
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.audit.models import AuditEvent
from domain.beneficiaries.models import PovertyBeneficiary
from domain.participants.models import Employer, Participant
from tests.admin.conftest import Browser, form_fields, submit

REASON = {"reason_code": "TYPO", "reason": "Checked against the KTP"}


async def participant_in(sessions: async_sessionmaker[AsyncSession], regency: str, offset: int = 0) -> Participant:
    async with sessions() as session:
        stmt = select(Participant).where(Participant.regency_code == regency).order_by(Participant.id).offset(offset)
        found = (await session.scalars(stmt.limit(1))).first()
    assert found is not None
    return found


async def reload(sessions: async_sessionmaker[AsyncSession], model: Any, pk: int) -> Any:
    async with sessions() as session:
        return await session.get(model, pk)


async def events_of(
    sessions: async_sessionmaker[AsyncSession], entity_type: str, entity_id: object
) -> list[AuditEvent]:
    async with sessions() as session:
        stmt = (
            select(AuditEvent)
            .where(AuditEvent.entity_type == entity_type, AuditEvent.entity_id == str(entity_id))
            .order_by(AuditEvent.seq)
        )
        return list((await session.scalars(stmt)).all())


async def test_a_name_correction_is_audited_with_reason_and_values(
    signed_in: Callable[[str], Any], sessions: async_sessionmaker[AsyncSession]
) -> None:
    p = await participant_in(sessions, "52.71", 1)
    b: Browser = await signed_in("officer.rina")
    response = await submit(b, f"/admin/participant/edit/{p.id}", {"full_name": p.full_name + " Saputra", **REASON})
    assert response.status_code == 303, response.text
    assert response.headers["location"].endswith(f"/admin/participant/details/{p.id}")
    details = await b.get(response.headers["location"])
    assert "Saved. Changed: full_name." in details.text
    after = await reload(sessions, Participant, p.id)
    assert after.full_name == p.full_name + " Saputra"
    assert after.version == p.version + 1
    [event] = await events_of(sessions, "Participant", p.id)
    assert event.action == "participant.update"
    assert event.actor_subject == "user:officer.rina"
    assert event.changes == {"full_name": {"before": p.full_name, "after": p.full_name + " Saputra"}}
    assert (event.reason_code, event.reason) == ("TYPO", "Checked against the KTP")
    assert event.source_ip is not None


async def test_reason_is_required(signed_in: Callable[[str], Any], sessions: async_sessionmaker[AsyncSession]) -> None:
    p = await participant_in(sessions, "52.71", 2)
    b: Browser = await signed_in("officer.rina")
    response = await submit(
        b, f"/admin/participant/edit/{p.id}", {"full_name": "No Reason", "reason_code": "", "reason": ""}
    )
    assert response.status_code == 400
    assert "Nothing was saved" in response.text
    assert "Choose the kind of correction." in response.text
    assert "Say what happened" in response.text
    assert (await reload(sessions, Participant, p.id)).full_name == p.full_name
    assert await events_of(sessions, "Participant", p.id) == []


async def test_an_invalid_nik_is_shown_on_the_nik_field(
    signed_in: Callable[[str], Any], sessions: async_sessionmaker[AsyncSession]
) -> None:
    p = await participant_in(sessions, "52.71", 3)
    b: Browser = await signed_in("officer.rina")
    response = await submit(b, f"/admin/participant/edit/{p.id}", {"nik": p.nik[:15], **REASON})
    assert response.status_code == 400
    field = response.text[response.text.index('id="nik"') :]
    assert "is-invalid" in response.text[response.text.rindex("<input", 0, response.text.index('id="nik"')) :][:200]
    assert "has 15 digits; a NIK has 16" in field[: field.index("</div>")]
    wrong_district = "9999" + p.nik[4:]
    response = await submit(b, f"/admin/participant/edit/{p.id}", {"nik": wrong_district, **REASON})
    assert response.status_code == 400
    assert "not in the Kemendagri list" in response.text
    assert (await reload(sessions, Participant, p.id)).nik == p.nik


async def test_a_stale_version_overwrites_nothing(
    signed_in: Callable[[str], Any], sessions: async_sessionmaker[AsyncSession]
) -> None:
    p = await participant_in(sessions, "52.71", 4)
    rina: Browser = await signed_in("officer.rina")
    admin: Browser = await signed_in("admin.nasional")
    page = await rina.get(f"/admin/participant/edit/{p.id}")  # Rina opens the form …
    assert page.status_code == 200
    first = await submit(admin, f"/admin/participant/edit/{p.id}", {"full_name": "Changed By Admin", **REASON})
    assert first.status_code == 303  # … someone else saves first …
    values = form_fields(page.text, f"/admin/participant/edit/{p.id}")
    values.update({"full_name": "Changed By Rina", **REASON})
    items = [(k, x) for k, v in values.items() for x in (v if isinstance(v, list) else [v])]
    late = await rina.post(f"/admin/participant/edit/{p.id}", items, token=False)  # … and Rina saves too late
    assert late.status_code == 409
    assert "changed by someone else" in late.text
    assert "Reload the current record" in late.text
    assert 'value="Changed By Rina"' in late.text  # her entries are still there to copy
    after = await reload(sessions, Participant, p.id)
    assert after.full_name == "Changed By Admin"
    assert after.version == p.version + 1
    assert len(await events_of(sessions, "Participant", p.id)) == 1


async def test_markup_in_names_is_shown_as_text(
    signed_in: Callable[[str], Any], sessions: async_sessionmaker[AsyncSession]
) -> None:
    p = await participant_in(sessions, "52.71", 5)
    payload = "<script>alert('x')</script>"
    b: Browser = await signed_in("admin.nasional")
    response = await submit(
        b, f"/admin/participant/edit/{p.id}", {"full_name": payload, "reason_code": "OTHER", "reason": payload}
    )
    assert response.status_code == 303
    for path in (
        f"/admin/participant/details/{p.id}",
        f"/admin/participant/list?search={p.membership_number}",
        "/admin/audit-event/list",
        f"/admin/participant/edit/{p.id}",
    ):
        page = await b.get(path)
        assert payload not in page.text, path
        assert str(escape(payload)) in page.text, path


async def test_forged_or_missing_csrf_token_changes_nothing(
    signed_in: Callable[[str], Any], sessions: async_sessionmaker[AsyncSession]
) -> None:
    p = await participant_in(sessions, "52.71", 6)
    b: Browser = await signed_in("officer.rina")
    page = await b.get(f"/admin/participant/edit/{p.id}")
    values = form_fields(page.text, f"/admin/participant/edit/{p.id}")
    values.update({"full_name": "Forged", **REASON})
    for token in (None, "forged-" + "x" * 40, ""):
        data = {k: v for k, v in values.items() if k != "csrf_token"}
        if token is not None:
            data["csrf_token"] = token
        items = [(k, x) for k, v in data.items() for x in (v if isinstance(v, list) else [v])]
        refused = await b.post(f"/admin/participant/edit/{p.id}", items, token=False)
        assert refused.status_code == 403
    header_forged = await b.http.post(
        f"/admin/participant/edit/{p.id}", data={"full_name": "Forged"}, headers={"X-CSRF-Token": "nope"}
    )
    assert header_forged.status_code == 403
    assert (await reload(sessions, Participant, p.id)).full_name == p.full_name
    deleted = await b.http.request("DELETE", f"/admin/participant/delete?pks={p.id}")
    assert deleted.status_code == 403  # no token: refused before SQLAdmin's delete route is reached


async def test_deletes_are_not_offered(
    signed_in: Callable[[str], Any], sessions: async_sessionmaker[AsyncSession]
) -> None:
    p = await participant_in(sessions, "52.71", 7)
    b: Browser = await signed_in("admin.nasional")
    page = await b.get(f"/admin/participant/details/{p.id}")
    token = b.token()
    assert "modal-delete" not in page.text
    response = await b.http.request("DELETE", f"/admin/participant/delete?pks={p.id}", headers={"X-CSRF-Token": token})
    assert response.status_code == 405
    assert await reload(sessions, Participant, p.id) is not None


async def test_register_a_participant(
    signed_in: Callable[[str], Any], sessions: async_sessionmaker[AsyncSession]
) -> None:
    b: Browser = await signed_in("officer.rina")
    nik = "5271011705909101"  # a man born 17 May 1990, issued in 52.71.01
    values = {
        "nik": nik,
        "full_name": "Lalu Ahmad",
        "birth_date": "1990-05-17",
        "sex": "M",
        "segment": "BPU",
        "funding_source": "SELF",
        "region_code": "52.71.01.1004",
        "programs": ["JKK", "JKM"],
    }
    response = await submit(b, "/admin/participant/create", values)
    assert response.status_code == 303, response.text
    async with sessions() as session:
        created = (await session.scalars(select(Participant).where(Participant.nik == nik))).one()
    assert created.full_name == "Lalu Ahmad"
    [event] = await events_of(sessions, "Participant", created.id)
    assert event.action == "participant.register"
    outside = await submit(
        b, "/admin/participant/create", {**values, "nik": "5203011705909102", "region_code": "52.03.01.2001"}
    )
    assert outside.status_code == 400
    assert "outside the region you are bound to" in outside.text


async def test_employer_registration_and_correction(
    signed_in: Callable[[str], Any], sessions: async_sessionmaker[AsyncSession]
) -> None:
    b: Browser = await signed_in("officer.rina")
    values = {
        "registration_number": "npp52719999001",
        "name": "CV Sasak Makmur",
        "jkk_risk_class": "2",
        "region_code": "52.71.01.1004",
    }
    created = await submit(b, "/admin/employer/create", values)
    assert created.status_code == 303, created.text
    async with sessions() as session:
        employer = (
            await session.scalars(select(Employer).where(Employer.registration_number == "NPP52719999001"))
        ).one()
    duplicate = await submit(b, "/admin/employer/create", values)
    assert duplicate.status_code == 400
    assert "already registered" in duplicate.text
    bad = await submit(b, f"/admin/employer/edit/{employer.id}", {"jkk_risk_class": "9", **REASON})
    assert bad.status_code == 400
    fixed = await submit(b, f"/admin/employer/edit/{employer.id}", {"name": "CV Sasak Makmur Jaya", **REASON})
    assert fixed.status_code == 303
    register, update = await events_of(sessions, "Employer", employer.id)
    assert register.action == "employer.register"
    assert update.changes == {"name": {"before": "CV Sasak Makmur", "after": "CV Sasak Makmur Jaya"}}
    assert update.reason_code == "TYPO"


async def test_beneficiary_correction(
    signed_in: Callable[[str], Any], sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions() as session:
        b_row = (
            await session.scalars(
                select(PovertyBeneficiary)
                .where(PovertyBeneficiary.regency_code == "52.71", PovertyBeneficiary.source == "P3KE")
                .order_by(PovertyBeneficiary.id)
                .limit(1)
            )
        ).first()
    assert b_row is not None
    b: Browser = await signed_in("officer.rina")
    too_high = await submit(b, f"/admin/poverty-beneficiary/edit/{b_row.id}", {"decile": "7", **REASON})
    assert too_high.status_code == 400
    assert "P3KE publishes deciles 1 to 4" in too_high.text
    new_decile = 1 if b_row.decile != 1 else 2
    ok = await submit(
        b,
        f"/admin/poverty-beneficiary/edit/{b_row.id}",
        {"decile": str(new_decile), "reason_code": "CIVIL_REGISTRY_UPDATE", "reason": "Dinsos verification visit"},
    )
    assert ok.status_code == 303, ok.text
    [event] = [e for e in await events_of(sessions, "PovertyBeneficiary", b_row.id) if e.action == "beneficiary.update"]
    assert event.changes == {"decile": {"before": b_row.decile, "after": new_decile}}
    assert event.reason_code == "CIVIL_REGISTRY_UPDATE"


async def test_region_figures_entered_and_corrected_by_an_admin(
    signed_in: Callable[[str], Any], sessions: async_sessionmaker[AsyncSession]
) -> None:
    b: Browser = await signed_in("admin.nasional")
    created = await submit(
        b,
        "/admin/region-year-figure/create",
        {
            "region_code": "52.71",
            "year": "2031",
            "employed_population": "250000",
            "ucj_target": "0.55",
            "reason": "BPS",
        },
    )
    assert created.status_code == 303, created.text
    again = await submit(
        b, "/admin/region-year-figure/create", {"region_code": "52.71", "year": "2031", "employed_population": "1"}
    )
    assert again.status_code == 400
    assert "changed by someone else" in again.text or "version" in again.text
    nowhere = await submit(b, "/admin/region-year-figure/create", {"region_code": "52.99", "year": "2031"})
    assert nowhere.status_code == 400
    assert "there is no region 52.99" in nowhere.text
    corrected = await submit(b, "/admin/region-year-figure/edit/52.71;2031", {"ucj_target": "0.6000", **REASON})
    assert corrected.status_code == 303, corrected.text
    create, update = await events_of(sessions, "RegionYearFigure", "52.71/2031")
    assert create.action == "region_figures.create"
    assert update.changes == {"ucj_target": {"before": "0.5500", "after": "0.6000"}}
    names = await b.get("/admin/region/edit/52.71")
    assert names.status_code == 403  # region names come from the Kemendagri list


async def test_an_unchanged_form_saves_nothing(
    signed_in: Callable[[str], Any], sessions: async_sessionmaker[AsyncSession]
) -> None:
    p = await participant_in(sessions, "52.71", 8)
    b: Browser = await signed_in("officer.rina")
    response = await submit(b, f"/admin/participant/edit/{p.id}", REASON)
    assert response.status_code == 400
    assert "nothing to change" in response.text
    async with sessions() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.entity_id == str(p.id), AuditEvent.entity_type == "Participant")
        )
    assert count == 0
