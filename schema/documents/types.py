"""The trusted-document registry, for administrators: which operations each OAuth client may run by id.

National administrators only (role ``admin``, no region): the registry says what every partner runs, which
a regional token has no business reading. Registering and removing happen through ``jamsos documents`` and
the console, not through GraphQL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import strawberry
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from strawberry import relay

from auth.principal import Principal
from auth.scopes import Role
from domain.codes import ErrorCode
from domain.documents.models import TrustedDocument
from schema.core import demand
from schema.core.bounds import TRUSTED_DOCUMENT_CLIENTS_SIZE
from schema.core.context import Info
from schema.core.pagination import CountedConnection


class NotNationalAdministrator(Exception):
    def __init__(self) -> None:
        super().__init__("the trusted-document registry is for national administrators (role admin, no region)")
        self.extensions = {"code": ErrorCode.FORBIDDEN.value}


def require_national_administrator(principal: Principal) -> None:
    if Role.ADMIN not in principal.roles or principal.region is not None:
        raise NotNationalAdministrator


@strawberry.type(name="TrustedDocumentClient", description="An OAuth client a trusted document is registered for.")
class TrustedDocumentClientEntry:
    client_id: str = strawberry.field(description="The OAuth client's id.")
    registered_by: str = strawberry.field(description="Who registered the document for this client.")
    registered_at: dt.datetime = strawberry.field(description="When.")
    public_cache: bool = strawberry.field(
        description="Pushed with --public-cache: a shared HTTP cache may keep its GET responses to this client "
        "when the client reads statistics only."
    )


@strawberry.type(
    name="TrustedDocument",
    description="A registered operation: clients it is registered for run it by id "
    '({"documentId": "sha256:…"}) without sending its text.',
)
class TrustedDocumentNode(relay.Node):
    id: relay.NodeID[str]
    document_id: str = strawberry.field(description="sha256: and the hex SHA-256 of the exact text.")
    operation_name: str | None = strawberry.field(description="The operation's name; null for an anonymous one.")
    text: str = strawberry.field(description="The document, exactly as registered.")
    registered_by: str = strawberry.field(description="Who registered the text first.")
    registered_at: dt.datetime = strawberry.field(description="When.")
    clients: list[TrustedDocumentClientEntry] = strawberry.field(
        description="Who may run it, by client id.", directives=demand.bounded(TRUSTED_DOCUMENT_CLIENTS_SIZE)
    )

    @classmethod
    def from_row(cls, row: TrustedDocument) -> TrustedDocumentNode:
        return cls(
            id=row.id,
            document_id=row.id,
            operation_name=row.operation_name,
            text=row.text,
            registered_by=row.registered_by,
            registered_at=row.registered_at,
            clients=[
                TrustedDocumentClientEntry(
                    client_id=c.client_id,
                    registered_by=c.registered_by,
                    registered_at=c.registered_at,
                    public_cache=c.public_cache,
                )
                for c in row.clients
            ],
        )

    @classmethod
    async def resolve_nodes(  # type: ignore[override]  # relay.Node declares overloads per `required`
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[TrustedDocumentNode | None]:
        require_national_administrator(info.context.principal)
        wanted = list(node_ids)
        stmt = select(TrustedDocument).options(selectinload(TrustedDocument.clients))
        rows = {r.id: r for r in await info.context.reader.all(stmt.where(TrustedDocument.id.in_(wanted)))}
        return [cls.from_row(rows[i]) if i in rows else None for i in wanted]


@strawberry.type(name="TrustedDocumentConnection", description="A page of trusted documents, by id.")
class TrustedDocumentConnection(CountedConnection[TrustedDocumentNode]):
    pass
