"""Who may open a console view and who may write through it: scopes and roles, read off the Principal.

Row scoping (which rows of a view exist for the user) is not decided here but by ``auth.policy``, the same
functions the GraphQL API uses; this module only says whether a view is open to a user at all.
"""

from __future__ import annotations

from dataclasses import dataclass

from admin.auth import CONSOLE_ROLES
from auth.policy import national_decision, pii_visible
from auth.principal import Principal
from auth.scopes import Role, Scope


@dataclass(frozen=True)
class Access:
    """The rule of one view."""

    #: Scope needed to see the view's rows (None: the role decides alone).
    read: Scope | None
    #: Scope needed to create or correct through it (None: the role decides alone).
    write: Scope | None = None
    #: Roles that may open the view.
    roles: frozenset[Role] = CONSOLE_ROLES
    #: Roles that may write through it.
    write_roles: frozenset[Role] = CONSOLE_ROLES
    writable: bool = True
    #: A view of a national record (the audit trail): a user bound to a region may not open it.
    national_only: bool = False
    #: Forms that show personal data (NIK, birth date, wage) need ``pii:read`` to open.
    write_needs_pii: bool = False

    def can_read(self, principal: Principal) -> bool:
        return (
            principal.is_authenticated
            and bool(principal.roles & self.roles)
            and (self.read is None or principal.has_scope(self.read))
            and (not self.national_only or national_decision(principal).allowed)
        )

    def can_write(self, principal: Principal) -> bool:
        return (
            self.writable
            and self.can_read(principal)
            and bool(principal.roles & self.write_roles)
            and (self.write is None or principal.has_scope(self.write))
            and (not self.write_needs_pii or pii_visible(principal))
        )


ADMIN_ONLY = frozenset({Role.ADMIN})
