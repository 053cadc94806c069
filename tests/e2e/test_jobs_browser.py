"""A running enrolment job in a real browser: the officer's Jobs list shows its progress bar moving, and 100 %
when it is done. The job runs (in small chunks, so there is something to watch) against the service's database;
the console reads the same row the runner writes."""

from __future__ import annotations

import asyncio
import concurrent.futures
import re
import threading
import time
from typing import Any

import pytest

from domain.beneficiaries.batch_enrolment import ENROL_KIND, ListFilter, enrolment_params
from domain.db import make_engine, make_sessionmaker
from domain.jobs.rules import JobState
from domain.jobs.runner import create_job, run_job
from domain.participants.models import FundingSource
from tests.e2e.conftest import Service
from tests.e2e.test_console_browser import sign_in
from tests.writes.test_batch_enrolment import OFFICER_5203, make_mix

pytestmark = pytest.mark.e2e


async def _queued_job(url: str) -> int:
    engine = make_engine(url, null_pool=True)
    try:
        await make_mix(engine, 31, 240)
        params = enrolment_params(
            ListFilter(region_code="52.03"), programs=None, funding=FundingSource.APBD, payer="52.03", dry_run=False,
            chunk_size=3,
        )  # fmt: skip
        async with make_sessionmaker(engine)() as session, session.begin():
            job = await create_job(session, OFFICER_5203, ENROL_KIND, params, total=240, payer_region_code="52.03")
        return job.id
    finally:
        await engine.dispose()


def _in_thread(work: Any) -> Any:
    """Run a coroutine to its end in a thread of its own (Playwright's sync API holds this thread's loop)."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, work).result()


def _run(url: str, job_id: int, ended: list[JobState | None]) -> None:
    async def run() -> None:
        engine = make_engine(url, null_pool=True)
        try:
            ended.append(await run_job(make_sessionmaker(engine), job_id))
        finally:
            await engine.dispose()

    asyncio.run(run())


def test_the_jobs_list_shows_a_running_jobs_progress(service: Service, chromium: Any, shots: Any) -> None:
    url = f"sqlite+aiosqlite:///{service.database}"
    job_id = _in_thread(_queued_job(url))
    page = chromium.new_page(viewport={"width": 1440, "height": 900})
    sign_in(page, service, "officer.lotim")
    page.click("#navbar-menu >> text=Jobs")
    page.wait_for_url(re.compile(r"/admin/job/list"))
    bar = f'a[href$="/admin/job/details/{job_id}"] >> xpath=ancestor::tr >> [data-job-progress]'
    assert page.locator(bar).get_attribute("data-job-progress") == "0"

    ended: list[JobState | None] = []
    runner = threading.Thread(target=_run, args=(url, job_id, ended))
    runner.start()
    seen: set[int] = set()
    try:
        deadline = time.monotonic() + 120
        while runner.is_alive() and time.monotonic() < deadline:
            page.reload()
            seen.add(int(page.locator(bar).get_attribute("data-job-progress") or 0))
            if any(0 < p < 100 for p in seen) and len(seen) == 2:
                shots(page, "job-running")
            time.sleep(0.3)
    finally:
        runner.join(timeout=120)
    assert ended == [JobState.DONE]
    assert any(0 < p < 100 for p in seen), f"the bar never showed the job part-way: {sorted(seen)}"
    page.reload()
    assert page.locator(bar).get_attribute("data-job-progress") == "100"
    shots(page, "job-done")
    page.click(f'a[href$="/admin/job/details/{job_id}"]')
    page.wait_for_url(re.compile(rf"/admin/job/details/{job_id}"))
    assert "DONE" in page.content()
    shots(page, "job-details")
