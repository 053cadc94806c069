"""What a claim's write announces: its id, the status it moved to and its new version (domain.events).

Nothing else: a subscriber loads the claim through the read path's policy, so a payload can never show a
row, a region or a personal field to someone who may not see it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from domain.claims.models import Claim, ClaimStatus
from domain.events import Channel, publish


@dataclass(frozen=True, slots=True)
class ClaimChanged:
    claim_id: int
    status: ClaimStatus
    version: int

    @classmethod
    def from_payload(cls, payload: dict[str, object]) -> ClaimChanged | None:
        """The change a notification describes, or None for one that is not a claim change."""
        claim_id, status, version = payload.get("id"), payload.get("status"), payload.get("version")
        if not isinstance(claim_id, int) or not isinstance(version, int) or not isinstance(status, str):
            return None
        try:
            return cls(claim_id, ClaimStatus(status), version)
        except ValueError:
            return None


async def announce(session: AsyncSession, claim: Claim) -> None:
    """Announce `claim`'s new status to subscribers once the write's transaction commits."""
    await publish(session, Channel.CLAIMS, {"id": claim.id, "status": claim.status.value, "version": claim.version})
