"""Field permissions: one declaration gives both the enforcement and the federation directive.

``**needs(Scope.CLAIMS_READ)`` on a field adds a Strawberry permission class that checks the scope, and
``@requiresScopes`` to the SDL so a Federation 2 router can enforce the same rule at the edge;
``**needs_authentication()`` does the same with ``@authenticated``. Both come from the same argument, so the
SDL cannot drift from what the service enforces (tests/auth/test_federation_directives.py checks it).
"""

from __future__ import annotations

from functools import cache
from typing import Any, TypedDict

from strawberry.permission import BasePermission

from auth.policy import NotAuthenticated, authentication_decision, require_scope
from auth.scopes import Scope


@cache
def permission_for(scope: Scope) -> type[BasePermission]:
    def has_permission(self: BasePermission, source: Any, info: Any, **kwargs: Any) -> bool:
        # Raises UNAUTHENTICATED or FORBIDDEN with a message naming the scope.
        require_scope(info.context.principal, scope)
        return True

    name = "Requires" + "".join(part.title() for part in scope.value.replace(":", "_").split("_"))
    attributes = {"has_permission": has_permission, "message": f"needs {scope.value}", "scope": scope}
    return type(name, (BasePermission,), attributes)


class IsAuthenticated(BasePermission):
    """Any valid token, whatever its scopes (``@authenticated`` in the SDL)."""

    message = "needs an access token"

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        if not authentication_decision(info.context.principal).allowed:
            raise NotAuthenticated
        return True


class ScopeRequirement(TypedDict):
    permission_classes: list[type[BasePermission]]
    requires_scopes: list[list[str]]


def needs(scope: Scope) -> ScopeRequirement:
    """Keyword arguments for ``strawberry.federation.field`` that require `scope`."""
    return {"permission_classes": [permission_for(scope)], "requires_scopes": [[scope.value]]}


class AuthenticationRequirement(TypedDict):
    permission_classes: list[type[BasePermission]]
    authenticated: bool


def needs_authentication() -> AuthenticationRequirement:
    """Keyword arguments for ``strawberry.federation.field`` that require any valid token."""
    return {"permission_classes": [IsAuthenticated], "authenticated": True}
