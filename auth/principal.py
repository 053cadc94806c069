"""The Principal: who is calling, with which roles and scopes, bound to which region.

Every permission check reads this one object, whether the caller came with a token, signed in to the
console, or is the CLI.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from auth.scopes import Role, Scope
from domain.audit.writes import Actor
from domain.regions.rules import RegionCode


class PrincipalKind(enum.StrEnum):
    USER = "user"
    CLIENT = "client"
    ANONYMOUS = "anonymous"
    SYSTEM = "system"  # the CLI and seed scripts acting for an operator


@dataclass(frozen=True, slots=True)
class Principal:
    subject: str
    kind: PrincipalKind
    scopes: frozenset[Scope] = frozenset()
    roles: frozenset[Role] = frozenset()
    #: None means national: the caller sees every region.
    region: RegionCode | None = None
    client_id: str | None = None
    token_id: str | None = None
    extra: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def is_authenticated(self) -> bool:
        return self.kind is not PrincipalKind.ANONYMOUS

    def has_scope(self, scope: Scope) -> bool:
        return scope in self.scopes

    @property
    def actor(self) -> Actor:
        """This principal as the audit trail records it."""
        return Actor(subject=self.subject, kind=self.kind.value, client_id=self.client_id)


ANONYMOUS = Principal(subject="anonymous", kind=PrincipalKind.ANONYMOUS)
