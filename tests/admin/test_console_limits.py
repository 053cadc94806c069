"""The console reads its limits from the domain and refuses what is over them; it never cuts text silently."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.claims.models import Claim, ClaimStatus
from domain.text import MAX_NOTE_LENGTH
from tests.admin.conftest import Browser
from tests.admin.test_console_workflow import press, reload


async def test_an_over_long_workflow_note_is_refused_not_cut(
    signed_in: Callable[[str], Any], sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions() as session:  # a regency the other console tests leave alone
        claim = (
            await session.scalars(
                select(Claim)
                .where(Claim.status == ClaimStatus.SUBMITTED, Claim.regency_code.not_in(["52.71", "52.02", "52.05"]))
                .order_by(Claim.id)
                .limit(1)
            )
        ).one()
    clerk: Browser = await signed_in("admin.nasional")
    page = await press(clerk, claim, "verify", note="x" * (MAX_NOTE_LENGTH + 1))
    assert "Nothing was saved" in page
    assert str(MAX_NOTE_LENGTH) in page
    assert (await reload(sessions, claim.id)).status is ClaimStatus.SUBMITTED
    fits = await press(clerk, await reload(sessions, claim.id), "verify", note="y" * MAX_NOTE_LENGTH)
    assert "is now VERIFIED" in fits
