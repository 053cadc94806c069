"""Contribution amounts follow the policy's one rule set: an employer's payment reveals the wage, so it is
withheld without pii:read; other payers' amounts are shown."""

from __future__ import annotations

from typing import Any

QUERY = """{ participants(first: 100) { edges { node {
  contributions(first: 20) { edges { node { payer amount } } } } } } }"""


async def _payments(gql: Any, caller: Any) -> list[dict[str, Any]]:
    body = await gql(QUERY, caller=caller)
    assert "errors" not in body, body
    return [c["node"] for p in body["data"]["participants"]["edges"] for c in p["node"]["contributions"]["edges"]]


async def test_employer_payments_are_withheld_without_pii_read(gql: Any, callers: dict[str, Any]) -> None:
    without = await _payments(gql, callers["analyst_5203"])
    assert {p["payer"] for p in without} >= {"EMPLOYER"}, "the tiny dataset should have employer payments"
    assert all((p["amount"] is None) == (p["payer"] == "EMPLOYER") for p in without)
    with_pii = await _payments(gql, callers["admin"])
    assert all(p["amount"] is not None for p in with_pii)
