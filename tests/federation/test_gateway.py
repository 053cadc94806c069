"""A real Apollo gateway over our subgraph and another agency's (JavaScript) subgraph.

The manpower office's subgraph (disnaker.mjs) extends Participant by membershipNumber and Region by code,
resolves the Company stub our employers point at, and references our Claim by id. Queries cross both
ways, the caller's token reaches our subgraph through the gateway, and a row outside the caller's region
comes back null through the gateway exactly as it does from our own endpoint.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.federation

HERE = Path(__file__).resolve().parent
SDL_FILE = HERE.parents[1] / "schema.graphql"

JOB_SEEKERS = """
{ jobSeekers(first: 10) {
    pageInfo { hasNextPage endCursor }
    edges { node {
      cardNumber
      participant { membershipNumber fullName status region { code name } }
      jobLossClaim { claimNumber program status }
      region { code name openVacancies }
    } }
} }"""


def _post(
    gateway: Any,
    query: str,
    caller: Any = None,
    variables: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    headers = headers or (caller.headers if caller else {})
    response = httpx.post(gateway.url, json={"query": query, "variables": variables or {}}, headers=headers, timeout=60)
    body: dict[str, Any] = response.json()
    return body


def _seekers(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["node"]["cardNumber"]: e["node"] for e in body["data"]["jobSeekers"]["edges"]}


def test_supergraph_composes_both_subgraphs(gateway: Any) -> None:
    supergraph = gateway.supergraph
    assert 'JAMSOS @join__graph(name: "jamsos"' in supergraph
    assert 'DISNAKER @join__graph(name: "disnaker"' in supergraph
    # Entities keyed in both subgraphs, our stub resolved by theirs, demand control carried through.
    assert '@join__type(graph: DISNAKER, key: "membershipNumber")' in supergraph
    assert '@join__type(graph: JAMSOS, key: "bpjsRegistrationNumber", resolvable: false)' in supergraph
    assert "@listSize(" in supergraph
    assert "@cost(weight: 10)" in supergraph
    # Our SDL as served, unmodified: nothing linked for SECURITY, which @apollo/gateway would refuse.
    assert "for: SECURITY" not in supergraph
    assert "requiresScopes" not in supergraph


def test_composition_errors_fail(node_modules: Path, tmp_path: Path) -> None:
    """The same composition the gateway runs refuses subgraphs that disagree, and says why."""
    conflicting = tmp_path / "conflicting.graphql"
    conflicting.write_text(
        'extend schema @link(url: "https://specs.apollo.dev/federation/v2.11", import: ["@key"])\n'
        'type Region @key(fields: "code") { code: Int! }\n'
        "type Query { regionByNumber(code: Int!): Region }\n"
    )
    result = subprocess.run(  # noqa: S603  # fixed arguments
        ["node", "compose.mjs", f"jamsos={SDL_FILE}", f"other={conflicting}"],  # noqa: S607
        cwd=HERE,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "composition failed" in result.stderr
    assert "Region.code" in result.stderr


@pytest.mark.parametrize("composer", ["apollo", "guild"])
def test_checked_in_sdl_composes(node_modules: Path, composer: str) -> None:
    """Apollo's composer and The Guild's MIT one (which stops at federation v2.9) both take our SDL as it is."""
    result = subprocess.run(  # noqa: S603  # fixed arguments
        ["node", "compose.mjs", "--composer", composer, f"jamsos={SDL_FILE}"],  # noqa: S607
        cwd=HERE,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "@join__graph" in result.stdout


def test_their_root_field_to_our_entities(gateway: Any, agency_data: Any, callers: dict[str, Any]) -> None:
    body = _post(gateway, JOB_SEEKERS, callers["officer_5271"])
    assert "errors" not in body, body
    seekers = _seekers(body)
    inside = seekers["AK1-5271-000001"]
    assert inside["participant"]["membershipNumber"] == agency_data.inside["membershipNumber"]
    assert inside["participant"]["fullName"]
    assert inside["participant"]["region"]["code"].startswith("52.71.")
    assert inside["jobLossClaim"]["claimNumber"] == agency_data.inside["claimNumber"]
    assert inside["region"] == {"code": "52.71", "name": "Kota Mataram", "openVacancies": 42}
    # Outside the officer's region: our entities are null through the gateway too, without an error.
    outside = seekers["AK1-5203-000002"]
    assert outside["participant"] is None
    assert outside["jobLossClaim"] is None
    assert outside["region"] is None  # a sibling regency does not exist for a 52.71 officer (ADR 0001)
    # A key that matches no row of ours: null, no error.
    assert seekers["AK1-5271-000003"]["participant"] is None


def test_region_scoping_follows_the_token(gateway: Any, agency_data: Any, callers: dict[str, Any]) -> None:
    analyst = _seekers(_post(gateway, JOB_SEEKERS, callers["analyst_5203"]))
    assert analyst["AK1-5271-000001"]["participant"] is None
    assert analyst["AK1-5203-000002"]["participant"]["membershipNumber"] == agency_data.outside["membershipNumber"]
    assert analyst["AK1-5203-000002"]["jobLossClaim"]["claimNumber"] == agency_data.outside["claimNumber"]
    national = _seekers(_post(gateway, JOB_SEEKERS, callers["admin"]))
    assert national["AK1-5271-000001"]["participant"] is not None
    assert national["AK1-5203-000002"]["participant"] is not None


def test_our_root_field_to_their_fields(gateway: Any, agency_data: Any, callers: dict[str, Any]) -> None:
    query = """
    query($number: String!, $outside: String!) {
      participant(membershipNumber: $number) {
        fullName
        jobSeeker { cardNumber skills }
        trainings { title completedOn }
        employer { name company { bpjsRegistrationNumber wlkpNumber reportedWorkers } }
      }
      outside: participant(membershipNumber: $outside) { fullName jobSeeker { cardNumber } }
      region(code: "52.71") { name openVacancies manpowerOffice }
      participants(first: 100) { edges { node { membershipNumber jobSeeker { cardNumber } } } }
    }"""
    variables = {"number": agency_data.inside["membershipNumber"], "outside": agency_data.outside["membershipNumber"]}
    body = _post(gateway, query, callers["officer_5271"], variables)
    assert "errors" not in body, body
    data = body["data"]
    participant = data["participant"]
    assert participant["jobSeeker"] == {"cardNumber": "AK1-5271-000001", "skills": ["welding"]}
    assert participant["trainings"] == [{"title": "Las listrik dasar", "completedOn": "2026-04-30"}]
    assert participant["employer"]["company"] == {
        "bpjsRegistrationNumber": agency_data.inside["employerNumber"],
        "wlkpNumber": "WLKP-5271-0099",
        "reportedWorkers": 120,
    }
    assert data["outside"] is None
    assert data["region"] == {"name": "Kota Mataram", "openVacancies": 42, "manpowerOffice": "Disnaker Kota Mataram"}
    cards = {e["node"]["membershipNumber"]: e["node"]["jobSeeker"] for e in data["participants"]["edges"]}
    assert cards[agency_data.inside["membershipNumber"]] == {"cardNumber": "AK1-5271-000001"}
    assert agency_data.outside["membershipNumber"] not in cards


def test_the_callers_token_reaches_our_subgraph(gateway: Any, callers: dict[str, Any]) -> None:
    body = _post(gateway, "{ me { subject regionCode scopes } }", callers["officer_5271"])
    assert "errors" not in body, body
    assert body["data"]["me"]["subject"] == "test-officer"
    assert body["data"]["me"]["regionCode"] == "52.71"


def test_without_a_token_our_fields_are_refused(gateway: Any) -> None:
    body = _post(gateway, JOB_SEEKERS)
    seekers = _seekers(body)
    assert set(seekers) == {"AK1-5271-000001", "AK1-5203-000002", "AK1-5271-000003"}  # theirs: public
    assert all(s["participant"] is None and s["jobLossClaim"] is None for s in seekers.values())
    assert {e["extensions"]["code"] for e in body["errors"]} == {"UNAUTHENTICATED"}


def test_a_forged_token_gets_no_data_of_ours(gateway: Any) -> None:
    """Our subgraph refuses the whole request (HTTP 401); the gateway passes the code on, theirs still answers."""
    query = '{ region(code: "52.71") { name } jobSeeker(cardNumber: "AK1-5271-000001") { participant { fullName } } }'
    body = _post(gateway, query, headers={"Authorization": "Bearer not.a.token"})
    assert body["data"] == {"region": None, "jobSeeker": {"participant": None}}
    assert {e["extensions"]["code"] for e in body["errors"]} == {"UNAUTHENTICATED"}
    assert "not a JWT" in str(body["errors"])
