"""``me``: who the API thinks you are."""

from __future__ import annotations

import strawberry

from schema.core.context import Info
from schema.core.permissions import needs_authentication


@strawberry.type(name="Principal", description="The caller as the API sees it: who, with which rights, where.")
class PrincipalType:
    subject: str = strawberry.field(description="Subject (user name or client id).")
    kind: str = strawberry.field(description="'user' (a person) or 'client' (a partner system).")
    roles: list[str] = strawberry.field(description="Roles of a user (admin, officer, analyst, auditor).")
    scopes: list[str] = strawberry.field(description="Scopes the token carries.")
    region_code: str | None = strawberry.field(
        description="The region the caller is bound to (sees it and everything below); null = national."
    )
    client_id: str | None = strawberry.field(description="The OAuth client the token was issued to.")


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
