"""The contribution ledger in the console: read-only, and scoped like its participants.

The expected rows come from the test's own SQL (a join on the participants' placement), not from ``auth.policy``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.participants.models import Contribution, Participant
from tests.admin.conftest import Browser

ROW = re.compile(r'<input type="hidden" value="(\d+)">')


async def _ids(sessions: async_sessionmaker[AsyncSession], regency: str) -> set[int]:
    async with sessions() as session:
        stmt = (
            select(Contribution.id)
            .join(Participant, Participant.id == Contribution.participant_id)
            .where(Participant.regency_code == regency)
        )
        return set((await session.scalars(stmt)).all())


async def test_an_officer_sees_the_ledger_of_their_region_only_and_cannot_change_it(
    signed_in: Callable[[str], Any], sessions: async_sessionmaker[AsyncSession]
) -> None:
    b: Browser = await signed_in("officer.rina")
    page = await b.get("/admin/contribution/list?pageSize=100")
    assert page.status_code == 200
    mine = await _ids(sessions, "52.71")
    assert mine
    assert {int(pk) for pk in ROW.findall(page.text)} == set(sorted(mine, reverse=True)[:100])
    assert f"of {len(mine)} items" in page.text
    assert "/admin/contribution/create" not in page.text
    assert "/admin/contribution/edit/" not in page.text
    own = max(mine)
    details = await b.get(f"/admin/contribution/details/{own}")
    assert details.status_code == 200
    elsewhere = max(await _ids(sessions, "52.03"))
    assert (await b.get(f"/admin/contribution/details/{elsewhere}")).status_code == 404
    for path in (f"/admin/contribution/edit/{own}", "/admin/contribution/create"):
        response = await b.get(path)
        assert response.status_code in (403, 404), path
    await b.get("/admin/")
    posted = await b.post(f"/admin/contribution/edit/{own}", {"months": "99", "reference": "x"})
    assert posted.status_code in (403, 404)
    async with sessions() as session:
        months = await session.scalar(select(func.max(Contribution.months)).where(Contribution.id == own))
    assert months != 99
