"""The compiled read path (schema.compiled) against the resolvers: the same JSON, the same errors, the same log.

Every case runs over the seeded demo data with the compiled path switched off and on (the corpus once more,
on the compiled path's fast lane), and the response bodies must be identical, byte for byte after
serialisation (key order included). The cases the compiler covers must actually be answered by it (its
counter moves); bad input must be refused by both the same way (the compiled path hands such requests to the
resolvers).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from strawberry.relay import to_base64

from api.app import create_app
from api.settings import Settings
from auth.scopes import Role, Scope
from domain.audit.models import DataAccessEvent
from domain.beneficiaries.models import PovertyBeneficiary
from domain.claims.models import Claim, ClaimBenefit
from domain.participants.models import Contribution, FundingSource, Participant
from domain.participants.phone import mask_phone_number
from schema.claims.filters import SUBMITTED_SORT
from schema.compiled.cache import BoundedCache
from schema.compiled.counters import ReadCounters
from schema.compiled.plan import PLAN_CACHE_SIZE, plan_cache
from schema.core.pagination import SortKey, encode_cursor
from schema.participants.contributions import PERIOD_SORT
from schema.regions.filters import REGION_SORT
from tests.conftest import COMPILED_PATH_ON, AppFactory, Served

# These tests are about the compiled path: it is on for them whatever the environment says.
pytestmark = pytest.mark.usefixtures("compiled_path_on")


CLAIM_FIELDS = "id claimNumber program status incidentDate submittedAt paidAt amountApproved version __typename"
PARTICIPANT_FIELDS = (
    "id membershipNumber nik fullName birthDate sex segment status fundingSource monthlyWage phoneNumber paidThrough "
    "contributionMonths recentContributionMonths diedOn registeredAt version __typename"
)

S2 = f"""query Lookup($m: String!) {{
  participant(membershipNumber: $m) {{
    {PARTICIPANT_FIELDS}
    region {{ id code name level isCity __typename }}
    programs {{ program since }}
    claims(first: 10) {{
      totalCount
      edges {{ cursor node {{ {CLAIM_FIELDS} }} }}
      pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }}
    }}
  }}
}}"""

S1 = """query Page($region: String, $first: Int, $after: String) {
  participants(first: $first, after: $after, filter: {regionCode: $region}) {
    totalCount
    edges { cursor node { membershipNumber fullName nik region { name } programs { program }
      claims(first: 3) { edges { node { claimNumber program status amountApproved } } } } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    __typename
  }
}"""

SORTED = """query Sorted($first: Int, $after: String, $dir: OrderDirection!) {
  participants(first: $first, after: $after, orderBy: {field: FULL_NAME, direction: $dir},
               filter: {segment: PU, status: ACTIVE}) {
    edges { cursor __typename node { ...Who } }
    pageInfo { endCursor hasNextPage }
  }
}
fragment Who on Participant { id fullName birthDate monthlyWage ... on Participant { registeredAt } }"""

ENTITIES = """query Ent($representations: [_Any!]!) {
  _entities(representations: $representations) {
    __typename
    ... on Participant { id membershipNumber nik phoneNumber claims(first: 2) { totalCount edges { node { id } } } }
  }
}"""

# More shapes for the JSON statements (schema.compiled.sql_json): no cursors, no nested `after`.
CONTRIBUTION_FIELDS = "id months from to amount payer payerRegionCode programs reference receivedAt __typename"

JSON_LOOKUP = f"""query J2($m: String!) {{
  participant(membershipNumber: $m) {{
    {PARTICIPANT_FIELDS}
    employer {{ registrationNumber name jkkRiskClass region {{ code name }} __typename }}
    contributions(first: 3) {{
      totalCount edges {{ cursor node {{ {CONTRIBUTION_FIELDS} }} }}
      pageInfo {{ hasNextPage hasPreviousPage endCursor }}
    }}
    region {{ id code name level isCity __typename }}
    programs {{ program since __typename }}
    claims(first: 2) {{
      totalCount __typename
      edges {{ __typename node {{ {CLAIM_FIELDS} }} }}
      pageInfo {{ hasNextPage hasPreviousPage }}
    }}
  }}
}}"""

JSON_PAGE = """query J1($region: String, $first: Int, $claims: Int) {
  participants(first: $first, filter: {regionCode: $region}) {
    totalCount
    __typename
    pageInfo { hasPreviousPage hasNextPage }
    edges { node { id membershipNumber fullName nik monthlyWage phoneNumber registeredAt region { name code }
      programs { program }
      beneficiary { id nik familyCardNumber birthDate decile extremePoor source snapshotDate enrolled }
      contributions(first: 2) { totalCount edges { node { months amount payer programs } } }
      employer { name jkkRiskClass }
      claims(first: $claims) { totalCount edges { node { claimNumber program status amountApproved paidAt } } }
    } }
  }
}"""

LINKED = """query L($m: String!) {
  participant(membershipNumber: $m) {
    membershipNumber
    beneficiary { id nik familyCardNumber birthDate decile extremePoor source snapshotDate enrolled region { code }
      participant { membershipNumber } }
  }
}"""

JSON_COUNTS = """query J3($region: String, $m: String!) {
  participants(first: 3, filter: {regionCode: $region}) { totalCount __typename }
  participant(membershipNumber: $m) { claims(first: 2) { totalCount } programs { since } }
}"""

#: Corpus cases and the number of root fields JSON statements answer in each, on both databases, for every
#: caller (with pii:read the statement also returns the ids the access log needs).
JSON_CASES = {
    "s2_east": 1,
    "s2_city": 1,
    "s2_missing": 1,
    "s1_east": 1,
    "s1_province_small_page": 1,
    "s1_no_filter_default_page": 1,
    "sorted_desc": 1,
    "sorted_asc": 1,
    "sorted_membership_number": 1,
    "nested_after": 1,
    "aliases": 3,
    "json_lookup_east": 1,
    "json_lookup_city": 1,
    "json_lookup_missing": 1,
    "json_lookup_linked_east": 1,
    "json_lookup_linked_city": 1,
    "json_page": 1,
    "json_page_empty": 1,
    "json_page_one_claim": 1,
    "json_lookup_no_claims": 1,
    "json_counts_only": 2,
    "json_counts_outside": 2,
    "entities": 1,
    "entities_by_number": 1,
    "entities_empty": 0,  # nothing to read: no statement at all
    "claim_east": 1,
    "claim_city_by_id": 1,
    "claim_missing": 1,
    "claim_id_of_another_type": 1,
    "claim_malformed_id": 1,
    "claims_default": 1,
    "claims_east": 1,
    "claims_filtered": 1,
    "claims_dates": 1,
    "claims_by_number_desc": 1,
    "claims_by_incident_date": 1,
    "claims_empty_region": 1,
    "claims_counts": 2,
    "claims_round_trip": 1,
    "node_participant": 1,
    "node_claim_east": 1,
    "node_claim_city": 1,
    "node_missing": 1,
    "node_claim_bad_key": 1,
    "node_payment_east": 1,
    "node_payment_city": 1,
    "node_employer_payment_east": 1,
    "node_employer_payment_city": 1,
    "node_payment_missing": 1,
    "node_payment_bad_key": 1,
    "entities_mixed": 2,
    "entities_claims_only": 1,
    "beneficiary_east": 1,
    "beneficiary_city": 1,
    "beneficiary_missing": 1,
    "beneficiaries_default": 1,
    "beneficiaries_filtered": 1,
    "beneficiaries_by_decile_desc": 1,
    "beneficiaries_by_name": 1,
    "beneficiaries_not_enrolled": 1,
    "node_beneficiary": 1,
    "entities_beneficiaries": 3,
    "region_province": 1,
    "region_own": 1,
    "region_other": 1,
    "region_unknown": 1,
    "regions_default": 1,
    "regions_of_province": 1,
    "regions_by_level": 1,
    "regions_of_another_regency": 1,
    "regions_after": 1,
    "regions_after_a_code_that_is_no_region": 1,
    "regions_of_an_unknown_parent": 1,
    "region_tree_village_east": 1,
    "region_tree_village_city": 1,
    "region_tree_regency": 1,
    "region_tree_province": 1,
    "regions_tree_of_province": 1,
    "regions_tree_of_regency": 1,
    "region_tree_under_other_roots": 3,
    "node_region_own": 1,
    "node_region_other": 1,
    "node_region_unknown": 1,
    "node_region_tree": 1,
    "entities_regions": 3,
}

ENTITIES_BY_NUMBER = """query Ent($representations: [_Any!]!) {
  _entities(representations: $representations) {
    ... on Participant { membershipNumber fullName status region { code } programs { program }
      claims(first: 1) { totalCount pageInfo { hasNextPage } edges { node { claimNumber amountApproved } } } }
    __typename
  }
}"""

NESTED_AFTER = """query After($m: String!, $after: String, $paid: String) {
  participant(membershipNumber: $m) {
    membershipNumber
    contributions(first: 2, after: $paid) { edges { cursor node { from amount } } pageInfo { hasNextPage } }
    claims(first: 1, after: $after) {
      edges { cursor node { claimNumber submittedAt } }
      pageInfo { hasPreviousPage hasNextPage startCursor endCursor }
    }
  }
}"""

ALIASES = """query($m: String!, $id: ID!) {
  a: participant(membershipNumber: $m) { number: membershipNumber r: region { n: name } }
  b: participant(id: $id) { id fullName }
  c: participants(first: 2, filter: {nameContains: "ana", program: JHT}) { edges { node { id } } }
}"""


# The claims roots (issue 20): a claim's stored leaves, its region, its status history and its participant
# (re-scoped by the participants' rule, with that participant's own nested claims page).
CLAIM_LOOKUP = f"""query C1($n: String, $id: ID) {{
  claim(claimNumber: $n, id: $id) {{
    {CLAIM_FIELDS}
    region {{ id code name level isCity __typename }}
    history {{ status at actor note __typename }}
    benefits {{ kind recipientName recipientNik relationship educationLevel amount __typename }}
    participant {{
      id membershipNumber nik fullName birthDate monthlyWage status region {{ code }} programs {{ program }}
      claims(first: 2) {{ totalCount edges {{ cursor node {{ claimNumber }} }} pageInfo {{ hasNextPage endCursor }} }}
    }}
  }}
}}"""

CLAIMS_PAGE = f"""query C2($first: Int, $after: String, $filter: ClaimFilter, $order: ClaimOrder) {{
  claims(first: $first, after: $after, filter: $filter, orderBy: $order) {{
    totalCount
    __typename
    edges {{ cursor __typename node {{ {CLAIM_FIELDS} region {{ code }} history {{ status at }}
      benefits {{ kind recipientNik amount }} participant {{ membershipNumber nik }} }} }}
    pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }}
  }}
}}"""

CLAIMS_COUNT = """query C3($filter: ClaimFilter) {
  claims(filter: $filter) { totalCount }
  one: claims(first: 1, orderBy: {field: CLAIM_NUMBER, direction: DESC}) { edges { node { claimNumber } } }
}"""

# A participant's claims with each claim's participant: the participants table nested in itself.
CLAIMS_ROUND_TRIP = """query C4($region: String) {
  participants(first: 5, filter: {regionCode: $region}) {
    edges { node { membershipNumber claims(first: 2) { edges { node { claimNumber
      participant { membershipNumber nik claims(first: 1) { totalCount edges { node { claimNumber } } } } } } } } }
  }
}"""


# node(id) of a Participant or a Claim, and _entities mixing both types (one statement per type present).
NODE = """query N($id: ID!) {
  node(id: $id) {
    __typename id
    ... on Participant { membershipNumber nik claims(first: 1) { totalCount edges { node { claimNumber } } } }
    ... on Claim { claimNumber amountApproved region { code } participant { membershipNumber nik } }
    ... on Region { name }
    ... on Contribution { months from to amount payer payerRegionCode programs reference receivedAt }
  }
}"""

ENTITIES_MIXED = """query Ent($representations: [_Any!]!) {
  _entities(representations: $representations) {
    __typename
    ... on Participant { id membershipNumber nik }
    ... on Claim { id claimNumber status amountApproved region { code } participant { membershipNumber nik } }
  }
}"""


BENEFICIARY_FIELDS = (
    "id nik familyCardNumber fullName birthDate sex decile extremePoor source snapshotDate enrolled __typename"
)

BENEFICIARY_LOOKUP = f"""query B1($id: ID, $nik: String) {{
  beneficiary(id: $id, nik: $nik) {{
    {BENEFICIARY_FIELDS}
    region {{ code name }}
    participant {{ membershipNumber nik claims(first: 1) {{ totalCount }} }}
  }}
}}"""

BENEFICIARIES_PAGE = f"""query B2($first: Int, $after: String, $filter: BeneficiaryFilter, $order: BeneficiaryOrder) {{
  beneficiaries(first: $first, after: $after, filter: $filter, orderBy: $order) {{
    totalCount
    edges {{ cursor node {{ {BENEFICIARY_FIELDS} region {{ code }} participant {{ membershipNumber }} }} }}
    pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }}
  }}
}}"""


# The region roots (issue 20): a region by code and pages of regions, by level and parent; a region outside
# the caller's (and not above it) does not exist for them.
REGION_LOOKUP = """query R1($code: String!) {
  region(code: $code) { id code name level isCity __typename }
}"""

REGIONS_PAGE = """query R2($level: RegionLevel, $parent: String, $first: Int, $after: String) {
  regions(level: $level, parentCode: $parent, first: $first, after: $after) {
    totalCount __typename
    edges { cursor __typename node { id code name level isCity } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}"""


# The region tree (parent, children, ancestors) as correlated subqueries: under a region, under a page of
# regions, and under the participants', claims' and beneficiaries' own regions; scoped as the loaders scope it.
REGION_TREE = """query R3($code: String!) {
  region(code: $code) {
    code
    parent { id code name level parent { code } }
    children { code name level isCity parent { code } __typename }
    ancestors { id code name level }
  }
}"""

REGIONS_TREE = """query R4($parent: String, $first: Int) {
  regions(parentCode: $parent, first: $first) {
    edges { node { code name children { code name } parent { name } ancestors { code } } }
    pageInfo { hasNextPage endCursor }
  }
}"""

REGION_TREE_UNDER = """query R5($m: String!) {
  participant(membershipNumber: $m) {
    region { code parent { name parent { name ancestors { code } } } ancestors { code name } }
  }
  claims(first: 3) { edges { node { claimNumber region { parent { code children { code } } } } } }
  beneficiaries(first: 2) { edges { node { region { ancestors { code name } parent { name } } } } }
}"""


def region_cursor(code: str) -> str:
    """The cursor of the region `code` in ``regions`` (ordered by code, the code breaking ties)."""
    return encode_cursor(REGION_SORT, False, code, code)


async def _first_cursor(engine: AsyncEngine, sort: SortKey, model: Any, participant_id: int) -> str:
    """The cursor of a participant's first row of `model` in `sort`'s order (a nested page's ``after``)."""
    async with engine.connect() as conn:
        first = (
            await conn.execute(
                select(sort.column, model.id)
                .where(model.participant_id == participant_id)
                .order_by(sort.column, model.id)
                .limit(1)
            )
        ).one()
    return encode_cursor(sort, False, first[0], first[1])


async def _samples(engine: AsyncEngine) -> dict[str, Any]:
    """A participant with claims in 52.03 and one in 52.71 (the two regions the callers are bound to)."""
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(Participant.id, Participant.membership_number, Participant.nik, Participant.region_code)
                .join(Claim, Claim.participant_id == Participant.id)
                .group_by(Participant.id, Participant.membership_number, Participant.nik, Participant.region_code)
                .having(func.count(Claim.id) >= 1)
                .order_by(Participant.id)
            )
        ).all()
    found: dict[str, Any] = {}
    for row in rows:
        prefix = row.region_code[:5]
        if prefix in ("52.03", "52.71") and prefix not in found:
            found[prefix] = row
    assert set(found) == {"52.03", "52.71"}, "the tiny dataset should have claimants in both regions"
    found["first_claim_cursor"] = await _first_cursor(engine, SUBMITTED_SORT, Claim, found["52.03"].id)
    found["first_paid_cursor"] = await _first_cursor(engine, PERIOD_SORT, Contribution, found["52.03"].id)
    async with engine.connect() as conn:
        for prefix in ("52.03", "52.71"):
            # Registry rows of several snapshots first, so the latest-snapshot rule has something to decide.
            found[f"linked_{prefix}"] = (
                await conn.execute(
                    select(Participant.membership_number)
                    .join(PovertyBeneficiary, PovertyBeneficiary.participant_id == Participant.id)
                    .where(Participant.region_code.startswith(prefix))
                    .group_by(Participant.id, Participant.membership_number)
                    .order_by(func.count(PovertyBeneficiary.id).desc(), Participant.id)
                    .limit(1)
                )
            ).scalar_one()
    async with engine.connect() as conn:
        found["claim_with_recipient_nik"] = (
            await conn.execute(
                select(Claim.claim_number)
                .join(ClaimBenefit, ClaimBenefit.claim_id == Claim.id)
                .where(ClaimBenefit.recipient_nik.is_not(None))
                .order_by(Claim.id)
                .limit(1)
            )
        ).scalar_one()
    async with engine.connect() as conn:
        for prefix in ("52.03", "52.71"):
            # A payment in each region, one an employer's (its amount reveals the wage) where there is one.
            paid_by = (
                await conn.execute(
                    select(Contribution.id, Contribution.payer)
                    .join(Participant, Participant.id == Contribution.participant_id)
                    .where(Participant.region_code.startswith(prefix))
                    .order_by(Contribution.id)
                )
            ).all()
            assert paid_by, f"the tiny dataset should have payments in {prefix}"
            found[f"payment_{prefix}"] = paid_by[0].id
            found[f"employer_payment_{prefix}"] = next(
                (r.id for r in paid_by if r.payer is FundingSource.EMPLOYER), paid_by[-1].id
            )
    async with engine.connect() as conn:
        for prefix in ("52.03", "52.71"):
            claim = (
                await conn.execute(
                    select(Claim.id, Claim.claim_number)
                    .where(Claim.participant_id == found[prefix].id)
                    .order_by(Claim.id)
                    .limit(1)
                )
            ).one()
            found[f"claim_{prefix}"] = claim
            beneficiary = (
                await conn.execute(
                    select(PovertyBeneficiary.id, PovertyBeneficiary.nik)
                    .where(PovertyBeneficiary.region_code.startswith(prefix))
                    .order_by(PovertyBeneficiary.participant_id.is_(None), PovertyBeneficiary.id)
                    .limit(1)
                )
            ).one()
            found[f"beneficiary_{prefix}"] = beneficiary
        repeated = (
            await conn.execute(
                select(PovertyBeneficiary.nik)
                .group_by(PovertyBeneficiary.nik)
                .having(func.count() > 1)
                .order_by(PovertyBeneficiary.nik)
                .limit(1)
            )
        ).scalar_one_or_none()
        found["beneficiary_nik_repeated"] = repeated or found["beneficiary_52.03"].nik
    return found


def _cases(samples: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    east, city = samples["52.03"], samples["52.71"]
    assert east.region_code.startswith("52.03")
    reps = [
        {"__typename": "Participant", "id": to_base64("Participant", east.id)},
        {"__typename": "Participant", "membershipNumber": city.membership_number},
        {"__typename": "Participant", "id": to_base64("Participant", 10**9)},
        {"__typename": "Participant", "membershipNumber": east.membership_number, "id": to_base64("Claim", 1)},
    ]
    # Both keys, in and out of each caller's regions, repeated, unknown, and ids of another type or malformed.
    by_number = [
        {"__typename": "Participant", "membershipNumber": city.membership_number},
        {"__typename": "Participant", "membershipNumber": east.membership_number},
        {"__typename": "Participant", "id": to_base64("Participant", city.id)},
        {"__typename": "Participant", "membershipNumber": "00000000000"},
        {"__typename": "Participant", "membershipNumber": city.membership_number},
        {"__typename": "Participant", "id": "not-a-global-id"},
        {"__typename": "Participant", "id": to_base64("Participant", 2**31 - 1)},
        {"__typename": "Participant", "id": to_base64("Participant", 10**17)},  # past INTEGER: not found
        {"__typename": "Participant", "id": to_base64("Participant", east.id), "extra": {"x": 1}},
    ]
    east_claim, city_claim = samples["claim_52.03"], samples["claim_52.71"]
    mixed = [
        {"__typename": "Claim", "id": to_base64("Claim", city_claim.id)},
        {"__typename": "Participant", "membershipNumber": east.membership_number},
        {"__typename": "Claim", "id": to_base64("Claim", east_claim.id)},
        {"__typename": "Claim", "id": to_base64("Participant", east_claim.id)},  # an id of another type
        {"__typename": "Claim", "id": to_base64("Claim", 10**9)},
        {"__typename": "Claim", "id": "not-a-global-id"},
        {"__typename": "Participant", "id": to_base64("Participant", city.id)},
        {"__typename": "Claim", "id": to_base64("Claim", east_claim.id)},
    ]
    return [
        ("s2_east", S2, {"m": east.membership_number}),
        ("s2_city", S2, {"m": city.membership_number}),
        ("s2_missing", S2, {"m": "00000000000"}),
        ("s1_east", S1, {"region": "52.03", "first": 100}),
        ("s1_province_small_page", S1, {"region": "52", "first": 7}),
        ("s1_no_filter_default_page", S1, {}),
        ("sorted_desc", SORTED, {"first": 5, "dir": "DESC"}),
        ("sorted_asc", SORTED, {"first": 3, "dir": "ASC"}),
        ("sorted_membership_number", SORTED.replace("FULL_NAME", "MEMBERSHIP_NUMBER"), {"first": 4, "dir": "DESC"}),
        (
            "nested_after",
            NESTED_AFTER,
            {"m": east.membership_number, "after": samples["first_claim_cursor"], "paid": samples["first_paid_cursor"]},
        ),
        ("entities", ENTITIES, {"representations": reps}),
        ("entities_by_number", ENTITIES_BY_NUMBER, {"representations": by_number}),
        ("entities_empty", ENTITIES_BY_NUMBER, {"representations": []}),
        ("aliases", ALIASES, {"m": city.membership_number, "id": to_base64("Participant", east.id)}),
        ("json_lookup_east", JSON_LOOKUP, {"m": east.membership_number}),
        ("json_lookup_city", JSON_LOOKUP, {"m": city.membership_number}),
        ("json_lookup_missing", JSON_LOOKUP, {"m": "00000000000"}),
        # A participant linked to registry rows (the latest snapshot speaks), in 52.03 and in 52.71.
        ("json_lookup_linked_east", LINKED, {"m": samples["linked_52.03"]}),
        ("json_lookup_linked_city", LINKED, {"m": samples["linked_52.71"]}),
        ("json_page", JSON_PAGE, {"region": "52", "first": 20, "claims": 3}),
        ("json_page_empty", JSON_PAGE, {"region": "52.71.01", "first": 5, "claims": 3}),
        ("json_page_one_claim", JSON_PAGE, {"region": "52.03", "first": 3, "claims": 1}),
        (
            "json_lookup_no_claims",
            JSON_LOOKUP.replace("claims(first: 2)", "claims(first: 0)"),
            {"m": east.membership_number},
        ),
        ("claim_east", CLAIM_LOOKUP, {"n": samples["claim_52.03"].claim_number}),
        ("claim_city_by_id", CLAIM_LOOKUP, {"id": to_base64("Claim", samples["claim_52.71"].id)}),
        ("claim_missing", CLAIM_LOOKUP, {"n": "NO-SUCH-CLAIM"}),
        ("claim_id_of_another_type", CLAIM_LOOKUP, {"id": to_base64("Participant", samples["claim_52.03"].id)}),
        ("claim_malformed_id", CLAIM_LOOKUP, {"id": "not-a-global-id"}),
        ("claims_default", CLAIMS_PAGE, {}),
        ("claims_east", CLAIMS_PAGE, {"first": 50, "filter": {"regionCode": "52.03"}}),
        ("claims_filtered", CLAIMS_PAGE, {"first": 10, "filter": {"regionCode": "52", "program": "JKM"}}),
        (
            "claims_dates",
            CLAIMS_PAGE,
            {"first": 10, "filter": {"submittedFrom": "2020-01-01", "submittedTo": "2030-12-31", "status": "PAID"}},
        ),
        ("claims_by_number_desc", CLAIMS_PAGE, {"first": 4, "order": {"field": "CLAIM_NUMBER", "direction": "DESC"}}),
        ("claims_by_incident_date", CLAIMS_PAGE, {"first": 4, "order": {"field": "INCIDENT_DATE"}}),
        ("claims_empty_region", CLAIMS_PAGE, {"first": 5, "filter": {"regionCode": "52.71.01"}}),
        ("claims_counts", CLAIMS_COUNT, {"filter": {"regionCode": "52.71"}}),
        ("claims_round_trip", CLAIMS_ROUND_TRIP, {"region": "52"}),
        ("node_participant", NODE, {"id": to_base64("Participant", east.id)}),
        ("node_claim_east", NODE, {"id": to_base64("Claim", samples["claim_52.03"].id)}),
        ("node_claim_city", NODE, {"id": to_base64("Claim", samples["claim_52.71"].id)}),
        ("node_missing", NODE, {"id": to_base64("Participant", 10**9)}),
        ("node_claim_bad_key", NODE, {"id": to_base64("Claim", "abc")}),
        # A payment exists for a caller when its participant does; an employer's amount reveals the wage.
        ("node_payment_east", NODE, {"id": to_base64("Contribution", samples["payment_52.03"])}),
        ("node_payment_city", NODE, {"id": to_base64("Contribution", samples["payment_52.71"])}),
        ("node_employer_payment_east", NODE, {"id": to_base64("Contribution", samples["employer_payment_52.03"])}),
        ("node_employer_payment_city", NODE, {"id": to_base64("Contribution", samples["employer_payment_52.71"])}),
        ("node_payment_missing", NODE, {"id": to_base64("Contribution", 10**9)}),
        ("node_payment_bad_key", NODE, {"id": to_base64("Contribution", "abc")}),
        ("entities_mixed", ENTITIES_MIXED, {"representations": mixed}),
        (
            "beneficiary_east",
            BENEFICIARY_LOOKUP,
            {"id": to_base64("PovertyBeneficiary", samples["beneficiary_52.03"].id)},
        ),
        (
            "beneficiary_city",
            BENEFICIARY_LOOKUP,
            {"id": to_base64("PovertyBeneficiary", samples["beneficiary_52.71"].id)},
        ),
        ("beneficiary_missing", BENEFICIARY_LOOKUP, {"id": to_base64("Claim", samples["beneficiary_52.03"].id)}),
        ("beneficiaries_default", BENEFICIARIES_PAGE, {}),
        (
            "beneficiaries_filtered",
            BENEFICIARIES_PAGE,
            {"first": 10, "filter": {"regionCode": "52", "maxDecile": 4, "extremePoor": True}},
        ),
        (
            "beneficiaries_by_decile_desc",
            BENEFICIARIES_PAGE,
            {"first": 6, "order": {"field": "DECILE", "direction": "DESC"}},
        ),
        (
            "beneficiaries_by_name",
            BENEFICIARIES_PAGE,
            {"first": 6, "order": {"field": "FULL_NAME"}, "filter": {"source": "P3KE"}},
        ),
        ("beneficiaries_not_enrolled", BENEFICIARIES_PAGE, {"first": 6, "filter": {"enrolled": False, "decile": 1}}),
        (
            "node_beneficiary",
            NODE.replace(
                "... on Region",
                "... on PovertyBeneficiary { nik familyCardNumber birthDate decile enrolled region { code } }"
                " ... on Region",
            ),
            {"id": to_base64("PovertyBeneficiary", samples["beneficiary_52.03"].id)},
        ),
        (
            "entities_beneficiaries",
            ENTITIES_MIXED.replace(
                "__typename\n",
                "__typename ... on PovertyBeneficiary { nik enrolled participant { membershipNumber } }\n",
                1,
            ),
            {
                "representations": [
                    *mixed[:3],
                    {
                        "__typename": "PovertyBeneficiary",
                        "id": to_base64("PovertyBeneficiary", samples["beneficiary_52.71"].id),
                    },
                    {
                        "__typename": "PovertyBeneficiary",
                        "id": to_base64("PovertyBeneficiary", samples["beneficiary_52.03"].id),
                    },
                ]
            },
        ),
        ("entities_claims_only", ENTITIES_MIXED, {"representations": [r for r in mixed if r["__typename"] == "Claim"]}),
        ("region_province", REGION_LOOKUP, {"code": "52"}),
        ("region_own", REGION_LOOKUP, {"code": " 52.71 "}),
        ("region_other", REGION_LOOKUP, {"code": "52.03"}),
        ("region_unknown", REGION_LOOKUP, {"code": "99.99"}),
        ("regions_default", REGIONS_PAGE, {}),
        ("regions_of_province", REGIONS_PAGE, {"parent": "52", "first": 100}),
        ("regions_by_level", REGIONS_PAGE, {"level": "REGENCY", "first": 5}),
        ("regions_of_another_regency", REGIONS_PAGE, {"parent": "52.03", "first": 3, "level": "DISTRICT"}),
        ("regions_after", REGIONS_PAGE, {"parent": "52", "first": 2, "after": region_cursor("52.03")}),
        ("regions_after_a_code_that_is_no_region", REGIONS_PAGE, {"parent": "52", "after": region_cursor("52.50")}),
        ("regions_of_an_unknown_parent", REGIONS_PAGE, {"parent": "99.99", "first": 3}),
        ("region_tree_village_east", REGION_TREE, {"code": east.region_code}),
        ("region_tree_village_city", REGION_TREE, {"code": city.region_code}),
        ("region_tree_regency", REGION_TREE, {"code": "52.71"}),
        ("region_tree_province", REGION_TREE, {"code": "52"}),
        ("regions_tree_of_province", REGIONS_TREE, {"parent": "52", "first": 20}),
        ("regions_tree_of_regency", REGIONS_TREE, {"parent": "52.71", "first": 5}),
        ("region_tree_under_other_roots", REGION_TREE_UNDER, {"m": east.membership_number}),
        ("node_region_own", NODE, {"id": to_base64("Region", "52.71")}),
        ("node_region_other", NODE, {"id": to_base64("Region", "52.03")}),
        ("node_region_unknown", NODE, {"id": to_base64("Region", " 52.71")}),  # looked up as given: no region
        (
            "node_region_tree",
            NODE.replace(
                "... on Region { name }", "... on Region { name parent { code } children { code } ancestors { code } }"
            ),
            {"id": to_base64("Region", "52.71.01")},
        ),
        (
            "entities_regions",
            ENTITIES_MIXED.replace(
                "__typename\n",
                "__typename ... on Region { code name level parent { code } children { code } }\n",
                1,
            ),
            {
                "representations": [
                    {"__typename": "Region", "code": "52.71"},
                    *mixed[:2],
                    {"__typename": "Region", "code": "52.03"},
                    {"__typename": "Region", "code": "52"},
                    {"__typename": "Region", "code": "99.99"},
                    {"__typename": "Region", "code": " 52.71 "},  # looked up as given: no region
                    {"__typename": "Region", "code": "52.71", "id": 5},  # not a key of Region: ignored
                ]
            },
        ),
    ]


def counters(app: Starlette) -> ReadCounters:
    """What the test's own app (never another one) did on its read path."""
    result: ReadCounters = app.state.graphql.counters
    return result


@pytest.fixture
def resolvers(settings: Settings, app_factory: AppFactory) -> Served:
    """The same database served by the resolvers alone: the reference the compiled path is compared with."""
    return app_factory(settings.model_copy(update={"compiled_reads": False}))


async def _both(
    gql: Any, resolvers: Served, app: Starlette, query: str, variables: dict[str, Any], caller: Any
) -> tuple[Any, Any, int]:
    resolved = await resolvers.gql(query, variables, caller, status=200)
    before = counters(app).compiled
    compiled = await gql(query, variables, caller, status=200)
    return resolved, compiled, counters(app).compiled - before


def _caller(callers: dict[str, Any], mint: Any, name: str) -> Any:
    if name == "national_without_pii":  # every region, everything masked
        scopes = frozenset(s for s in callers["admin"].scopes if s is not Scope.PII_READ)
        return type(callers["admin"])(name, mint(Role.ANALYST, None, scopes), None, scopes)
    return callers[name]


async def _logged_since(engine: AsyncEngine, after: int) -> tuple[int, list[tuple[str, list[str], list[str]]]]:
    """The access-log rows written after row `after` (entity type, ids, fields) and the last row's id."""
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(
                    DataAccessEvent.id, DataAccessEvent.entity_type, DataAccessEvent.entity_ids, DataAccessEvent.fields
                )
                .where(DataAccessEvent.id > after)
                .order_by(DataAccessEvent.id)
            )
        ).all()
    last = rows[-1].id if rows else after
    return last, [(r.entity_type, list(r.entity_ids), list(r.fields)) for r in rows]


@pytest.mark.parametrize("caller_name", ["analyst_5203", "officer_5271", "admin", "national_without_pii"])
async def test_every_case_answers_alike_on_the_resolvers_the_compiled_path_and_the_fast_lane(
    gql: Any,
    resolvers: Served,
    app: Starlette,
    engine: AsyncEngine,
    callers: dict[str, Any],
    mint: Any,
    caller_name: str,
) -> None:
    """Each corpus case three ways over one database: the resolvers alone, the compiled path in the full
    pipeline (with the JSON statements the case has), and the same read again, which the fast lane answers
    before Strawberry's view. The three bodies are byte for byte the same and free of errors, and each
    writes the same access-log rows (with pii:read; none without)."""
    samples = await _samples(engine)
    caller = _caller(callers, mint, caller_name)
    logged, _ = await _logged_since(engine, 0)
    personal = 0  # cases whose reads were logged
    for name, query, variables in _cases(samples):
        app.state.graphql.ready.clear()  # the pipeline answers the first compiled read, whatever ran before
        resolved = await resolvers.gql(query, variables, caller, status=200)
        logged, by_resolvers = await _logged_since(engine, logged)
        seen = counters(app)
        compiled_before, roots_before, fast_before = seen.compiled, seen.json_roots, seen.fast_answered
        compiled = await gql(query, variables, caller, status=200)
        logged, by_compiled = await _logged_since(engine, logged)
        assert seen.compiled == compiled_before + 1, f"{name}: the compiled path should have answered it"
        assert seen.fast_answered == fast_before, f"{name}: the pipeline, not the fast lane, answers it first"
        assert seen.json_roots == roots_before + JSON_CASES[name], f"{name}: JSON statements should answer it"
        fast = await gql(query, variables, caller, status=200)
        logged, by_fast_lane = await _logged_since(engine, logged)
        assert seen.fast_answered == fast_before + 1, f"{name}: the fast lane should have answered the repeat"
        assert json.dumps(fast) == json.dumps(compiled) == json.dumps(resolved), name
        assert "errors" not in resolved, (name, resolved.get("errors"))
        if name.startswith("json_lookup_linked") and resolved["data"]["participant"] is not None:
            assert resolved["data"]["participant"]["beneficiary"] is not None, (name, "should have a registry row")
        assert by_fast_lane == by_compiled == by_resolvers, name
        if Scope.PII_READ not in caller.scopes:
            assert by_resolvers == [], f"{name}: masked reads are not personal data read"
        personal += bool(by_resolvers)
    assert personal > 0 or Scope.PII_READ not in caller.scopes, "with pii:read some cases should be logged"


async def test_json_statements_rebind_every_value_of_their_compiled_text(
    gql: Any, resolvers: Served, app: Starlette, engine: AsyncEngine, callers: dict[str, Any], mint: Any
) -> None:
    """The same statement structure with other values (keys, regions, filters, page sizes) answers alike."""
    samples = await _samples(engine)
    scopes = frozenset(s for s in callers["admin"].scopes if s is not Scope.PII_READ)
    national = type(callers["admin"])("national_without_pii", mint(Role.ANALYST, None, scopes), None, scopes)
    east, city = samples["52.03"].membership_number, samples["52.71"].membership_number

    def to_cursor(sort: str, value: str, row_id: int) -> str:
        return encode_cursor(SortKey(sort, Participant.full_name), False, value, row_id)

    page = JSON_PAGE.replace("filter: {regionCode: $region}", "filter: {regionCode: $region, nameContains: $name}")
    page = page.replace("$claims: Int)", "$claims: Int, $name: String)")
    runs: list[tuple[str, dict[str, Any]]] = [
        (JSON_LOOKUP, {"m": samples["52.03"].membership_number}),
        (JSON_LOOKUP, {"m": samples["52.71"].membership_number}),
        (JSON_LOOKUP, {"m": "00000000000"}),
        (JSON_PAGE, {"region": "52.03", "first": 4, "claims": 2}),
        (JSON_PAGE, {"region": "52.71", "first": 4, "claims": 2}),
        (JSON_PAGE, {"region": "52", "first": 4, "claims": 2}),
        (page, {"region": "52", "first": 6, "claims": 1, "name": "ana"}),
        (page, {"region": "52.71", "first": 6, "claims": 1, "name": "sri"}),
        (page, {"region": "52.03", "first": 6, "claims": 1, "name": "zzzz"}),
        # Cursors and nested `after`: the cursor's values are rebound too.
        (NESTED_AFTER, {"m": east, "after": None}),
        (NESTED_AFTER, {"m": east, "after": samples["first_claim_cursor"], "paid": samples["first_paid_cursor"]}),
        (NESTED_AFTER, {"m": city, "after": samples["first_claim_cursor"]}),
        (NESTED_AFTER, {"m": city, "after": None}),
        (SORTED, {"first": 3, "dir": "ASC"}),
        (SORTED, {"first": 3, "dir": "ASC", "after": to_cursor("FULL_NAME", "M", 1)}),
        (SORTED, {"first": 3, "dir": "ASC", "after": to_cursor("FULL_NAME", "S", 1)}),
        # _entities: other keys, another number of them.
        (ENTITIES_BY_NUMBER, {"representations": [{"__typename": "Participant", "membershipNumber": east}]}),
        (ENTITIES_BY_NUMBER, {"representations": [{"__typename": "Participant", "membershipNumber": city}] * 3}),
        # Regions: other codes, parents and cursors in the same structures.
        (REGION_TREE, {"code": "52.71"}),
        (REGION_TREE, {"code": "52.03.01"}),
        (REGIONS_PAGE, {"parent": "52", "first": 3}),
        (REGIONS_PAGE, {"parent": "52", "first": 3, "after": region_cursor("52.03")}),
        (REGIONS_PAGE, {"parent": "52.71", "first": 3, "after": region_cursor("52.71.01")}),
        (NODE, {"id": to_base64("Region", "52.71")}),
        (NODE, {"id": to_base64("Region", "52.03")}),
    ]
    # Twice: the first round builds each structure the app has not kept yet (how many that is depends on what
    # ran before in this process), the second must find them kept and run them as compiled text.
    for repeat in (False, True):
        texts = counters(app).json_texts
        for caller in (national, callers["analyst_5203"]):
            for query, variables in runs:
                resolved, compiled, answered = await _both(gql, resolvers, app, query, variables, caller)
                assert compiled == resolved, (caller.name, variables)
                assert answered == 1
        if repeat:
            assert counters(app).json_texts - texts >= 16, "repeated structures should run as compiled text"


@pytest.mark.parametrize("caller_name", ["admin", "national_without_pii"])
async def test_paging_on_the_compiled_path_walks_the_same_pages(
    gql: Any,
    resolvers: Served,
    app: Starlette,
    engine: AsyncEngine,
    callers: dict[str, Any],
    mint: Any,
    caller_name: str,
) -> None:
    caller = _caller(callers, mint, caller_name)
    for query in (SORTED, SORTED.replace("FULL_NAME", "REGISTERED_AT")):
        after = None
        pages = 0
        while True:
            before = counters(app).json_roots
            resolved, compiled, answered = await _both(
                gql, resolvers, app, query, {"first": 2, "after": after, "dir": "ASC"}, caller
            )
            assert compiled == resolved
            assert answered == 1
            if caller_name == "national_without_pii":
                assert counters(app).json_roots == before + 1, "cursors are the JSON statement's too"
            pages += 1
            info = compiled["data"]["participants"]["pageInfo"]
            if not info["hasNextPage"] or pages == 5:
                break
            after = info["endCursor"]
        assert pages > 1


async def test_node_of_a_type_not_compiled_is_the_resolvers(
    gql: Any, resolvers: Served, app: Starlette, callers: dict[str, Any]
) -> None:
    """``node`` of a type the compiler does not resolve (a job; every entity type is compiled): the plan is
    made, the id's type decides, and the resolvers answer with their JSON."""
    for caller in (callers["analyst_5203"], callers["admin"]):
        for query, variables in [(NODE, {"id": to_base64("Job", "1")})]:
            resolved, compiled, answered = await _both(gql, resolvers, app, query, variables, caller)
            assert json.dumps(compiled) == json.dumps(resolved)
            assert answered == 0


#: Global ids three levels down (a page of claims, each claim's participant, its claims): deeper than SQLite's
#: parser takes, so there the resolvers answer it; PostgreSQL runs it as one statement.
TOO_DEEP_FOR_SQLITE = """query($first: Int) {
  claims(first: $first) { edges { node { id participant { id claims(first: 2) { edges { node { id } } } } } } }
}"""


async def test_a_statement_too_deep_for_sqlite_is_left_to_the_resolvers(
    gql: Any, resolvers: Served, app: Starlette, callers: dict[str, Any], backend: str
) -> None:
    """SQLite's "parser stack overflow" is no internal error: the resolvers answer, now and on the repeat
    (the statement cache remembers it); PostgreSQL's JSON statement answers the same JSON."""
    for _ in range(2):
        roots, fallbacks = counters(app).json_roots, counters(app).fallbacks
        resolved, compiled, answered = await _both(
            gql, resolvers, app, TOO_DEEP_FOR_SQLITE, {"first": 5}, callers["admin"]
        )
        assert json.dumps(compiled) == json.dumps(resolved)
        assert "errors" not in compiled
        assert compiled["data"]["claims"]["edges"]
        assert answered == (0 if backend == "sqlite" else 1)
        assert counters(app).fallbacks == fallbacks + (1 if backend == "sqlite" else 0)
        assert counters(app).json_roots == roots + 1


WALKS = {
    "claims": (CLAIMS_PAGE, ("SUBMITTED_AT", "CLAIM_NUMBER", "INCIDENT_DATE")),
    "beneficiaries": (BENEFICIARIES_PAGE, ("SNAPSHOT_DATE", "FULL_NAME", "DECILE")),
}


@pytest.mark.parametrize("root", sorted(WALKS))
@pytest.mark.parametrize("caller_name", ["officer_5271", "national_without_pii"])
async def test_claim_and_beneficiary_pages_walk_the_same_way_in_every_order(
    gql: Any, resolvers: Served, app: Starlette, callers: dict[str, Any], mint: Any, caller_name: str, root: str
) -> None:
    """``claims`` and ``beneficiaries`` page by page with their own cursors, for each sort field and
    direction (ties broken by id)."""
    caller = _caller(callers, mint, caller_name)
    query, fields = WALKS[root]
    for field in fields:
        for direction in ("ASC", "DESC"):
            after, pages = None, 0
            while True:
                before = counters(app).json_roots
                variables = {"first": 3, "after": after, "order": {"field": field, "direction": direction}}
                resolved, compiled, answered = await _both(gql, resolvers, app, query, variables, caller)
                assert json.dumps(compiled) == json.dumps(resolved), (field, direction, pages)
                assert answered == 1
                assert counters(app).json_roots == before + 1
                pages += 1
                info = compiled["data"][root]["pageInfo"]
                if not info["hasNextPage"] or pages == 4:
                    break
                after = info["endCursor"]
            assert pages > 1, (field, direction)


@pytest.mark.parametrize("caller_name", ["analyst_5203", "national_without_pii"])
async def test_nested_claim_pages_walk_the_same_way(
    gql: Any,
    resolvers: Served,
    app: Starlette,
    engine: AsyncEngine,
    callers: dict[str, Any],
    mint: Any,
    caller_name: str,
) -> None:
    """A participant's claims, page by page with the nested ``after`` (the JSON statement binds the cursor),
    through to the empty page after the last claim (no cursors, hasPreviousPage)."""
    caller = _caller(callers, mint, caller_name)
    samples = await _samples(engine)
    after = None
    pages = []
    while True:
        before = counters(app).json_roots
        variables = {"m": samples["52.03"].membership_number, "after": after}
        resolved, compiled, answered = await _both(gql, resolvers, app, NESTED_AFTER, variables, caller)
        assert json.dumps(compiled) == json.dumps(resolved)
        assert answered == 1
        assert counters(app).json_roots == before + 1
        claims = compiled["data"]["participant"]["claims"]
        pages.append(claims)
        if not claims["edges"]:
            break
        after = claims["pageInfo"]["endCursor"]
    assert len(pages) >= 2, "one page with a claim, then the empty page after it"
    assert pages[-1]["pageInfo"] == {
        "hasPreviousPage": True,
        "hasNextPage": False,
        "startCursor": None,
        "endCursor": None,
    }


BAD_INPUT = [
    ("first too large", S1, {"first": 101}, "BAD_USER_INPUT"),
    ("first negative", S1, {"first": -1}, "BAD_USER_INPUT"),
    ("malformed cursor", S1, {"after": "not-a-cursor"}, "BAD_USER_INPUT"),
    ("cursor of another order", SORTED, {"first": 2, "after": "WyJYIiwiQSIsMSwxXQ", "dir": "ASC"}, "BAD_USER_INPUT"),
    ("unknown region", S1, {"region": "99.99"}, "BAD_USER_INPUT"),
    ("malformed region", S1, {"region": "52.0x"}, "BAD_USER_INPUT"),
    ("wrong variable type", S1, {"first": "ten"}, None),
    ("huge variable", S1, {"region": "5" * 100_000}, "BAD_USER_INPUT"),
    ("two keys", 'query { participant(id: "x", membershipNumber: "y") { id } }', {}, "BAD_USER_INPUT"),
    ("no key", "query { participant { id } }", {}, "BAD_USER_INPUT"),
    ("short name search", '{ participants(filter: {nameContains: "ab"}) { edges { node { id } } } }', {}, None),
    ("bad nik", '{ participant(nik: "123") { id } }', {}, None),
    ("nested first too large", S2.replace("claims(first: 10)", "claims(first: 500)"), {"m": "x"}, None),
    ("nested bad cursor", S2.replace("claims(first: 10)", 'claims(first: 1, after: "zz")'), {"m": "x"}, None),
    (
        "nested cursor of another order",
        S2.replace("claims(first: 10)", 'claims(first: 1, after: "WyJSRUdJU1RFUkVEX0FUIiwiQSIsMSwxXQ")'),
        {"m": "x"},
        "BAD_USER_INPUT",
    ),
    (
        "entities with a nested bad cursor",
        ENTITIES.replace("claims(first: 2)", 'claims(first: 2, after: "zz")'),
        {"representations": "east"},
        None,
    ),
    ("entity of unknown type", ENTITIES, {"representations": [{"__typename": "Nope", "id": "1"}]}, None),
    ("entity key not a string", ENTITIES, {"representations": [{"__typename": "Participant", "id": 5}]}, None),
    ("entity without key", ENTITIES, {"representations": [{"__typename": "Participant"}]}, None),
    ("too many entities", ENTITIES, {"representations": [{"__typename": "Participant", "id": "1"}] * 1001}, None),
    ("node malformed id", NODE, {"id": "not-a-global-id"}, None),
    ("node of an unknown type", NODE, {"id": to_base64("Nope", 1)}, None),
    ("claim entity without key", ENTITIES_MIXED, {"representations": [{"__typename": "Claim"}]}, None),
    ("region entity without key", ENTITIES_MIXED, {"representations": [{"__typename": "Region", "id": "52"}]}, None),
    (
        "region entity key not a string",
        ENTITIES_MIXED,
        {"representations": [{"__typename": "Region", "code": 52}]},
        None,
    ),
    ("claim entity key not a string", ENTITIES_MIXED, {"representations": [{"__typename": "Claim", "id": 5}]}, None),
    ("beneficiary with two keys", BENEFICIARY_LOOKUP, {"id": "x", "nik": "5203010101010001"}, "BAD_USER_INPUT"),
    ("beneficiary without a key", BENEFICIARY_LOOKUP, {}, "BAD_USER_INPUT"),
    ("beneficiary bad nik", BENEFICIARY_LOOKUP, {"nik": "123"}, None),
    ("beneficiaries bad decile", BENEFICIARIES_PAGE, {"filter": {"decile": 11}}, "BAD_USER_INPUT"),
    ("beneficiaries bad max decile", BENEFICIARIES_PAGE, {"filter": {"maxDecile": 0}}, "BAD_USER_INPUT"),
    ("beneficiaries unknown region", BENEFICIARIES_PAGE, {"filter": {"regionCode": "99.99"}}, "BAD_USER_INPUT"),
    ("beneficiaries first too large", BENEFICIARIES_PAGE, {"first": 101}, "BAD_USER_INPUT"),
    ("region malformed code", REGION_LOOKUP, {"code": "52.0x"}, "BAD_USER_INPUT"),
    ("regions malformed parent", REGIONS_PAGE, {"parent": "5271"}, "BAD_USER_INPUT"),
    ("regions first too large", REGIONS_PAGE, {"parent": "52", "first": 101}, "BAD_USER_INPUT"),
    ("regions first negative", REGIONS_PAGE, {"first": -1}, "BAD_USER_INPUT"),
    ("regions malformed cursor", REGIONS_PAGE, {"after": "zz"}, "BAD_USER_INPUT"),
    (
        "regions cursor of another list",
        REGIONS_PAGE,
        {"after": encode_cursor(SUBMITTED_SORT, False, dt.datetime(2026, 1, 1, tzinfo=dt.UTC), 1)},
        "BAD_USER_INPUT",
    ),
    (
        "regions cursor with an integer key",
        REGIONS_PAGE,
        {"after": encode_cursor(REGION_SORT, False, "52", 52)},
        "BAD_USER_INPUT",
    ),
    ("regions wrong level", REGIONS_PAGE, {"level": "COUNTRY"}, None),
    ("beneficiaries malformed cursor", BENEFICIARIES_PAGE, {"after": "zz"}, "BAD_USER_INPUT"),
    ("claim with two keys", CLAIM_LOOKUP, {"n": "KLM-2026-0000001", "id": "x"}, "BAD_USER_INPUT"),
    ("claim without a key", CLAIM_LOOKUP, {}, "BAD_USER_INPUT"),
    ("claims first too large", CLAIMS_PAGE, {"first": 101}, "BAD_USER_INPUT"),
    ("claims first negative", CLAIMS_PAGE, {"first": -1}, "BAD_USER_INPUT"),
    ("claims malformed cursor", CLAIMS_PAGE, {"after": "not-a-cursor"}, "BAD_USER_INPUT"),
    (
        "claims cursor of another order",
        CLAIMS_PAGE,
        {
            "after": encode_cursor(SUBMITTED_SORT, False, dt.datetime(2026, 1, 1, tzinfo=dt.UTC), 1),
            "order": {"field": "CLAIM_NUMBER"},
        },
        "BAD_USER_INPUT",
    ),
    ("claims unknown region", CLAIMS_PAGE, {"filter": {"regionCode": "99.99"}}, "BAD_USER_INPUT"),
    ("claims malformed region", CLAIMS_PAGE, {"filter": {"regionCode": "52.0x"}}, "BAD_USER_INPUT"),
    (
        "claims inverted dates",
        CLAIMS_PAGE,
        {"filter": {"submittedFrom": "2026-02-01", "submittedTo": "2026-01-01"}},
        "BAD_USER_INPUT",
    ),
    ("claims wrong variable type", CLAIMS_PAGE, {"filter": {"program": "NOPE"}}, None),
    ("claims control character", CLAIMS_PAGE, {"filter": {"regionCode": "52\u0000"}}, "BAD_USER_INPUT"),
    (
        "claim's participant nested bad cursor",
        CLAIM_LOOKUP.replace("claims(first: 2)", 'claims(first: 2, after: "zz")'),
        {"n": "east"},
        None,
    ),
]


@pytest.mark.parametrize(("label", "query", "variables", "code"), BAD_INPUT, ids=[c[0] for c in BAD_INPUT])
async def test_bad_input_is_refused_the_same_way(
    gql: Any,
    resolvers: Served,
    app: Starlette,
    engine: AsyncEngine,
    callers: dict[str, Any],
    label: str,
    query: str,
    variables: dict[str, Any],
    code: str | None,
) -> None:
    samples = await _samples(engine)
    if variables.get("m") == "x":
        variables = {"m": samples["52.03"].membership_number}
    if variables.get("n") == "east":  # a claim both callers below may see
        variables = {"n": samples["claim_52.03"].claim_number}
    if variables.get("representations") == "east":  # a participant both callers below may see
        east = {"__typename": "Participant", "membershipNumber": samples["52.03"].membership_number}
        variables = {"representations": [east]}
    for caller in (callers["analyst_5203"], callers["admin"]):
        resolved, compiled, answered = await _both(gql, resolvers, app, query, variables, caller)
        assert compiled == resolved, label
        assert resolved.get("errors"), label
        if code is not None:
            assert resolved["errors"][0]["extensions"]["code"] == code
        assert answered == 0, f"{label}: a refusal must come from the resolvers"


async def test_missing_scopes_and_anonymous_callers_get_the_resolvers_errors(
    gql: Any, resolvers: Served, app: Starlette, engine: AsyncEngine, callers: dict[str, Any], mint: Any
) -> None:
    samples = await _samples(engine)
    participants_only = type(callers["admin"])(
        "participants_only", mint(Role.ANALYST, None, frozenset({Scope.PARTICIPANTS_READ})), None, frozenset()
    )
    nik_without_pii = "query($n: String!) { participant(nik: $n) { id } }"
    east = samples["52.03"]
    for caller, query, variables in [
        (callers["anonymous"], S2, {"m": east.membership_number}),
        (callers["anonymous"], ENTITIES, {"representations": [{"__typename": "Participant", "id": "1"}]}),
        (participants_only, S2, {"m": east.membership_number}),  # region needs regions:read, claims claims:read
        (callers["analyst_5203"], nik_without_pii, {"n": east.nik}),  # nik lookups need pii:read
        # A claim by node or as an entity needs claims:read (the type's resolve_nodes/resolve_reference).
        (participants_only, NODE.replace("region { code } ", ""), {"id": to_base64("Claim", 1)}),
        (
            participants_only,
            "query($r: [_Any!]!) { _entities(representations: $r) { __typename } }",
            {"r": [{"__typename": "Claim", "id": to_base64("Claim", 1)}]},
        ),
        (callers["anonymous"], NODE, {"id": to_base64("Claim", 1)}),
    ]:
        resolved, compiled, answered = await _both(gql, resolvers, app, query, variables, caller)
        assert compiled == resolved
        assert resolved.get("errors")
        assert answered == 0


LOGGED = {
    "page": (S1.replace("nik region", "nik birthDate monthlyWage phoneNumber region"), {"region": "52.71", "first": 5}),
    "lookup": (JSON_LOOKUP, None),
    "entities": (ENTITIES.replace("nik", "nik birthDate"), None),
    "claims": (CLAIMS_PAGE, {"first": 20}),
    "claim": (CLAIM_LOOKUP, "claim"),
    # A benefit line's recipient NIK is logged as a read of its claim (and nothing else is personal here).
    "benefits": ("query($n: String) { claim(claimNumber: $n) { benefits { recipientNik amount } } }", "benefits"),
    "node": (NODE, "node"),
    "beneficiaries": (BENEFICIARIES_PAGE, {"first": 20}),
    # One entity type per request here (the test reads the log's last row): no participant NIK beside it.
    "beneficiary_by_nik": (BENEFICIARY_LOOKUP.replace("membershipNumber nik claims", "membershipNumber claims"), "nik"),
    "entities_mixed": (ENTITIES_MIXED, "mixed"),
    "aliases": (
        """query($m: String!) { a: participant(membershipNumber: $m) { monthlyWage }
           b: participants(first: 3) { edges { node { id w: monthlyWage n: nik } } } }""",
        None,
    ),
}


@pytest.mark.parametrize("shape", sorted(LOGGED))
async def test_unmasked_reads_are_logged_alike(
    gql: Any, resolvers: Served, app: Starlette, engine: AsyncEngine, callers: dict[str, Any], shape: str
) -> None:
    """With pii:read, the access-log row the compiled path writes (on PostgreSQL from the JSON statement's row
    ids) is the resolvers' row: the same entity type, ids and fields."""
    samples = await _samples(engine)
    query, variables = LOGGED[shape]
    east = samples["52.03"]
    if variables == "claim":
        variables = {"n": samples["claim_52.03"].claim_number}
    if variables == "benefits":
        variables = {"n": samples["claim_with_recipient_nik"]}
    if variables == "nik":
        variables = {"nik": samples["beneficiary_nik_repeated"]}
    if variables == "node":
        variables = {"id": to_base64("Claim", samples["claim_52.03"].id)}
    if variables == "mixed":
        reps = [
            {"__typename": "Claim", "id": to_base64("Claim", samples["claim_52.71"].id)},
            {"__typename": "Participant", "membershipNumber": east.membership_number},
        ]
        variables = {"representations": reps}
    if variables is None:
        reps = [
            {"__typename": "Participant", "id": to_base64("Participant", east.id)},
            {"__typename": "Participant", "membershipNumber": samples["52.71"].membership_number},
        ]
        variables = {"m": east.membership_number, "representations": reps}

    async def newest_id() -> int:
        async with engine.connect() as conn:
            return int((await conn.execute(select(func.coalesce(func.max(DataAccessEvent.id), 0)))).scalar_one())

    async def written_after(last: int) -> list[tuple[str, list[str], list[str]]]:
        """The access-log rows written since row `last`, one per entity type, in type order."""
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(DataAccessEvent.entity_type, DataAccessEvent.entity_ids, DataAccessEvent.fields)
                    .where(DataAccessEvent.id > last)
                    .order_by(DataAccessEvent.entity_type)
                )
            ).all()
        return [(r.entity_type, list(r.entity_ids), list(r.fields)) for r in rows]

    start = await newest_id()
    await resolvers.gql(query, variables, callers["admin"])  # the same database: its access log too
    middle = await newest_id()
    by_resolvers = await written_after(start)
    before, roots = counters(app).compiled, counters(app).json_roots
    await gql(query, variables, callers["admin"])
    assert counters(app).compiled == before + 1
    assert counters(app).json_roots > roots, "the JSON statements should have answered it"
    by_compiled = await written_after(middle)
    assert by_compiled == by_resolvers
    assert by_compiled, "the reads should have returned personal data"
    assert all(ids for _, ids, _ in by_compiled), by_compiled
    if shape == "page":  # the seeded data gives two participants in three a number
        assert any("phoneNumber" in fields for _, _, fields in by_compiled), by_compiled
    if shape == "benefits":
        assert by_compiled == [("Claim", by_compiled[0][1], ["recipientNik"])], by_compiled
    # Masked output (no pii:read) is not personal data read: nothing is logged.
    end = await newest_id()
    await gql(S2, {"m": samples["52.03"].membership_number}, callers["analyst_5203"])
    assert await newest_id() == end


def test_the_plan_cache_is_bounded_and_counts_evictions() -> None:
    cache: BoundedCache[str, int] = BoundedCache(3)
    for i in range(10):
        cache.put(f"query {i}", i)
    assert cache.stats.size == 3
    assert cache.stats.evictions == 7
    assert BoundedCache.missing(cache.get("query 0"))
    assert cache.get("query 9") == 9
    assert plan_cache().stats.maxsize == PLAN_CACHE_SIZE


async def test_unique_documents_evict_plans_instead_of_growing(
    gql: Any, app: Starlette, callers: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    small: BoundedCache[Any, Any] = BoundedCache(4)
    monkeypatch.setattr(app.state.graphql, "plans", small)
    for i in range(12):
        body = await gql(f"{{ participants(first: {i + 1}) {{ edges {{ node {{ id }} }} }} }}", None, callers["admin"])
        assert len(body["data"]["participants"]["edges"]) == i + 1
    assert small.stats.size == 4
    assert small.stats.evictions == 8


# --- the fast lane (api.fast_reads): a repeated compiled read answered before Strawberry's view ------------


async def test_the_fast_lane_is_keyed_by_principal_shape_and_integer_variables(
    gql: Any, app: Starlette, callers: dict[str, Any]
) -> None:
    graphql_app = app.state.graphql
    graphql_app.ready.clear()
    await gql(S1, {"region": "52", "first": 3}, callers["admin"])
    before = counters(app).fast_answered
    # Another region's caller: its scoping was never checked for this document by the pipeline.
    other = await gql(S1, {"region": "52", "first": 3}, callers["analyst_5203"])
    # Another page size: another cost.
    bigger = await gql(S1, {"region": "52", "first": 4}, callers["admin"])
    assert counters(app).fast_answered == before
    assert len(bigger["data"]["participants"]["edges"]) == 4
    assert all(e["node"]["region"] for e in other["data"]["participants"]["edges"])
    # Other string variables reuse the entry: they change neither the checks nor the cost.
    await gql(S1, {"region": "52.71", "first": 3}, callers["admin"])
    assert counters(app).fast_answered == before + 1


# Bad variables sent to a document the fast lane already knows: every one is handed on and refused by the
# pipeline exactly as the resolvers refuse it.
FAST_BAD_INPUT = [
    ("malformed cursor", S1, {"region": "52", "first": 3, "after": "not-a-cursor"}, "BAD_USER_INPUT"),
    ("unknown region", S1, {"region": "99.99", "first": 3}, "BAD_USER_INPUT"),
    ("wrong variable type", S1, {"region": 52, "first": 3}, None),
    ("control character", S1, {"region": "52\u0000", "first": 3}, "BAD_USER_INPUT"),
    ("first too large", S1, {"region": "52", "first": 101}, "BAD_USER_INPUT"),
]


@pytest.mark.parametrize(("label", "query", "variables", "code"), FAST_BAD_INPUT, ids=[c[0] for c in FAST_BAD_INPUT])
async def test_bad_variables_on_a_known_document_get_the_pipelines_error(
    gql: Any,
    resolvers: Served,
    app: Starlette,
    callers: dict[str, Any],
    label: str,
    query: str,
    variables: dict[str, Any],
    code: Any,
) -> None:
    caller = callers["admin"]
    resolved = await resolvers.gql(query, variables, caller, status=200)
    graphql_app = app.state.graphql
    graphql_app.ready.clear()
    await gql(query, {"region": "52", "first": 3}, caller)  # readies the fast lane (first: 101 is another key)
    assert graphql_app.ready.stats.size == 1
    before = counters(app).fast_answered
    refused = await gql(query, variables, caller, status=200)
    assert refused == resolved, label
    assert refused.get("errors"), label
    if code is not None:
        assert refused["errors"][0]["extensions"]["code"] == code
    assert counters(app).fast_answered == before


async def test_the_fast_lane_writes_the_access_log(gql: Any, app: Starlette, engine: AsyncEngine, callers: Any) -> None:
    query = S1.replace("nik region", "nik birthDate monthlyWage region")
    variables = {"region": "52.71", "first": 5}

    async def events() -> list[Any]:
        async with engine.connect() as conn:
            rows = await conn.execute(
                select(DataAccessEvent.entity_type, DataAccessEvent.entity_ids, DataAccessEvent.fields).order_by(
                    DataAccessEvent.id
                )
            )
            return [tuple(map(str, r)) for r in rows]

    app.state.graphql.ready.clear()
    await gql(query, variables, callers["admin"])
    logged = await events()
    before = counters(app).fast_answered
    await gql(query, variables, callers["admin"])
    assert counters(app).fast_answered == before + 1
    after = await events()
    assert len(after) == len(logged) + 1
    assert after[-1] == logged[-1]  # same entity type, ids and fields as the pipeline logged


async def test_the_fast_lane_charges_the_budget_once_and_refuses_like_the_pipeline(
    gql: Any, app: Starlette, callers: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    graphql_app = app.state.graphql
    graphql_app.ready.clear()
    taken: list[float] = []
    take = graphql_app.buckets.take

    async def counting(limit: str, key: str, amount: float, rate: Any) -> int | None:
        taken.append(amount)
        return await take(limit, key, amount, rate)

    monkeypatch.setattr(graphql_app.buckets, "take", counting)
    await gql(S2, {"m": "00000000000"}, callers["admin"])
    answered = counters(app).fast_answered
    await gql(S2, {"m": "00000000001"}, callers["admin"])
    assert counters(app).fast_answered == answered + 1
    assert len(taken) == 2
    assert taken[0] == taken[1] > 0  # one charge each, the same cost on both paths

    async def refuse(limit: str, key: str, amount: float, rate: Any) -> int | None:
        taken.append(amount)
        return 30

    monkeypatch.setattr(graphql_app.buckets, "take", refuse)
    before = counters(app).fast_answered
    body = await gql(S2, {"m": "00000000002"}, callers["admin"], status=429)
    assert body["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    assert len(taken) == 3, "a refused charge is not taken a second time by the pipeline"
    assert counters(app).fast_answered == before


async def test_the_fast_lane_leaves_other_requests_alone(gql: Any, app: Starlette, client: Any, callers: Any) -> None:
    graphql_app = app.state.graphql
    graphql_app.ready.clear()
    await gql(S2, {"m": "00000000000"}, callers["admin"])
    before = counters(app).fast_answered
    headers = callers["admin"].headers
    body = {"query": S2, "variables": {"m": "00000000000"}}
    # Not a JSON object, a batch, a request with extensions: the pipeline answers (or refuses) them.
    assert (await client.post("/graphql", content=b"{nope", headers=headers)).status_code == 400
    batch = await client.post("/graphql", json=[body], headers=headers)
    extended = await client.post("/graphql", json=body | {"extensions": {"x": 1}}, headers=headers)
    assert counters(app).fast_answered == before
    assert batch.status_code in (200, 400)
    assert extended.json() == {"data": {"participant": None}}
    # Without a token: the entry was readied for another principal shape.
    anonymous = await client.post("/graphql", json=body)
    assert anonymous.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert counters(app).fast_answered == before


async def test_a_scalar_the_json_statement_cannot_render_is_left_to_the_resolvers(
    resolvers: Served,
    settings: Settings,
    engine: AsyncEngine,
    callers: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A plan whose scalar has no SQL rendering is refused by ``covers`` when the plan is made, before any
    statement is built: the resolvers answer it, then and on every repeat (never an internal error at request
    time). An app of its own: what ``covers`` decided is kept in that app's plan cache."""
    monkeypatch.setattr("schema.compiled.sql_json.SQL_SCALARS", frozenset({"String", "ID", "Int", "Boolean"}))
    app = create_app(settings.model_copy(update=COMPILED_PATH_ON))  # not the factory's: its plan cache is new
    served = Served(app, httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://jamsos.test"))
    samples = await _samples(engine)
    variables = {"m": samples["52.03"].membership_number}
    resolved = await resolvers.gql(JSON_LOOKUP, variables, callers["admin"], status=200)
    try:
        for _ in range(2):
            compiled = await served.gql(JSON_LOOKUP, variables, callers["admin"], status=200)
            assert compiled == resolved
            assert "errors" not in compiled
    finally:
        await served.client.aclose()
        await app.state.engine.dispose()
    seen = counters(app)
    assert (seen.compiled, seen.json_roots, seen.fast_answered) == (0, 0, 0), "the resolvers answer it"


PHONE = """query($m: String!, $representations: [_Any!]!) {
  participant(membershipNumber: $m) { phoneNumber }
  participants(first: 30) { edges { node { membershipNumber phoneNumber } } }
  _entities(representations: $representations) { ... on Participant { membershipNumber phoneNumber } }
}"""


@pytest.mark.parametrize("caller_name", ["admin", "national_without_pii"])
async def test_phone_numbers_are_masked_without_pii_read_and_logged_with_it(
    gql: Any,
    resolvers: Served,
    app: Starlette,
    engine: AsyncEngine,
    callers: dict[str, Any],
    mint: Any,
    caller_name: str,
) -> None:
    """phoneNumber on every compiled root, on both paths: as stored with pii:read (and logged), masked
    as '+62812******89' without it (and not logged); participants without a number read null."""
    async with engine.connect() as conn:
        stored = dict((await conn.execute(select(Participant.membership_number, Participant.phone_number))).all())
        logged_before = (await conn.execute(select(func.count()).select_from(DataAccessEvent))).scalar_one()
    with_number = sorted(m for m, phone in stored.items() if phone is not None)
    without_number = sorted(m for m, phone in stored.items() if phone is None)
    assert with_number, "the demo data should have participants with a number"
    assert without_number, "the demo data should have participants without one"
    reps = [{"__typename": "Participant", "membershipNumber": m} for m in (with_number[0], without_number[0])]
    caller = _caller(callers, mint, caller_name)
    pii = caller_name == "admin"
    expected = {m: phone if pii or phone is None else mask_phone_number(phone) for m, phone in stored.items()}
    resolved, compiled, answered = await _both(
        gql, resolvers, app, PHONE, {"m": with_number[0], "representations": reps}, caller
    )
    assert answered == 1
    assert json.dumps(compiled) == json.dumps(resolved)
    data = compiled["data"]
    assert data["participant"]["phoneNumber"] == expected[with_number[0]]
    nodes = [e["node"] for e in data["participants"]["edges"]] + data["_entities"]
    assert any(n["phoneNumber"] is None for n in nodes)
    assert any(n["phoneNumber"] for n in nodes)
    for node in nodes:
        assert node["phoneNumber"] == expected[node["membershipNumber"]], node
    if not pii:
        assert all("******" in n["phoneNumber"] for n in nodes if n["phoneNumber"] is not None)
    async with engine.connect() as conn:
        events = (
            (await conn.execute(select(DataAccessEvent.fields).order_by(DataAccessEvent.id).offset(logged_before)))
            .scalars()
            .all()
        )
    # Two requests (the resolvers' and the compiled path's), each logging its participants once.
    assert [sorted(f) for f in events] == ([["phoneNumber"], ["phoneNumber"]] if pii else [])
