"""``explainAccess`` agrees with enforcement: for every caller and record, and for every personal field."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from auth.policy import Treatment, personal_fields
from auth.scopes import ROLE_SCOPES, Role, Scope
from domain.beneficiaries.models import PovertyBeneficiary
from domain.claims.models import Claim, ClaimBenefit
from domain.participants.models import Participant

EXPLAIN = """query($t: String!, $i: ID!, $s: String) { explainAccess(typename: $t, id: $i, subject: $s) {
  subject visible decisions { rule allowed reason } fields { field access rule reason } } }"""
NODE = "query($i: ID!) { node(id: $i) { id } }"
TYPES = {"Participant": Participant, "PovertyBeneficiary": PovertyBeneficiary, "Claim": Claim}


def _gid(typename: str, local: object) -> str:
    return base64.b64encode(f"{typename}:{local}".encode()).decode()


async def _post(http: httpx.AsyncClient, token: str | None, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body: dict[str, Any] = (
        await http.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
    ).json()
    return body


@pytest.fixture(scope="module")
def tokens(mint: Callable[..., str]) -> dict[str, str]:
    return {
        "analyst_5203": mint(Role.ANALYST, "52.03"),
        "officer_5271": mint(Role.OFFICER, "52.71"),
        "admin": mint(Role.ADMIN),
        "partner_5203": mint(Role.ANALYST, "52.03", frozenset({Scope.BENEFICIARIES_READ}), subject="p", client_id="p"),
        "no_pii_admin": mint(Role.ADMIN, None, ROLE_SCOPES[Role.ADMIN] - {Scope.PII_READ}),
        "district_5271_01": mint(Role.OFFICER, "52.71.01"),
    }


@pytest.fixture(scope="module")
async def samples(sessions: Any) -> dict[str, list[str]]:
    """Record ids of each type in several regions, plus one that does not exist."""
    found: dict[str, list[str]] = {}
    async with sessions() as session:
        for typename, model in TYPES.items():
            ids: list[str] = []
            for regency in ("52.03", "52.71", "52.01"):
                ids += [str(i) for i in (await session.scalars(
                    select(model.id).where(model.regency_code == regency).order_by(model.id).limit(2)
                )).all()]  # fmt: skip
            found[typename] = [*ids, "987654321"]
    found["Region"] = ["52", "52.03", "52.71", "52.71.01", "52.01", "99.99"]
    return found


async def test_explanation_matches_what_node_returns(
    http: httpx.AsyncClient, tokens: dict[str, str], samples: dict[str, list[str]]
) -> None:
    checked = 0
    for caller, token in tokens.items():
        for typename, ids in samples.items():
            for local in ids:
                gid = _gid(typename, local)
                node = await _post(http, token, NODE, {"i": gid})
                explained = await _post(http, token, EXPLAIN, {"t": typename, "i": gid})
                assert "errors" not in explained, explained
                visible = node["data"] is not None and node["data"]["node"] is not None
                assert explained["data"]["explainAccess"]["visible"] is visible, (caller, typename, local, explained)
                checked += 1
    assert checked > 100


async def test_personal_fields_listed_are_exactly_the_masked_ones(
    http: httpx.AsyncClient, tokens: dict[str, str], sessions: Any
) -> None:
    async with sessions() as session:
        participant = (
            await session.scalars(
                select(Participant.id).where(
                    Participant.monthly_wage.is_not(None), Participant.phone_number.is_not(None)
                )
            )
        ).first()
        beneficiary = (
            await session.scalars(
                select(PovertyBeneficiary.id).where(PovertyBeneficiary.family_card_number.is_not(None))
            )
        ).first()
        claim = (
            await session.scalars(
                select(ClaimBenefit.claim_id)
                .join(Claim, Claim.id == ClaimBenefit.claim_id)
                .where(ClaimBenefit.recipient_nik.is_not(None), Claim.program == "JKM")
            )
        ).first()
        # A claim whose amounts are wage-derived (JKK), so that the conditional rule is exercised too.
        wage_claim = (
            await session.scalars(
                select(ClaimBenefit.claim_id)
                .join(Claim, Claim.id == ClaimBenefit.claim_id)
                .where(
                    ClaimBenefit.recipient_nik.is_not(None),
                    Claim.program == "JKK",
                    Claim.amount_approved.is_not(None),
                )
            )
        ).first()
        programs = {row[0]: row[1] for row in await session.execute(select(Claim.id, Claim.program))}
    records = [
        ("Participant", participant),
        ("PovertyBeneficiary", beneficiary),
        ("Claim", claim),
        ("Claim", wage_claim),
    ]
    for typename, local in records:
        assert local is not None, typename
        plain = _selection(typename)
        query = f"query($i: ID!) {{ node(id: $i) {{ ... on {typename} {{ {plain} }} }} }}"
        full = _flatten((await _post(http, tokens["admin"], query, {"i": _gid(typename, local)}))["data"]["node"])
        shown = _flatten(
            (await _post(http, tokens["no_pii_admin"], query, {"i": _gid(typename, local)}))["data"]["node"]
        )
        expected = personal_fields(typename, programs.get(local) if typename == "Claim" else None)
        differing = {k for k in full if full[k] != shown[k]}
        assert differing == set(expected), typename
        for field, treatment in expected.items():
            if treatment is Treatment.MASKED:
                assert "*" in str(shown[field]), (typename, field)
            else:
                assert shown[field] is None, (typename, field)
        explained = await _post(http, tokens["no_pii_admin"], EXPLAIN, {"t": typename, "i": str(local)})
        access = {f["field"]: f["access"] for f in explained["data"]["explainAccess"]["fields"]}
        assert {f for f, a in access.items() if a in ("MASKED", "WITHHELD")} == set(expected)
        with_pii = await _post(http, tokens["admin"], EXPLAIN, {"t": typename, "i": str(local)})
        assert all(f["access"] == "VISIBLE" for f in with_pii["data"]["explainAccess"]["fields"])


def _selection(typename: str) -> str:
    scalars = {
        "Participant": "id nik fullName birthDate monthlyWage phoneNumber membershipNumber sex segment",
        "PovertyBeneficiary": "id nik familyCardNumber fullName birthDate decile",
        "Claim": "id claimNumber program status amountApproved benefits { kind recipientName recipientNik amount }",
    }
    return scalars[typename]


def _flatten(node: dict[str, Any]) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in node.items():
        if isinstance(value, list):
            for item in value:
                for inner, v in item.items():
                    flat.setdefault(f"{key}.{inner}", v)  # the first benefit stands for all
        else:
            flat[key] = value
    return flat


async def test_relation_fields_name_the_scope_they_need(
    http: httpx.AsyncClient, tokens: dict[str, str], samples: dict[str, list[str]]
) -> None:
    local = samples["PovertyBeneficiary"][0]
    explained = await _post(http, tokens["partner_5203"], EXPLAIN, {"t": "PovertyBeneficiary", "i": local})
    fields = {f["field"]: f for f in explained["data"]["explainAccess"]["fields"]}
    assert fields["participant"]["access"] == "HIDDEN"
    assert "participants:read" in fields["participant"]["reason"]
    assert fields["region"]["access"] == "HIDDEN"
    assert fields["nik"]["access"] == "MASKED"
    query = "query($i: ID!) { node(id: $i) { ... on PovertyBeneficiary { participant { id } } } }"
    refused = await _post(http, tokens["partner_5203"], query, {"i": _gid("PovertyBeneficiary", local)})
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_out_of_region_and_missing_look_the_same_to_the_caller(
    http: httpx.AsyncClient, tokens: dict[str, str], sessions: Any
) -> None:
    async with sessions() as session:
        elsewhere = (await session.scalars(select(Participant.id).where(Participant.regency_code == "52.71"))).first()
    outside = await _post(http, tokens["analyst_5203"], EXPLAIN, {"t": "Participant", "i": str(elsewhere)})
    missing = await _post(http, tokens["analyst_5203"], EXPLAIN, {"t": "Participant", "i": "987654321"})

    def shape(body: dict[str, Any], local: str) -> Any:
        result = body["data"]["explainAccess"]
        return result["visible"], [re.sub(local, "N", d["reason"]) for d in result["decisions"]], result["fields"]

    assert shape(outside, str(elsewhere)) == shape(missing, "987654321")
    assert outside["data"]["explainAccess"]["visible"] is False
    admin = await _post(http, tokens["admin"], EXPLAIN, {"t": "Participant", "i": str(elsewhere), "s": None})
    assert admin["data"]["explainAccess"]["visible"] is True


async def test_refused_scope_stops_the_explanation_for_the_caller(
    http: httpx.AsyncClient, tokens: dict[str, str], samples: dict[str, list[str]]
) -> None:
    explained = await _post(http, tokens["partner_5203"], EXPLAIN, {"t": "Participant", "i": samples["Participant"][0]})
    result = explained["data"]["explainAccess"]
    assert [d["rule"] for d in result["decisions"]] == ["AUTHENTICATION", "SCOPE"]
    assert "participants:read" in result["decisions"][-1]["reason"]
    assert result["fields"] == []


async def test_admin_may_ask_about_users_and_clients(
    http: httpx.AsyncClient,
    tokens: dict[str, str],
    samples: dict[str, list[str]],
    register_client: Callable[..., Any],
    register_user: Callable[..., Any],
) -> None:
    partner = await register_client()
    officer = await register_user(Role.OFFICER, "52.71")
    beneficiary_5203 = samples["PovertyBeneficiary"][0]
    about_partner = await _post(
        http, tokens["admin"], EXPLAIN, {"t": "PovertyBeneficiary", "i": beneficiary_5203, "s": partner.client_id}
    )
    result = about_partner["data"]["explainAccess"]
    assert result["subject"] == partner.client_id
    assert result["visible"] is True
    about_officer = await _post(
        http, tokens["admin"], EXPLAIN, {"t": "PovertyBeneficiary", "i": beneficiary_5203, "s": f"user:{officer}"}
    )
    decisions = about_officer["data"]["explainAccess"]["decisions"]
    assert decisions[-1] == {"rule": "REGION", "allowed": False, "reason": decisions[-1]["reason"]}
    assert "outside the region 52.71" in decisions[-1]["reason"]

    unknown = await _post(http, tokens["admin"], EXPLAIN, {"t": "Claim", "i": "1", "s": "user:nobody-at-all"})
    assert unknown["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    not_admin = await _post(http, tokens["officer_5271"], EXPLAIN, {"t": "Claim", "i": "1", "s": partner.client_id})
    assert not_admin["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    itself = await _post(http, tokens["officer_5271"], EXPLAIN, {"t": "Claim", "i": "1", "s": "test-officer"})
    assert "errors" not in itself


async def test_bad_questions(http: httpx.AsyncClient, tokens: dict[str, str]) -> None:
    anonymous = await _post(http, None, EXPLAIN, {"t": "Claim", "i": "1"})
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    unknown = await _post(http, tokens["admin"], EXPLAIN, {"t": "AuditEvent", "i": "1"})
    assert unknown["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "Participant" in unknown["errors"][0]["message"]


async def test_a_narrowed_admin_token_gets_no_more_detail_than_its_reads(gql: Any, mint: Any, engine: Any) -> None:
    from auth.scopes import Role, Scope

    narrowed = mint(Role.ADMIN, None, frozenset({Scope.REGIONS_READ}), subject="admin-frontend")
    bound = mint(Role.ADMIN, "52.71", None, subject="admin-52.71")

    class Bearer:
        def __init__(self, token: str) -> None:
            self.headers = {"Authorization": f"Bearer {token}"}

    missing = await gql(EXPLAIN, {"t": "Participant", "i": "987654321"}, Bearer(narrowed))
    reasons = " ".join(d["reason"] for d in missing["data"]["explainAccess"]["decisions"])
    assert "there is no Participant" not in reasons
    assert missing["data"]["explainAccess"]["fields"] == []
    async with engine.connect() as conn:
        outside = (
            await conn.execute(
                select(Participant.id, Participant.region_code).where(Participant.regency_code != "52.71").limit(1)
            )
        ).one()
    elsewhere = await gql(EXPLAIN, {"t": "Participant", "i": str(outside.id)}, Bearer(bound))
    explanation = elsewhere["data"]["explainAccess"]
    assert explanation["visible"] is False
    reasons = " ".join(d["reason"] for d in explanation["decisions"])
    assert outside.region_code not in reasons  # nothing may say where a record outside the region lies
