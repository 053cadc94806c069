"""ACTIVE and INACTIVE follow from the ledger as of today, on every read path, with nothing run when a month turns.

The tests move ``domain.clock.today`` (the one "today" of the service's rules: the status and Monev's
months) to the next month and ask again, after the same reads ran with the real date (so the compiled
path's kept statements and the fast lane's entries were made for the old month). The status of every
participant shown, the ``status`` filter and Monev's active count must agree with the rule, counted here
directly from the rows: a member (neither DECEASED nor RETIRED) paid through the current month's last day.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

import domain.clock
from domain.participants.models import Participant, ParticipantStatus
from domain.participants.status import paid_through_needed, status_is

REGION = "52.71"

PAGE = """query($region: String, $status: ParticipantStatus, $first: Int) {
  participants(first: $first, filter: {regionCode: $region, status: $status}) {
    totalCount
    edges { node { membershipNumber status paidThrough } }
  }
}"""
ONE = "query($m: String!) { participant(membershipNumber: $m) { membershipNumber status paidThrough } }"
COVERAGE = """query($code: String!, $asOf: Date) {
  coverage(regionCode: $code, asOf: $asOf) { participants activeParticipants }
}"""


def _expected(stored: ParticipantStatus, paid_through: dt.date | None, today: dt.date) -> str:
    """The rule, written out here independently of domain.participants.status."""
    if stored in (ParticipantStatus.DECEASED, ParticipantStatus.RETIRED):
        return stored.value
    first_of_next = dt.date(today.year + today.month // 12, today.month % 12 + 1, 1)
    month_end = first_of_next - dt.timedelta(days=1)
    return "ACTIVE" if paid_through is not None and paid_through >= month_end else "INACTIVE"


async def _rows(engine: Any) -> dict[str, tuple[ParticipantStatus, dt.date | None]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(Participant.membership_number, Participant.status, Participant.paid_through).where(
                Participant.region_code.startswith(REGION)
            )
        )
        return {r[0]: (ParticipantStatus(r[1]), r[2]) for r in rows}


async def _check(
    gql: Any, caller: Any, rows: dict[str, tuple[ParticipantStatus, dt.date | None]], today: dt.date
) -> None:
    expected = {m: _expected(s, p, today) for m, (s, p) in rows.items()}
    for status in ("ACTIVE", "INACTIVE", "DECEASED"):
        body = await gql(PAGE, {"region": REGION, "status": status, "first": 100}, caller)
        assert "errors" not in body, body
        page = body["data"]["participants"]
        wanted = sorted(m for m, s in expected.items() if s == status)
        assert page["totalCount"] == len(wanted), status
        assert sorted(e["node"]["membershipNumber"] for e in page["edges"]) == wanted[:100], status
        assert {e["node"]["status"] for e in page["edges"]} <= {status}
    # Unfiltered, each participant's own status field says the same.
    body = await gql(PAGE, {"region": REGION, "status": None, "first": 100}, caller)
    for edge in body["data"]["participants"]["edges"]:
        node = edge["node"]
        assert node["status"] == expected[node["membershipNumber"]], node


@pytest.mark.usefixtures("read_path")  # the resolvers, the compiled path, its fast lane
async def test_the_status_follows_the_ledger_when_the_month_turns(
    gql: Any, engine: Any, callers: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    caller = callers["admin"]
    rows = await _rows(engine)
    today = domain.clock.today()
    await _check(gql, caller, rows, today)  # with the real date: statements and fast-lane entries for this month

    # A participant ACTIVE now and paid through exactly this month is INACTIVE next month, with no write.
    lapsing = next(
        (m for m, (s, p) in rows.items() if _expected(s, p, today) == "ACTIVE" and p == paid_through_needed(today)),
        None,
    )
    if lapsing is not None:
        assert (await gql(ONE, {"m": lapsing}, caller))["data"]["participant"]["status"] == "ACTIVE"

    next_month = dt.date(today.year + today.month // 12, today.month % 12 + 1, 5)
    monkeypatch.setattr(domain.clock, "today", lambda: next_month)
    moved = {m: _expected(s, p, next_month) for m, (s, p) in rows.items()}
    assert moved != {m: _expected(s, p, today) for m, (s, p) in rows.items()}, "the data should have lapsing members"
    await _check(gql, caller, rows, next_month)
    if lapsing is not None:
        assert (await gql(ONE, {"m": lapsing}, caller))["data"]["participant"]["status"] == "INACTIVE"

    # Monev counts the same active members for the moved month (its "today" moved with the status's).
    coverage = (await gql(COVERAGE, {"code": REGION, "asOf": next_month.isoformat()}, caller))["data"]["coverage"]
    active = await gql(PAGE, {"region": REGION, "status": "ACTIVE", "first": 1}, caller)
    assert coverage["activeParticipants"] == active["data"]["participants"]["totalCount"]
    default = (await gql(COVERAGE, {"code": REGION, "asOf": None}, caller))["data"]["coverage"]
    assert default == coverage


@pytest.mark.parametrize("status", list(ParticipantStatus))
async def test_the_status_filter_is_an_indexed_predicate(engine: Any, status: ParticipantStatus) -> None:
    """Each status is a condition the (status, paid_through) index can serve: no scan of the table for it."""
    query = select(Participant.id).where(status_is(status, domain.clock.today()))
    async with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            await conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            explain = "EXPLAIN "
        else:
            explain = "EXPLAIN QUERY PLAN "
        compiled = query.compile(conn, compile_kwargs={"literal_binds": True})
        plan = "\n".join(str(r) for r in await conn.exec_driver_sql(explain + str(compiled)))
    assert "ix_participants_status_paid_through" in plan, plan
