"""Regions in GraphQL: the query fields."""

from __future__ import annotations

from typing import Annotated

import strawberry
from sqlalchemy import select

from auth.scopes import Scope
from domain.regions.models import Region
from schema.core import demand
from schema.core.bounds import PAGE_SIZE_TEXT
from schema.core.context import Info
from schema.core.enums import RegionLevelEnum
from schema.core.pagination import paginate
from schema.core.permissions import needs
from schema.regions.filters import REGION_SORT, parse_region_code, region_conditions
from schema.regions.types import RegionConnection, RegionNode


@strawberry.type
class RegionQuery:
    @strawberry.federation.field(
        description="One region by its Kemendagri code; null when unknown or not visible to you.",
        **needs(Scope.REGIONS_READ),
    )
    async def region(
        self,
        info: Info,
        code: Annotated[str, strawberry.argument(description="Dotted Kemendagri code, e.g. '52.71'.")],
    ) -> RegionNode | None:
        parsed = parse_region_code(code, "code")
        row = await info.context.loaders.region.load(parsed.code)
        return RegionNode.from_row(row) if row else None

    @strawberry.federation.field(
        description="Regions you may see, by level and/or parent, ordered by code.",
        directives=demand.page(),
        **needs(Scope.REGIONS_READ),
    )
    async def regions(
        self,
        info: Info,
        level: Annotated[RegionLevelEnum | None, strawberry.argument(description="Only regions of this level.")] = None,
        parent_code: Annotated[str | None, strawberry.argument(description="Only the children of this region.")] = None,
        first: Annotated[int | None, strawberry.argument(description=PAGE_SIZE_TEXT)] = None,
        after: Annotated[
            str | None, strawberry.argument(description="Cursor of the last item of the previous page.")
        ] = None,
    ) -> RegionConnection:
        stmt = select(Region).where(*region_conditions(info.context.principal, level, parent_code))
        reader = info.context.reader
        return await paginate(
            reader,
            stmt,
            sort=REGION_SORT,
            id_column=Region.code,
            descending=False,
            first=first,
            after=after,
            to_node=RegionNode.from_row,
            connection=RegionConnection,
        )
