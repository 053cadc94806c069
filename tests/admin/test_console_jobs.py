"""The console's jobs: a progress bar per job, the report, a Cancel button, and only the user's region's jobs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.audit.writes import Actor
from domain.beneficiaries.batch_enrolment import ENROL_KIND, ListFilter, enrolment_params
from domain.jobs.models import Job
from domain.jobs.registry import ReportLine
from domain.jobs.rules import JobState
from domain.jobs.runner import create_job
from domain.participants.models import FundingSource
from domain.regions.rules import RegionCode
from domain.writes.caller import Caller

DEWI = Caller(Actor("officer.dewi", "user"), RegionCode.parse("52.03"))


async def _running_job(sessions: async_sessionmaker[AsyncSession]) -> int:
    """A job of 52.03 a quarter of the way through (the row as the runner leaves it between chunks)."""
    params = enrolment_params(
        ListFilter(region_code="52.03"), programs=None, funding=FundingSource.APBD, payer="52.03", dry_run=False
    )
    async with sessions() as session, session.begin():
        job = await create_job(session, DEWI, ENROL_KIND, params, total=200, payer_region_code="52.03")
        line = ReportLine(17, "beneficiaryId", "17", "BELOW_WORKING_AGE", "participants are workers of at least 18")
        await session.execute(
            update(Job)
            .where(Job.id == job.id)
            .values(
                state=JobState.RUNNING,
                processed=50,
                cursor="120",
                counts={"created": 49, "refused": 1},
                refusals={"BELOW_WORKING_AGE": 1},
                costs={"52.03": "823200.00"},
                report=f'{line.row},{line.column},{line.value},{line.code},"{line.message}"\r\n',
            )
        )
        return job.id


async def test_a_running_job_shows_its_progress_and_can_be_cancelled(
    signed_in: Callable[[str], Any], sessions: async_sessionmaker[AsyncSession]
) -> None:
    job_id = await _running_job(sessions)
    dewi = await signed_in("officer.dewi")
    listing = await dewi.get("/admin/job/list")
    assert listing.status_code == 200
    assert 'data-job-progress="25"' in listing.text
    assert "50 / 200" in listing.text
    page = await dewi.get(f"/admin/job/details/{job_id}")
    assert page.status_code == 200
    assert 'data-job-progress="25"' in page.text
    assert "BELOW_WORKING_AGE" in page.text  # the report's lines
    assert "52.03 Rp823,200.00" in page.text
    assert "Cancel job" in page.text
    report = await dewi.post(f"/admin/job/report/{job_id}", {})
    assert report.status_code == 200
    assert report.text.splitlines()[0] == "row,column,value,code,message"
    await dewi.get(f"/admin/job/details/{job_id}")
    cancelled = await dewi.post(f"/admin/job/cancel/{job_id}", {})
    assert cancelled.status_code == 303
    async with sessions() as session:
        job = await session.get(Job, job_id)
        assert job is not None
        assert job.cancel_requested  # the runner stops it before its next chunk
    again = await dewi.get(f"/admin/job/details/{job_id}")
    assert "Cancel job" not in again.text


async def test_another_regions_job_does_not_exist_in_the_console(
    signed_in: Callable[[str], Any], sessions: async_sessionmaker[AsyncSession]
) -> None:
    job_id = await _running_job(sessions)
    rina = await signed_in("officer.rina")  # 52.71
    assert f"/admin/job/details/{job_id}" not in (await rina.get("/admin/job/list")).text
    assert (await rina.get(f"/admin/job/details/{job_id}")).status_code == 404
    admin = await signed_in("admin.nasional")
    assert f"/admin/job/details/{job_id}" in (await admin.get("/admin/job/list")).text
    analyst = await signed_in("analyst.budi")  # 52.03, but no beneficiaries:write: no jobs view at all
    assert (await analyst.get(f"/admin/job/details/{job_id}")).status_code in (403, 404)
