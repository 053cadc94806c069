"""Row scoping and field rules: the one place that decides what a principal may see.

Every entry point (GraphQL lists, lookups, ``node``, ``_entities``, the console, exports) narrows its SQL
with :func:`visible` (or starts from :func:`readable`) and masks with :func:`pii_visible`. A row outside
the caller's region does not exist for them: lookups return nothing rather than "forbidden", so existence does not leak.

Each rule is a decision function returning a :class:`Decision` (allowed or not, which rule, and why). The
enforcing helpers (``require_scope``, ``can_see_region``, ``pii_visible``, the masking functions) are thin
wrappers over them, and ``explainAccess`` reports the same decisions, so an explanation cannot disagree with
what is enforced.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from sqlalchemy import ColumnElement, Select, case, exists, null, or_, select
from sqlalchemy import cast as sql_cast

from auth.principal import Principal, PrincipalKind
from auth.scopes import Scope
from domain.beneficiaries.batch_enrolment import ENROL_KIND
from domain.beneficiaries.models import PovertyBeneficiary
from domain.claims.benefits import WAGE_BASED_PROGRAMS
from domain.claims.models import Claim, ClaimBenefit
from domain.codes import ErrorCode
from domain.jobs.models import Job
from domain.monev.suppression import DEFAULT_THRESHOLD, Family
from domain.monev.tables import Viewer
from domain.participants.bulk_jobs import APBD_MONTH_KIND, CONTRIBUTION_IMPORT_KIND, PARTICIPANT_IMPORT_KIND
from domain.participants.models import Contribution, Participant
from domain.read_fields import IDENTIFIER, Mask, read_fields
from domain.read_fields import Treatment as Treatment  # part of the policy's vocabulary: re-exported
from domain.regions.models import PlacedMixin, PlacedModel, Region, is_placed, placed_within
from domain.regions.rules import RegionCode, within

M = TypeVar("M")


class NotAuthenticated(Exception):
    """No (valid) credentials were presented for something that needs them."""

    extensions = {"code": ErrorCode.UNAUTHENTICATED.value}

    def __init__(self) -> None:
        super().__init__("authentication required: send an access token as 'Authorization: Bearer <token>'")


class MissingScope(Exception):
    """The caller is known but lacks the scope a field needs."""

    extensions = {"code": ErrorCode.FORBIDDEN.value}

    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        super().__init__(f"this needs the scope '{scope.value}', which your token does not carry")


class Rule(enum.StrEnum):
    AUTHENTICATION = "AUTHENTICATION"
    SCOPE = "SCOPE"
    REGION = "REGION"
    PERSONAL_DATA = "PERSONAL_DATA"


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of one rule for one principal, with the reason in words a person can act on."""

    allowed: bool
    rule: Rule
    reason: str


def authentication_decision(principal: Principal) -> Decision:
    if principal.is_authenticated:
        return Decision(True, Rule.AUTHENTICATION, f"authenticated as {principal.subject}")
    return Decision(False, Rule.AUTHENTICATION, "no access token was presented; anonymous callers see nothing")


def scope_decision(principal: Principal, scope: Scope) -> Decision:
    if principal.has_scope(scope):
        return Decision(True, Rule.SCOPE, f"the token carries the scope {scope.value}")
    return Decision(False, Rule.SCOPE, f"this needs the scope {scope.value}, which the token does not carry")


def require_scope(principal: Principal, scope: Scope) -> None:
    """Raise unless `principal` is authenticated and holds `scope` (deny by default)."""
    if not authentication_decision(principal).allowed:
        raise NotAuthenticated
    if not scope_decision(principal, scope).allowed:
        raise MissingScope(scope)


def visible(principal: Principal, model: PlacedModel) -> ColumnElement[bool]:
    """The read chokepoint: SQL condition for the rows of `model` that exist for `principal`.

    Every read of a region-placed table (lists, lookups, ``node``, ``_entities``, loaders, the console's
    lists, details and exports, aggregates) narrows its statement with this clause or starts from
    :func:`readable`. Placed rows: the principal's region and everything below it, one indexed equality on
    the placement column of the region's level. Regions themselves: the same, plus the region's ancestors,
    so that a regency officer can navigate up to the province's name (aggregates about an ancestor are
    still computed only over the principal's own rows). National principals get TRUE.

    A model that is not placed has no region rule; asking for one is a programming error, not "all rows".
    """
    if not is_placed(model):
        raise TypeError(f"{getattr(model, '__name__', model)!r} is not scoped by region; it has no visible() rule")
    clause = placed_within(model, principal.region)
    if model is Region and principal.region is not None and principal.region.ancestors:
        clause = or_(clause, Region.code.in_(principal.region.ancestors))
    return clause


#: The scope that reads and cancels a job of each kind: the scope of the write the job runs. A kind missing
#: here is visible to nobody (deny by default).
JOB_KIND_SCOPES: dict[str, Scope] = {
    ENROL_KIND: Scope.BENEFICIARIES_WRITE,
    APBD_MONTH_KIND: Scope.PARTICIPANTS_WRITE,  # recordContributions' scope: the run books payments
    PARTICIPANT_IMPORT_KIND: Scope.PARTICIPANTS_WRITE,
    CONTRIBUTION_IMPORT_KIND: Scope.PARTICIPANTS_WRITE,
}


def visible_jobs(principal: Principal) -> ColumnElement[bool]:
    """The jobs that exist for `principal`: of a kind whose write they may make, run as their region or a
    region below it (a national job exists for national callers only) — the SQL twin of
    :func:`domain.jobs.runner.job_visible`."""
    kinds = sorted(kind for kind, scope in JOB_KIND_SCOPES.items() if principal.has_scope(scope))
    clause: ColumnElement[bool] = Job.kind.in_(kinds)
    if principal.region is not None:
        code = principal.region.code
        clause = clause & or_(Job.region_code == code, Job.region_code.startswith(code + ".", autoescape=True))
    return clause


def job_row_visible(principal: Principal, job: Job) -> bool:
    """:func:`visible_jobs` for a job in hand."""
    scope = JOB_KIND_SCOPES.get(job.kind)
    if scope is None or not principal.has_scope(scope):
        return False
    return principal.region is None or (job.region_code is not None and within(principal.region, job.region_code))


def readable(principal: Principal, model: type[M]) -> Select[M]:
    """``SELECT model WHERE visible(principal, model)``: where a read of a placed table starts."""
    return select(model).where(visible(principal, cast(PlacedModel, model)))


#: Execution option on the one statement that reads the Kemendagri register without scoping:
#: :func:`region_exists`. The register is public, so whether a code exists tells nobody anything.
PUBLIC_REGISTER = "jamsos_public_register"


def region_exists(code: str) -> Select[bool]:
    """``SELECT EXISTS (region with this code)``, for everyone: region codes are public (the Kemendagri list).

    Used to tell a mistyped filter code (BAD_USER_INPUT) from a region outside the caller's (no rows). It
    returns no row and no name, only whether the code is in the register.
    """
    return select(exists().where(Region.code == code)).execution_options(**{PUBLIC_REGISTER: True})


def row_visible(principal: Principal, row: object) -> bool:
    """Python twin of :func:`visible` for a row already in hand (same rule, same answer)."""
    if isinstance(row, Region):
        return can_see_region_row(principal, row.code)
    if isinstance(row, PlacedMixin):
        return can_see_region(principal, row.region_code)
    raise TypeError(f"{type(row).__name__} is not scoped by region; it has no row_visible() rule")


def national_decision(principal: Principal) -> Decision:
    """Whether the principal is national (bound to no region): the one test for records kept nationally.

    The audit trail and the access log are national records: a principal bound to a region is refused
    them outright rather than shown a partial trail whose gaps would themselves mislead.
    """
    if principal.region is None:
        return Decision(True, Rule.REGION, "national: bound to no region")
    return Decision(False, Rule.REGION, f"bound to the region {principal.region.code}; this record is national")


def audit_trail_decision(principal: Principal) -> Decision:
    """Who may read the audit trail and the access log: authenticated, ``audit:read``, and national."""
    for decision in (
        authentication_decision(principal),
        scope_decision(principal, Scope.AUDIT_READ),
        national_decision(principal),
    ):
        if not decision.allowed:
            return decision
    return Decision(True, Rule.SCOPE, "national, with audit:read")


def region_decision(principal: Principal, code: str) -> Decision:
    """Python twin of :func:`visible` for one row already in hand (same rule, same answer)."""
    own = principal.region
    if own is None:
        return Decision(True, Rule.REGION, "national: every region is visible")
    if within(own, code):
        return Decision(True, Rule.REGION, f"{code} lies within the region {own.code}")
    return Decision(False, Rule.REGION, f"{code} lies outside the region {own.code}: such rows do not exist here")


def region_row_decision(principal: Principal, code: str) -> Decision:
    """Python twin of :func:`visible` for the Region table: a region is also visible from below (ancestors)."""
    decision = region_decision(principal, code)
    if decision.allowed or principal.region is None or code not in principal.region.ancestors:
        return decision
    return Decision(True, Rule.REGION, f"{code} is an ancestor of the region {principal.region.code}")


def can_see_region(principal: Principal, code: str) -> bool:
    return region_decision(principal, code).allowed


def can_see_region_row(principal: Principal, code: str) -> bool:
    return region_row_decision(principal, code).allowed


def narrow_region_filter(principal: Principal, requested: RegionCode) -> RegionCode | None:
    """The region a filter may use: the requested one if the caller may see it all, None if nothing of it.

    A national caller can filter anywhere. A caller bound to 52.03 asking for 52 (its ancestor) gets its own
    52.03; asking for 52.71 gets nothing.
    """
    own = principal.region
    if own is None or own.contains(requested.code):
        return requested
    if requested.contains(own.code):
        return own
    return None


def pii_decision(principal: Principal) -> Decision:
    if principal.has_scope(Scope.PII_READ):
        return Decision(True, Rule.PERSONAL_DATA, "the token carries pii:read: personal data is shown in full")
    return Decision(
        False, Rule.PERSONAL_DATA, "without pii:read, identity numbers are masked and other personal data withheld"
    )


def pii_visible(principal: Principal) -> bool:
    return pii_decision(principal).allowed


def _declared(model: type[Any]) -> dict[str, Treatment]:
    """The personal columns `model` declares beside them (``info=read_field(..., masked=/withheld=)``)."""
    return {key: f.treatment for key, f in read_fields(model).items() if f.treatment is not None}


#: Personal data, by table and column: the one rule set. GraphQL, the console (lists, details, exports),
#: ``explainAccess`` and readers of the audit trail all apply it through :func:`treatment` / :func:`shown`;
#: the tables below for GraphQL fields and audit-trail columns are derived from it. A participant's and a
#: beneficiary's personal columns are declared beside them (domain.read_fields); the other tables' are listed here.
PERSONAL_DATA: dict[type[Any], dict[str, Treatment]] = {
    Participant: _declared(Participant),
    PovertyBeneficiary: _declared(PovertyBeneficiary),
    ClaimBenefit: {"recipient_nik": Treatment.MASKED},
}

#: Values that are personal only for some records, because they reveal a wage: a claim's amounts when its
#: programme pays wage-based benefits (JKK death and disability, JKP), an employer's contribution payment
#: (a percentage of the wage, ``Contribution.reveals_wage``).
WAGE_DERIVED_DATA: dict[type[Any], dict[str, Treatment]] = {
    Claim: {"amount_approved": Treatment.WITHHELD},
    ClaimBenefit: {"amount": Treatment.WITHHELD},
    Contribution: {"amount": Treatment.WITHHELD},
}

#: Where each table's columns appear in GraphQL: the type and the path prefix (benefit lines are ``Claim.benefits``).
_GRAPHQL_PLACE: dict[type[Any], tuple[str, str]] = {
    Participant: ("Participant", ""),
    PovertyBeneficiary: ("PovertyBeneficiary", ""),
    Claim: ("Claim", ""),
    ClaimBenefit: ("Claim", "benefits."),
    Contribution: ("Contribution", ""),
}


#: Benefit lines are read as part of their claim, and logged as reads of it (as the API's ``Claim.benefits``).
_LOGGED_UNDER: dict[type[Any], str] = {ClaimBenefit: "claim_id"}


def field_name(model: type[Any], column: str) -> str:
    """The API's name of `column`: as declared beside it (domain.read_fields), else its camelCase."""
    declared = read_fields(model).get(column)
    return declared.name if declared is not None else _camel(column)


def logged_as(model: type[Any], column: str) -> tuple[str, str]:
    """(entity type, field) under which a read of `column` of `model` in full is logged in the access log."""
    return _GRAPHQL_PLACE[model][0], field_name(model, column)


def logged_under(model: type[Any]) -> str:
    """The column of a `model` row holding the id its reads are logged under (a benefit line's claim)."""
    return _LOGGED_UNDER.get(model, "id")


def mask_of(model: type[Any], column: str) -> Mask:
    """How a masked `column` of `model` is shown: as declared beside it, else as an identity number."""
    declared = read_fields(model).get(column)
    return declared.mask if declared is not None and declared.mask is not None else IDENTIFIER


def access_log_entry(principal: Principal, row: Any, column: str) -> tuple[str, object, str] | None:
    """(entity type, id, field) for the personal-data access log when `column` of `row` reaches `principal`
    in full; None when it is not personal data, is empty, or is masked or withheld (nothing to log).

    Named as the API names it (``Participant`` / ``birthDate``), so the console's entries and the API's read alike.
    """
    model = type(row)
    if column not in PERSONAL_DATA.get(model, {}) or getattr(row, column, None) is None or not pii_visible(principal):
        return None
    typename, name = logged_as(model, column)
    return typename, getattr(row, logged_under(model)), name


def _camel(column: str) -> str:
    head, *rest = column.split("_")
    return head + "".join(part.title() for part in rest)


def _as_graphql_fields(data: dict[type[Any], dict[str, Treatment]]) -> dict[str, dict[str, Treatment]]:
    fields: dict[str, dict[str, Treatment]] = {}
    for model, columns in data.items():
        typename, prefix = _GRAPHQL_PLACE[model]
        for column, how in columns.items():
            fields.setdefault(typename, {})[prefix + field_name(model, column)] = how
    return fields


#: The personal fields of each GraphQL type and how each is treated (tests/auth/test_explain_access.py checks
#: this against what the API actually returns with and without pii:read). Derived from :data:`PERSONAL_DATA`.
PERSONAL_FIELDS: dict[str, dict[str, Treatment]] = _as_graphql_fields(PERSONAL_DATA)

#: The wage-derived fields of each GraphQL type. Derived from :data:`WAGE_DERIVED_DATA`.
WAGE_DERIVED_FIELDS: dict[str, dict[str, Treatment]] = _as_graphql_fields(WAGE_DERIVED_DATA)

#: Personal columns as the audit trail names them in ``changes`` (domain column names, not GraphQL fields).
PERSONAL_COLUMNS: dict[str, Treatment] = {c: how for columns in PERSONAL_DATA.values() for c, how in columns.items()}

#: How each masked column is masked in the audit trail, by column name as the trail names them.
_MASKS_BY_COLUMN: dict[str, Mask] = {
    c: mask_of(model, c)
    for model, columns in PERSONAL_DATA.items()
    for c, how in columns.items()
    if how is Treatment.MASKED
}

#: Amounts that may reveal a wage, as the audit trail names them. An event's ``changes`` does not always say
#: the claim's programme or the contribution's payer, so the trail withholds them all without ``pii:read``.
WAGE_DERIVED_COLUMNS: dict[str, Treatment] = {
    c: how for columns in WAGE_DERIVED_DATA.values() for c, how in columns.items()
}


def _wage_based(program: str | None, wage_based: bool | None) -> bool:
    """Whether a record's amounts reveal a wage: said by the caller (`wage_based`) or by a claim's programme."""
    if wage_based is not None:
        return wage_based
    return program is not None and program in WAGE_BASED_PROGRAMS


def personal_columns(
    model: type[Any], program: str | None = None, *, wage_based: bool | None = None
) -> dict[str, Treatment]:
    """The personal columns of one row of `model`; its amounts too when they reveal a wage.

    A claim's (and its benefit lines') depend on its `program`; a contribution says it itself
    (``wage_based=row.reveals_wage``).
    """
    columns = dict(PERSONAL_DATA.get(model, {}))
    if _wage_based(program, wage_based):
        columns.update(WAGE_DERIVED_DATA.get(model, {}))
    return columns


def treatment(
    principal: Principal, model: type[Any], column: str, program: str | None = None, *, wage_based: bool | None = None
) -> Treatment | None:
    """How `column` of a visible row of `model` reaches the principal: None when shown as stored."""
    how = personal_columns(model, program, wage_based=wage_based).get(column)
    return None if how is None or pii_visible(principal) else how


def shown(
    principal: Principal,
    model: type[Any],
    column: str,
    value: Any,
    program: str | None = None,
    *,
    wage_based: bool | None = None,
) -> Any:
    """`value` of `column` as the principal may see it: as stored, masked, or None (withheld)."""
    how = treatment(principal, model, column, program, wage_based=wage_based)
    if how is None or value is None:
        return value
    return mask_of(model, column).python(str(value)) if how is Treatment.MASKED else None


def shown_sql(
    principal: Principal,
    model: type[Any],
    column: str,
    value: ColumnElement[Any],
    program: ColumnElement[Any] | None = None,
    *,
    wage_based: ColumnElement[bool] | None = None,
) -> ColumnElement[Any]:
    """:func:`shown` as a SQL column expression: the same rules (:func:`treatment`), applied by the database.

    For reads whose JSON the database builds (schema.compiled.sql_json). Masking is the column's
    :class:`~domain.read_fields.Mask` in SQL (``domain.nik.mask_identifier_sql`` for identifiers); a wage-derived column
    is withheld only on rows whose amounts reveal a wage: a claim's (or benefit line's) whose `program` pays
    wage-based amounts, or a row whose own `wage_based` condition says so (a payment: ``reveals_wage_sql``).
    """
    always = treatment(principal, model, column, wage_based=False)
    if_wage_based = treatment(principal, model, column, wage_based=True)

    def apply(how: Treatment | None) -> ColumnElement[Any]:
        if how is None:
            return value
        return mask_of(model, column).sql(value) if how is Treatment.MASKED else sql_cast(null(), value.type)

    if always == if_wage_based:
        return apply(always)
    if wage_based is None:
        if program is None:
            raise ValueError(f"{column!r} of {model.__name__} depends on the row: pass its programme or wage_based")
        wage_based = program.in_(sorted(WAGE_BASED_PROGRAMS))
    return case((wage_based, apply(if_wage_based)), else_=apply(always))


def masked_changes(principal: Principal, changes: Any) -> tuple[Any, set[str]]:
    """An audit event's ``changes`` as the principal may see them, and the personal columns it shows in full.

    The audit trail's stance on personal data, stated here once: the trail records what was written, unmasked
    (a write function never masks what it appends; the hash chain covers the real values), and reading the
    trail is a read of personal data like any other — masked or withheld without ``pii:read`` by
    :data:`PERSONAL_COLUMNS` (and every amount in :data:`WAGE_DERIVED_COLUMNS`), and logged in the access log
    when personal data is shown in full (as the API logs it: wage-derived amounts are not logged).
    """
    revealed: set[str] = set()
    full = pii_visible(principal)

    def treat(column: str, treatment: Treatment, value: Any) -> Any:
        if isinstance(value, dict) and set(value) <= {"before", "after"}:
            return {k: treat(column, treatment, v) for k, v in value.items()}
        if value is None or full:
            return value
        return _MASKS_BY_COLUMN[column].python(str(value)) if treatment is Treatment.MASKED else None

    def walk(value: Any) -> Any:
        if isinstance(value, list):
            return [walk(v) for v in value]
        if not isinstance(value, dict):
            return value
        result = {}
        for key, item in value.items():
            treatment = PERSONAL_COLUMNS.get(key) or WAGE_DERIVED_COLUMNS.get(key)
            if treatment is None:
                result[key] = walk(item)
            else:
                if full and item is not None and key in PERSONAL_COLUMNS:
                    revealed.add(key)
                result[key] = treat(key, treatment, item)
        return result

    return walk(changes), revealed


#: The scope a record of each type needs at all (lookups, lists, ``node``, ``_entities``).
TYPE_READ_SCOPES: dict[str, Scope] = {
    "Participant": Scope.PARTICIPANTS_READ,
    "PovertyBeneficiary": Scope.BENEFICIARIES_READ,
    "Claim": Scope.CLAIMS_READ,
    "Region": Scope.REGIONS_READ,
    "Contribution": Scope.PARTICIPANTS_READ,  # a payment is read as part of its participant's record
}


def personal_fields(typename: str, program: str | None = None) -> dict[str, Treatment]:
    """The personal fields of one record of `typename` (a claim's depend on its programme)."""
    fields = dict(PERSONAL_FIELDS.get(typename, {}))
    if program is not None and program in WAGE_BASED_PROGRAMS:
        fields.update(WAGE_DERIVED_FIELDS.get(typename, {}))
    return fields


def field_decision(
    principal: Principal, typename: str, field: str, program: str | None = None
) -> tuple[Decision, Treatment | None]:
    """Whether a field of a visible record is shown as stored, and if not, how it is treated."""
    how = personal_fields(typename, program).get(field)
    if how is None:
        return Decision(True, Rule.PERSONAL_DATA, "not personal data: shown as stored"), None
    decision = pii_decision(principal)
    return decision, None if decision.allowed else how


#: Which row scope lets a caller see the rows behind each family of Monev counts.
_ROW_SCOPES: dict[Family, Scope] = {
    Family.PARTICIPANTS: Scope.PARTICIPANTS_READ,
    Family.BENEFICIARIES: Scope.BENEFICIARIES_READ,
    Family.CLAIMS: Scope.CLAIMS_READ,
}


def suppressed_families(principal: Principal) -> frozenset[Family]:
    """The families of Monev counts the principal gets with small counts withheld.

    A caller who may read the rows behind a count (an analyst with ``participants:read``) learns nothing
    new from it; one who may read only aggregates (a ministry client with ``stats:read`` alone) must not be
    able to single people out of them, so its counts below the threshold are withheld.
    """
    return frozenset(f for f, scope in _ROW_SCOPES.items() if not principal.has_scope(scope))


def statistics_only(principal: Principal) -> bool:
    """A partner client that reads aggregates and nothing else (``stats:read`` alone).

    Every Monev count it gets is suppressed (:func:`suppressed_families`) and it can read no row, so a response
    to it says nothing about a person: a shared HTTP cache may keep one when the document promises that it
    returns aggregates only (api.http_cache).
    """
    return principal.kind is PrincipalKind.CLIENT and principal.scopes == frozenset({Scope.STATS_READ})


def monev_viewer(principal: Principal, threshold: int = DEFAULT_THRESHOLD) -> Viewer:
    """The principal as the Monev tables see it: their rows, their region, what is suppressed for them.

    The API, the Inpres reports and the console dashboard all build it here, so they scope and suppress alike.
    """
    return Viewer(
        visible=lambda model: visible(principal, model),
        sees=lambda code: can_see_region(principal, code),
        region=principal.region,
        protected=suppressed_families(principal),
        threshold=threshold,
    )
