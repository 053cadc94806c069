"""Regions in GraphQL: the Kemendagri hierarchy as a federation entity keyed by ``code``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry import relay

from auth.policy import require_scope
from auth.scopes import Scope
from domain.regions.models import Region
from domain.regions.rules import RegionCode
from schema.core import demand
from schema.core.bounds import REGION_ANCESTORS_SIZE, REGION_CHILDREN_SIZE
from schema.core.context import Info
from schema.core.enums import RegionLevelEnum
from schema.core.pagination import CountedConnection
from schema.core.permissions import needs
from schema.core.read_fields import column_field

if TYPE_CHECKING:
    from schema.stats.types import CoverageType


@strawberry.federation.type(
    name="Region",
    keys=["code"],
    description="A region of the Kemendagri hierarchy: province, regency/city, district or village.",
)
class RegionNode(relay.Node):
    # Each column field's name and description come from its declaration beside the column
    # (domain.regions.models, domain.read_fields); the compiled path reads the same ones. The id is the code.
    id: relay.NodeID[str]
    code: str = column_field(Region.code)
    name: str = column_field(Region.name)
    level: RegionLevelEnum = column_field(Region.level)
    is_city: bool = column_field(Region.is_city)
    parent_code: strawberry.Private[str | None]

    @classmethod
    def from_row(cls, row: Region) -> RegionNode:
        return cls(
            id=row.code,
            code=row.code,
            name=row.name,
            level=row.level,
            is_city=row.is_city,
            parent_code=row.parent_code,
        )

    @strawberry.field(description="The region one level up; null for a province.")
    async def parent(self, info: Info) -> RegionNode | None:
        if self.parent_code is None:
            return None
        row = await info.context.loaders.region.load(self.parent_code)
        return RegionNode.from_row(row) if row else None

    @strawberry.field(
        description="The regions one level down that you may see, ordered by code.",
        directives=demand.bounded(REGION_CHILDREN_SIZE),
    )
    async def children(self, info: Info) -> list[RegionNode]:
        rows = await info.context.loaders.region_children.load(self.code)
        return [RegionNode.from_row(r) for r in rows]

    @strawberry.field(
        description="The regions above this one, province first.", directives=demand.bounded(REGION_ANCESTORS_SIZE)
    )
    async def ancestors(self, info: Info) -> list[RegionNode]:
        rows = await info.context.loaders.region.load_many(RegionCode(self.code).ancestors)
        return [RegionNode.from_row(r) for r in rows if r is not None]

    @strawberry.federation.field(
        description="Monev coverage of this region at the end of asOf's month (as Query.coverage); null when the "
        "region is not entirely within yours.",
        **needs(Scope.STATS_READ),
    )
    async def coverage(
        self,
        info: Info,
        as_of: Annotated[
            dt.date | None, strawberry.argument(description="Figures at the end of this date's month (default: today).")
        ] = None,
    ) -> Annotated[CoverageType, strawberry.lazy("schema.stats.types")] | None:
        from schema.stats.queries import coverage_of  # schema.stats builds on this module

        return await coverage_of(info, self.code, as_of, "asOf")

    @classmethod
    async def resolve_nodes(  # type: ignore[override]  # relay.Node declares overloads per `required`
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[RegionNode | None]:
        require_scope(info.context.principal, Scope.REGIONS_READ)
        rows = await info.context.loaders.region.load_many(list(node_ids))
        return [cls.from_row(r) if r else None for r in rows]

    @classmethod
    async def resolve_reference(cls, info: Info, code: str, **_rest: Any) -> RegionNode | None:
        require_scope(info.context.principal, Scope.REGIONS_READ)
        row = await info.context.loaders.region.load(code)
        return cls.from_row(row) if row else None


@strawberry.type(name="RegionConnection", description="A page of regions.")
class RegionConnection(CountedConnection[RegionNode]):
    pass
