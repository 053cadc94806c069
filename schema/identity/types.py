"""The caller as the API sees it."""

from __future__ import annotations

import strawberry


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
