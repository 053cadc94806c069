"""The access matrix: every Query entry point x every kind of caller, on tiny seeded data.

Expected rows come from the database and the test's own region oracle (``Caller.sees``), not from
``auth.policy``, so a bug in the policy cannot hide itself.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from strawberry.relay import to_base64

from auth.scopes import Scope
from domain.beneficiaries.models import PovertyBeneficiary
from domain.claims.models import Claim
from domain.participants.models import Participant
from domain.regions.models import Region
from domain.regions.rules import RegionLevel

# Every case runs on both read paths: the resolvers alone, and the compiled read path (schema.compiled).
pytestmark = pytest.mark.usefixtures("read_path")

CALLERS = ["anonymous", "analyst_5203", "officer_5271", "admin"]

LISTS = {
    "participants": (Participant, Scope.PARTICIPANTS_READ, "Participant"),
    "beneficiaries": (PovertyBeneficiary, Scope.BENEFICIARIES_READ, "PovertyBeneficiary"),
    "claims": (Claim, Scope.CLAIMS_READ, "Claim"),
}


async def _rows(engine: AsyncEngine, model: Any) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.execute(select(model.id, model.region_code))).all())


async def _all_pages(gql: Any, field: str, caller: Any) -> tuple[set[str], list[dict[str, Any]]]:
    ids: set[str] = set()
    after = None
    while True:
        body = await gql(
            f"query($after: String) {{ {field}(first: 100, after: $after) {{ totalCount"
            " edges { node { id } } pageInfo { hasNextPage endCursor } } }",
            {"after": after},
            caller,
        )
        if body.get("errors"):
            return ids, body["errors"]
        page = body["data"][field]
        ids |= {e["node"]["id"] for e in page["edges"]}
        if not page["pageInfo"]["hasNextPage"]:
            assert page["totalCount"] == len(ids)
            return ids, []
        after = page["pageInfo"]["endCursor"]


def _code(errors: list[dict[str, Any]]) -> str:
    return str(errors[0]["extensions"]["code"])


@pytest.mark.parametrize("caller_name", CALLERS)
@pytest.mark.parametrize("field", sorted(LISTS))
async def test_lists(gql: Any, engine: AsyncEngine, callers: dict[str, Any], caller_name: str, field: str) -> None:
    caller = callers[caller_name]
    model, scope, type_name = LISTS[field]
    ids, errors = await _all_pages(gql, field, caller)
    if caller.token is None:
        assert _code(errors) == "UNAUTHENTICATED"
        return
    if scope not in caller.scopes:
        assert _code(errors) == "FORBIDDEN"
        return
    assert errors == []
    expected = {to_base64(type_name, r.id) for r in await _rows(engine, model) if caller.sees(r.region_code)}
    assert ids == expected
    assert expected, "the tiny dataset should give every caller some rows"


@pytest.mark.parametrize("caller_name", CALLERS)
@pytest.mark.parametrize("field", sorted(LISTS))
async def test_lookups_node_and_entities(
    gql: Any, engine: AsyncEngine, callers: dict[str, Any], caller_name: str, field: str
) -> None:
    """For one row inside 52.71 and one inside 52.03: the lookup, node and _entities agree with the oracle."""
    caller = callers[caller_name]
    model, scope, type_name = LISTS[field]
    rows = await _rows(engine, model)
    samples = [next(r for r in rows if r.region_code.startswith(p)) for p in ("52.71.", "52.03.")]
    single = {"participants": "participant", "beneficiaries": "beneficiary", "claims": "claim"}[field]
    for row in samples:
        gid = to_base64(type_name, row.id)
        body = await gql(
            f"query($id: ID!) {{ one: {single}(id: $id) {{ id }} node(id: $id) {{ id }} "
            f'_entities(representations: [{{__typename: "{type_name}", id: $id}}]) '
            f"{{ ... on {type_name} {{ id }} }} }}",
            {"id": gid},
            caller,
        )
        if caller.token is None or scope not in caller.scopes:
            codes = {e["extensions"]["code"] for e in body["errors"]}
            assert codes == {"UNAUTHENTICATED" if caller.token is None else "FORBIDDEN"}
            continue
        assert "errors" not in body, body
        visible = caller.sees(row.region_code)
        expected = {"id": gid} if visible else None
        assert body["data"]["one"] == expected
        assert body["data"]["node"] == expected
        assert body["data"]["_entities"] == [expected]


@pytest.mark.parametrize("caller_name", CALLERS)
@pytest.mark.parametrize("key", ["id", "membershipNumber"])
async def test_participant_entities_alone(
    gql: Any, engine: AsyncEngine, callers: dict[str, Any], caller_name: str, key: str
) -> None:
    """``_entities`` of Participants only (the compiled path answers it; above it shares a request with ``node``)."""
    caller = callers[caller_name]
    async with engine.connect() as conn:
        columns = select(Participant.id, Participant.membership_number, Participant.region_code)
        rows = (await conn.execute(columns)).all()
    samples = [next(r for r in rows if r.region_code.startswith(p)) for p in ("52.71.", "52.03.")]
    values = [to_base64("Participant", r.id) if key == "id" else r.membership_number for r in samples]
    body = await gql(
        "query($r: [_Any!]!) { _entities(representations: $r) { ... on Participant { id membershipNumber } } }",
        {"r": [{"__typename": "Participant", key: v} for v in values]},
        caller,
    )
    if caller.token is None:
        assert _code(body["errors"]) == "UNAUTHENTICATED"
        return
    if Scope.PARTICIPANTS_READ not in caller.scopes:
        assert _code(body["errors"]) == "FORBIDDEN"
        return
    assert "errors" not in body, body
    expected = [
        {"id": to_base64("Participant", r.id), "membershipNumber": r.membership_number}
        if caller.sees(r.region_code)
        else None
        for r in samples
    ]
    assert body["data"]["_entities"] == expected
    assert any(e is None for e in expected) == (caller.region is not None)


@pytest.mark.parametrize("caller_name", CALLERS)
async def test_regions(
    gql: Any, app: Starlette, engine: AsyncEngine, callers: dict[str, Any], read_path: str, caller_name: str
) -> None:
    caller = callers[caller_name]
    compiled = app.state.graphql.counters.compiled
    body = await gql(
        '{ regions(level: REGENCY, parentCode: "52", first: 100) { edges { node { code } } } '
        'mataram: region(code: "52.71") { code name parent { code } } '
        'province: region(code: "52") { code children { code } } '
        '_entities(representations: [{__typename: "Region", code: "52.03"}]) { ... on Region { code } } }',
        caller=caller,
    )
    if caller.token is None:
        assert {e["extensions"]["code"] for e in body["errors"]} == {"UNAUTHENTICATED"}
        return
    assert "errors" not in body, body
    async with engine.connect() as conn:
        regencies = set(
            (
                await conn.execute(
                    select(Region.code).where(Region.parent_code == "52", Region.level == RegionLevel.REGENCY)
                )
            )
            .scalars()
            .all()
        )
    visible = {c for c in regencies if caller.sees(c)}
    data = body["data"]
    assert {e["node"]["code"] for e in data["regions"]["edges"]} == visible
    assert {c["code"] for c in data["province"]["children"]} == visible
    assert data["province"]["code"] == "52"  # an ancestor of every caller's region stays navigable
    assert (data["mataram"] is not None) == caller.sees("52.71")
    assert (data["_entities"][0] is not None) == caller.sees("52.03")
    if read_path == "compiled":  # region(s), the region tree and Region entities are the compiled path's
        assert app.state.graphql.counters.compiled == compiled + 1


@pytest.mark.parametrize("caller_name", ["analyst_5203", "officer_5271", "admin"])
async def test_masking(gql: Any, engine: AsyncEngine, callers: dict[str, Any], caller_name: str) -> None:
    caller = callers[caller_name]
    async with engine.connect() as conn:
        rows = (await conn.execute(select(Participant).where(Participant.monthly_wage.is_not(None)))).all()
    row = next(r for r in rows if caller.sees(r.region_code))
    body = await gql(
        "query($id: ID!) { participant(id: $id) { nik birthDate monthlyWage beneficiary { nik familyCardNumber } } }",
        {"id": to_base64("Participant", row.id)},
        caller,
    )
    assert "errors" not in body, body
    p = body["data"]["participant"]
    if Scope.PII_READ in caller.scopes:
        assert p["nik"] == row.nik
        assert p["birthDate"] == row.birth_date.isoformat()
        assert p["monthlyWage"] is not None
    else:
        assert p["nik"] == row.nik[:4] + "*" * 10 + row.nik[-2:]
        assert p["birthDate"] is None
        assert p["monthlyWage"] is None


@pytest.mark.parametrize("caller_name", CALLERS)
async def test_lookup_by_nik_needs_pii(
    gql: Any, engine: AsyncEngine, callers: dict[str, Any], caller_name: str
) -> None:
    caller = callers[caller_name]
    async with engine.connect() as conn:
        rows = (await conn.execute(select(Participant.nik, Participant.region_code))).all()
    row = next(r for r in rows if r.region_code.startswith("52.71."))
    body = await gql("query($nik: String!) { participant(nik: $nik) { nik } }", {"nik": row.nik}, caller)
    if caller.token is None:
        assert _code(body["errors"]) == "UNAUTHENTICATED"
    elif Scope.PII_READ not in caller.scopes:
        assert _code(body["errors"]) == "FORBIDDEN"
    else:
        assert body["data"]["participant"] == ({"nik": row.nik} if caller.sees(row.region_code) else None)


@pytest.mark.parametrize("caller_name", CALLERS)
async def test_me(gql: Any, callers: dict[str, Any], caller_name: str) -> None:
    caller = callers[caller_name]
    body = await gql("{ me { subject kind roles scopes regionCode clientId } }", caller=caller)
    if caller.token is None:
        assert _code(body["errors"]) == "UNAUTHENTICATED"
        return
    me = body["data"]["me"]
    assert me["regionCode"] == caller.region
    assert set(me["scopes"]) == {s.value for s in caller.scopes}
    assert me["kind"] == "user"
    assert me["clientId"] == "jamsos-tests"


ALTERNATE_KEYS = [
    ("participant", "membershipNumber", Participant, "membership_number", Scope.PARTICIPANTS_READ),
    ("claim", "claimNumber", Claim, "claim_number", Scope.CLAIMS_READ),
    ("beneficiary", "nik", PovertyBeneficiary, "nik", Scope.BENEFICIARIES_READ),
]


@pytest.mark.parametrize("caller_name", CALLERS)
@pytest.mark.parametrize(("field", "argument", "model", "column", "scope"), ALTERNATE_KEYS)
async def test_lookups_by_other_keys(
    gql: Any,
    engine: AsyncEngine,
    callers: dict[str, Any],
    caller_name: str,
    field: str,
    argument: str,
    model: Any,
    column: str,
    scope: Scope,
) -> None:
    caller = callers[caller_name]
    async with engine.connect() as conn:
        rows = (await conn.execute(select(getattr(model, column), model.region_code))).all()
    for prefix in ("52.71.", "52.03."):
        value, region = next(r for r in rows if r[1].startswith(prefix))
        body = await gql(f"query($v: String!) {{ one: {field}({argument}: $v) {{ id }} }}", {"v": value}, caller)
        needs_pii = argument == "nik"
        if caller.token is None:
            assert _code(body["errors"]) == "UNAUTHENTICATED"
        elif scope not in caller.scopes or (needs_pii and Scope.PII_READ not in caller.scopes):
            assert _code(body["errors"]) == "FORBIDDEN"
        else:
            assert "errors" not in body, body
            assert (body["data"]["one"] is not None) == caller.sees(region)
