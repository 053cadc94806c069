"""Codes of jobs (domain/jobs/): what a caller can be told about a job it acts on."""

from __future__ import annotations

from domain.codes import UserErrorCode


class JobCode(UserErrorCode):
    """Codes of cancelling and running jobs."""

    JOB_FINISHED = "JOB_FINISHED", "The job is already DONE, FAILED or CANCELLED: there is nothing to cancel."
