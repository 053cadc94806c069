"""``explainAccess``: why a record or field is visible, hidden or masked, from the rules that enforce it.

The record-level rules and the personal-data rule come from ``auth.policy`` through ``auth.explain``; the
scopes that relation fields demand are read from the permission classes the schema itself enforces them
with (``schema.core.permissions``), so neither can describe something other than what happens.
"""

from __future__ import annotations

from typing import Annotated, Any

import strawberry
from graphql import GraphQLObjectType
from sqlalchemy import select
from strawberry import relay

from auth.accounts import principal_of_client, principal_of_user
from auth.explain import UnknownType, explain
from auth.policy import PERSONAL_FIELDS, TYPE_READ_SCOPES, WAGE_DERIVED_FIELDS, audit_trail_decision, visible
from auth.principal import Principal
from auth.scopes import Role, Scope
from domain.beneficiaries.models import PovertyBeneficiary
from domain.claims.models import Claim
from domain.codes import ErrorCode
from domain.identity.models import USER_SUBJECT_PREFIX, OAuthClient, User
from domain.participants.models import Participant
from domain.regions.models import Region
from schema.access.types import (
    AccessExplanation,
)
from schema.core.context import Info
from schema.core.errors import BadInput
from schema.core.ids import NO_ROW, db_id
from schema.core.permissions import needs_authentication

_PLACED: dict[str, Any] = {"Participant": Participant, "PovertyBeneficiary": PovertyBeneficiary, "Claim": Claim}
_KNOWN = frozenset({*_PLACED, "Region"})


class NotAdmin(Exception):
    extensions = {"code": ErrorCode.FORBIDDEN.value}

    def __init__(self) -> None:
        super().__init__("only administrators may ask about another subject's access; leave out 'subject'")


def _local(typename: str, raw: str) -> str:
    try:
        gid = relay.GlobalID.from_id(raw)
    except Exception:
        return raw
    return gid.node_id if gid.type_name == typename else raw


async def _program_of(info: Info, typename: str, local_id: str) -> str | None:
    """A claim's programme: it decides whether the claim's amounts are personal data (wage-derived)."""
    if typename != "Claim" or db_id(local_id) == NO_ROW:
        return None
    stmt = select(Claim.program).where(Claim.id == db_id(local_id), visible(info.context.principal, Claim))
    return next(iter(await info.context.reader.all(stmt)), None)


async def _region_of(info: Info, typename: str, local_id: str) -> str | None:
    """The record's placement, read as the caller may read it: a record hidden from the caller is missing.

    An administrator asking about someone else is national, so every record exists for them.
    """
    reader = info.context.reader
    caller = info.context.principal
    if typename == "Region":
        stmt = select(Region.code).where(Region.code == local_id, visible(caller, Region))
        return next(iter(await reader.all(stmt)), None)
    if db_id(local_id) == NO_ROW or typename not in _PLACED:
        return None
    model = _PLACED[typename]
    stmt = select(model.region_code).where(model.id == db_id(local_id), visible(caller, model))
    return next(iter(await reader.all(stmt)), None)


async def _principal_named(info: Info, subject: str) -> Principal | None:
    reader = info.context.reader
    if subject.startswith(USER_SUBJECT_PREFIX):
        name = subject.removeprefix(USER_SUBJECT_PREFIX)
        user = next(iter(await reader.all(select(User).where(User.username == name))), None)
        return principal_of_user(user) if user else None
    client = next(iter(await reader.all(select(OAuthClient).where(OAuthClient.client_id == subject))), None)
    return principal_of_client(client) if client else None


def _fields(info: Info, typename: str) -> tuple[list[str], dict[str, Scope]]:
    """The type's GraphQL fields and the scopes its permission classes enforce on some of them."""
    graphql_type = info.schema._schema.get_type(typename)
    definition = info.schema.get_type_by_name(typename)
    if not isinstance(graphql_type, GraphQLObjectType) or definition is None:
        raise BadInput(f"{typename!r} is not an object type of this schema", field="typename")
    names = info.schema.config.name_converter
    scopes: dict[str, Scope] = {}
    for field in getattr(definition, "fields", []):
        for permission in field.permission_classes:
            if isinstance(getattr(permission, "scope", None), Scope):
                scopes[names.get_graphql_name(field)] = permission.scope
    personal = {**PERSONAL_FIELDS.get(typename, {}), **WAGE_DERIVED_FIELDS.get(typename, {})}
    nested = [f for f in personal if "." in f]
    return [*graphql_type.fields, *nested], scopes


@strawberry.type
class AccessQuery:
    @strawberry.federation.field(
        description="Why a record (and each of its fields) is visible, hidden or masked: which scope, role or "
        "region rule decided. About yourself by default; administrators may name another subject "
        "('user:<username>' or a client id).",
        **needs_authentication(),
    )
    async def explain_access(
        self,
        info: Info,
        typename: Annotated[str, strawberry.argument(description="Participant, PovertyBeneficiary, Claim or Region.")],
        id: Annotated[strawberry.ID, strawberry.argument(description="Global id, local id, or a region code.")],
        subject: Annotated[
            str | None, strawberry.argument(description="Whose access to explain (administrators only).")
        ] = None,
    ) -> AccessExplanation:
        caller = info.context.principal
        # The role claim alone is not enough: an administrator's token narrowed to fewer scopes or to a
        # region (as a frontend app may hold) must not learn more through explanations than through reads.
        is_admin = Role.ADMIN in caller.roles and audit_trail_decision(caller).allowed
        target = caller
        if subject is not None and subject != caller.subject:
            if not is_admin:
                raise NotAdmin
            named = await _principal_named(info, subject)
            if named is None:
                raise BadInput(f"there is no user or client {subject!r}", field="subject")
            target = named
        local_id = _local(typename, str(id))
        fields, scopes = _fields(info, typename) if typename in _KNOWN else ([], {})
        try:
            result = explain(
                target,
                typename,
                local_id,
                await _region_of(info, typename, local_id),
                fields=fields,
                field_scopes=scopes,
                full_detail=is_admin and caller.has_scope(TYPE_READ_SCOPES.get(typename, Scope.AUDIT_READ)),
                program=await _program_of(info, typename, local_id),
            )
        except UnknownType as exc:
            raise BadInput(str(exc), field="typename") from None
        return AccessExplanation.of(result)
