"""The scope and role catalogue (docs/api.md). Scopes are what tokens carry; roles are how people get them."""

from __future__ import annotations

import enum

from domain.claims.models import ClaimStatus


class Scope(enum.StrEnum):
    REGIONS_READ = "regions:read"
    PARTICIPANTS_READ = "participants:read"
    PARTICIPANTS_WRITE = "participants:write"
    BENEFICIARIES_READ = "beneficiaries:read"
    BENEFICIARIES_WRITE = "beneficiaries:write"
    CLAIMS_READ = "claims:read"
    CLAIMS_WRITE = "claims:write"
    CLAIMS_APPROVE = "claims:approve"
    STATS_READ = "stats:read"
    PII_READ = "pii:read"
    AUDIT_READ = "audit:read"


class Role(enum.StrEnum):
    ADMIN = "admin"
    OFFICER = "officer"
    ANALYST = "analyst"
    AUDITOR = "auditor"


ALL_SCOPES = frozenset(Scope)
READ_SCOPES = frozenset(s for s in Scope if s.value.endswith(":read"))

ROLE_SCOPES: dict[Role, frozenset[Scope]] = {
    Role.ADMIN: ALL_SCOPES,
    Role.OFFICER: ALL_SCOPES - {Scope.AUDIT_READ},
    Role.ANALYST: frozenset(
        {
            Scope.REGIONS_READ,
            Scope.PARTICIPANTS_READ,
            Scope.BENEFICIARIES_READ,
            Scope.CLAIMS_READ,
            Scope.STATS_READ,
        }
    ),
    Role.AUDITOR: READ_SCOPES,
}

#: The scope each claim workflow step needs, by the status it moves the claim to. Approving is its own scope
#: (separation of duties: a clerk may verify, pay and reject without being allowed to approve).
CLAIM_STEP_SCOPES: dict[ClaimStatus, Scope] = {
    ClaimStatus.VERIFIED: Scope.CLAIMS_WRITE,
    ClaimStatus.APPROVED: Scope.CLAIMS_APPROVE,
    ClaimStatus.PAID: Scope.CLAIMS_WRITE,
    ClaimStatus.REJECTED: Scope.CLAIMS_WRITE,
}

#: Roles whose holders are bound to a region; the others are national.
REGION_BOUND_ROLES = frozenset({Role.OFFICER, Role.ANALYST})


class UnknownScope(ValueError):
    pass


def parse_scopes(text: str) -> frozenset[Scope]:
    """Scopes from a space-separated string; an unknown scope is an error, not silently dropped."""
    scopes = set()
    for item in text.split():
        try:
            scopes.add(Scope(item))
        except ValueError:
            known = " ".join(s.value for s in Scope)
            raise UnknownScope(f"unknown scope {item!r}; known scopes: {known}") from None
    return frozenset(scopes)


def format_scopes(scopes: frozenset[Scope]) -> str:
    return " ".join(sorted(s.value for s in scopes))
