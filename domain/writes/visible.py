"""Loading the row a write acts on: only a row the caller may see exists for the write.

Every write that targets an existing placed row (participant, employer, beneficiary, claim, region) loads it
here, with the same SQL predicate reads use (``domain.regions.models.placed_within``), so a row outside the
caller's region is :class:`NotFound` — the same answer as a row that does not exist.
"""

from __future__ import annotations

from typing import TypeVar, cast

from sqlalchemy import inspect, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.regions.models import PlacedMixin, PlacedModel, Region, placed_within
from domain.writes.caller import Caller
from domain.writes.errors import NotFound

M = TypeVar("M", bound=PlacedMixin | Region)


async def load_visible(session: AsyncSession, caller: Caller, model: type[M], key: object, entity: str) -> M:
    """The row of `model` with primary key `key`, fresh from the database, if it lies in the caller's region.

    Raises :class:`NotFound` naming it `entity` (``"participant"``) otherwise.
    """
    (pk,) = inspect(model).primary_key
    stmt = (
        select(model)
        .where(pk == key, placed_within(cast(PlacedModel, model), caller.within))
        .execution_options(populate_existing=True)
    )
    row = (await session.execute(stmt)).scalar_one_or_none()
    if row is None:
        raise NotFound(entity, key)
    return row
