"""Who is writing, as the domain's write functions need to know it: the audit actor, the region they
are bound to, and the request they came with. The domain never sees tokens or roles."""

from __future__ import annotations

from dataclasses import dataclass, field

from domain.audit.writes import Actor, RequestMeta
from domain.regions.rules import RegionCode
from domain.regions.rules import within as region_within


@dataclass(frozen=True, slots=True)
class Caller:
    actor: Actor
    #: The region the caller is bound to (it and everything below it); None = national.
    within: RegionCode | None = None
    meta: RequestMeta = field(default_factory=RequestMeta)
    #: Whether the caller may see personal data (pii:read): decides how much error messages may say.
    sees_personal_data: bool = False

    def sees(self, region_code: str) -> bool:
        """The region rule reads use too (:func:`domain.regions.rules.within`), applied to a row in hand."""
        return region_within(self.within, region_code)
