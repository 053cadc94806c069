"""Hive Gateway enforcing our @authenticated/@requiresScopes, over our SDL as served (directives on).

Our second subgraph process runs with JAMSOS_FEDERATION_SECURITY_DIRECTIVES=true; The Guild's composer
composes its SDL with disnaker's unmodified; Hive Gateway verifies tokens against our JWKS and refuses a
field whose scope the token lacks before calling any subgraph (our subgraph's /metrics shows no request
arrived). Called directly with the same token, our subgraph refuses the same field on its own.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from auth.scopes import Role, Scope

pytestmark = pytest.mark.federation


def _post(url: str, query: str, token: str | None = None) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx.post(url, json={"query": query}, headers=headers, timeout=60)
    body: dict[str, Any] = response.json()
    return body


def _requests_served(subgraph: Any) -> float:
    """GraphQL requests our subgraph process has answered so far (its /metrics)."""
    text = httpx.get(subgraph.url.removesuffix("/graphql") + "/metrics", timeout=30).text
    return sum(float(v) for v in re.findall(r"^jamsos_graphql_requests_total\{[^}]*\} ([0-9.e+]+)$", text, re.M))


def _codes(body: dict[str, Any]) -> set[str]:
    return {str(e.get("extensions", {}).get("code")) for e in body.get("errors", [])}


def test_the_guild_composes_our_secured_sdl(hive_gateway: Any) -> None:
    supergraph = hive_gateway.supergraph
    assert 'JAMSOS @join__graph(name: "jamsos"' in supergraph
    assert 'DISNAKER @join__graph(name: "disnaker"' in supergraph
    assert "@requiresScopes(scopes: [[" in supergraph
    assert "@authenticated" in supergraph


def test_a_token_with_the_scope_gets_data(hive_gateway: Any, callers: dict[str, Any]) -> None:
    body = _post(hive_gateway.url, '{ region(code: "52.71") { name } me { subject } }', callers["officer_5271"].token)
    assert "errors" not in body, body
    assert body["data"] == {"region": {"name": "Kota Mataram"}, "me": {"subject": "test-officer"}}


def test_region_scoping_still_holds_through_hive(hive_gateway: Any, callers: dict[str, Any]) -> None:
    body = _post(
        hive_gateway.url,
        "{ participants(first: 50) { edges { node { region { code } } } } }",
        callers["analyst_5203"].token,
    )
    assert "errors" not in body, body
    codes = [e["node"]["region"]["code"] for e in body["data"]["participants"]["edges"]]
    assert codes
    assert all(code.startswith("52.03.") for code in codes)


def test_a_missing_scope_is_refused_at_the_gateway(
    hive_gateway: Any, jamsos_secured_subgraph: Any, mint: Callable[..., str]
) -> None:
    regions_only = mint(Role.ANALYST, "52.71", frozenset({Scope.REGIONS_READ}), subject="regions-only")
    claims = "{ claims(first: 5) { edges { node { claimNumber } } } }"
    before = _requests_served(jamsos_secured_subgraph)
    body = _post(hive_gateway.url, claims, regions_only)
    assert not (body.get("data") or {}).get("claims"), body
    assert _codes(body) == {"UNAUTHORIZED_FIELD_OR_TYPE"}, body
    assert _requests_served(jamsos_secured_subgraph) == before  # no call reached our subgraph
    # Mixed with a field the token may read: that one is served, the other still refused at the edge.
    mixed = _post(hive_gateway.url, '{ region(code: "52.71") { name } ' + claims[1:], regions_only)
    assert mixed["data"] == {"region": {"name": "Kota Mataram"}, "claims": None}
    assert _codes(mixed) == {"UNAUTHORIZED_FIELD_OR_TYPE"}
    # Our subgraph, called directly with the same token, refuses the same field itself.
    direct = _post(jamsos_secured_subgraph.url, claims, regions_only)
    assert direct["data"] is None or direct["data"]["claims"] is None
    assert _codes(direct) == {"FORBIDDEN"}


def test_without_a_token_authenticated_fields_are_refused(hive_gateway: Any, jamsos_secured_subgraph: Any) -> None:
    before = _requests_served(jamsos_secured_subgraph)
    body = _post(hive_gateway.url, "{ me { subject } }")
    assert body.get("data") is None, body
    assert body["errors"], body
    assert _requests_served(jamsos_secured_subgraph) == before
    direct = _post(jamsos_secured_subgraph.url, "{ me { subject } }")
    assert _codes(direct) == {"UNAUTHENTICATED"}


def test_a_forged_token_is_refused_at_the_gateway(hive_gateway: Any, jamsos_secured_subgraph: Any) -> None:
    before = _requests_served(jamsos_secured_subgraph)
    response = httpx.post(
        hive_gateway.url,
        json={"query": '{ region(code: "52.71") { name } }'},
        headers={"Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"},
        timeout=60,
    )
    assert response.status_code in {401, 403} or "errors" in response.json()
    assert _requests_served(jamsos_secured_subgraph) == before
