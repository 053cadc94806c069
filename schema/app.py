"""Builds the federation Schema from the family modules."""

from __future__ import annotations

from typing import Any, Final

import strawberry
from strawberry import relay
from strawberry.extensions import MaxTokensLimiter
from strawberry.schema.config import StrawberryConfig

from schema.access import AccessQuery
from schema.access_log import PersonalDataAccessLog
from schema.audit import AuditQuery
from schema.beneficiaries import BeneficiaryNode, BeneficiaryQuery
from schema.claim_mutations import ClaimMutation
from schema.claims import ClaimNode, ClaimQuery
from schema.compiled.extension import CompiledReads
from schema.document_cache import DocumentParseCache, DocumentValidationCache, ShapeLimits
from schema.entities import EntitySchema
from schema.limits import MAX_PAGE_SIZE, MAX_TOKENS
from schema.me import MeQuery
from schema.participant_mutations import ParticipantMutation
from schema.participants import ParticipantNode, ParticipantQuery
from schema.regions import RegionNode, RegionQuery

#: The federation version we target: 2.5+ for @authenticated/@requiresScopes, 2.9+ for @cost/@listSize.
#: tests/federation composes it with @apollo/composition (see its package.json for the version).
FEDERATION_VERSION: Final = "2.11"


@strawberry.type(description="Read access to participants, regions, poverty beneficiaries and claims.")
class Query(RegionQuery, ParticipantQuery, BeneficiaryQuery, ClaimQuery, MeQuery, AuditQuery, AccessQuery):
    node: relay.Node | None = relay.node(
        description="Any object by its global id; null when there is none you may see."
    )


@strawberry.type(description="Writes: registration, corrections, enrolment and the claim workflow, all audited.")
class Mutation(ParticipantMutation, ClaimMutation):
    pass


def build_schema(*, extra_extensions: list[Any] | None = None) -> strawberry.federation.Schema:
    # Limits against hostile queries (schema.limits); they become configurable with the hardening work.
    # The depth and alias rules are built once (schema.document_cache) so that ValidationCache's key repeats.
    extensions: list[Any] = [
        ShapeLimits,
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        DocumentParseCache,
        DocumentValidationCache,
        PersonalDataAccessLog,
        CompiledReads,
        *(extra_extensions or []),
    ]
    return EntitySchema(
        query=Query,
        mutation=Mutation,
        types=[RegionNode, ParticipantNode, BeneficiaryNode, ClaimNode],
        federation_version=FEDERATION_VERSION,
        config=StrawberryConfig(disable_field_suggestions=True, relay_max_results=MAX_PAGE_SIZE),
        extensions=extensions,
    )


schema = build_schema()
