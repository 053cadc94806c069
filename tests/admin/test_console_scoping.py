"""Region scoping and masking in the console, exactly as the API: lists, details, edit, actions and exports.

The expected rows come from the test's own SQL on the placement columns, not from ``auth.policy``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request

from admin.display import masked, personal
from admin.views.participants import ParticipantView
from auth.principal import Principal, PrincipalKind
from auth.scopes import ROLE_SCOPES, Role, Scope
from domain.claims.models import Claim
from domain.participants.models import Participant
from domain.regions.rules import RegionCode
from tests.admin.conftest import Browser

ROW = re.compile(r'<input type="hidden" value="(\d+)">')


def listed_ids(html: str) -> set[int]:
    return {int(pk) for pk in ROW.findall(html)}


async def ids_in(sessions: async_sessionmaker[AsyncSession], model: Any, regency: str | None) -> set[int]:
    async with sessions() as session:
        stmt = select(model.id)
        if regency is not None:
            stmt = stmt.where(model.regency_code == regency)
        return set((await session.scalars(stmt)).all())


async def first_id(sessions: async_sessionmaker[AsyncSession], model: Any, regency: str) -> int:
    async with sessions() as session:
        found = await session.scalar(select(func.min(model.id)).where(model.regency_code == regency))
    assert found is not None
    return int(found)


@pytest.mark.parametrize(("path", "model"), [("participant", Participant), ("claim", Claim)])
async def test_an_officer_lists_only_their_region(
    signed_in: Callable[[str], Any], sessions: async_sessionmaker[AsyncSession], path: str, model: Any
) -> None:
    b: Browser = await signed_in("officer.rina")
    page = await b.get(f"/admin/{path}/list?pageSize=100")
    assert page.status_code == 200
    expected = await ids_in(sessions, model, "52.71")
    assert expected
    assert listed_ids(page.text) == expected
    assert f"of {len(expected)} items" in page.text


async def test_another_regions_row_is_not_found(
    signed_in: Callable[[str], Any], sessions: async_sessionmaker[AsyncSession]
) -> None:
    b: Browser = await signed_in("officer.rina")
    elsewhere = await first_id(sessions, Participant, "52.03")
    claim_elsewhere = await first_id(sessions, Claim, "52.03")
    for path in (
        f"/admin/participant/details/{elsewhere}",
        f"/admin/participant/edit/{elsewhere}",
        f"/admin/claim/details/{claim_elsewhere}",
        "/admin/participant/details/999999",
        "/admin/participant/details/not-a-number",
        "/admin/participant/details/99999999999999999999",
    ):
        response = await b.get(path)
        assert response.status_code == 404, path
    await b.get("/admin/")
    posted = await b.post(
        f"/admin/participant/edit/{elsewhere}",
        {"full_name": "Changed", "version": "1", "reason_code": "TYPO", "reason": "x"},
    )
    assert posted.status_code == 404
    await b.get("/admin/")
    workflow = await b.post(f"/admin/claim/workflow/{claim_elsewhere}", {"action": "verify", "version": "1"})
    assert workflow.status_code == 404
    async with sessions() as session:
        assert (await session.get(Participant, elsewhere)).full_name != "Changed"  # type: ignore[union-attr]


async def test_a_nik_search_finds_nobody_outside_the_region(
    signed_in: Callable[[str], Any], sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions() as session:
        inside, outside = [
            await session.scalar(select(Participant.nik).where(Participant.regency_code == region).limit(1))
            for region in ("52.71", "52.03")
        ]
    b: Browser = await signed_in("officer.rina")
    assert len(listed_ids((await b.get(f"/admin/participant/list?search={inside}")).text)) == 1
    assert listed_ids((await b.get(f"/admin/participant/list?search={outside}")).text) == set()


async def test_national_views_are_closed_to_officers(signed_in: Callable[[str], Any]) -> None:
    b: Browser = await signed_in("officer.rina")
    home = await b.get("/admin/")
    for path, label in (("user", "Users"), ("o-auth-client", "Partner clients"), ("audit-event", "Audit events")):
        assert (await b.get(f"/admin/{path}/list")).status_code == 403
        assert (await b.get(f"/admin/{path}/export/csv")).status_code == 403
        assert label not in home.text
    assert "Participants" in home.text


async def test_export_holds_exactly_the_filtered_visible_rows(
    signed_in: Callable[[str], Any], sessions: async_sessionmaker[AsyncSession]
) -> None:
    b: Browser = await signed_in("officer.rina")
    everything = await b.get("/admin/participant/export/csv")
    assert everything.status_code == 200
    assert everything.headers["content-type"].startswith("text/csv")
    assert "attachment" in everything.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(everything.text)))
    async with sessions() as session:
        expected = (
            await session.scalars(select(Participant.membership_number).where(Participant.regency_code == "52.71"))
        ).all()
        bpu = (
            await session.scalars(
                select(Participant.membership_number).where(
                    Participant.regency_code == "52.71", Participant.segment == "BPU"
                )
            )
        ).all()
    assert sorted(r["Membership (KPJ)"] for r in rows) == sorted(expected)
    assert all(r["Village"].startswith("52.71.") for r in rows)

    filtered = await b.get("/admin/participant/export/csv?segment=BPU&sortBy=full_name&sort=desc")
    names = [r["Full name"] for r in csv.DictReader(io.StringIO(filtered.text))]
    assert len(names) == len(bpu)
    assert names == sorted(names, reverse=True)
    assert names  # the tiny data set has informal workers in Kota Mataram

    assert (await b.get("/admin/participant/export/json")).status_code == 404  # CSV only
    assert (await b.get("/admin/participant/1/full_name/download/")).status_code == 404
    page = await b.get("/admin/participant/list?segment=BPU")
    assert "Export this list (CSV)" in page.text
    assert "/admin/participant/export/csv?segment=BPU" in page.text


async def test_a_filter_pointing_elsewhere_shows_nothing(signed_in: Callable[[str], Any]) -> None:
    b: Browser = await signed_in("officer.rina")
    assert listed_ids((await b.get("/admin/participant/list?region=52.03")).text) == set()
    assert listed_ids((await b.get("/admin/participant/list?region=not-a-code")).text) == set()
    exported = await b.get("/admin/participant/export/csv?region=52.03")
    assert len(list(csv.reader(io.StringIO(exported.text)))) == 1  # the header only
    mine = await b.get("/admin/participant/list?region=52.71.01")
    assert all(v.startswith("52.71.01.") for v in re.findall(r"<td>(52\.\d\d\.\d\d\.\d{4})</td>", mine.text))


async def test_region_figures_officer_reads_own_and_ancestors_but_writes_nothing(
    signed_in: Callable[[str], Any],
) -> None:
    b: Browser = await signed_in("officer.rina")
    page = await b.get("/admin/region-year-figure/list?pageSize=100")
    regions = set(re.findall(r"<td>(52(?:\.\d\d)?)</td>", page.text))
    assert regions == {"52", "52.71"}
    pk = re.search(r"/admin/region-year-figure/details/(52\.71;\d{4})", page.text)
    assert pk
    assert (await b.get(f"/admin/region-year-figure/details/{pk.group(1)}")).status_code == 200
    assert (await b.get(f"/admin/region-year-figure/edit/{pk.group(1)}")).status_code == 403
    assert (await b.get("/admin/region-year-figure/details/52.03;2024")).status_code == 404
    assert (await b.get("/admin/region-year-figure/create")).status_code == 403


def _request_as(principal: Principal) -> Request:
    request = Request({"type": "http", "method": "GET", "path": "/", "headers": [], "state": {}})
    request.state.console_principal = principal
    return request


def test_masking_follows_pii_read() -> None:
    region = RegionCode.parse("52.71")
    row = Participant(nik="5271064603890001", birth_date=dt.date(1989, 3, 6), monthly_wage=None)
    officer = Principal("user:x", PrincipalKind.USER, ROLE_SCOPES[Role.OFFICER], frozenset({Role.OFFICER}), region)
    without_pii = Principal(
        "user:y", PrincipalKind.USER, ROLE_SCOPES[Role.OFFICER] - {Scope.PII_READ}, frozenset({Role.OFFICER}), region
    )
    assert masked(row, "nik", _request_as(officer)) == "5271064603890001"
    assert masked(row, "nik", _request_as(without_pii)) == "5271**********01"
    assert personal(row, "birth_date", _request_as(officer)) == "1989-03-06"
    assert personal(row, "birth_date", _request_as(without_pii)) == "(hidden)"
    view = ParticipantView()
    assert view.export_value(row, "nik", _request_as(without_pii)) == "5271**********01"
    assert view.search_clause(without_pii, "5271064603890001") is not None
    sql = str(view.search_clause(without_pii, "5271064603890001"))
    assert "nik" not in sql  # without pii:read a NIK is no search key (ADR 0001)
    assert "nik" in str(view.search_clause(officer, "5271064603890001"))
    assert not view.access.can_write(without_pii)  # correction forms show personal data
    assert view.access.can_write(officer)


async def test_region_details_show_their_figures_and_names_stay_read_only(signed_in: Callable[[str], Any]) -> None:
    b: Browser = await signed_in("officer.rina")
    page = await b.get("/admin/region/details/52.71")
    assert page.status_code == 200
    assert "Monev figures" in page.text
    assert (await b.get("/admin/region/details/52.03")).status_code == 404  # a sibling regency
    assert (await b.get("/admin/region/details/52")).status_code == 200  # an ancestor, to navigate up
    assert (await b.get("/admin/region/edit/52.71")).status_code == 403
