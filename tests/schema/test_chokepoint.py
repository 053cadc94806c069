"""The read chokepoint, witnessed in SQL: every GraphQL entry point reads placed tables through ``visible``.

Each request below runs as a caller bound to a region while :class:`~tests.scoping_guard.ScopeGuard` looks
at every SELECT the service executes. A statement that reads participants, employers, beneficiaries, claims
or regions without the scoping predicate fails the test, naming the statement — whichever resolver, loader,
filter or federation path built it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from strawberry.relay import to_base64

from domain.beneficiaries.models import PovertyBeneficiary
from domain.claims.models import Claim
from domain.participants.models import Participant
from tests.scoping_guard import PLACED_TABLES, ScopeGuard

PARTICIPANT = """
  id membershipNumber nik birthDate monthlyWage
  region { code parent { code } ancestors { code } children { code } }
  employer { registrationNumber region { code } }
  programs { program }
  contributions(first: 3) { totalCount edges { node { id amount } } }
  beneficiary { id region { code } participant { id } }
  claims(first: 5) { totalCount edges { node { id amountApproved benefits { amount recipientNik } history { status }
                                                participant { id } region { code } } } }
"""

QUERIES: dict[str, str] = {
    "lists": f"""{{
        participants(first: 20) {{ totalCount edges {{ node {{ {PARTICIPANT} }} }} }}
        beneficiaries(first: 20) {{ totalCount edges {{ node {{ id nik region {{ code }} participant {{ id }} }} }} }}
        claims(first: 20) {{ totalCount edges {{ node {{ id participant {{ id }} region {{ code }} }} }} }}
        regions(first: 50) {{ totalCount edges {{ node {{ code parent {{ code }} children {{ code }} }} }} }}
    }}""",
    "filtered lists": """{
        participants(first: 5, filter: {regionCode: "52", nameContains: "ari"}) { totalCount edges { node { id } } }
        beneficiaries(first: 5, filter: {regionCode: "52.03", maxDecile: 2}) { totalCount edges { node { id } } }
        claims(first: 5, filter: {regionCode: "52.71"}) { totalCount edges { node { id } } }
        regions(first: 5, parentCode: "52") { totalCount edges { node { code } } }
    }""",
    "lookups": """query($p: ID!, $m: String!, $n: String!, $b: ID!, $bn: String!, $c: ID!, $cn: String!) {
        byId: participant(id: $p) { id }
        byNumber: participant(membershipNumber: $m) { id }
        byNik: participant(nik: $n) { id }
        beneficiary(id: $b) { id }
        beneficiaryByNik: beneficiary(nik: $bn) { id }
        claim(id: $c) { id benefits { amount } }
        claimByNumber: claim(claimNumber: $cn) { id }
        region(code: "52") { code children { code } }
        village: region(code: "52.03.01") { code }
    }""",
    "node": """query($p: ID!, $b: ID!, $c: ID!, $r: ID!) {
        p: node(id: $p) { id } b: node(id: $b) { id } c: node(id: $c) { id } r: node(id: $r) { id }
    }""",
    "entities": """query($r: [_Any!]!) { _entities(representations: $r) {
        ... on Participant { id } ... on Claim { id } ... on PovertyBeneficiary { id } ... on Region { code } } }""",
    "monev": """{
        a: coverage(regionCode: "52") { participants activeParticipants }
        b: coverage(regionCode: "52.71") { participants }
        coverageByRegion(parentCode: "52") { participants }
        coverageTrend(regionCode: "52.71", from: "2025-01-01", to: "2025-03-31") { participants }
        claimStats(regionCode: "52.03", from: "2025-01-01", to: "2025-03-31") { month }
        region(code: "52.71") { coverage { participants } }
    }""",
    "explain": """query($p: ID!, $c: ID!) {
        a: explainAccess(typename: "Participant", id: $p) { visible }
        b: explainAccess(typename: "Claim", id: $c) { visible fields { field access } }
        c: explainAccess(typename: "Region", id: "52.71") { visible }
    }""",
}


@pytest.fixture
def guard(engine: AsyncEngine) -> Iterator[ScopeGuard]:
    witness = ScopeGuard()
    witness.attach(engine.sync_engine)
    yield witness
    witness.detach(engine.sync_engine)


async def _samples(engine: AsyncEngine) -> dict[str, Any]:
    """Rows inside and outside 52.71, so that lookups hit both visible and hidden records."""
    async with engine.connect() as conn:

        async def pick(model: Any, *columns: Any) -> list[Any]:
            inside = (await conn.execute(select(*columns).where(model.regency_code == "52.71").limit(1))).one()
            outside = (await conn.execute(select(*columns).where(model.regency_code == "52.03").limit(1))).one()
            return [inside, outside]

        participants = await pick(Participant, Participant.id, Participant.membership_number, Participant.nik)
        beneficiaries = await pick(PovertyBeneficiary, PovertyBeneficiary.id, PovertyBeneficiary.nik)
        claims = await pick(Claim, Claim.id, Claim.claim_number)
    return {"participants": participants, "beneficiaries": beneficiaries, "claims": claims}


def _variables(name: str, samples: dict[str, Any], which: int) -> dict[str, Any]:
    p = samples["participants"][which]
    b = samples["beneficiaries"][which]
    c = samples["claims"][which]
    pid, bid, cid = to_base64("Participant", p.id), to_base64("PovertyBeneficiary", b.id), to_base64("Claim", c.id)
    return {
        "lookups": {
            "p": pid,
            "m": p.membership_number,
            "n": p.nik,
            "b": bid,
            "bn": b.nik,
            "c": cid,
            "cn": c.claim_number,
        },
        "node": {"p": pid, "b": bid, "c": cid, "r": to_base64("Region", "52.71.01")},
        "entities": {
            "r": [
                {"__typename": "Participant", "id": str(p.id)},
                {"__typename": "Participant", "membershipNumber": p.membership_number},
                {"__typename": "Claim", "id": str(c.id)},
                {"__typename": "PovertyBeneficiary", "id": str(b.id)},
                {"__typename": "Region", "code": "52.03"},
            ]
        },
        "explain": {"p": pid, "c": cid},
    }.get(name, {})


@pytest.mark.parametrize("caller_name", ["officer_5271", "analyst_5203"])
async def test_every_graphql_read_goes_through_the_chokepoint(
    gql: Any, engine: AsyncEngine, callers: dict[str, Any], guard: ScopeGuard, caller_name: str
) -> None:
    caller = callers[caller_name]
    samples = await _samples(engine)
    guard.violations.clear()
    guard.placed_reads = 0
    for name, query in QUERIES.items():
        for which in (0, 1):  # a record inside the officer's region, and one outside it
            body = await gql(query, _variables(name, samples, which), caller)
            codes = {e.get("extensions", {}).get("code") for e in body.get("errors", [])}
            assert codes <= {"FORBIDDEN"}, (name, body["errors"])  # the analyst lacks pii:read for nik lookups
        assert not guard.violations, (name, guard.report())
    assert guard.tables_seen == PLACED_TABLES, "every placed table should have been read at least once"
    assert guard.placed_reads > 40
