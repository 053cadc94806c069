"""The console's list-upload page: the same import, the report on the page, scoped to the user's region."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.beneficiaries.models import PovertyBeneficiary
from tests.admin.conftest import Browser
from tests.imports.conftest import csv_text, person

PAGE = "/admin/poverty-beneficiary/upload"


async def _count(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return int((await session.execute(select(func.count()).select_from(PovertyBeneficiary))).scalar_one())


async def _upload(b: Browser, content: str, *, filename: str = "list.csv", **choices: str) -> Any:
    page = await b.get(PAGE)
    assert page.status_code == 200
    data = {"csrf_token": b.token(), **choices}
    return await b.http.post(PAGE, data=data, files={"file": (filename, content.encode(), "text/csv")})


async def test_an_officer_imports_a_list_and_sees_the_counts(
    browser: Callable[[], Browser], sessions: async_sessionmaker[AsyncSession]
) -> None:
    b = browser()
    await b.sign_in("officer.dewi")
    listing = await b.get("/admin/poverty-beneficiary/list")
    assert 'id="upload-list"' in listing.text
    before = await _count(sessions)
    response = await _upload(b, csv_text([person(), person()]))
    assert response.status_code == 200, response.text
    assert 'id="count-imported">2<' in response.text
    assert await _count(sessions) == before + 2


async def test_bad_rows_are_shown_and_nothing_is_written(
    browser: Callable[[], Browser], sessions: async_sessionmaker[AsyncSession]
) -> None:
    b = browser()
    await b.sign_in("officer.dewi")
    before = await _count(sessions)
    rows = [person(), person(desil="12"), person(district="52.71.01", village="52.71.01.1004")]
    response = await _upload(b, csv_text(rows))
    assert response.status_code == 422
    assert "OUT_OF_RANGE" in response.text
    assert "OUT_OF_REGION" in response.text
    assert "nothing written" in response.text
    assert await _count(sessions) == before
    dry = await _upload(b, csv_text([person()]), dry_run="on")
    assert 'id="count-imported">1<' in dry.text
    assert await _count(sessions) == before


async def test_without_the_csrf_token_or_write_scope_nothing_is_imported(
    browser: Callable[[], Browser], sessions: async_sessionmaker[AsyncSession]
) -> None:
    b = browser()
    await b.sign_in("officer.dewi")
    before = await _count(sessions)
    forged = await b.http.post(PAGE, files={"file": ("list.csv", csv_text([person()]).encode(), "text/csv")})
    assert forged.status_code == 403
    assert await _count(sessions) == before
    analyst = browser()
    await analyst.sign_in("analyst.budi")
    refused = await analyst.get(PAGE)
    assert refused.status_code in (302, 403)  # the console turns an analyst away (to the dashboard) or refuses
    assert 'id="import-form"' not in refused.text


async def test_no_file_chosen(browser: Callable[[], Browser]) -> None:
    b = browser()
    await b.sign_in("officer.dewi")
    await b.get(PAGE)
    response = await b.http.post(PAGE, data={"csrf_token": b.token()})
    assert response.status_code == 400
    assert "Choose a .csv or .xlsx file" in response.text
