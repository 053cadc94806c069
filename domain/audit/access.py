"""The personal-data access log (UU PDP 27/2022): who received unmasked NIKs, family-card numbers, birth dates
or wages, from which entry point, in which request.

Every entry point that shows personal data in full (GraphQL, the compiled read path, the console's lists,
details and CSV exports) notes what it showed in a :class:`PersonalDataReads` and writes it with
:func:`log_reads` before the data leaves: one ``DataAccessEvent`` per entity type per request (or per export
batch), never one per record. If the log cannot be written, the entry point withholds the data.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from domain.audit.models import DataAccessEvent
from domain.audit.writes import Actor, RequestMeta
from domain.db import utcnow


@dataclass
class PersonalDataReads:
    """Unmasked personal data shown so far: entity type -> (ids, fields)."""

    by_type: dict[str, tuple[set[str], set[str]]] = field(default_factory=dict)

    def note(self, entity_type: str, entity_id: object, field_name: str) -> None:
        ids, fields = self.by_type.setdefault(entity_type, (set(), set()))
        ids.add(str(entity_id))
        fields.add(field_name)

    def __bool__(self) -> bool:
        return bool(self.by_type)

    def take(self) -> PersonalDataReads:
        """What was noted so far, leaving this empty (a streamed export logs batch by batch)."""
        taken = PersonalDataReads(self.by_type)
        self.by_type = {}
        return taken


async def log_reads(session: AsyncSession, actor: Actor, meta: RequestMeta, reads: PersonalDataReads) -> None:
    """Append one access-log row per entity type in `reads` (nothing when it is empty), in the caller's transaction."""
    if not reads:
        return
    rows = [
        {
            "occurred_at": utcnow(),
            "actor_subject": actor.subject,
            "actor_kind": actor.kind,
            "client_id": actor.client_id,
            "entity_type": entity_type,
            "entity_ids": sorted(ids, key=lambda i: (len(i), i)),
            "count": len(ids),
            "fields": sorted(fields),
            "request_id": meta.request_id,
            "source_ip": meta.source_ip,
        }
        for entity_type, (ids, fields) in sorted(reads.by_type.items())
    ]
    await session.execute(insert(DataAccessEvent), rows)
