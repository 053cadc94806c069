"""The audit trail and the personal-data access log, for callers with ``audit:read``.

Both are national records: a caller bound to a region is refused (FORBIDDEN) rather than shown a partial
trail whose gaps would themselves mislead.
"""

from __future__ import annotations

from typing import Annotated, Any

import strawberry
from sqlalchemy import select

from auth.scopes import Scope
from domain.audit.models import AuditEvent, DataAccessEvent
from schema.audit.filters import AuditEventFilter, _aware
from schema.audit.types import (
    AuditEventConnection,
    AuditEventNode,
    DataAccessEventConnection,
    DataAccessEventNode,
    require_national_auditor,
)
from schema.core import demand
from schema.core.bounds import PAGE_SIZE_TEXT
from schema.core.context import Info
from schema.core.filters import apply
from schema.core.pagination import SortKey, paginate
from schema.core.permissions import needs

_First = Annotated[int | None, strawberry.argument(description=PAGE_SIZE_TEXT)]
_After = Annotated[str | None, strawberry.argument(description="Cursor from a previous page.")]
AUDIT_SORT = SortKey("SEQ", AuditEvent.seq)
ACCESS_SORT = SortKey("ID", DataAccessEvent.id)


@strawberry.type
class AuditQuery:
    @strawberry.federation.field(
        description="The audit trail, newest first.", directives=demand.page(), **needs(Scope.AUDIT_READ)
    )
    async def audit_events(
        self,
        info: Info,
        filter: Annotated[AuditEventFilter | None, strawberry.argument(description="Conditions.")] = None,
        first: _First = None,
        after: _After = None,
    ) -> AuditEventConnection:
        require_national_auditor(info.context.principal)
        f = filter or AuditEventFilter()
        stmt: Any = apply(
            select(AuditEvent),
            AuditEvent.entity_type == f.entity_type if f.entity_type else None,
            AuditEvent.entity_id == f.entity_id if f.entity_id else None,
            AuditEvent.actor_subject == f.actor_subject if f.actor_subject else None,
            AuditEvent.action == f.action if f.action else None,
            AuditEvent.occurred_at >= _aware(f.occurred_from, "filter.occurredFrom") if f.occurred_from else None,
            AuditEvent.occurred_at < _aware(f.occurred_to, "filter.occurredTo") if f.occurred_to else None,
        )
        reader = info.context.reader
        return await paginate(
            reader,
            stmt,
            sort=AUDIT_SORT,
            id_column=AuditEvent.id,
            descending=True,
            first=first,
            after=after,
            to_node=lambda row: AuditEventNode.from_row(row, info.context.principal),
            connection=AuditEventConnection,
        )

    @strawberry.federation.field(
        description="Who received unmasked NIKs or family-card numbers, newest first (UU PDP 27/2022).",
        directives=demand.page(),
        **needs(Scope.AUDIT_READ),
    )
    async def data_access_events(
        self,
        info: Info,
        actor_subject: Annotated[str | None, strawberry.argument(description="Only this reader.")] = None,
        first: _First = None,
        after: _After = None,
    ) -> DataAccessEventConnection:
        require_national_auditor(info.context.principal)
        stmt: Any = apply(
            select(DataAccessEvent), DataAccessEvent.actor_subject == actor_subject if actor_subject else None
        )
        reader = info.context.reader
        return await paginate(
            reader,
            stmt,
            sort=ACCESS_SORT,
            id_column=DataAccessEvent.id,
            descending=True,
            first=first,
            after=after,
            to_node=DataAccessEventNode.from_row,
            connection=DataAccessEventConnection,
        )
