"""Filters, ordering and keyset paging agree with the database for an admin (national) caller."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from strawberry.relay import to_base64

from domain.beneficiaries.models import PovertyBeneficiary
from domain.claims.models import Claim
from domain.participants.models import Participant, ParticipantProgram


async def _all(gql: Any, caller: Any, field: str, args: str, node: str = "id", page: int = 7) -> list[Any]:
    """Every node of a list, fetched in small pages so that paging itself is exercised."""
    nodes: list[Any] = []
    after = None
    while True:
        body = await gql(
            f"query($after: String) {{ {field}({args}{', ' if args else ''}first: {page}, after: $after) "
            f"{{ totalCount edges {{ node {{ {node} }} }} pageInfo {{ hasNextPage endCursor }} }} }}",
            {"after": after},
            caller,
        )
        assert "errors" not in body, body
        conn = body["data"][field]
        nodes += [e["node"] for e in conn["edges"]]
        if not conn["pageInfo"]["hasNextPage"]:
            assert conn["totalCount"] == len(nodes)
            return nodes
        after = conn["pageInfo"]["endCursor"]


async def _rows(engine: AsyncEngine, model: Any) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.execute(select(model))).all())


def _ids(type_name: str, rows: list[Any], keep: Callable[[Any], bool]) -> set[str]:
    return {to_base64(type_name, r.id) for r in rows if keep(r)}


@pytest.mark.parametrize(
    ("args", "keep"),
    [
        ('filter: {regionCode: "52.03"}', lambda r, progs: r.regency_code == "52.03"),
        ('filter: {regionCode: "52.71.01"}', lambda r, progs: r.district_code == "52.71.01"),
        ("filter: {segment: BPU}", lambda r, progs: r.segment == "BPU"),
        ("filter: {status: ACTIVE}", lambda r, progs: r.status == "ACTIVE"),
        ("filter: {fundingSource: APBD}", lambda r, progs: r.funding_source == "APBD"),
        ("filter: {program: JP}", lambda r, progs: "JP" in progs.get(r.id, set())),
        (
            'filter: {segment: BPU, fundingSource: APBD, regionCode: "52.03"}',
            lambda r, progs: r.segment == "BPU" and r.funding_source == "APBD" and r.regency_code == "52.03",
        ),
    ],
)
async def test_participant_filters(
    gql: Any, callers: dict[str, Any], engine: AsyncEngine, args: str, keep: Any
) -> None:
    rows = await _rows(engine, Participant)
    progs: dict[int, set[str]] = {}
    for p in await _rows(engine, ParticipantProgram):
        progs.setdefault(p.participant_id, set()).add(p.program)
    expected = _ids("Participant", rows, lambda r: keep(r, progs))
    assert expected, "the filter should match something in the tiny data set"
    got = {n["id"] for n in await _all(gql, callers["admin"], "participants", args)}
    assert got == expected


async def test_participant_name_search(gql: Any, callers: dict[str, Any], engine: AsyncEngine) -> None:
    rows = await _rows(engine, Participant)
    needle = rows[0].full_name.split()[0][:4]
    expected = _ids("Participant", rows, lambda r: needle.lower() in r.full_name.lower())
    got = {
        n["id"]
        for n in await _all(gql, callers["admin"], "participants", f'filter: {{nameContains: "{needle.upper()}"}}')
    }
    assert got == expected
    # LIKE wildcards in the search text are literal characters, not patterns.
    none = await _all(gql, callers["admin"], "participants", 'filter: {nameContains: "%%%"}')
    assert none == []


@pytest.mark.parametrize(
    ("args", "keep"),
    [
        ("filter: {extremePoor: true}", lambda r: r.extreme_poor),
        ("filter: {enrolled: true}", lambda r: r.participant_id is not None),
        ("filter: {enrolled: false}", lambda r: r.participant_id is None),
        ("filter: {decile: 1}", lambda r: r.decile == 1),
        ("filter: {maxDecile: 2}", lambda r: r.decile <= 2),
        ("filter: {source: DTSEN}", lambda r: r.source == "DTSEN"),
        ('filter: {regionCode: "52.71", extremePoor: true}', lambda r: r.regency_code == "52.71" and r.extreme_poor),
    ],
)
async def test_beneficiary_filters(
    gql: Any, callers: dict[str, Any], engine: AsyncEngine, args: str, keep: Any
) -> None:
    expected = _ids("PovertyBeneficiary", await _rows(engine, PovertyBeneficiary), keep)
    assert expected
    got = {n["id"] for n in await _all(gql, callers["admin"], "beneficiaries", args)}
    assert got == expected


async def test_claim_filters(gql: Any, callers: dict[str, Any], engine: AsyncEngine) -> None:
    rows = await _rows(engine, Claim)
    for args, keep in (
        ("filter: {program: JKM}", lambda r: r.program == "JKM"),
        ("filter: {status: PAID}", lambda r: r.status == "PAID"),
        (
            'filter: {regionCode: "52.03", status: REJECTED}',
            lambda r: r.regency_code == "52.03" and r.status == "REJECTED",
        ),
    ):
        expected = _ids("Claim", rows, keep)
        got = {n["id"] for n in await _all(gql, callers["admin"], "claims", args)}
        assert got == expected, args
    days = sorted({r.submitted_at.date() for r in rows})
    lo, hi = days[len(days) // 4], days[len(days) // 2]
    expected = _ids("Claim", rows, lambda r: lo <= r.submitted_at.date() <= hi)
    got = {
        n["id"]
        for n in await _all(
            gql,
            callers["admin"],
            "claims",
            f'filter: {{submittedFrom: "{lo.isoformat()}", submittedTo: "{hi.isoformat()}"}}',
        )
    }
    assert got == expected


@pytest.mark.parametrize(
    ("field", "order", "key"),
    [
        ("participants", "{field: FULL_NAME}", lambda n: (n["fullName"],)),
        ("participants", "{field: REGISTERED_AT, direction: DESC}", lambda n: (n["registeredAt"],)),
        ("participants", "{field: MEMBERSHIP_NUMBER, direction: DESC}", lambda n: (n["membershipNumber"],)),
        ("claims", "{field: INCIDENT_DATE}", lambda n: (n["incidentDate"],)),
        ("beneficiaries", "{field: DECILE, direction: DESC}", lambda n: (n["decile"],)),
    ],
)
async def test_ordering_and_paging(gql: Any, callers: dict[str, Any], field: str, order: str, key: Any) -> None:
    node = {
        "participants": "id fullName registeredAt membershipNumber",
        "claims": "id incidentDate",
        "beneficiaries": "id decile",
    }[field]
    nodes = await _all(gql, callers["admin"], field, f"orderBy: {order}", node)
    ids = [n["id"] for n in nodes]
    assert len(ids) == len(set(ids)), "no row twice across pages"
    keys = [key(n) for n in nodes]
    descending = "DESC" in order
    assert keys == sorted(keys, reverse=descending)


async def test_first_zero_gives_count_only(gql: Any, callers: dict[str, Any]) -> None:
    body = await gql(
        "{ participants(first: 0) { totalCount edges { cursor } pageInfo { hasNextPage } } }", caller=callers["admin"]
    )
    conn = body["data"]["participants"]
    assert conn["edges"] == []
    assert conn["totalCount"] > 0
    assert conn["pageInfo"]["hasNextPage"] is True


async def test_filter_outside_own_region_is_empty(gql: Any, callers: dict[str, Any]) -> None:
    body = await gql('{ participants(filter: {regionCode: "52.71"}) { totalCount } }', caller=callers["analyst_5203"])
    assert body["data"]["participants"]["totalCount"] == 0
    # Filtering by an ancestor narrows to the caller's own region.
    own = await gql("{ participants { totalCount } }", caller=callers["analyst_5203"])
    province = await gql('{ participants(filter: {regionCode: "52"}) { totalCount } }', caller=callers["analyst_5203"])
    assert province["data"]["participants"]["totalCount"] == own["data"]["participants"]["totalCount"] > 0
