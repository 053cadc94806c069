"""Federation ``_entities``: batched (one SQL statement per entity type), region-scoped, and strict on input.

Expected rows come from the database and the caller's region oracle (``Caller.sees``), as in the scoping
matrix; representations are what a router would send.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from strawberry.relay import to_base64

from api.app import create_app
from api.settings import Settings
from auth.scopes import Role, Scope
from domain.beneficiaries.models import PovertyBeneficiary
from domain.claims.models import Claim
from domain.participants.models import Participant
from domain.regions.models import Region
from domain.regions.rules import RegionLevel
from schema.core.bounds import MAX_ENTITY_REPRESENTATIONS

# Every case runs on both read paths: the resolvers alone, and the compiled read path (schema.compiled).
pytestmark = pytest.mark.usefixtures("read_path")

ENTITIES = """
query($representations: [_Any!]!) {
  _entities(representations: $representations) {
    __typename
    ... on Region { code }
    ... on Participant { id membershipNumber }
    ... on PovertyBeneficiary { id }
    ... on Claim { id claimNumber }
  }
}"""

INSIDE, OUTSIDE = "52.71", "52.03"


class _Bearer:
    def __init__(self, token: str) -> None:
        self.headers = {"Authorization": f"Bearer {token}"}


def _codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", [])]


async def _sample(engine: AsyncEngine, model: Any, columns: list[Any], per_region: int) -> list[Any]:
    """`per_region` rows inside 52.71 and as many outside it (52.03 first), interleaved."""
    async with engine.connect() as conn:
        rows = (await conn.execute(select(*columns, model.region_code).order_by(model.id))).all()
    inside = [r for r in rows if r.region_code.startswith(INSIDE + ".")][:per_region]
    elsewhere = [r for r in rows if not r.region_code.startswith(INSIDE + ".")]
    outside = sorted(elsewhere, key=lambda r: not r.region_code.startswith(OUTSIDE + "."))[:per_region]
    assert len(inside) == len(outside) == per_region, "the tiny dataset has too few rows for this test"
    return [r for pair in zip(inside, outside, strict=True) for r in pair]


async def _hundred_representations(engine: AsyncEngine) -> list[tuple[dict[str, Any], str, dict[str, Any]]]:
    """100 (representation, region code of the row, expected entity when visible), mixed in and out of 52.71."""
    out: list[tuple[dict[str, Any], str, dict[str, Any]]] = []
    async with engine.connect() as conn:
        below = (
            await conn.execute(
                select(Region.code)
                .where(Region.code.startswith(INSIDE + ".") | Region.code.startswith(OUTSIDE + "."))
                .order_by(Region.level != RegionLevel.DISTRICT, Region.code)
            )
        ).all()
    inside = [c for (c,) in below if c.startswith(INSIDE)][:10]
    outside = [c for (c,) in below if c.startswith(OUTSIDE)][:10]
    for code in inside + outside:
        out.append(({"__typename": "Region", "code": code}, code, {"__typename": "Region", "code": code}))
    for r in await _sample(engine, Participant, [Participant.id, Participant.membership_number], 20):
        gid = to_base64("Participant", r.id)
        entity = {"__typename": "Participant", "id": gid, "membershipNumber": r.membership_number}
        if r.id % 2:
            out.append(({"__typename": "Participant", "id": gid}, r.region_code, entity))
        else:
            out.append(({"__typename": "Participant", "membershipNumber": r.membership_number}, r.region_code, entity))
    for r in await _sample(engine, PovertyBeneficiary, [PovertyBeneficiary.id], 10):
        gid = to_base64("PovertyBeneficiary", r.id)
        out.append(
            (
                {"__typename": "PovertyBeneficiary", "id": gid},
                r.region_code,
                {"__typename": "PovertyBeneficiary", "id": gid},
            )
        )
    for r in await _sample(engine, Claim, [Claim.id, Claim.claim_number], 10):
        gid = to_base64("Claim", r.id)
        entity = {"__typename": "Claim", "id": gid, "claimNumber": r.claim_number}
        out.append(({"__typename": "Claim", "id": gid}, r.region_code, entity))
    assert len(out) == 100
    return out


def _visible(caller: Any, representation: dict[str, Any], region_code: str) -> bool:
    if representation["__typename"] == "Region" and caller.region is not None:
        # Regions: the caller's own, below it, and its ancestors (ADR 0001).
        return caller.sees(region_code) or caller.region.startswith(region_code + ".")
    return bool(caller.sees(region_code))


@pytest.mark.parametrize("caller_name", ["officer_5271", "analyst_5203", "admin"])
async def test_hundred_representations_one_statement_per_entity_type(
    gql: Any,
    app: Starlette,
    engine: AsyncEngine,
    callers: dict[str, Any],
    count_statements: Any,
    read_path: str,
    caller_name: str,
) -> None:
    caller = callers[caller_name]
    cases = await _hundred_representations(engine)
    compiled = app.state.graphql.counters.compiled
    count_statements.count = 0
    body = await gql(ENTITIES, {"representations": [rep for rep, _, _ in cases]}, caller)
    assert "errors" not in body, body
    assert count_statements.count == 4  # Region, Participant (both keys), PovertyBeneficiary, Claim
    if read_path == "compiled":  # every entity type, Region included, is the compiled path's
        assert app.state.graphql.counters.compiled == compiled + 1
    expected = [entity if _visible(caller, rep, code) else None for rep, code, entity in cases]
    assert body["data"]["_entities"] == expected
    assert any(e is None for e in expected) == (caller.region is not None)


async def test_keys_of_missing_rows_are_null_without_errors(
    gql: Any, callers: dict[str, Any], count_statements: Any
) -> None:
    representations = [
        {"__typename": "Region", "code": "52.99"},
        {"__typename": "Region", "code": "not a region code"},
        {"__typename": "Participant", "id": to_base64("Participant", 999_999_999)},
        {"__typename": "Participant", "id": to_base64("Claim", 1)},  # a global id of another type
        {"__typename": "Participant", "id": "not-a-global-id"},
        {"__typename": "Participant", "membershipNumber": "00000000000"},
        {"__typename": "PovertyBeneficiary", "id": to_base64("PovertyBeneficiary", 999_999_999)},
        {"__typename": "Claim", "id": to_base64("Claim", 999_999_999)},
        {"__typename": "Claim", "id": to_base64("Claim", "abc")},
        # Well-formed ids past an INTEGER key's range: PostgreSQL would refuse to bind them (int32).
        {"__typename": "Participant", "id": to_base64("Participant", 2**31)},
        {"__typename": "Claim", "id": to_base64("Claim", 10**17)},
        {"__typename": "PovertyBeneficiary", "id": to_base64("PovertyBeneficiary", 2**40)},
    ] * 10
    count_statements.count = 0
    body = await gql(ENTITIES, {"representations": representations}, callers["admin"])
    assert "errors" not in body, body
    assert body["data"]["_entities"] == [None] * len(representations)
    assert count_statements.count <= 4


@pytest.mark.parametrize(
    ("representation", "needle"),
    [
        ({"__typename": "Employer", "id": "1"}, "'Employer' is not an entity this subgraph resolves"),
        ({"__typename": "ProgramEnrolment", "program": "JKK"}, "'ProgramEnrolment' is not an entity"),
        ({"__typename": "Company", "bpjsRegistrationNumber": "1"}, "'Company' is not an entity"),  # a stub
        ({"__typename": "Query"}, "'Query' is not an entity"),
        ({"id": "1"}, "None is not an entity"),
        ({"__typename": 7, "id": "1"}, "7 is not an entity"),
        ("Participant:1", "must be an object with __typename"),
        ({"__typename": "Region"}, "a Region representation needs code"),
        ({"__typename": "Participant", "nik": "5271011203900001"}, "needs id or membershipNumber"),
        ({"__typename": "Claim", "claimNumber": "JKM-1"}, "a Claim representation needs id"),
        ({"__typename": "Claim", "id": 5}, "Claim.id must be a string; int 5 was given"),
        ({"__typename": "Region", "code": 5271}, "Region.code must be a string; int 5271"),
        ({"__typename": "Participant", "membershipNumber": None}, "membershipNumber must be a string"),
        ({"__typename": "PovertyBeneficiary", "id": {"id": "1"}}, "PovertyBeneficiary.id must be a string; dict"),
    ],
)
async def test_malformed_representation_is_one_bad_user_input(
    gql: Any, callers: dict[str, Any], count_statements: Any, representation: Any, needle: str
) -> None:
    good = {"__typename": "Region", "code": "52"}
    count_statements.count = 0
    body = await gql(ENTITIES, {"representations": [good, good, representation, good]}, callers["admin"])
    assert _codes(body) == ["BAD_USER_INPUT"], body
    assert needle in body["errors"][0]["message"]
    assert body["errors"][0]["message"].startswith("representations[2]")
    assert body["data"] is None
    assert count_statements.count == 0


async def test_ten_thousand_representations_refused_before_any_sql(
    gql: Any, callers: dict[str, Any], count_statements: Any
) -> None:
    representations = [{"__typename": "Participant", "membershipNumber": f"{i:011d}"} for i in range(10_000)]
    count_statements.count = 0
    body = await gql(ENTITIES, {"representations": representations}, callers["admin"])
    assert _codes(body) == ["QUERY_TOO_COMPLEX"]
    message = body["errors"][0]["message"]
    assert "10000 representations" in message
    assert f"at most {MAX_ENTITY_REPRESENTATIONS}" in message
    assert body["data"] is None
    assert count_statements.count == 0


async def test_representation_maximum_is_a_setting(settings: Settings, callers: dict[str, Any]) -> None:
    app = create_app(settings.model_copy(update={"max_entity_representations": 5}))
    representations = [{"__typename": "Region", "code": "52"}]
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://jamsos.test") as client:
            for size, codes in ((5, []), (6, ["QUERY_TOO_COMPLEX"])):
                response = await client.post(
                    "/graphql",
                    json={"query": ENTITIES, "variables": {"representations": representations * size}},
                    headers=callers["admin"].headers,
                )
                assert _codes(response.json()) == codes
    finally:
        await app.state.engine.dispose()


def test_representation_maximum_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    assert Settings().limits.max_entity_representations == MAX_ENTITY_REPRESENTATIONS
    monkeypatch.setenv("JAMSOS_MAX_ENTITY_REPRESENTATIONS", "250")
    assert Settings().limits.max_entity_representations == 250
    monkeypatch.setenv("JAMSOS_MAX_ENTITY_REPRESENTATIONS", "0")
    with pytest.raises(ValueError, match="greater than 0"):
        Settings()


async def test_anonymous_entities_get_one_error(gql: Any, count_statements: Any) -> None:
    representations = [{"__typename": "Region", "code": "52"}] * 100
    count_statements.count = 0
    body = await gql(ENTITIES, {"representations": representations})
    assert _codes(body) == ["UNAUTHENTICATED"]
    assert count_statements.count == 0


async def test_entities_need_each_types_read_scope(gql: Any, mint: Callable[..., str]) -> None:
    caller = _Bearer(mint(Role.ANALYST, INSIDE, frozenset({Scope.REGIONS_READ})))
    body = await gql(
        ENTITIES,
        {"representations": [{"__typename": "Region", "code": INSIDE}, {"__typename": "Claim", "id": "x"}]},
        caller,
    )
    assert body["data"]["_entities"] == [{"__typename": "Region", "code": INSIDE}, None]
    assert _codes(body) == ["FORBIDDEN"]
    assert "claims:read" in body["errors"][0]["message"]


PARTICIPANTS = """
query($representations: [_Any!]!) {
  _entities(representations: $representations) {
    __typename
    ... on Participant { id membershipNumber region { code } claims(first: 2) { totalCount } }
  }
}"""


@pytest.mark.parametrize("caller_name", ["officer_5271", "analyst_5203", "admin"])
async def test_participant_representations_cost_the_same_statements_at_any_number(
    gql: Any,
    app: Starlette,
    engine: AsyncEngine,
    callers: dict[str, Any],
    count_statements: Any,
    read_path: str,
    caller_name: str,
) -> None:
    """Only Participant representations (both keys, missing rows among them): the compiled path answers them
    on PostgreSQL with one JSON statement, in the representations' order, null where the caller may not look."""
    caller = callers[caller_name]
    cases: list[tuple[dict[str, Any], dict[str, Any] | None]] = []
    for r in await _sample(engine, Participant, [Participant.id, Participant.membership_number], 20):
        gid = to_base64("Participant", r.id)
        key = {"id": gid} if r.id % 2 else {"membershipNumber": r.membership_number}
        entity = {"id": gid, "membershipNumber": r.membership_number, "region": {"code": r.region_code}}
        cases.append(({"__typename": "Participant", **key}, entity if caller.sees(r.region_code) else None))
    cases += [
        ({"__typename": "Participant", "membershipNumber": "00000000000"}, None),
        ({"__typename": "Participant", "id": to_base64("Participant", 999_999_999)}, None),
        ({"__typename": "Participant", "id": to_base64("Claim", 1)}, None),
    ]
    counts = {}
    for size in (2, len(cases)):  # the first two: one inside 52.71, one inside 52.03 (each caller sees one)
        representations = [rep for rep, _ in cases[:size]]
        await gql(PARTICIPANTS, {"representations": representations}, caller)  # refreshes happen here
        count_statements.count = 0
        body = await gql(PARTICIPANTS, {"representations": representations}, caller)
        counts[size] = count_statements.count
        assert "errors" not in body, body
        got = body["data"]["_entities"]
        assert len(got) == size
        for entity, (_, expected) in zip(got, cases[:size], strict=True):
            if expected is None:
                assert entity is None
            else:
                assert entity is not None
                assert entity.pop("claims")["totalCount"] >= 0
                assert entity == {"__typename": "Participant", **expected}
    assert counts[2] == counts[len(cases)], counts
    if read_path == "compiled":
        assert counts[2] == 1, "one JSON statement for the whole batch"
