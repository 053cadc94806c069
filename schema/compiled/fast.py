"""What the fast lane may answer: operations the full pipeline already parsed, validated, limited and compiled.

When the compiled path answers an operation inside Strawberry's pipeline (:mod:`schema.compiled.extension`),
it records a :class:`Ready` entry: the plan and the cost the limits charged for it. The key is everything
those checks looked at: the document text, the operation name, the principal's shape (authenticated or
not, its scopes, its region: what ``auth.policy`` and the fields' permission classes read) and the integer
variables (a variable ``first`` changes the cost). A later request with the same key has nothing left to
learn from parsing, validation or the document limits: the entry stands for everything per document, and
``api.fast_reads`` answers the request before Strawberry's HTTP view with only what is per request — the
steps of ``schema.core.pipeline`` (the same list the full pipeline runs) around the plan, then bytes out.

Entries live in a bounded cache per GraphQL application (its limits are its own), never shared between
applications with different settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from auth.principal import Principal
from schema.compiled.cache import BoundedCache
from schema.compiled.plan import OperationPlan

#: Distinct (document, operation, principal shape, integer variables) entries each application keeps.
READY_CACHE_SIZE = 4096

ReadyKey = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Ready:
    """A plan that the full pipeline ran for this key, and the cost the limits charged for it."""

    plan: OperationPlan
    cost: int


def ready_cache() -> BoundedCache[ReadyKey, Ready]:
    return BoundedCache(READY_CACHE_SIZE)


def ready_key(
    query: str, operation_name: str | None, principal: Principal, variables: dict[str, Any] | None
) -> ReadyKey:
    """The key of a request: what the checks before execution depend on, and nothing else."""
    integers = tuple(sorted((k, v) for k, v in (variables or {}).items() if type(v) is int))
    region = principal.region.code if principal.region is not None else None
    return (query, operation_name, principal.is_authenticated, principal.scopes, region, integers)
