"""The contribution ledger through GraphQL: recordContributions, enrolment's first APBD month, the figures derived
from the ledger, and the bad input it refuses. Runs on SQLite and, with JAMSOS_TEST_POSTGRES_URL, PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.relay import to_base64

from domain.beneficiaries.models import PovertyBeneficiary
from domain.participants.models import Contribution, Participant
from domain.participants.months import month_number
from tests.writes.conftest import RECORD, backdate_registration, first_of_month

TODAY = dt.date.today()
THIS_MONTH = TODAY.replace(day=1)
MONTH_END = (THIS_MONTH + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
PACKAGE = Decimal(16_800)  # JKK Rp10,000 + JKM Rp6,800 (Permenaker 5/2021)

ENROL = """
mutation($id: ID!) { enrollBeneficiary(beneficiaryId: $id) {
  created monthlyContribution errors { field code message }
  participant { id status paidThrough contributionMonths fundingSource monthlyWage } } }"""
LEDGER = """
query($id: ID!) { participant(id: $id) { id status paidThrough contributionMonths recentContributionMonths
  contributions(first: 100) { totalCount edges { node { months from to amount payer payerRegionCode reference
  programs } } } } }"""
SUBMIT = """
mutation($input: SubmitClaimInput!) { submitClaim(input: $input) {
  claim { id version status benefits { kind amount educationLevel } } errors { field code message } } }"""


_registry_serials = iter(range(8601, 8700))


async def _beneficiary(writes: Any, *, adult: bool) -> PovertyBeneficiary:
    """A new extreme-poor P3KE record in Lombok Timur, as the registry import brings it (test set-up: the
    tiny data set has too few unmatched ones for every test)."""
    from domain.beneficiaries.models import BeneficiarySource
    from domain.nik import Sex, build_nik

    birth = dt.date(1984, 2, 9) if adult else TODAY.replace(year=TODAY.year - 12, day=1)
    nik = build_nik("52.03.01", birth, Sex.M, next(_registry_serials))
    async with AsyncSession(writes.engine, expire_on_commit=False) as session, session.begin():
        row = PovertyBeneficiary(
            nik=nik,
            family_card_number=None,
            full_name="Lalu Ahmad Fauzi",
            birth_date=birth,
            sex=Sex.M,
            decile=1,
            extreme_poor=True,
            source=BeneficiarySource.P3KE,
            snapshot_date=dt.date(2025, 12, 31),
            participant_id=None,
            region_code="52.03.01.2001",
            province_code="52",
            regency_code="52.03",
            district_code="52.03.01",
        )
        session.add(row)
    return row


async def _enrol(writes: Any, staff: dict[str, Any]) -> dict[str, Any]:
    b = await _beneficiary(writes, adult=True)
    body = await writes.gql(ENROL, {"id": to_base64("PovertyBeneficiary", b.id)}, staff["dinsos_5203"])
    assert body.get("data"), body
    payload: dict[str, Any] = body["data"]["enrollBeneficiary"]
    assert payload["errors"] == [], payload
    assert payload["created"] is True
    async with AsyncSession(writes.engine) as session:
        pid = await session.scalar(select(Participant.id).where(Participant.nik == b.nik))
    body = await writes.gql(
        "query($id: ID!) { participant(id: $id) { id status paidThrough contributionMonths fundingSource "
        "monthlyWage } }",
        {"id": to_base64("Participant", pid)},
        staff["officer_5203"],
    )
    return {"participant": body["data"]["participant"]}


async def _ledger(writes: Any, staff: dict[str, Any], global_id: str, who: str = "officer_5203") -> dict[str, Any]:
    body = await writes.gql(LEDGER, {"id": global_id}, staff[who])
    result: dict[str, Any] = body["data"]["participant"]
    return result


def _spouse(serial: int) -> dict[str, Any]:
    from domain.nik import Sex, build_nik

    return {
        "name": "Inaq Rahmah",
        "nik": build_nik("52.03.01", dt.date(1985, 3, 4), Sex.F, serial),
        "relationship": "SPOUSE",
    }


# --- the table, first rows: an enrolled extreme-poor worker is covered at once ------------------------


async def test_enrolment_records_the_first_apbd_month_so_a_death_that_month_is_covered(
    writes: Any, staff: dict[str, Any]
) -> None:
    enrolled = (await _enrol(writes, staff))["participant"]
    assert enrolled["status"] == "ACTIVE"
    assert enrolled["paidThrough"] == MONTH_END.isoformat()
    assert enrolled["contributionMonths"] == 1
    ledger = await _ledger(writes, staff, enrolled["id"])
    [row] = [e["node"] for e in ledger["contributions"]["edges"]]
    assert (row["months"], row["from"], row["to"]) == (1, THIS_MONTH.isoformat(), MONTH_END.isoformat())
    assert (Decimal(row["amount"]), row["payer"], row["payerRegionCode"]) == (PACKAGE, "APBD", "52.03")
    assert row["programs"] == ["JKK", "JKM"]
    body = await writes.gql(
        SUBMIT,
        {
            "input": {
                "participantId": enrolled["id"],
                "program": "JKM",
                "cause": "DEATH",
                "incidentDate": TODAY.isoformat(),
                "recipients": [_spouse(6101)],
            }
        },
        staff["officer_5203"],
    )
    payload = body["data"]["submitClaim"]
    assert payload["errors"] == [], payload
    assert sum(Decimal(b["amount"]) for b in payload["claim"]["benefits"]) == Decimal(42_000_000)


async def test_jkk_death_of_an_enrolled_worker_uses_the_packages_declared_income(
    writes: Any, staff: dict[str, Any]
) -> None:
    enrolled = (await _enrol(writes, staff))["participant"]
    assert Decimal(enrolled["monthlyWage"]) == Decimal(1_000_000)
    body = await writes.gql(
        SUBMIT,
        {
            "input": {
                "participantId": enrolled["id"],
                "program": "JKK",
                "cause": "DEATH",
                "incidentDate": TODAY.isoformat(),
                "recipients": [_spouse(6102)],
            }
        },
        staff["officer_5203"],
    )
    payload = body["data"]["submitClaim"]
    assert payload["errors"] == [], payload
    assert [(b["kind"], Decimal(b["amount"])) for b in payload["claim"]["benefits"]] == [
        ("DEATH", Decimal(48_000_000)),  # 48 x Rp1,000,000
        ("PERIODIC", Decimal(12_000_000)),
        ("FUNERAL", Decimal(10_000_000)),
    ]


async def test_linking_a_lapsed_self_paying_worker_activates_them_with_the_apbd_payment(
    writes: Any, staff: dict[str, Any], register: Any, pay: Any
) -> None:
    # A self-paying worker in Lombok Timur who paid two months last year, then lapsed ...
    b = await _beneficiary(writes, adult=True)
    p = (await register(b.nik, caller="officer_5203", birthDate="1984-02-09", regionCode="52.03.01.2001"))[
        "participant"
    ]
    await backdate_registration(writes, p["id"], 14)
    await pay(p["id"], 2, from_month=first_of_month(14), caller="officer_5203")
    lapsed = await _ledger(writes, staff, p["id"])
    assert lapsed["status"] == "INACTIVE"
    assert lapsed["paidThrough"] < THIS_MONTH.isoformat()
    # ... is on the P3KE list; the social affairs office enrols them, and the APBD pays from this month.
    body = await writes.gql(ENROL, {"id": to_base64("PovertyBeneficiary", b.id)}, staff["dinsos_5203"])
    payload = body["data"]["enrollBeneficiary"]
    assert payload["errors"] == [], payload
    assert payload["created"] is False
    ledger = await _ledger(writes, staff, p["id"])
    assert ledger["status"] == "ACTIVE"
    assert ledger["paidThrough"] == MONTH_END.isoformat()
    assert ledger["contributionMonths"] == 3
    latest = ledger["contributions"]["edges"][-1]["node"]
    assert (latest["from"], latest["payer"], latest["payerRegionCode"]) == (THIS_MONTH.isoformat(), "APBD", "52.03")


async def test_an_extreme_poor_child_is_not_enrolled(writes: Any, staff: dict[str, Any]) -> None:
    child = await _beneficiary(writes, adult=False)
    body = await writes.gql(ENROL, {"id": to_base64("PovertyBeneficiary", child.id)}, staff["dinsos_5203"])
    payload = body["data"]["enrollBeneficiary"]
    assert [e["code"] for e in payload["errors"]] == ["BELOW_WORKING_AGE"]
    assert payload["participant"] is None


async def test_a_ten_year_old_cannot_be_registered_as_a_worker(
    writes: Any, staff: dict[str, Any], new_nik: Callable[..., str]
) -> None:
    from domain.nik import Sex
    from tests.writes.conftest import REGISTER, registration

    birth = TODAY.replace(year=TODAY.year - 10, day=1)
    body = await writes.gql(
        REGISTER,
        {"input": registration(new_nik(birth=birth, sex=Sex.M), birthDate=birth.isoformat())},
        staff["verifier"],
    )
    payload = body["data"]["registerParticipant"]
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [("birthDate", "BELOW_WORKING_AGE")]


# --- recordContributions ---------------------------------------------------------------------------------


async def test_payments_derive_the_figures_and_a_repeat_changes_nothing(
    writes: Any, staff: dict[str, Any], register: Any, pay: Any, new_nik: Callable[..., str]
) -> None:
    p = (await register(new_nik()))["participant"]
    assert p["status"] == "INACTIVE"
    first = await pay(p["id"], 3, reference="BANK-LEDGER-0001")
    assert (first["recorded"], first["unchanged"]) == (1, 0)
    again = await pay(p["id"], 3, reference="BANK-LEDGER-0001")
    assert (again["recorded"], again["unchanged"]) == (0, 1)
    ledger = await _ledger(writes, staff, p["id"], "verifier")
    last = first_of_month(-2)
    assert ledger["paidThrough"] == ((last + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)).isoformat()
    assert (ledger["status"], ledger["contributionMonths"], ledger["recentContributionMonths"]) == ("ACTIVE", 3, 1)
    assert ledger["contributions"]["totalCount"] == 1
    # The next payment starts after the last month paid.
    await pay(p["id"], 1)
    rows = [e["node"] for e in (await _ledger(writes, staff, p["id"], "verifier"))["contributions"]["edges"]]
    assert rows[1]["from"] == first_of_month(-3).isoformat()


async def test_the_amount_must_be_the_price_times_the_months(
    writes: Any, staff: dict[str, Any], register: Any, new_nik: Callable[..., str]
) -> None:
    p = (await register(new_nik()))["participant"]
    item = {"participantId": p["id"], "months": 2, "amount": "16800", "payer": "SELF", "reference": "SLIP-A-1"}
    payload = (await writes.gql(RECORD, {"input": [item]}, staff["verifier"]))["data"]["recordContributions"]
    [error] = payload["errors"]
    assert (error["field"], error["code"]) == ("input[0].amount", "AMOUNT_MISMATCH")
    assert "Rp33,600" in error["message"]


async def test_a_reference_reused_for_another_participant_is_refused_and_nothing_is_written(
    writes: Any, staff: dict[str, Any], register: Any, pay: Any, new_nik: Callable[..., str]
) -> None:
    a = (await register(new_nik()))["participant"]
    b = (await register(new_nik()))["participant"]
    await pay(a["id"], 1, reference="SP2D-REUSED-1")
    async with writes.engine.connect() as conn:
        before = (await conn.execute(select(func.count()).select_from(Contribution))).scalar_one()
    items = [
        {"participantId": b["id"], "months": 1, "amount": "16800", "payer": "SELF", "reference": "SP2D-FRESH-1"},
        {"participantId": b["id"], "months": 1, "amount": "16800", "payer": "SELF", "reference": "SP2D-REUSED-1"},
    ]
    payload = (await writes.gql(RECORD, {"input": items}, staff["verifier"]))["data"]["recordContributions"]
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [("input[1].reference", "REFERENCE_REUSED")]
    assert payload["recorded"] == 0
    async with writes.engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(Contribution))).scalar_one() == before


async def test_bad_input_gets_a_code_per_item(
    writes: Any, staff: dict[str, Any], register: Any, new_nik: Callable[..., str]
) -> None:
    p = (await register(new_nik()))["participant"]

    def item(**overrides: Any) -> dict[str, Any]:
        values = {"participantId": p["id"], "months": 1, "amount": "16800", "payer": "SELF", "reference": "R"}
        return {**values, **overrides}

    cases = [
        (item(months=0, reference="R0"), "input[0].months", "INVALID_MONTHS"),
        (item(months=-3, amount="-50400", reference="R1"), "input[0].months", "INVALID_MONTHS"),
        (item(months=10**6, reference="R2"), "input[0].months", "INVALID_MONTHS"),
        (item(amount="1e20", reference="R3"), "input[0].amount", "INVALID_AMOUNT"),
        (item(amount="16800.001", reference="R3b"), "input[0].amount", "INVALID_AMOUNT"),
        (item(reference="x" * 5000), "input[0].reference", "TOO_LONG"),
        (item(months=14, amount=str(14 * PACKAGE), reference="R4"), "input[0].months", "TOO_FAR_AHEAD"),
        (item(payer="EMPLOYER", reference="R5"), "input[0].payer", "PAYER_NOT_ALLOWED"),
        (
            item(payer="APBD", payerRegionCode="52.03", reference="R6"),
            "input[0].payerRegionCode",
            "PAYER_OUT_OF_REGION",
        ),
        (item(payerRegionCode="52.71", reference="R7"), "input[0].payerRegionCode", "NOT_APPLICABLE"),
        (item(fromMonth=first_of_month(24).isoformat(), reference="R8"), "input[0].fromMonth", "BEFORE_REGISTRATION"),
        (item(receivedAt="2026-01-05T09:00:00", reference="R9"), "input[0].receivedAt", "NO_TIME_ZONE"),
        (item(receivedAt="2099-01-05T09:00:00+08:00", reference="R10"), "input[0].receivedAt", "IN_FUTURE"),
    ]
    for value, field, code in cases:
        body = await writes.gql(RECORD, {"input": [value]}, staff["verifier"])
        assert "errors" not in body, (code, body)
        payload = body["data"]["recordContributions"]
        assert (field, code) in {(e["field"], e["code"]) for e in payload["errors"]}, (code, payload)
        assert payload["recorded"] == 0
    # A month already paid, and the same reference twice in one batch.
    ok = item(reference="R11")
    assert (await writes.gql(RECORD, {"input": [ok]}, staff["verifier"]))["data"]["recordContributions"]["errors"] == []
    overlap = item(fromMonth=THIS_MONTH.isoformat(), reference="R12")
    payload = (await writes.gql(RECORD, {"input": [overlap]}, staff["verifier"]))["data"]["recordContributions"]
    assert [e["code"] for e in payload["errors"]] == ["MONTHS_ALREADY_PAID"]
    twice = [item(reference="R13"), item(reference="R13")]
    payload = (await writes.gql(RECORD, {"input": twice}, staff["verifier"]))["data"]["recordContributions"]
    assert [e["code"] for e in payload["errors"]] == ["DUPLICATE_REFERENCE"]
    # Wrong types never reach the resolver.
    for wrong in ({**ok, "months": 1.5}, {**ok, "months": "two"}, {**ok, "amount": "lots"}, {**ok, "payer": "BANK"}):
        body = await writes.gql(RECORD, {"input": [wrong]}, staff["verifier"])
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", body


async def test_out_of_region_and_oversized_batches(
    writes: Any, staff: dict[str, Any], register: Any, new_nik: Callable[..., str]
) -> None:
    p = (await register(new_nik()))["participant"]
    item = {"participantId": p["id"], "months": 1, "amount": "16800", "payer": "SELF", "reference": "OOR-1"}
    body = await writes.gql(RECORD, {"input": [item]}, staff["officer_5203"])
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert "not visible" in body["errors"][0]["message"]
    many = [{**item, "reference": f"BULK-{i}"} for i in range(1001)]
    body = await writes.gql(RECORD, {"input": many}, staff["verifier"])
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "at most 1000" in body["errors"][0]["message"]
    reader = await writes.gql(RECORD, {"input": [item]}, staff["analyst_5203"])
    assert reader["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_one_apbd_payment_for_a_whole_enrolled_list(
    writes: Any, staff: dict[str, Any], register: Any, new_nik: Callable[..., str]
) -> None:
    people = [(await register(new_nik(), fundingSource="APBD"))["participant"] for _ in range(3)]
    items = [
        {"participantId": p["id"], "months": 1, "amount": "16800", "payer": "APBD", "reference": f"SP2D-5271-{i}"}
        for i, p in enumerate(people)
    ]
    payload = (await writes.gql(RECORD, {"input": items}, staff["verifier"]))["data"]["recordContributions"]
    assert payload["errors"] == []
    assert payload["recorded"] == 3
    assert {c["payerRegionCode"] for c in payload["contributions"]} == {"52.71"}  # the officer's own region


async def test_no_payment_after_the_death(
    writes: Any, staff: dict[str, Any], register: Any, pay: Any, new_nik: Callable[..., str]
) -> None:
    p = (await register(new_nik()))["participant"]
    await pay(p["id"], 1)
    claim = (
        await writes.gql(
            SUBMIT,
            {
                "input": {
                    "participantId": p["id"],
                    "program": "JKM",
                    "cause": "DEATH",
                    "incidentDate": TODAY.isoformat(),
                    "recipients": [_spouse(6103)],
                }
            },
            staff["verifier"],
        )
    )["data"]["submitClaim"]["claim"]
    await _pay_claim(writes, staff, claim)
    after = await pay(p["id"], 1, check=False)
    assert [e["code"] for e in after["errors"]] == ["PARTICIPANT_DECEASED"]


async def _pay_claim(writes: Any, staff: dict[str, Any], claim: dict[str, Any]) -> dict[str, Any]:
    version = claim["version"]
    for name, who, extra in (
        ("verifyClaim", "verifier", ""),
        ("approveClaim", "supervisor", ""),
        ("payClaim", "verifier", ', paymentReference: "BNI-DEATH-1"'),
    ):
        body = await writes.gql(
            f"mutation($id: ID!, $v: Int!) {{ r: {name}(id: $id, expectedVersion: $v{extra}) "
            "{ claim { id version status } errors { code message } } }",
            {"id": claim["id"], "v": version},
            staff[who],
        )
        assert body["data"]["r"]["errors"] == [], body
        version = body["data"]["r"]["claim"]["version"]
    result: dict[str, Any] = body["data"]["r"]["claim"]
    return result


# --- the recount: the figures are what the ledger says ------------------------------------------------------


async def test_every_participants_figures_recount_from_the_ledger(writes: Any) -> None:
    """Whatever the tests above and the demo seed wrote, the stored figures equal a recount of the ledger."""
    current = month_number(TODAY)
    async with AsyncSession(writes.engine) as session:
        stored = {
            r.id: r
            for r in (
                await session.execute(
                    select(
                        Participant.id,
                        Participant.paid_through,
                        Participant.contribution_months,
                        Participant.recent_contribution_months,
                        Participant.status,
                    )
                )
            ).all()
        }
        rows = (await session.execute(select(Contribution.participant_id, Contribution.first_month,
                                             Contribution.last_month, Contribution.period_to))).all()  # fmt: skip
    ledger: dict[int, list[Any]] = {}
    for row in rows:
        ledger.setdefault(row.participant_id, []).append(row)
    assert len(stored) >= 200  # the tiny seed, and whatever the other tests registered
    for pid, p in stored.items():
        mine = ledger.get(pid, [])
        months = sum(r.last_month - r.first_month + 1 for r in mine)
        recent = sum(max(0, min(r.last_month, current) - max(r.first_month, current - 23) + 1) for r in mine)
        last = max((r.last_month for r in mine), default=None)
        assert p.contribution_months == months, pid
        assert p.recent_contribution_months == recent, pid
        assert p.paid_through == max((r.period_to for r in mine), default=None), pid
        if p.status in ("ACTIVE", "INACTIVE"):
            assert p.status == ("ACTIVE" if last is not None and last >= current else "INACTIVE"), pid
