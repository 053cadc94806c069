"""Issue 22, through the API on every backend, each with the regulation's figure (docs/adr/0011-regulations-exactly.md).

1. JP pension age, PP 45/2015 art. 15: 56, 57 from 2019, 58 from 2022, 59 from 2025 (60 from 2028: the domain
   test, an incident cannot be in the future); JHT keeps 56 (PP 46/2015).
2. JP's 180 months are JP months: a member with pre-2015 JHT months gets the lump sum.
3. Eligibility counts months up to the incident: a death at 35 months with one month prepaid has no JKM
   scholarship (36 months, PP 82/2019).
4. Monev's active count leaves out the dead and the retired, even paid through the month.
5. Enrolment with JHT is priced Rp36,800 (Permenaker 5/2021) and covered from the first month.
6. claimStats and coverageTrend for a whole year not ended: to clamped to today, the current month month-to-date.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import insert, select, update
from strawberry.relay import from_base64, to_base64

from domain.beneficiaries.models import PovertyBeneficiary
from domain.monev.periods import Month, today
from domain.participants.models import Contribution, Employer, Participant, ParticipantProgram
from domain.participants.months import month_end, month_number, month_start
from domain.participants.rules import Program, Segment
from tests.writes.conftest import RECORD, backdate_registration, first_of_month, price_of, unlinked_beneficiary
from tests.writes.test_claims import child, heir, move, participant, submit

TODAY = dt.date.today()
WAGE = "5000000"  # below every year's JP wage cap, so a month costs the same in every year since 2015


async def _pid(global_id: str) -> int:
    return int(from_base64(global_id)[1])


async def _employer(writes: Any) -> str:
    async with writes.engine.connect() as conn:
        number = await conn.scalar(
            select(Employer.registration_number).where(Employer.regency_code == "52.71").order_by(Employer.id).limit(1)
        )
    assert number is not None, "the seeded data has employers in 52.71"
    return str(number)


async def _set_history(writes: Any, global_id: str, registered: dt.date, since: dict[Program, dt.date]) -> None:
    """Test set-up of a long history: registered on `registered`, each programme held since its date."""
    pid = await _pid(global_id)
    async with writes.engine.begin() as conn:
        at = dt.datetime(registered.year, registered.month, registered.day, tzinfo=dt.UTC)
        await conn.execute(update(Participant).where(Participant.id == pid).values(registered_at=at))
        for program, day in since.items():
            await conn.execute(
                update(ParticipantProgram)
                .where(ParticipantProgram.participant_id == pid, ParticipantProgram.program == program)
                .values(since=day)
            )


async def _pay(
    writes: Any, staff: dict[str, Any], global_id: str, first: dt.date, months: int, payer: str = "EMPLOYER"
) -> None:
    """Record `months` months from `first` at the rule table's price, in payments of at most 120 months."""
    price = await price_of(writes, global_id)
    done = 0
    while done < months:
        n = min(120, months - done)
        start = month_start(month_number(first) + done)
        item = {
            "participantId": global_id,
            "months": n,
            "amount": str(price * n),
            "payer": payer,
            "reference": f"REG22-{global_id}-{start:%Y%m}",
            "fromMonth": start.isoformat(),
        }
        body = await writes.gql(RECORD, {"input": [item]}, staff["verifier"])
        assert body["data"]["recordContributions"]["errors"] == [], body
        done += n


async def _jp_member(
    writes: Any, register: Any, staff: dict[str, Any], new_nik: Callable[..., str], birth: dt.date, incident: dt.date
) -> dict[str, Any]:
    """A PU member holding JP, registered in 2016, paid for every month from 2016 through the incident's month."""
    nik = new_nik(birth=birth)
    p = (
        await register(
            nik,
            segment="PU",
            fundingSource="EMPLOYER",
            monthlyWage=WAGE,
            birthDate=birth.isoformat(),
            employerRegistrationNumber=await _employer(writes),
            programs=["JKK", "JKM", "JHT", "JP"],
        )
    )["participant"]
    assert p is not None
    start = dt.date(2016, 1, 1)
    await _set_history(
        writes, p["id"], start, dict.fromkeys((Program.JKK, Program.JKM, Program.JHT, Program.JP), start)
    )
    await _pay(writes, staff, p["id"], start, month_number(incident) - month_number(start) + 1)
    return p


def _retire(global_id: str, incident: dt.date) -> dict[str, Any]:
    return {
        "participantId": global_id,
        "program": "JP",
        "cause": "RETIREMENT",
        "incidentDate": incident.isoformat(),
        "amountClaimed": "18500000",
    }


def _years_before(day: dt.date, years: int) -> dt.date:
    return day.replace(year=day.year - years)


# (incident, the JP pension age then by PP 45/2015 art. 15)
JP_AGES = [
    (dt.date(2018, 6, 15), 56),  # art. 15(1): 56 at first
    (dt.date(2019, 3, 15), 57),  # art. 15(2): 57 from 1 January 2019
    (dt.date(2021, 12, 15), 57),
    (dt.date(2022, 3, 15), 58),  # art. 15(3): one year more every three years
    (dt.date(2025, 3, 15), 59),
    (TODAY - dt.timedelta(days=3), 59),  # 2025-2027: 59 (60 from 2028: tests/domain/test_claim_rules.py)
]


@pytest.mark.parametrize(("incident", "age"), JP_AGES)
async def test_jp_retirement_needs_the_pension_age_of_the_incident_year(
    writes: Any,
    register: Any,
    staff: dict[str, Any],
    new_nik: Callable[..., str],
    incident: dt.date,
    age: int,
) -> None:
    # Reaching the age on the incident date: paid (as a lump sum: nobody has 180 JP months before 2030).
    ready = await _jp_member(writes, register, staff, new_nik, _years_before(incident, age), incident)
    accepted = await submit(writes, staff["verifier"], **_retire(ready["id"], incident))
    assert accepted["errors"] == []
    assert [b["kind"] for b in accepted["claim"]["benefits"]] == ["LUMP_SUM"]
    # One day short of it: too early.
    short = _years_before(incident, age) + dt.timedelta(days=1)
    young = await _jp_member(writes, register, staff, new_nik, short, incident)
    refused = await submit(writes, staff["verifier"], **_retire(young["id"], incident))
    assert [e["code"] for e in refused["errors"]] == ["NOT_ELIGIBLE"]
    assert f"age {age}" in refused["errors"][0]["message"]
    assert "PP 45/2015" in refused["errors"][0]["message"]
    if age > 56:
        # JHT keeps 56 (PP 46/2015): the same member's JHT old-age benefit is due.
        jht = await submit(writes, staff["verifier"], **{**_retire(young["id"], incident), "program": "JHT"})
        assert jht["errors"] == []


async def test_jp_months_are_months_of_jp_not_of_the_ledger(
    writes: Any, register: Any, staff: dict[str, Any], new_nik: Callable[..., str]
) -> None:
    """312 JHT months since 1998, JP only since its start (2015-07-01): a lump sum, not a monthly pension."""
    incident = TODAY - dt.timedelta(days=2)
    birth = _years_before(incident, 60)
    p = (
        await register(
            new_nik(birth=birth),
            segment="PU",
            fundingSource="EMPLOYER",
            monthlyWage=WAGE,
            birthDate=birth.isoformat(),
            employerRegistrationNumber=await _employer(writes),
            programs=["JKK", "JKM", "JHT", "JP"],
        )
    )["participant"]
    jp_start = dt.date(2015, 7, 1)
    since = {Program.JKK: dt.date(1998, 1, 1), Program.JKM: dt.date(1998, 1, 1), Program.JHT: dt.date(1998, 1, 1)}
    await _set_history(writes, p["id"], dt.date(1998, 1, 1), {**since, Program.JP: jp_start})
    # The months before the contribution rules (before July 2015): an opening balance, as the ledger's migration
    # records one (amount 0, programmes not recorded).
    pid = await _pid(p["id"])
    first, last = month_number(dt.date(1998, 1, 1)), month_number(jp_start) - 1
    async with writes.engine.begin() as conn:
        await conn.execute(
            insert(Contribution).values(
                participant_id=pid, first_month=first, last_month=last, months=last - first + 1,
                period_from=month_start(first), period_to=month_end(last), amount=Decimal(0), programs="",
                payer="EMPLOYER", reference=f"OPENING-REG22-{pid}", received_at=dt.datetime(2015, 7, 1, tzinfo=dt.UTC),
                recorded_at=dt.datetime(2015, 7, 1, tzinfo=dt.UTC), recorded_by="test", price_rule=None,
            )
        )  # fmt: skip
    jp_months = month_number(incident) - month_number(jp_start) + 1
    await _pay(writes, staff, p["id"], jp_start, jp_months)
    member = await participant(writes, staff["verifier"], p["id"])
    assert member["contributionMonths"] == (last - first + 1) + jp_months  # 210 + JP's months: over 180
    assert member["contributionMonths"] >= 180 > jp_months
    result = await submit(writes, staff["verifier"], **_retire(p["id"], incident))
    assert result["errors"] == []
    assert [b["kind"] for b in result["claim"]["benefits"]] == ["LUMP_SUM"]


async def _bpu_with_history(
    writes: Any, register: Any, staff: dict[str, Any], new_nik: Callable[..., str], months_to_death: int, prepaid: int
) -> dict[str, Any]:
    """A BPU worker paid for `months_to_death` months up to this month and `prepaid` months beyond it."""
    p = (await register(new_nik()))["participant"]
    await backdate_registration(writes, p["id"], months_to_death + 1)
    await _pay(writes, staff, p["id"], first_of_month(months_to_death - 1), months_to_death + prepaid, payer="SELF")
    return p


async def test_a_death_at_35_months_with_one_prepaid_month_has_no_jkm_scholarship(
    writes: Any, register: Any, staff: dict[str, Any], new_nik: Callable[..., str]
) -> None:
    """PP 82/2019: JKM scholarships after 36 contribution months, counted up to the month of the death."""
    p = await _bpu_with_history(writes, register, staff, new_nik, 35, 1)
    assert (await participant(writes, staff["verifier"], p["id"]))["contributionMonths"] == 36  # with the prepaid
    death = {"participantId": p["id"], "program": "JKM", "cause": "DEATH", "incidentDate": TODAY.isoformat()}
    refused = await submit(
        writes, staff["verifier"], **death, recipients=[heir(8221)], scholarshipChildren=[child(8222, "SD")]
    )
    assert [e["code"] for e in refused["errors"]] == ["NOT_ELIGIBLE"]
    assert "36 contribution months" in refused["errors"][0]["message"]
    assert "has 35" in refused["errors"][0]["message"]
    # The death benefit itself needs no minimum: Rp42,000,000.
    paid = await submit(writes, staff["verifier"], **death, recipients=[heir(8221)])
    assert paid["errors"] == []
    assert sum(Decimal(b["amount"]) for b in paid["claim"]["benefits"]) == Decimal(42_000_000)
    # 36 months up to the death: the scholarship is paid (SD Rp1,500,000 a year).
    q = await _bpu_with_history(writes, register, staff, new_nik, 36, 0)
    ok = await submit(
        writes, staff["verifier"], **{**death, "participantId": q["id"]}, recipients=[heir(8223)],
        scholarshipChildren=[child(8224, "SD")],
    )  # fmt: skip
    assert ok["errors"] == []
    assert [Decimal(b["amount"]) for b in ok["claim"]["benefits"] if b["kind"] == "SCHOLARSHIP"] == [Decimal(1_500_000)]


COVERAGE = """query($code: String!) { coverage(regionCode: $code) { month complete activeParticipants
  bySegment { segment active } } }"""
UPDATE = """mutation($id: ID!, $input: UpdateParticipantInput!, $reason: String!) {
  updateParticipant(id: $id, input: $input, reason: $reason) { participant { status } errors { code message } } }"""


async def _active(writes: Any, staff: dict[str, Any], code: str) -> int:
    body = await writes.gql(COVERAGE, {"code": code}, staff["admin"])
    assert "errors" not in body, body
    coverage = body["data"]["coverage"]
    assert coverage["complete"] is False  # the current month: month-to-date
    return int(coverage["activeParticipants"])


async def _pay_jkm_death(writes: Any, staff: dict[str, Any], global_id: str, heir: dict[str, Any]) -> None:
    """A JKM death today, through the whole workflow: submitted and verified by one officer, approved by
    another, paid."""
    claim = (
        await submit(
            writes, staff["verifier"], participantId=global_id, program="JKM", cause="DEATH",
            incidentDate=TODAY.isoformat(), recipients=[heir],
        )
    )["claim"]  # fmt: skip
    claim = (await move(writes, staff["verifier"], "verify", claim))["data"]["r"]["claim"]
    claim = (await move(writes, staff["supervisor"], "approve", claim))["data"]["r"]["claim"]
    assert (await move(writes, staff["verifier"], "pay", claim))["data"]["r"]["errors"] == []


async def test_the_dead_and_the_retired_are_not_active_in_monev(
    writes: Any, register: Any, staff: dict[str, Any], new_nik: Callable[..., str]
) -> None:
    """Active = paid through the month and alive and not retired at its end: from the rollups (a district, seen
    whole) and from the base tables (a village) alike."""
    village, district = "52.71.02.1001", "52.71.02"
    before = {code: await _active(writes, staff, code) for code in (village, district)}
    people = []
    for _ in range(2):
        p = (await register(new_nik(), regionCode=village))["participant"]
        await _pay(writes, staff, p["id"], first_of_month(0), 2, payer="SELF")  # this month and the next
        people.append(p)
    assert {code: await _active(writes, staff, code) for code in before} == {c: n + 2 for c, n in before.items()}
    dead, retired = people
    await _pay_jkm_death(writes, staff, dead["id"], heir(8231))
    assert (await participant(writes, staff["verifier"], dead["id"]))["status"] == "DECEASED"
    version = (await participant(writes, staff["verifier"], retired["id"]))["version"]
    body = await writes.gql(
        UPDATE,
        {
            "id": retired["id"],
            "input": {"status": "RETIRED", "expectedVersion": version, "reasonCode": "OTHER"},
            "reason": "pensiun pada usia 56 (PP 46/2015)",
        },
        staff["verifier"],
    )
    assert body["data"]["updateParticipant"]["errors"] == [], body
    # Both still paid through next month; neither is covered.
    for p in people:
        assert (await participant(writes, staff["verifier"], p["id"]))["paidThrough"] == month_end(
            month_number(TODAY) + 1
        ).isoformat()
    assert {code: await _active(writes, staff, code) for code in before} == before


ENROL = """mutation($id: ID!, $programs: [Program!]) {
  enrollBeneficiary(beneficiaryId: $id, programs: $programs) {
    created monthlyContribution errors { field code message }
    participant { id status paidThrough programs { program } } } }"""


@pytest.fixture(scope="session")
def enrolment_writes(own_writes: Callable[[str], Any]) -> Any:
    """A database of its own: the shared one may have no working-age extreme-poor people left (``own_writes``)."""
    return own_writes("regulations_enrolment")


async def test_enrolment_with_jht_is_priced_and_covered_from_the_first_month(
    enrolment_writes: Any, staff: dict[str, Any]
) -> None:
    """Permenaker 5/2021: JKK 1 % + JKM Rp6,800 + JHT 2 % of the declared Rp1,000,000 = Rp36,800 a month."""
    writes = enrolment_writes
    b = await unlinked_beneficiary(writes.engine, extreme=True, newest_first=True)
    body = await writes.gql(
        ENROL, {"id": to_base64("PovertyBeneficiary", b.id), "programs": ["JKK", "JKM", "JHT"]}, staff["officer_5203"]
    )
    enrolled = body["data"]["enrollBeneficiary"]
    assert enrolled["errors"] == []
    assert enrolled["monthlyContribution"] == "36800"
    p = enrolled["participant"]
    assert {x["program"] for x in p["programs"]} == {"JKK", "JKM", "JHT"}
    assert p["status"] == "ACTIVE"
    assert p["paidThrough"] == month_end(month_number(TODAY)).isoformat()
    async with writes.engine.connect() as conn:
        pid = await _pid(p["id"])
        row = (await conn.execute(select(Contribution).where(Contribution.participant_id == pid))).one()
        wage = await conn.scalar(select(Participant.monthly_wage).where(Participant.id == pid))
    assert (row.months, row.amount, str(row.payer), row.programs) == (1, Decimal(36800), "APBD", "JHT JKK JKM")
    assert wage == Decimal(1_000_000)  # the package's declared income: the wage of a JKK benefit
    # Covered at once: a death this month is a JKM claim, not NOT_COVERED.
    death = await submit(
        writes, staff["officer_5203"], participantId=p["id"], program="JKM", cause="DEATH",
        incidentDate=TODAY.isoformat(), recipients=[heir(8241)],
    )  # fmt: skip
    assert death["errors"] == []


async def test_a_package_the_rules_do_not_price_is_refused(writes: Any, staff: dict[str, Any]) -> None:
    async with writes.engine.connect() as conn:
        b = (
            await conn.execute(
                select(PovertyBeneficiary.id)
                .where(PovertyBeneficiary.participant_id.is_(None), PovertyBeneficiary.regency_code == "52.03")
                .limit(1)
            )
        ).scalar_one()
    body = await writes.gql(
        ENROL, {"id": to_base64("PovertyBeneficiary", b), "programs": ["JKK", "JKM", "JP"]}, staff["officer_5203"]
    )
    enrolled = body["data"]["enrollBeneficiary"]
    assert "PROGRAM_NOT_ALLOWED" in [e["code"] for e in enrolled["errors"]]
    assert enrolled["participant"] is None


CLAIM_STATS = """query($from: Date!, $to: Date!) {
  claimStats(regionCode: "52", program: JKM, from: $from, to: $to) { month asOf complete submitted } }"""
TREND = """query($from: Date!, $to: Date!) {
  coverageTrend(regionCode: "52", from: $from, to: $to) { month asOf complete activeParticipants } }"""


async def test_claim_stats_for_a_whole_year_not_ended(writes: Any, staff: dict[str, Any]) -> None:
    now = today()
    year = {"from": f"{now.year}-01-01", "to": f"{now.year}-12-31"}
    rows = (await writes.gql(CLAIM_STATS, year, staff["admin"]))["data"]["claimStats"]
    assert [r["month"] for r in rows] == [m.key for m in Month(now.year, 1).until(Month.of(now))]
    *ended, current = rows
    assert current["complete"] is False
    assert current["asOf"] == now.isoformat()
    assert all(r["complete"] for r in ended)
    assert [r["asOf"] for r in ended] == [m.last_day.isoformat() for m in Month(now.year, 1).until(Month.of(now))[:-1]]
    trend = (await writes.gql(TREND, year, staff["admin"]))["data"]["coverageTrend"]
    assert [(r["month"], r["complete"], r["asOf"]) for r in trend] == [
        (r["month"], r["complete"], r["asOf"]) for r in rows
    ]
    # A year that has not begun is still refused, on `from`.
    future = await writes.gql(
        CLAIM_STATS, {"from": f"{now.year + 1}-01-01", "to": f"{now.year + 1}-12-31"}, staff["admin"]
    )
    assert future["errors"][0]["extensions"]["field"] == "from"


LEDGER = """query($id: ID!) { node(id: $id) { ... on Participant { segment monthlyWage
  contributions(first: 50) { edges { node { months from amount payer programs reference } } } } } }"""


async def test_the_seeded_ledger_costs_what_the_rule_table_says(writes: Any, staff: dict[str, Any]) -> None:
    """The demo's payments, read through the API: each priced one is the months times the rule table's price of
    its programmes (BPU: JKK 1 % + JKM Rp6,800 (+ JHT 2 %) of the declared income), paid by the funder."""
    from domain.participants.contributions import monthly_price

    async with writes.engine.connect() as conn:
        ids = (
            await conn.execute(
                select(Participant.id)
                .where(Participant.segment == "BPU", Participant.funding_source.in_(("APBD", "SELF")))
                .where(
                    Participant.id.in_(select(Contribution.participant_id).where(Contribution.reference.like("DEMO-%")))
                )
                .order_by(Participant.id)
                .limit(12)
            )
        ).scalars()
        wanted = list(ids)
    assert wanted
    checked = 0
    for pid in wanted:
        body = await writes.gql(LEDGER, {"id": to_base64("Participant", pid)}, staff["admin"])
        assert "errors" not in body, body
        p = body["data"]["node"]
        for c in (edge["node"] for edge in p["contributions"]["edges"]):
            if not c["reference"].startswith("DEMO-") or c["reference"].startswith("DEMO-OPENING-"):
                continue
            price = monthly_price(
                Segment(p["segment"]),
                frozenset(Program(x) for x in c["programs"]),
                dt.date.fromisoformat(c["from"]),
                wage=Decimal(p["monthlyWage"]) if p["monthlyWage"] else None,
            )
            assert Decimal(c["amount"]) == price.amount * c["months"] > 0, c
            checked += 1
    assert checked


async def test_months_paid_beyond_a_paid_death_are_flagged_for_refund_not_coverage(
    writes: Any, register: Any, staff: dict[str, Any], new_nik: Callable[..., str]
) -> None:
    """A JKM death this month with two months prepaid: the death's audit event names the two months to refund,
    and no further month can be paid."""
    from domain.audit.models import AuditEvent

    p = (await register(new_nik()))["participant"]
    await _pay(writes, staff, p["id"], first_of_month(0), 3, payer="SELF")
    price = await price_of(writes, p["id"])
    await _pay_jkm_death(writes, staff, p["id"], heir(8261))
    async with writes.engine.connect() as conn:
        changes = (
            await conn.execute(
                select(AuditEvent.changes).where(
                    AuditEvent.entity_type == "Participant",
                    AuditEvent.entity_id == str(await _pid(p["id"])),
                    AuditEvent.action == "participant.death",
                )
            )
        ).scalar_one()
    [due] = changes["refund_due"]["after"]
    assert (due["from"], due["months"], Decimal(due["amount"])) == (
        month_start(month_number(TODAY) + 1).isoformat(),
        "2",
        price * 2,
    )
    item = {
        "participantId": p["id"], "months": 1, "amount": str(price), "payer": "SELF",
        "reference": f"REG22-AFTER-{p['id']}", "fromMonth": month_start(month_number(TODAY) + 3).isoformat(),
    }  # fmt: skip
    body = await writes.gql(RECORD, {"input": [item]}, staff["verifier"])
    assert "PARTICIPANT_DECEASED" in [e["code"] for e in body["data"]["recordContributions"]["errors"]]
