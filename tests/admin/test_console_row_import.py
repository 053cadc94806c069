"""The console's participant and contribution upload page: up to a page imported on the page, over a page a
job shown in the Jobs view, the good rows written and the bad ones reported by their row."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from domain.jobs.models import Job
from domain.jobs.queue import InProcessQueue
from domain.jobs.rules import JobState
from domain.participants.models import Participant
from tests.admin.conftest import BASE, Browser, console_settings
from tests.conftest import AppFactory
from tests.writes.test_bulk_jobs import csv_file, participant_rows

PAGE = "/admin/participant/upload"


@pytest.fixture
def jobs_console(
    console_app: Starlette, console_url: str, key_path: Path, app_factory: AppFactory, tmp_path: Path
) -> Starlette:
    """A console on the console tests' database (its people made by `console_app`) that runs its jobs itself."""
    return app_factory(console_settings(console_url, key_path, jobs_runner="web", data_dir=tmp_path)).app


@pytest.fixture
async def jobs_browser(jobs_console: Starlette) -> AsyncIterator[Callable[[], Browser]]:
    clients: list[httpx.AsyncClient] = []

    def make() -> Browser:
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=jobs_console), base_url=BASE)
        clients.append(client)
        return Browser(client)

    yield make
    for client in clients:
        await client.aclose()


async def _count(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return int((await session.execute(select(func.count()).select_from(Participant))).scalar_one())


async def _upload(b: Browser, content: str, **choices: str) -> Any:
    page = await b.get(PAGE)
    assert page.status_code == 200
    assert 'id="row-import-form"' in page.text
    data = {"csrf_token": b.token(), "kind": "participants", **choices}
    return await b.http.post(PAGE, data=data, files={"file": ("rows.csv", content.encode(), "text/csv")})


async def test_a_small_file_is_imported_on_the_page_writing_the_good_rows(
    jobs_browser: Callable[[], Browser], sessions: async_sessionmaker[AsyncSession]
) -> None:
    b = jobs_browser()
    await b.sign_in("officer.dewi")
    listing = await b.get("/admin/participant/list")
    assert 'id="upload-list"' in listing.text
    lines, _ = participant_rows(10)
    before = await _count(sessions)
    response = await _upload(b, csv_file(lines))
    assert response.status_code == 422, response.text  # a bad row: its problem is on the page
    assert 'id="count-imported">9<' in response.text
    assert "INVALID_NIK" in response.text
    assert await _count(sessions) == before + 9
    refused = await _upload(b, "nik,nama\n1,2\n")
    assert refused.status_code == 422
    assert "MISSING_COLUMN" in refused.text


async def test_a_file_over_a_page_becomes_a_job_in_the_jobs_view(
    jobs_browser: Callable[[], Browser], jobs_console: Starlette, sessions: async_sessionmaker[AsyncSession]
) -> None:
    b = jobs_browser()
    await b.sign_in("officer.dewi")
    lines, bad = participant_rows(120)
    before = await _count(sessions)
    response = await _upload(b, csv_file(lines))
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert "/admin/job/details/" in location
    queue = jobs_console.state.jobs
    assert isinstance(queue, InProcessQueue)
    await queue.drain()
    job_id = int(location.rstrip("/").rsplit("/", 1)[1])
    async with sessions() as session:
        job = await session.get(Job, job_id)
        assert job is not None
        assert (job.state, job.counts) == (JobState.DONE, {"imported": 108, "rejected": 12})
    assert await _count(sessions) == before + 108
    page = await b.get(location)
    assert page.status_code == 200
    assert "participants.import" in page.text
    assert 'data-job-progress="100"' in page.text
    analyst = jobs_browser()
    await analyst.sign_in("analyst.budi")
    assert (await analyst.get(PAGE)).status_code in (302, 403)
    assert len(bad) == 12
