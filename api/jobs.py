"""Which queue the app's jobs go to (settings' ``jobs_runner``), opened and closed with the app."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.settings import Settings
from domain.jobs.queue import InProcessQueue, JobQueue, ProcrastinateQueue, queue_app

log = logging.getLogger(__name__)


def job_queue(settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> JobQueue:
    if settings.resolved_jobs_runner == "worker":
        return ProcrastinateQueue(queue_app(settings.resolved_database_url))
    return InProcessQueue(sessions)


async def open_jobs(queue: JobQueue) -> None:
    """At start-up: connect to the worker's queue, or resume the jobs a stopped web process left."""
    if isinstance(queue, ProcrastinateQueue):
        await queue.open()
    elif isinstance(queue, InProcessQueue):
        resumed = await queue.resume()
        if resumed:
            log.info("resumed jobs %s", resumed)


async def close_jobs(queue: JobQueue) -> None:
    if isinstance(queue, ProcrastinateQueue | InProcessQueue):
        await queue.close()
