"""Batch, don't loop: the number of SQL statements of a nested list query does not grow with the page size."""

from __future__ import annotations

from typing import Any

import pytest

# Every case runs on both read paths: the resolvers alone, and the compiled read path (schema.compiled).
pytestmark = pytest.mark.usefixtures("read_path")

# One query per root list, each nesting every relation of its type (and relations of those).
NESTED = {
    "participants": """
query($first: Int!) {
  participants(first: $first) {
    totalCount
    edges { node {
      id nik region { code parent { name } }
      employer { name region { code } }
      programs { program since }
      beneficiary { decile participant { id } }
      claims(first: 5) { totalCount edges { node { claimNumber benefits { amount } history { status } } } }
    } }
  }
}""",
    # The shape the compiled read path answers (on its path it is not handed to the resolvers).
    "participants_compiled": """
query($first: Int!) {
  participants(first: $first, orderBy: {field: FULL_NAME}) {
    totalCount
    edges { cursor node {
      id membershipNumber nik birthDate region { code name parent { name } ancestors { code } }
      programs { program since }
      claims(first: 3) { totalCount edges { node { claimNumber amountApproved } } pageInfo { hasNextPage } }
    } }
    pageInfo { hasNextPage endCursor }
  }
}""",
    # The shape the database renders as one JSON statement on PostgreSQL (no cursors).
    "participants_json": """
query($first: Int!) {
  participants(first: $first) {
    totalCount
    pageInfo { hasNextPage }
    edges { node {
      id membershipNumber nik region { code name }
      programs { program since }
      claims(first: 3) { totalCount edges { node { claimNumber amountApproved submittedAt } } }
    } }
  }
}""",
    "claims": """
query($first: Int!) {
  claims(first: $first) { edges { node {
    id region { code } benefits { kind amount } history { status actor }
    participant { id region { code } }
  } } }
}""",
    # The claims shape the compiled read path answers: a claim's region and participant, and that participant's claims.
    "claims_compiled": """
query($first: Int!) {
  claims(first: $first, orderBy: {field: CLAIM_NUMBER, direction: DESC}) {
    totalCount
    edges { cursor node {
      id claimNumber status amountApproved submittedAt region { code name }
      participant { id nik region { code } programs { program }
        claims(first: 2) { totalCount edges { node { claimNumber } } } }
    } }
    pageInfo { hasNextPage endCursor }
  }
}""",
    # The beneficiaries shape the compiled read path answers.
    "beneficiaries_compiled": """
query($first: Int!) {
  beneficiaries(first: $first, orderBy: {field: DECILE}) {
    totalCount
    edges { cursor node { id nik familyCardNumber birthDate decile enrolled region { code }
      participant { id programs { program } claims(first: 2) { totalCount edges { node { claimNumber } } } } } }
    pageInfo { hasNextPage endCursor }
  }
}""",
    # The regions shape the compiled read path answers: the tree under every region of the page.
    "regions_compiled": """
query($first: Int!) {
  regions(first: $first, level: DISTRICT) {
    totalCount
    edges { cursor node { id code name parent { name parent { code } } children { code name } ancestors { code } } }
    pageInfo { hasNextPage endCursor }
  }
}""",
    "beneficiaries": """
query($first: Int!) {
  beneficiaries(first: $first) { edges { node {
    id region { code ancestors { code } }
    participant { id programs { program } claims(first: 2) { edges { node { id } } } }
  } } }
}""",
}


@pytest.mark.parametrize("caller_name", ["officer_5271", "admin"])
@pytest.mark.parametrize("root", sorted(NESTED))
async def test_statement_count_independent_of_page_size(
    gql: Any, callers: dict[str, Any], count_statements: Any, caller_name: str, root: str
) -> None:
    counts = {}
    for first in (5, 100):
        # The same request once uncounted: per-process refreshes (signing keys, the revoked-token list every
        # few seconds) then happen there, not in the request whose statements are counted.
        await gql(NESTED[root], {"first": first}, callers[caller_name])
        count_statements.count = 0
        body = await gql(NESTED[root], {"first": first}, callers[caller_name])
        assert "errors" not in body, body
        counts[first] = count_statements.count
        if first == 100 and caller_name == "admin":
            assert len(body["data"][root.split("_")[0]]["edges"]) > 5  # the big page is really bigger
    assert counts[5] == counts[100], counts
