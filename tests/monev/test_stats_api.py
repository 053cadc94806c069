"""The Monev queries over HTTP on the tiny demo: scopes, region scoping, bad input, suppression for ministries."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from auth.scopes import Role, Scope
from tests.conftest import Caller

COVERAGE = """
query($code: String!, $asOf: Date) {
  coverage(regionCode: $code, asOf: $asOf) {
    region { code } month participants activeParticipants coverageRate employedPopulation target suppressed
    bySegment { segment total active } byFunding { fundingSource active monthlyAmount }
    extremePoor { total enrolled active enrollmentRate } claims { program count paidAmount }
  }
}"""
BY_REGION = """
query($code: String!) {
  coverageByRegion(parentCode: $code) { region { code } participants activeParticipants suppressed }
}"""
TODAY = dt.date.today().isoformat()


@pytest.fixture(scope="session")
def ministry(mint: Callable[..., str]) -> Caller:
    scopes = frozenset({Scope.STATS_READ, Scope.REGIONS_READ})
    return Caller("kemnaker", mint(Role.ANALYST, None, scopes, subject="kemnaker"), None, scopes)


def _code(body: dict[str, Any]) -> str:
    return str(body["errors"][0]["extensions"]["code"])


async def test_needs_a_token_and_stats_read(gql: Any, callers: dict[str, Caller], mint: Callable[..., str]) -> None:
    assert _code(await gql(COVERAGE, {"code": "52"})) == "UNAUTHENTICATED"
    reader = Caller("p", mint(Role.ANALYST, None, frozenset({Scope.PARTICIPANTS_READ})), None, frozenset())
    body = await gql(COVERAGE, {"code": "52"}, reader)
    assert _code(body) == "FORBIDDEN"
    assert "stats:read" in body["errors"][0]["message"]


async def test_national_coverage_adds_up(gql: Any, callers: dict[str, Caller]) -> None:
    admin = callers["admin"]
    whole = (await gql(COVERAGE, {"code": "52"}, admin))["data"]["coverage"]
    assert whole["region"]["code"] == "52"
    assert whole["suppressed"] is False
    assert whole["participants"] > whole["activeParticipants"] > 0
    assert sum(s["total"] for s in whole["bySegment"]) == whole["participants"]
    assert sum(f["active"] for f in whole["byFunding"]) == whole["activeParticipants"]
    rows = (await gql(BY_REGION, {"code": "52"}, admin))["data"]["coverageByRegion"]
    assert [r["region"]["code"] for r in rows] == sorted(r["region"]["code"] for r in rows)
    assert len(rows) == 10  # every regency of NTB, with or without participants
    assert sum(r["participants"] for r in rows) == whole["participants"]
    nested = await gql('query { region(code: "52") { coverage { participants activeParticipants } } }', None, admin)
    assert nested["data"]["region"]["coverage"] == {
        "participants": whole["participants"],
        "activeParticipants": whole["activeParticipants"],
    }


async def test_a_regional_analyst_sees_only_its_region(gql: Any, callers: dict[str, Caller]) -> None:
    analyst, admin = callers["analyst_5203"], callers["admin"]
    own = (await gql(COVERAGE, {"code": "52.03"}, analyst))["data"]["coverage"]
    assert own == (await gql(COVERAGE, {"code": "52.03"}, admin))["data"]["coverage"]
    for other in ("52.71", "52", "52.71.01"):
        body = await gql(COVERAGE, {"code": other}, analyst)
        assert body["data"]["coverage"] is None
        assert "errors" not in body
    rows = (await gql(BY_REGION, {"code": "52"}, analyst))["data"]["coverageByRegion"]
    assert [r["region"]["code"] for r in rows] == ["52.03"]
    assert (await gql(BY_REGION, {"code": "52.71"}, analyst))["data"]["coverageByRegion"] is None
    trend = await gql(
        'query { coverageTrend(regionCode: "52.71", from: "2025-01-01", to: "2025-03-01") { month } }', None, analyst
    )
    assert trend["data"]["coverageTrend"] is None


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ('coverage(regionCode: "52", asOf: "2099-01-01") { month }', "asOf"),
        ('coverage(regionCode: "52", asOf: "2014-12-31") { month }', "asOf"),
        ('coverage(regionCode: "fifty-two") { month }', "regionCode"),
        ('coverageByRegion(parentCode: "52.") { month }', "parentCode"),
        ('coverageTrend(regionCode: "52", from: "2025-06-01", to: "2025-01-01") { month }', "from"),
        ('coverageTrend(regionCode: "52", from: "2015-01-01", to: "2025-02-01") { month }', "to"),
        ('claimStats(regionCode: "52", from: "2099-01-01", to: "2099-12-31") { month }', "from"),
    ],
)
async def test_bad_input_is_refused_with_a_code(gql: Any, callers: dict[str, Caller], query: str, field: str) -> None:
    body = await gql("query { " + query + " }", None, callers["admin"])
    assert _code(body) == "BAD_USER_INPUT"
    assert body["errors"][0]["extensions"]["field"] == field


async def test_unknown_programme_and_wrong_types(gql: Any, callers: dict[str, Caller]) -> None:
    for query in (
        'claimStats(regionCode: "52", program: XYZ, from: "2025-01-01", to: "2025-02-01") { month }',
        'coverage(regionCode: "52", asOf: "2025-13-01") { month }',
        "coverage(regionCode: 52) { month }",
    ):
        body = await gql("query { " + query + " }", None, callers["admin"])
        assert _code(body) == "BAD_USER_INPUT", body


async def test_claim_stats_by_month_and_programme(gql: Any, callers: dict[str, Caller]) -> None:
    query = """query { claimStats(regionCode: "52", program: JKM, from: "2025-01-01", to: "2025-06-30") {
      month program submitted paid paidAmount scholarshipAmount paidWithinTarget suppressed } }"""
    rows = (await gql(query, None, callers["admin"]))["data"]["claimStats"]
    assert [r["month"] for r in rows] == ["2025-01", "2025-02", "2025-03", "2025-04", "2025-05", "2025-06"]
    assert {r["program"] for r in rows} == {"JKM"}
    assert not any(r["suppressed"] for r in rows)


async def test_a_ministry_gets_small_counts_withheld(gql: Any, callers: dict[str, Caller], ministry: Caller) -> None:
    rows = (await gql(BY_REGION, {"code": "52.71.01"}, ministry))["data"]["coverageByRegion"]
    full = (await gql(BY_REGION, {"code": "52.71.01"}, callers["admin"]))["data"]["coverageByRegion"]
    assert [r["region"]["code"] for r in rows] == [r["region"]["code"] for r in full]
    assert any(r["suppressed"] for r in rows)
    for mine, truth in zip(rows, full, strict=True):
        for key in ("participants", "activeParticipants"):
            if truth[key] < 5:
                assert mine[key] is None
                assert mine["suppressed"] is True
            if mine[key] is not None:
                assert mine[key] == truth[key] >= 5
    village = next(r["region"]["code"] for r in full if 0 < r["participants"] < 5)
    cov = (await gql(COVERAGE, {"code": village}, ministry))["data"]["coverage"]
    assert cov["suppressed"] is True
    assert cov["participants"] is None
    assert cov["coverageRate"] is None
