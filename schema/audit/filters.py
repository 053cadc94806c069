"""The audit trail's filter."""

from __future__ import annotations

import datetime as dt

import strawberry

from schema.core.errors import BadInput


@strawberry.input(description="Conditions on audit events; all given conditions apply.")
class AuditEventFilter:
    entity_type: str | None = strawberry.field(default=None, description="e.g. Participant, Claim.")
    entity_id: str | None = strawberry.field(default=None, description="Database id of the record.")
    actor_subject: str | None = strawberry.field(default=None, description="Who.")
    action: str | None = strawberry.field(default=None, description="e.g. claim.approve.")
    occurred_from: dt.datetime | None = strawberry.field(default=None, description="At or after.")
    occurred_to: dt.datetime | None = strawberry.field(default=None, description="Before.")


def _aware(moment: dt.datetime, field: str) -> dt.datetime:
    if moment.tzinfo is None:
        raise BadInput(f"{field} needs a time zone, e.g. 2025-01-01T00:00:00Z or +08:00", field=field)
    return moment
