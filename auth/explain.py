"""Why a record or field is visible, hidden or masked for a principal: the policy's own decisions, in order.

The explanation is assembled from the decision functions of ``auth.policy`` that enforcement calls, in the
order enforcement applies them: authentication, the type's read scope, the region, then per field the scope
a relation needs and the personal-data rule. It never looks anything up that enforcement would not.

A caller asking about itself learns nothing it could not learn by querying: a record outside its region and
a record that does not exist get the same answer, and nothing after the first refusal is evaluated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from auth.policy import (
    TYPE_READ_SCOPES,
    Decision,
    Rule,
    Treatment,
    authentication_decision,
    field_decision,
    region_decision,
    region_row_decision,
    scope_decision,
)
from auth.principal import Principal
from auth.scopes import Scope


@dataclass(frozen=True, slots=True)
class FieldAccess:
    field: str
    access: str  # VISIBLE | MASKED | WITHHELD | HIDDEN
    rule: Rule
    reason: str


@dataclass(frozen=True, slots=True)
class Explanation:
    typename: str
    id: str
    subject: str
    visible: bool
    decisions: list[Decision]
    fields: list[FieldAccess]


class UnknownType(ValueError):
    pass


def explain(
    principal: Principal,
    typename: str,
    record_id: str,
    region_code: str | None,
    *,
    fields: Sequence[str],
    field_scopes: Mapping[str, Scope],
    full_detail: bool,
    program: str | None = None,
) -> Explanation:
    """Explain `principal`'s access to one record.

    `region_code` is the record's placement (None when there is no such record); `fields` are the type's
    GraphQL fields and `field_scopes` the scopes the schema's permission classes demand on some of them.
    `full_detail` (an administrator asking) evaluates every rule and tells a missing record from a hidden one.
    """
    if typename not in TYPE_READ_SCOPES:
        raise UnknownType(f"explainAccess knows the types {', '.join(sorted(TYPE_READ_SCOPES))}; not {typename!r}")
    decisions = [authentication_decision(principal), scope_decision(principal, TYPE_READ_SCOPES[typename])]
    if all(d.allowed for d in decisions) or full_detail:
        decisions.append(_region(principal, typename, record_id, region_code, full_detail))
    visible = all(d.allowed for d in decisions)
    listed = (
        [_field(principal, typename, f, field_scopes.get(f), program) for f in fields] if visible or full_detail else []
    )
    return Explanation(typename, record_id, principal.subject, visible, _first_refusal(decisions, full_detail), listed)


def _region(principal: Principal, typename: str, record_id: str, code: str | None, full_detail: bool) -> Decision:
    decide = region_row_decision if typename == "Region" else region_decision
    decision = decide(principal, code) if code is not None else None
    if decision is not None and (decision.allowed or full_detail):
        return decision
    if code is None and full_detail:
        return Decision(False, Rule.REGION, f"there is no {typename} with the id {record_id}")
    where = f"the region {principal.region.code}" if principal.region else "any region"
    return Decision(False, Rule.REGION, f"no {typename} with the id {record_id} exists within {where}")


def _first_refusal(decisions: list[Decision], full_detail: bool) -> list[Decision]:
    if full_detail:
        return decisions
    kept: list[Decision] = []
    for decision in decisions:
        kept.append(decision)
        if not decision.allowed:
            break
    return kept


def _field(principal: Principal, typename: str, field: str, scope: Scope | None, program: str | None) -> FieldAccess:
    if scope is not None:
        decision = scope_decision(principal, scope)
        return FieldAccess(field, "VISIBLE" if decision.allowed else "HIDDEN", decision.rule, decision.reason)
    decision, treatment = field_decision(principal, typename, field, program)
    if treatment is None:
        return FieldAccess(field, "VISIBLE", decision.rule, decision.reason)
    how = "masked" if treatment is Treatment.MASKED else "withheld (null)"
    return FieldAccess(field, treatment.value, decision.rule, f"{how}: {decision.reason}")
