"""The participant list's lookup filters: status as every read derives it, programme through the enrolments."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from admin.filters import ProgramFilter, StatusFilter
from domain import clock
from domain.participants.models import Participant, ParticipantProgram, ParticipantStatus
from domain.participants.rules import Program
from domain.participants.status import derived_status


async def _ids(sessions: async_sessionmaker[AsyncSession], query: Any) -> set[int]:
    async with sessions() as session:
        return {row.id for row in (await session.execute(query)).all()}


async def test_the_status_filter_selects_the_derived_status(sessions: async_sessionmaker[AsyncSession]) -> None:
    base = select(Participant.id, Participant.status, Participant.paid_through)
    async with sessions() as session:
        rows = (await session.execute(base)).all()
    today = clock.today()
    status_filter = StatusFilter()
    lookups = await status_filter.lookups(None, Participant, None)  # type: ignore[arg-type]
    assert [value for value, _ in lookups[1:]] == [s.value for s in ParticipantStatus]
    for status in ParticipantStatus:
        expected = {r.id for r in rows if derived_status(r.status, r.paid_through, today) is status}
        assert await _ids(sessions, await status_filter.get_filtered_query(base, status.value, Participant)) == expected
    assert await _ids(sessions, await status_filter.get_filtered_query(base, "__all", Participant)) == {
        r.id for r in rows
    }
    assert await _ids(sessions, await status_filter.get_filtered_query(base, "ASLEEP", Participant)) == set()


async def test_the_programme_filter_selects_the_holders(sessions: async_sessionmaker[AsyncSession]) -> None:
    base = select(Participant.id)
    program_filter = ProgramFilter()
    for program in Program:
        holders = select(ParticipantProgram.participant_id.label("id")).where(ParticipantProgram.program == program)
        expected = await _ids(sessions, holders)
        assert (
            await _ids(sessions, await program_filter.get_filtered_query(base, program.value, Participant)) == expected
        )
    assert await _ids(sessions, await program_filter.get_filtered_query(base, "JKN", Participant)) == set()
    assert await _ids(sessions, await program_filter.get_filtered_query(base, None, Participant)) == await _ids(
        sessions, base
    )
