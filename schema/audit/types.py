"""The audit trail and the personal-data access log in GraphQL: their types."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import strawberry
from sqlalchemy import select
from strawberry import relay
from strawberry.scalars import JSON

from auth.policy import audit_trail_decision, masked_changes, require_scope
from auth.principal import Principal
from auth.scopes import Scope
from domain.audit.models import AuditEvent, DataAccessEvent
from domain.codes import ErrorCode
from schema.core.context import Info
from schema.core.ids import db_id
from schema.core.pagination import CountedConnection


class NationalOnly(Exception):
    def __init__(self) -> None:
        super().__init__("the audit trail is national; a token bound to a region cannot read it")
        self.extensions = {"code": ErrorCode.FORBIDDEN.value}


def require_national_auditor(principal: Principal) -> None:
    """``auth.policy.audit_trail_decision``, raised as the error of the rule that refused."""
    require_scope(principal, Scope.AUDIT_READ)
    if not audit_trail_decision(principal).allowed:
        raise NationalOnly


@strawberry.type(name="AuditEvent", description="One write, as the tamper-evident audit trail recorded it.")
class AuditEventNode(relay.Node):
    id: relay.NodeID[int]
    seq: int = strawberry.field(description="Position in the hash chain (1, 2, 3, … without gaps).")
    occurred_at: dt.datetime = strawberry.field(description="When.")
    actor_subject: str = strawberry.field(description="Who: user name, client id or 'system'.")
    actor_kind: str = strawberry.field(description="user, client or system.")
    client_id: str | None = strawberry.field(description="The OAuth client the actor used.")
    action: str = strawberry.field(description="What, e.g. participant.update, claim.approve.")
    entity_type: str = strawberry.field(description="Type of the record changed, e.g. Participant.")
    entity_id: str | None = strawberry.field(description="Database id of the record changed.")
    changes_shown: strawberry.Private[Any]
    personal_shown: strawberry.Private[set[str]]
    reason_code: str | None = strawberry.field(description="Kind of correction, when one was given.")
    reason: str | None = strawberry.field(description="Why, in the actor's words.")
    request_id: str | None = strawberry.field(description="Request id (X-Request-ID) of the write.")
    source_ip: str | None = strawberry.field(description="Address the request came from.")
    prev_hash: str | None = strawberry.field(description="Hash of the previous event.")
    hash: str = strawberry.field(description="SHA-256 over this event's canonical form and prev_hash.")

    @classmethod
    def from_row(cls, row: AuditEvent, principal: Principal) -> AuditEventNode:
        changes, personal = masked_changes(principal, row.changes)
        return cls(
            id=row.id,
            seq=row.seq,
            occurred_at=row.occurred_at,
            actor_subject=row.actor_subject,
            actor_kind=row.actor_kind,
            client_id=row.client_id,
            action=row.action,
            entity_type=row.entity_type,
            entity_id=row.entity_id,
            changes_shown=changes,
            personal_shown=personal,
            reason_code=row.reason_code,
            reason=row.reason,
            request_id=row.request_id,
            source_ip=row.source_ip,
            prev_hash=row.prev_hash,
            hash=row.hash,
        )

    @strawberry.field(
        description='{"field": {"before": …, "after": …}}. Personal values (NIK, birth date, wage) are masked '
        "or withheld without pii:read, and reading them unmasked is recorded in the access log."
    )
    def changes(self, info: Info) -> JSON | None:
        for column in self.personal_shown:
            info.context.note_pii_read("AuditEvent", self.id, column)
        result: JSON | None = self.changes_shown
        return result

    @classmethod
    async def resolve_nodes(  # type: ignore[override]  # relay.Node declares overloads per `required`
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[AuditEventNode | None]:
        require_national_auditor(info.context.principal)
        ids = [db_id(i, big=True) for i in node_ids]
        rows = {r.id: r for r in await info.context.reader.all(select(AuditEvent).where(AuditEvent.id.in_(ids)))}
        principal = info.context.principal
        return [
            cls.from_row(rows[db_id(i, big=True)], principal) if db_id(i, big=True) in rows else None for i in node_ids
        ]


@strawberry.type(name="AuditEventConnection", description="A page of audit events, newest first.")
class AuditEventConnection(CountedConnection[AuditEventNode]):
    pass


@strawberry.type(name="DataAccessEvent", description="A response that returned unmasked personal data.")
class DataAccessEventNode(relay.Node):
    id: relay.NodeID[int]
    occurred_at: dt.datetime = strawberry.field(description="When.")
    actor_subject: str = strawberry.field(description="Who received the data.")
    actor_kind: str = strawberry.field(description="user or client.")
    client_id: str | None = strawberry.field(description="The OAuth client used.")
    entity_type: str = strawberry.field(description="Participant, PovertyBeneficiary or Claim.")
    entity_ids: list[str] = strawberry.field(description="Database ids of the records whose data was returned.")
    count: int = strawberry.field(description="How many records.")
    fields: list[str] = strawberry.field(description="Which personal fields, e.g. nik, familyCardNumber.")
    request_id: str | None = strawberry.field(description="Request id of the read.")
    source_ip: str | None = strawberry.field(description="Address the request came from.")

    @classmethod
    def from_row(cls, row: DataAccessEvent) -> DataAccessEventNode:
        return cls(
            id=row.id,
            occurred_at=row.occurred_at,
            actor_subject=row.actor_subject,
            actor_kind=row.actor_kind,
            client_id=row.client_id,
            entity_type=row.entity_type,
            entity_ids=list(row.entity_ids),
            count=row.count,
            fields=list(row.fields),
            request_id=row.request_id,
            source_ip=row.source_ip,
        )

    @classmethod
    async def resolve_nodes(  # type: ignore[override]  # relay.Node declares overloads per `required`
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[DataAccessEventNode | None]:
        require_national_auditor(info.context.principal)
        ids = [db_id(i, big=True) for i in node_ids]
        stmt = select(DataAccessEvent).where(DataAccessEvent.id.in_(ids))
        rows = {r.id: r for r in await info.context.reader.all(stmt)}
        return [cls.from_row(rows[db_id(i, big=True)]) if db_id(i, big=True) in rows else None for i in node_ids]


@strawberry.type(name="DataAccessEventConnection", description="A page of personal-data access events.")
class DataAccessEventConnection(CountedConnection[DataAccessEventNode]):
    pass
