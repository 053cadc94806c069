"""``explainAccess``'s answer: the decision, the rule and each field's access."""

from __future__ import annotations

import enum

import strawberry

from auth.explain import Explanation
from schema.core import demand

#: The most fields an explained type has (Participant: about 25), for the router's cost estimate.
EXPLAINED_FIELDS_SIZE = 40


@strawberry.enum(name="AccessRule", description="The kinds of rule that decide what a principal sees.")
class AccessRuleEnum(enum.Enum):
    AUTHENTICATION = strawberry.enum_value("AUTHENTICATION", description="A valid access token is needed at all.")
    SCOPE = strawberry.enum_value("SCOPE", description="The token must carry a scope (e.g. claims:read).")
    REGION = strawberry.enum_value("REGION", description="The record must lie in the principal's region.")
    PERSONAL_DATA = strawberry.enum_value(
        "PERSONAL_DATA", description="Personal data is masked or withheld without pii:read."
    )


@strawberry.enum(name="FieldAccessLevel", description="How a field reaches the principal.")
class FieldAccessLevel(enum.Enum):
    VISIBLE = strawberry.enum_value("VISIBLE", description="Shown as stored.")
    MASKED = strawberry.enum_value("MASKED", description="Shown masked, e.g. '5271**********01'.")
    WITHHELD = strawberry.enum_value("WITHHELD", description="Null instead of the value.")
    HIDDEN = strawberry.enum_value("HIDDEN", description="Asking for it is an error (a scope is missing).")


@strawberry.type(description="One rule applied to the principal, in the order the service applies them.")
class AccessDecision:
    rule: AccessRuleEnum = strawberry.field(description="The kind of rule.")
    allowed: bool = strawberry.field(description="Whether this rule lets the principal through.")
    reason: str = strawberry.field(description="Why, naming the scope or region that decided.")


@strawberry.type(description="How one field of the record reaches the principal.")
class FieldAccess:
    field: str = strawberry.field(description="The GraphQL field (nested fields as 'benefits.recipientNik').")
    access: FieldAccessLevel = strawberry.field(description="How the field reaches the principal.")
    rule: AccessRuleEnum = strawberry.field(description="The rule that decided: SCOPE or PERSONAL_DATA.")
    reason: str = strawberry.field(description="Why.")


@strawberry.type(description="Why a record and its fields are visible, hidden or masked for a principal.")
class AccessExplanation:
    typename: str = strawberry.field(description="The GraphQL type asked about.")
    id: str = strawberry.field(description="The record's id as asked (a global id or the local one).")
    subject: str = strawberry.field(description="Whose access is explained.")
    visible: bool = strawberry.field(description="Whether the principal can read the record at all.")
    decisions: list[AccessDecision] = strawberry.field(
        description="The record-level rules, in order.", directives=demand.bounded(len(AccessRuleEnum))
    )
    fields: list[FieldAccess] = strawberry.field(
        description="Per field, when the record is visible.", directives=demand.bounded(EXPLAINED_FIELDS_SIZE)
    )

    @classmethod
    def of(cls, e: Explanation) -> AccessExplanation:
        return cls(
            typename=e.typename,
            id=e.id,
            subject=e.subject,
            visible=e.visible,
            decisions=[
                AccessDecision(rule=AccessRuleEnum(d.rule.value), allowed=d.allowed, reason=d.reason)
                for d in e.decisions
            ],
            fields=[
                FieldAccess(
                    field=f.field,
                    access=FieldAccessLevel(f.access),
                    rule=AccessRuleEnum(f.rule.value),
                    reason=f.reason,
                )
                for f in e.fields
            ],
        )
