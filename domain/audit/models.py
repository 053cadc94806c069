"""Audit tables: the hash-chained event trail, its head row, and the personal-data access log.

The ORM refuses updates and deletes of audit rows (:func:`_refuse_changes`); on PostgreSQL a trigger
refuses them too (migration 0002).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Delete, Index, Integer, String, Text, Update, event
from sqlalchemy.orm import Mapped, ORMExecuteState, Session, mapped_column

from domain.db import Base, PortableJSON, UTCDateTime, utcnow

_ID = BigInteger().with_variant(Integer, "sqlite")


class AuditEvent(Base):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    #: Position in the chain: 1, 2, 3, … without gaps.
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor_subject: Mapped[str] = mapped_column(String(200))
    actor_kind: Mapped[str] = mapped_column(String(10))  # user | client | system
    client_id: Mapped[str | None] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(60))
    entity_type: Mapped[str] = mapped_column(String(60))
    entity_id: Mapped[str | None] = mapped_column(String(100))
    #: {"field": {"before": ..., "after": ...}}
    changes: Mapped[dict[str, Any] | None] = mapped_column(PortableJSON)
    reason_code: Mapped[str | None] = mapped_column(String(40))
    reason: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(String(64))
    source_ip: Mapped[str | None] = mapped_column(String(45))
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (Index("ix_audit_events_entity", "entity_type", "entity_id"),)


class AuditChainHead(Base):
    """The single row that says where the chain ends; locking it serialises appends."""

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    last_hash: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)


class DataAccessEvent(Base):
    """Who read unmasked personal data (UU PDP 27/2022): one row per request, not per record."""

    __tablename__ = "data_access_events"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor_subject: Mapped[str] = mapped_column(String(200), index=True)
    actor_kind: Mapped[str] = mapped_column(String(10))
    client_id: Mapped[str | None] = mapped_column(String(100))
    entity_type: Mapped[str] = mapped_column(String(60))
    entity_ids: Mapped[list[str]] = mapped_column(PortableJSON)
    count: Mapped[int] = mapped_column(Integer)
    fields: Mapped[list[str]] = mapped_column(PortableJSON)
    request_id: Mapped[str | None] = mapped_column(String(64))
    source_ip: Mapped[str | None] = mapped_column(String(45))


class AuditAppendOnly(RuntimeError):
    """Audit rows are never updated or deleted."""


@event.listens_for(Session, "before_flush")
def _refuse_changes(session: Session, _context: Any, _instances: Any) -> None:
    for obj in (*session.dirty, *session.deleted):
        if isinstance(obj, AuditEvent) and (obj in session.deleted or session.is_modified(obj)):
            raise AuditAppendOnly("audit events are append-only: they cannot be changed or deleted")


@event.listens_for(Session, "do_orm_execute")
def _refuse_bulk_changes(state: ORMExecuteState) -> None:
    statement = state.statement
    if isinstance(statement, Update | Delete) and getattr(statement.table, "name", None) == AuditEvent.__tablename__:
        raise AuditAppendOnly("audit events are append-only: they cannot be changed or deleted")
