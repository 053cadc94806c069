"""The benefit rules through GraphQL, with the regulations' figures: one death per person, scholarships, the
JKK lines, JHT leaving the country, and corrections that need a reason and cannot type in derived figures."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from domain.nik import Sex, build_nik
from tests.writes.conftest import backdate_registration, first_of_month

TODAY = dt.date.today()
SUBMIT = """
mutation($input: SubmitClaimInput!) { submitClaim(input: $input) {
  claim { id version status benefits { kind amount educationLevel } } errors { field code message } } }"""
UPDATE = """
mutation($id: ID!, $input: UpdateParticipantInput!, $reason: String!) {
  updateParticipant(id: $id, input: $input, reason: $reason) {
    participant { id version status paidThrough } errors { field code message } } }"""
PERSON = "query($id: ID!) { participant(id: $id) { id version status diedOn paidThrough } }"


@pytest.fixture
def insured(register: Any, pay: Any, writes: Any, new_nik: Callable[..., str]) -> Callable[..., Any]:
    """A BPU worker in 52.71 covered this month and next, with `months` months in the ledger."""

    async def make(months: int = 40, **overrides: Any) -> dict[str, Any]:
        p: dict[str, Any] = (await register(new_nik(), **overrides))["participant"]
        await backdate_registration(writes, p["id"], months)
        await pay(p["id"], months, from_month=first_of_month(months - 2))
        return p

    return make


_serials = iter(range(7401, 7600))


def heir() -> dict[str, Any]:
    return {"name": "Baiq Sri", "nik": build_nik("52.71.01", dt.date(1988, 4, 2), Sex.F, next(_serials)),
            "relationship": "SPOUSE"}  # fmt: skip


def child(level: str, birth: dt.date = dt.date(2014, 6, 7), **extra: Any) -> dict[str, Any]:
    nik = build_nik("52.71.02", birth, Sex.M, next(_serials))
    return {"name": "Lalu Rizki", "nik": nik, "educationLevel": level, **extra}


async def submit(writes: Any, staff: dict[str, Any], **input_: Any) -> dict[str, Any]:
    body = await writes.gql(SUBMIT, {"input": input_}, staff["verifier"])
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["submitClaim"]
    return result


async def pay_claim(writes: Any, staff: dict[str, Any], claim: dict[str, Any]) -> None:
    version = claim["version"]
    for name, who, extra in (
        ("verifyClaim", "verifier", ""),
        ("approveClaim", "supervisor", ""),
        ("payClaim", "verifier", ', paymentReference: "BNI-2026-7"'),
    ):
        body = await writes.gql(
            f"mutation($id: ID!, $v: Int!) {{ r: {name}(id: $id, expectedVersion: $v{extra}) "
            "{ claim { version } errors { code } } }",
            {"id": claim["id"], "v": version},
            staff[who],
        )
        assert body["data"]["r"]["errors"] == [], body
        version = body["data"]["r"]["claim"]["version"]


def codes(payload: dict[str, Any]) -> list[str]:
    return [e["code"] for e in payload["errors"]]


# --- deaths -----------------------------------------------------------------------------------------------


async def test_a_paid_death_marks_the_participant_deceased_and_refuses_the_other_death_benefit(
    writes: Any, staff: dict[str, Any], insured: Any
) -> None:
    p = await insured(months=12, monthlyWage="3000000")
    died = TODAY - dt.timedelta(days=3)
    death = {"participantId": p["id"], "incidentDate": died.isoformat(), "cause": "DEATH"}
    jkm = await submit(writes, staff, **death, program="JKM", recipients=[heir()])
    assert jkm["errors"] == []
    await pay_claim(writes, staff, jkm["claim"])
    person = (await writes.gql(PERSON, {"id": p["id"]}, staff["verifier"]))["data"]["participant"]
    assert (person["status"], person["diedOn"]) == ("DECEASED", died.isoformat())
    jkk = await submit(writes, staff, **death, program="JKK", recipients=[heir()])
    assert codes(jkk) == ["DEATH_ALREADY_CLAIMED"]
    assert jkk["claim"] is None
    accident = await submit(
        writes, staff, participantId=p["id"], program="JKK", cause="WORK_ACCIDENT",
        incidentDate=TODAY.isoformat(), amountClaimed="2500000",
    )  # fmt: skip
    assert codes(accident) == ["PARTICIPANT_DECEASED"]  # dated after the death, by any cause but the death


# --- JKK ------------------------------------------------------------------------------------------------


async def test_jkk_death_pays_scholarships_without_the_36_month_condition(
    writes: Any, staff: dict[str, Any], insured: Any
) -> None:
    p = await insured(months=3, monthlyWage="2000000")
    result = await submit(
        writes, staff, participantId=p["id"], program="JKK", cause="DEATH", incidentDate=TODAY.isoformat(),
        recipients=[heir()], scholarshipChildren=[child("SD")],
    )  # fmt: skip
    assert result["errors"] == [], result
    assert [(b["kind"], Decimal(b["amount"])) for b in result["claim"]["benefits"]] == [
        ("DEATH", Decimal(96_000_000)),
        ("PERIODIC", Decimal(12_000_000)),
        ("FUNERAL", Decimal(10_000_000)),
        ("SCHOLARSHIP", Decimal(1_500_000)),
    ]
    jkm = await insured(months=3)
    refused = await submit(
        writes, staff, participantId=jkm["id"], program="JKM", cause="DEATH", incidentDate=TODAY.isoformat(),
        recipients=[heir()], scholarshipChildren=[child("SD")],
    )  # fmt: skip
    assert codes(refused) == ["NOT_ELIGIBLE"]  # JKM scholarships need 36 months


async def test_jkk_temporary_inability_is_full_wage_for_12_months_then_half(
    writes: Any, staff: dict[str, Any], insured: Any
) -> None:
    p = await insured(months=6, monthlyWage="3000000")
    result = await submit(
        writes, staff, participantId=p["id"], program="JKK", cause="WORK_ACCIDENT", incidentDate=TODAY.isoformat(),
        amountClaimed="4000000", inabilityMonths=14,
    )  # fmt: skip
    assert result["errors"] == [], result
    assert [(b["kind"], Decimal(b["amount"])) for b in result["claim"]["benefits"]] == [
        ("MEDICAL", Decimal(4_000_000)),
        ("TEMPORARY_INABILITY", Decimal(39_000_000)),  # 12 x 3M + 2 x 1.5M
    ]
    nothing = await submit(
        writes, staff, participantId=p["id"], program="JKK", cause="WORK_ACCIDENT", incidentDate=TODAY.isoformat()
    )
    assert codes(nothing) == ["REQUIRED"]


# --- JHT --------------------------------------------------------------------------------------------------


async def test_jht_when_leaving_the_country_is_a_cause_of_its_own(
    writes: Any, staff: dict[str, Any], insured: Any
) -> None:
    p = await insured(months=24, programs=["JKK", "JKM", "JHT"])
    common = {"participantId": p["id"], "program": "JHT", "incidentDate": TODAY.isoformat(), "amountClaimed": "900000"}
    leaving_job = await submit(writes, staff, **common, cause="RESIGNATION")
    assert codes(leaving_job) == ["TOO_EARLY"]  # the one-month wait
    leaving_country = await submit(writes, staff, **common, cause="LEAVING_COUNTRY")
    assert leaving_country["errors"] == [], leaving_country
    assert [b["kind"] for b in leaving_country["claim"]["benefits"]] == ["BALANCE"]


# --- scholarships -----------------------------------------------------------------------------------------


async def test_scholarships_end_at_23_by_the_childs_nik_or_birth_date(
    writes: Any, staff: dict[str, Any], insured: Any
) -> None:
    p = await insured(months=40)
    death = {"participantId": p["id"], "program": "JKM", "cause": "DEATH", "incidentDate": TODAY.isoformat()}
    old = child("UNIVERSITY", birth=TODAY.replace(year=TODAY.year - 27, day=1))
    result = await submit(writes, staff, **death, recipients=[heir()], scholarshipChildren=[old])
    assert [(e["field"], e["code"]) for e in result["errors"]] == [("children[0]", "CHILD_TOO_OLD")]
    assert "this child is 27" in result["errors"][0]["message"]
    stated = child("UNIVERSITY", birthDate=TODAY.replace(year=TODAY.year - 23, day=1).isoformat())
    result = await submit(writes, staff, **death, recipients=[heir()], scholarshipChildren=[stated])
    assert codes(result) == ["CHILD_TOO_OLD"]
    married = child("SMA", ended="MARRIED")
    result = await submit(writes, staff, **death, recipients=[heir()], scholarshipChildren=[married])
    assert codes(result) == ["SCHOLARSHIP_ENDED"]


async def test_one_scholarship_per_child_per_school_year_and_never_a_lower_level(
    writes: Any, staff: dict[str, Any], insured: Any
) -> None:
    p = await insured(months=40)
    death = {"participantId": p["id"], "program": "JKM", "cause": "DEATH", "incidentDate": TODAY.isoformat()}
    kid = child("SMP")
    first = await submit(writes, staff, **death, recipients=[heir()], scholarshipChildren=[kid])
    assert first["errors"] == [], first
    for _ in range(5):  # the same day, again and again: refused every time
        again = await submit(writes, staff, **death, scholarshipChildren=[{**kid, "educationLevel": "SMP"}])
        assert codes(again) == ["ALREADY_CLAIMED_THIS_YEAR"]
    lower = await submit(writes, staff, **death, scholarshipChildren=[{**kid, "educationLevel": "SD"}])
    assert set(codes(lower)) == {"ALREADY_CLAIMED_THIS_YEAR", "LEVEL_BACKWARDS"}


# --- corrections ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "field", "code"),
    [
        ({}, "reasonCode", "REQUIRED"),
        ({"reasonCode": "DATA_ENTRY"}, "reasonCode", "UNKNOWN_REASON"),
        ({"reasonCode": "TYPO", "paidThrough": "2030-12-31"}, "paidThrough", "DERIVED_FIELD"),
        ({"reasonCode": "OTHER", "status": "ACTIVE"}, "status", "DERIVED_FIELD"),
    ],
)
async def test_corrections_need_a_known_reason_and_cannot_type_in_derived_figures(
    writes: Any,
    staff: dict[str, Any],
    register: Any,
    new_nik: Callable[..., str],
    extra: dict[str, Any],
    field: str,
    code: str,
) -> None:
    p = (await register(new_nik()))["participant"]
    body = await writes.gql(
        UPDATE,
        {
            "id": p["id"],
            "input": {"expectedVersion": p["version"], "fullName": "Lalu Zainuddin", **extra},
            "reason": "x",
        },
        staff["verifier"],
    )
    payload = body["data"]["updateParticipant"]
    assert (field, code) in {(e["field"], e["code"]) for e in payload["errors"]}, payload
    assert payload["participant"] is None
    after = (await writes.gql(PERSON, {"id": p["id"]}, staff["verifier"]))["data"]["participant"]
    assert after["version"] == p["version"]


async def test_a_death_reported_by_correction_can_be_undone_and_the_ledger_decides_the_status(
    writes: Any, staff: dict[str, Any], insured: Any
) -> None:
    p = await insured(months=3)
    person = (await writes.gql(PERSON, {"id": p["id"]}, staff["verifier"]))["data"]["participant"]
    dead = await writes.gql(
        UPDATE,
        {"id": p["id"], "input": {"expectedVersion": person["version"], "status": "DECEASED",
                                   "reasonCode": "DEATH_REPORTED"}, "reason": "village head's letter"},
        staff["verifier"],
    )  # fmt: skip
    assert dead["data"]["updateParticipant"]["errors"] == []
    version = dead["data"]["updateParticipant"]["participant"]["version"]
    undone = await writes.gql(
        UPDATE,
        {"id": p["id"], "input": {"expectedVersion": version, "status": "INACTIVE", "reasonCode": "DUPLICATE_RECORD"},
         "reason": "the letter was about his namesake"},
        staff["verifier"],
    )  # fmt: skip
    assert undone["data"]["updateParticipant"]["errors"] == []
    assert undone["data"]["updateParticipant"]["participant"]["status"] == "ACTIVE"  # this month is paid
