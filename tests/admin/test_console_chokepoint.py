"""The read chokepoint in the console: lists, searches, filters, details, edit forms and exports of every
view read placed tables only through ``auth.policy.visible`` (the base view's default scope).

Runs as officers bound to 52.71 and 52.03 while :class:`~tests.scoping_guard.ScopeGuard` inspects every SELECT.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from domain.beneficiaries.models import PovertyBeneficiary
from domain.claims.models import Claim
from domain.participants.models import Employer, Participant
from domain.regions.models import RegionYearFigure
from tests.scoping_guard import PLACED_TABLES, ScopeGuard

VIEWS: dict[str, Any] = {
    "participant": Participant,
    "employer": Employer,
    "poverty-beneficiary": PovertyBeneficiary,
    "claim": Claim,
}


@pytest.fixture
def guard(console_app: Starlette) -> Iterator[ScopeGuard]:
    witness = ScopeGuard()
    engine = console_app.state.engine.sync_engine
    witness.attach(engine)
    yield witness
    witness.detach(engine)


async def _ids(sessions: async_sessionmaker[AsyncSession], model: Any) -> list[str]:
    """One row inside 52.71 and one outside it (for the officer of 52.03, the other way round)."""
    async with sessions() as session:
        inside = await session.scalar(select(model.id).where(model.regency_code == "52.71").limit(1))
        outside = await session.scalar(select(model.id).where(model.regency_code != "52.71").limit(1))
    assert inside is not None
    assert outside is not None
    return [str(inside), str(outside)]


@pytest.mark.parametrize("username", ["officer.rina", "officer.dewi"])
async def test_every_console_read_goes_through_the_chokepoint(
    signed_in: Callable[[str], Any], sessions: async_sessionmaker[AsyncSession], guard: ScopeGuard, username: str
) -> None:
    b = await signed_in(username)
    own = {"officer.rina": "52.71", "officer.dewi": "52.03"}[username]
    paths: list[str] = []
    for identity, model in VIEWS.items():
        paths += [
            f"/admin/{identity}/list",
            f"/admin/{identity}/list?search=52&region=52.71",
            f"/admin/{identity}/list?region=52.03",
            f"/admin/{identity}/export/csv",
        ]
        for pk in await _ids(sessions, model):
            paths += [f"/admin/{identity}/details/{pk}", f"/admin/{identity}/edit/{pk}"]
    async with sessions() as session:
        figure = (await session.execute(select(RegionYearFigure.region_code, RegionYearFigure.year).limit(1))).one()
    paths += [
        "/admin/region/list",
        "/admin/region/list?search=52.71&region=52",
        "/admin/region/details/52.71",
        "/admin/region/details/52.03",
        "/admin/region/export/csv",
        "/admin/region-year-figure/list",
        "/admin/region-year-figure/export/csv",
        f"/admin/region-year-figure/details/{figure.region_code};{figure.year}",
        "/admin/contribution/list",
        "/admin/contribution/export/csv",
        "/admin/monev",
        "/admin/monev?region=52",
        f"/admin/monev/report?kind=inpres-4-2022&format=csv&region={own}&period=2025-Q4",
        f"/admin/monev/report?kind=inpres-2-2021&format=csv&region={own}&period=2025-2",
    ]
    guard.violations.clear()
    for path in paths:
        response = await b.get(path)
        if "/details/" in path or "/edit/" in path:
            assert response.status_code in (200, 403, 404), (path, response.status_code)
        else:  # lists, exports, the dashboard and its reports are open to an officer
            assert response.status_code == 200, (path, response.status_code)
        assert not guard.violations, (path, guard.report())
    assert guard.tables_seen == PLACED_TABLES, "every placed table should have been read at least once"
    assert guard.placed_reads > 40
