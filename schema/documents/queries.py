"""Trusted documents in GraphQL: the query fields."""

from __future__ import annotations

from typing import Annotated

import strawberry
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from domain.documents.models import TrustedDocument
from schema.core import demand
from schema.core.bounds import PAGE_SIZE_TEXT
from schema.core.context import Info
from schema.core.pagination import SortKey, paginate
from schema.core.permissions import needs_authentication
from schema.documents.types import (
    TrustedDocumentConnection,
    TrustedDocumentNode,
    require_national_administrator,
)

DOCUMENT_SORT = SortKey("ID", TrustedDocument.id, id_type=str)


@strawberry.type
class DocumentQuery:
    @strawberry.federation.field(
        description="The trusted-document registry (national administrators only), by document id.",
        directives=demand.page(),
        **needs_authentication(),
    )
    async def trusted_documents(
        self,
        info: Info,
        first: Annotated[int | None, strawberry.argument(description=PAGE_SIZE_TEXT)] = None,
        after: Annotated[str | None, strawberry.argument(description="Cursor from a previous page.")] = None,
    ) -> TrustedDocumentConnection:
        require_national_administrator(info.context.principal)
        return await paginate(
            info.context.reader,
            select(TrustedDocument).options(selectinload(TrustedDocument.clients)),
            sort=DOCUMENT_SORT,
            id_column=TrustedDocument.id,
            descending=False,
            first=first,
            after=after,
            to_node=TrustedDocumentNode.from_row,
            connection=TrustedDocumentConnection,
        )
