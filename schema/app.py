"""Builds the federation Schema from the family modules."""

from __future__ import annotations

from typing import Any, Final

import strawberry
from strawberry import relay
from strawberry.schema.config import StrawberryConfig
from strawberry.types.base import StrawberryObjectDefinition

from schema.access.queries import AccessQuery
from schema.audit.queries import AuditQuery
from schema.beneficiaries.mutations import BeneficiaryMutation
from schema.beneficiaries.queries import BeneficiaryQuery
from schema.beneficiaries.types import BeneficiaryNode
from schema.claims.mutations import ClaimMutation
from schema.claims.queries import ClaimQuery
from schema.claims.types import ClaimNode
from schema.compiled.extension import CompiledReads
from schema.core.bounds import MAX_PAGE_SIZE
from schema.core.document_cache import DocumentParseCache, DocumentValidationCache
from schema.core.entities import EntitySchema
from schema.core.input_text import RefuseControlCharacters
from schema.core.introspection import IntrospectionGate
from schema.core.limits import limits_extension
from schema.core.permissions import apply_security_directives
from schema.core.pipeline import RequestSteps
from schema.core.read_replica import QueriesOnReplica
from schema.core.subscriptions import SubscriptionEvents
from schema.documents.queries import DocumentQuery
from schema.identity.queries import MeQuery
from schema.jobs.mutations import JobMutation
from schema.jobs.queries import JobQuery
from schema.jobs.types import JobNode
from schema.participants.bulk_mutations import ParticipantBulkMutation
from schema.participants.contributions import ContributionMutation
from schema.participants.mutations import ParticipantMutation
from schema.participants.queries import ParticipantQuery
from schema.participants.types import ParticipantNode
from schema.regions.queries import RegionQuery
from schema.regions.types import RegionNode
from schema.stats.queries import StatsQuery
from schema.subscriptions import Subscription

#: The lowest federation version that has everything the SDL uses (@cost/@listSize came with 2.9), so
#: composers that stop at 2.9 (The Guild's, under Hive Gateway) accept it as well as Apollo's.
#: tests/federation composes it with both.
FEDERATION_VERSION: Final = "2.9"


@strawberry.type(description="Read access to participants, regions, poverty beneficiaries and claims.")
class Query(
    RegionQuery,
    ParticipantQuery,
    BeneficiaryQuery,
    ClaimQuery,
    StatsQuery,
    MeQuery,
    AuditQuery,
    AccessQuery,
    DocumentQuery,
    JobQuery,
):
    node: relay.Node | None = relay.node(
        description="Any object by its global id; null when there is none you may see."
    )


@strawberry.type(description="Writes: registration, corrections, enrolment and the claim workflow, all audited.")
class Mutation(
    ParticipantMutation, ClaimMutation, ContributionMutation, BeneficiaryMutation, ParticipantBulkMutation, JobMutation
):
    pass


def _reachable_definitions(roots: list[type]) -> list[StrawberryObjectDefinition]:
    """Every object definition reachable from `roots` through field types (without building a schema)."""
    seen: dict[int, StrawberryObjectDefinition] = {}
    stack: list[Any] = list(roots)
    while stack:
        current = stack.pop()
        while hasattr(current, "of_type"):  # StrawberryList / StrawberryOptional
            current = current.of_type
        definition = getattr(current, "__strawberry_definition__", None)
        if not isinstance(definition, StrawberryObjectDefinition) or id(definition) in seen:
            continue
        seen[id(definition)] = definition
        for field in definition.fields:
            try:
                stack.append(field.type)
            except Exception:  # noqa: S112 - an unresolvable annotation fails the real build, loudly
                continue
    return list(seen.values())


_ROOT_TYPES: list[type] = [
    Query,
    Mutation,
    Subscription,
    RegionNode,
    ParticipantNode,
    BeneficiaryNode,
    ClaimNode,
    JobNode,
]
_built: dict[bool, EntitySchema] = {}


def build_schema(*, extra_extensions: list[Any] | None = None, security_directives: bool = False) -> EntitySchema:
    """Build the schema the service runs: once per process (Strawberry binds relay fields to one schema).

    `security_directives` adds ``@authenticated`` and ``@requiresScopes`` to the SDL for gateways that
    enforce them (schema.core.permissions); without them the SDL loads in any Federation 2 gateway. Limits
    (schema.core.limits) and whether introspection is allowed are read per request from the context.
    """
    apply_security_directives(_reachable_definitions(_ROOT_TYPES), enabled=security_directives)
    built: list[EntitySchema] = []
    extensions: list[Any] = [
        # First: an operation on a subscriber connection gets a context of its own before anything reads it.
        SubscriptionEvents,
        RefuseControlCharacters,
        # Parse and validate each distinct document once (schema.core.document_cache).
        DocumentParseCache,
        DocumentValidationCache,
        limits_extension(lambda: built[0]._schema),
        IntrospectionGate,
        # The per-request steps (variables, budget, access log) around execution (schema.core.pipeline):
        # after every per-document check above, as on the cached path for a repeated read.
        RequestSteps,
        # Queries read on the replica, if any (schema.core.read_replica).
        QueriesOnReplica,
        # Last, so that every check above has passed before it answers (schema.compiled).
        CompiledReads,
        *(extra_extensions or []),
    ]
    built.append(
        EntitySchema(
            query=Query,
            mutation=Mutation,
            subscription=Subscription,
            types=[RegionNode, ParticipantNode, BeneficiaryNode, ClaimNode, JobNode],
            federation_version=FEDERATION_VERSION,
            config=StrawberryConfig(disable_field_suggestions=True, relay_max_results=MAX_PAGE_SIZE),
            extensions=extensions,
        )
    )
    return built[0]


def get_schema(*, security_directives: bool = False) -> EntitySchema:
    """This process's schema, built on first use; asking later for the other SDL flavour is an error."""
    if security_directives not in _built:
        if _built:
            raise RuntimeError(
                "the schema was already built with security_directives="
                f"{not security_directives}; one process serves one SDL (JAMSOS_FEDERATION_SECURITY_DIRECTIVES)"
            )
        _built[security_directives] = build_schema(security_directives=security_directives)
    return _built[security_directives]


def __getattr__(name: str) -> Any:
    # `from schema.app import schema`: the default schema (no security directives), built on first use.
    if name == "schema":
        return get_schema()
    raise AttributeError(name)
