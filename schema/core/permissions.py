"""Field permissions: one declaration gives the enforcement and, when wanted, the federation directive.

``**needs(Scope.CLAIMS_READ)`` on a field adds a Strawberry permission class that checks the scope;
``**needs_authentication()`` one that wants any valid token. The subgraph always enforces them itself.

The SDL carries them as ``@requiresScopes`` / ``@authenticated`` only when the schema is built with
``security_directives=True`` (setting ``JAMSOS_FEDERATION_SECURITY_DIRECTIVES``): those directives are
linked ``for: SECURITY`` by composition, and a gateway that cannot enforce them (stock ``@apollo/gateway``,
Apollo Router without an authorization plan) refuses the whole supergraph. :func:`apply_security_directives`
derives them from the permission classes, so the SDL cannot drift from what the service enforces
(tests/auth/test_federation_directives.py checks it).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any, TypedDict

from strawberry.federation.schema_directives import Authenticated, RequiresScopes
from strawberry.permission import BasePermission
from strawberry.types.base import StrawberryObjectDefinition

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


def needs(scope: Scope) -> ScopeRequirement:
    """Keyword arguments for ``strawberry.federation.field`` that require `scope`."""
    return {"permission_classes": [permission_for(scope)]}


class AuthenticationRequirement(TypedDict):
    permission_classes: list[type[BasePermission]]


def needs_authentication() -> AuthenticationRequirement:
    """Keyword arguments for ``strawberry.federation.field`` that require any valid token."""
    return {"permission_classes": [IsAuthenticated]}


def _directives_for(permission_classes: Iterable[type[BasePermission]]) -> list[object]:
    required = [getattr(p, "scope", None) for p in permission_classes]
    scopes = sorted(scope.value for scope in required if isinstance(scope, Scope))
    if scopes:
        return [RequiresScopes(scopes=[scopes])]
    if any(p is IsAuthenticated for p in permission_classes):
        return [Authenticated()]
    return []


def apply_security_directives(definitions: Iterable[StrawberryObjectDefinition], *, enabled: bool) -> bool:
    """Give every permission-checked field its ``@requiresScopes``/``@authenticated`` (or take them away).

    Returns whether any field changed, so the caller knows the schema must be built again. Strawberry reads a
    field's directives when it builds (and prints) a schema, so this runs before the schema that serves.
    """
    changed = False
    for definition in definitions:
        for field in definition.fields:
            kept = [d for d in field.directives if not isinstance(d, Authenticated | RequiresScopes)]
            wanted = kept + (_directives_for(field.permission_classes) if enabled else [])
            if [repr(d) for d in wanted] != [repr(d) for d in field.directives]:
                field.directives = wanted
                changed = True
    return changed
