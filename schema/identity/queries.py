"""``me``: who the API thinks you are."""

from __future__ import annotations

import strawberry

from schema.core.context import Info
from schema.core.permissions import needs_authentication
from schema.identity.types import PrincipalType


@strawberry.type
class MeQuery:
    @strawberry.federation.field(description="The authenticated caller.", **needs_authentication())
    def me(self, info: Info) -> PrincipalType:
        principal = info.context.principal
        return PrincipalType(
            subject=principal.subject,
            kind=principal.kind.value,
            roles=sorted(r.value for r in principal.roles),
            scopes=sorted(s.value for s in principal.scopes),
            region_code=principal.region.code if principal.region else None,
            client_id=principal.client_id,
        )
