"""submitClaim and the workflow: every transition, every refused one, benefit amounts, separation of duties."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from strawberry.relay import from_base64

from domain.audit.models import AuditEvent
from domain.claims.models import Claim
from domain.nik import Sex, build_nik
from tests.writes.conftest import backdate_registration, first_of_month

CLAIM_FIELDS = (
    "id claimNumber status version amountApproved paidAt "
    "benefits { kind amount recipientNik relationship educationLevel } history { status actor note }"
)
SUBMIT = (
    "mutation($input: SubmitClaimInput!) { submitClaim(input: $input) "
    f"{{ claim {{ {CLAIM_FIELDS} }} errors {{ field code message }} }} }}"
)
_ARGS = {
    "verify": ("verifyClaim", ', note: "documents complete"'),
    "approve": ("approveClaim", ""),
    "pay": ("payClaim", ', paymentReference: "BNI-2026-001"'),
    "reject": ("rejectClaim", ', reason: "death certificate missing"'),
}
MOVE = {
    action: (
        f"mutation($id: ID!, $v: Int!) {{ r: {name}(id: $id, expectedVersion: $v{extra}) "
        "{ claim { %s } errors { field code message } } }"
    )
    for action, (name, extra) in _ARGS.items()
}
TODAY = dt.date.today()


def heir(serial: int, relationship: str = "SPOUSE", sex: Sex = Sex.F) -> dict[str, Any]:
    return {
        "name": "Siti Aminah",
        "nik": build_nik("52.71.02", dt.date(1992, 3, 4), sex, serial),
        "relationship": relationship,
    }


def child(serial: int, level: str) -> dict[str, Any]:
    return {"name": "Ahmad", "nik": build_nik("52.71.02", dt.date(2015, 6, 7), Sex.M, serial), "educationLevel": level}


@pytest.fixture
async def insured(
    writes: Any, register: Any, pay: Any, staff: dict[str, Any], new_nik: Callable[..., str]
) -> Callable[..., Any]:
    """A participant in 52.71 covered today and next month, with `months` contribution months recorded in the
    ledger (registered long enough ago for them)."""

    async def make(segment: str = "BPU", months: int = 40, **overrides: Any) -> dict[str, Any]:
        p = (await register(new_nik(), segment=segment, **overrides))["participant"]
        await backdate_registration(writes, p["id"], months)
        await pay(p["id"], months, from_month=first_of_month(months - 2))
        return await participant(writes, staff["verifier"], p["id"])

    return make


async def participant(writes: Any, caller: Any, global_id: str) -> dict[str, Any]:
    body = await writes.gql(
        "query($id: ID!) { node(id: $id) { ... on Participant { id version status paidThrough contributionMonths "
        "recentContributionMonths diedOn } } }",
        {"id": global_id},
        caller,
    )
    result: dict[str, Any] = body["data"]["node"]
    return result


async def claims_a_year_earlier(writes: Any, global_id: str) -> None:
    """Test set-up of a history of yearly claims: move the participant's claims one school year back."""
    from sqlalchemy import update

    pid = int(from_base64(global_id)[1])
    async with writes.engine.begin() as conn:
        rows = (await conn.execute(select(Claim.id, Claim.submitted_at).where(Claim.participant_id == pid))).all()
        for claim_id, submitted in rows:
            await conn.execute(update(Claim).where(Claim.id == claim_id).values(submitted_at=submitted - YEAR))


YEAR = dt.timedelta(days=366)


async def submit(writes: Any, caller: Any, **input_: Any) -> dict[str, Any]:
    body = await writes.gql(SUBMIT, {"input": input_}, caller)
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["submitClaim"]
    return result


async def jkm_death(
    writes: Any, caller: Any, participant: dict[str, Any], heir_serial: int, **extra: Any
) -> dict[str, Any]:
    """Submit a JKM death claim for `participant` today, with one spouse as heir."""
    return await submit(
        writes,
        caller,
        participantId=participant["id"],
        program="JKM",
        cause="DEATH",
        incidentDate=TODAY.isoformat(),
        recipients=[heir(heir_serial)],
        **extra,
    )


async def move(
    writes: Any, caller: Any, action: str, claim: dict[str, Any], version: int | None = None
) -> dict[str, Any]:
    return await writes.gql(
        MOVE[action] % CLAIM_FIELDS, {"id": claim["id"], "v": claim["version"] if version is None else version}, caller
    )


async def test_jkm_death_with_two_scholarships(writes: Any, staff: dict[str, Any], insured: Any) -> None:
    p = await insured(months=40)
    result = await submit(
        writes,
        staff["verifier"],
        participantId=p["id"],
        program="JKM",
        cause="DEATH",
        incidentDate=TODAY.isoformat(),
        recipients=[heir(8001, "SIBLING", Sex.M), heir(8002)],
        scholarshipChildren=[child(8003, "SD"), child(8004, "UNIVERSITY")],
    )
    assert result["errors"] == []
    claim = result["claim"]
    lines = {(b["kind"], b["educationLevel"]): Decimal(b["amount"]) for b in claim["benefits"]}
    assert lines == {
        ("LUMP_SUM", None): Decimal(20_000_000),
        ("PERIODIC", None): Decimal(12_000_000),
        ("FUNERAL", None): Decimal(10_000_000),
        ("SCHOLARSHIP", "SD"): Decimal(1_500_000),
        ("SCHOLARSHIP", "UNIVERSITY"): Decimal(12_000_000),
    }
    # The spouse is paid before a sibling, whatever order the heirs were given in.
    assert {b["relationship"] for b in claim["benefits"] if b["kind"] == "LUMP_SUM"} == {"SPOUSE"}
    assert claim["status"] == "SUBMITTED"
    assert claim["history"] == [{"status": "SUBMITTED", "actor": "officer.rina@52.71", "note": None}]


async def test_jkk_death_is_48_times_wage(writes: Any, staff: dict[str, Any], insured: Any) -> None:
    p = await insured(months=12, monthlyWage="3000000")
    result = await submit(
        writes,
        staff["verifier"],
        participantId=p["id"],
        program="JKK",
        cause="DEATH",
        incidentDate=TODAY.isoformat(),
        recipients=[heir(8011)],
    )
    assert [(b["kind"], Decimal(b["amount"])) for b in result["claim"]["benefits"]] == [
        ("DEATH", Decimal(144_000_000)),
        ("PERIODIC", Decimal(12_000_000)),
        ("FUNERAL", Decimal(10_000_000)),
    ]


async def test_full_workflow_and_separation_of_duties(writes: Any, staff: dict[str, Any], insured: Any) -> None:
    p = await insured()
    claim = (await jkm_death(writes, staff["verifier"], p, 8021))["claim"]
    verified = (await move(writes, staff["verifier"], "verify", claim))["data"]["r"]["claim"]
    assert verified["status"] == "VERIFIED"
    assert verified["version"] == claim["version"] + 1
    # The verifier may not approve their own verification.
    refused = await move(writes, staff["verifier"], "approve", verified)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert "separation of duties" in refused["errors"][0]["message"]
    # Approving needs claims:approve.
    no_scope = await move(writes, staff["no_approve"], "approve", verified)
    assert no_scope["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    approved = (await move(writes, staff["supervisor"], "approve", verified))["data"]["r"]["claim"]
    assert approved["status"] == "APPROVED"
    assert Decimal(approved["amountApproved"]) == Decimal(42_000_000)
    paid = (await move(writes, staff["verifier"], "pay", approved))["data"]["r"]["claim"]
    assert paid["status"] == "PAID"
    assert paid["paidAt"]
    assert [h["status"] for h in paid["history"]] == ["SUBMITTED", "VERIFIED", "APPROVED", "PAID"]
    # PAID is final.
    for action in ("verify", "approve", "pay", "reject"):
        body = await move(writes, staff["supervisor"], action, paid)
        errors = body["data"]["r"]["errors"] if body.get("data") else body["errors"]
        codes = {e.get("code") or e["extensions"]["code"] for e in errors}
        assert codes <= {"INVALID_TRANSITION", "FORBIDDEN"}, body


@pytest.mark.parametrize(
    ("path", "refused"),
    [
        (["approve"], "a SUBMITTED claim cannot become APPROVED"),
        (["pay"], "a SUBMITTED claim cannot become PAID"),
        (["verify", "pay"], "a VERIFIED claim cannot become PAID"),
        (["verify", "verify"], "a VERIFIED claim cannot become VERIFIED"),
        (["reject", "verify"], "a REJECTED claim cannot become VERIFIED"),
        (["verify", "reject", "approve"], "a REJECTED claim cannot become APPROVED"),
    ],
)
async def test_refused_transitions(
    writes: Any, staff: dict[str, Any], insured: Any, path: list[str], refused: str
) -> None:
    p = await insured()
    claim = (await jkm_death(writes, staff["verifier"], p, 8031))["claim"]
    *ok, last = path
    for action in ok:
        body = await move(writes, staff["verifier"], action, claim)
        claim = body["data"]["r"]["claim"]
        assert claim is not None, body
    async with writes.engine.connect() as conn:
        audits = (await conn.execute(select(func.count()).select_from(AuditEvent))).scalar_one()
    body = await move(writes, staff["supervisor"], last, claim)
    [error] = body["data"]["r"]["errors"]
    assert error["code"] == "INVALID_TRANSITION"
    assert refused in error["message"]
    async with writes.engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(AuditEvent))).scalar_one() == audits


async def test_stale_version_and_other_region(writes: Any, staff: dict[str, Any], insured: Any) -> None:
    p = await insured()
    claim = (await jkm_death(writes, staff["verifier"], p, 8041))["claim"]
    stale = await move(writes, staff["verifier"], "verify", claim, version=claim["version"] + 5)
    assert stale["errors"][0]["extensions"]["code"] == "CONFLICT"
    elsewhere = await move(writes, staff["officer_5203"], "verify", claim)
    assert elsewhere["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    async with writes.engine.connect() as conn:
        status = (
            await conn.execute(select(Claim.status).where(Claim.claim_number == claim["claimNumber"]))
        ).scalar_one()
    assert status == "SUBMITTED"


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"incidentDate": (TODAY + dt.timedelta(days=2)).isoformat()}, "IN_FUTURE"),
        ({"program": "JP", "cause": "DEATH"}, "NOT_ENROLLED"),
        ({"cause": "RETIREMENT"}, "CAUSE_NOT_COVERED"),
        ({"recipients": []}, "HEIR_REQUIRED"),
        ({"scholarshipChildren": [child(8051, "SD"), child(8052, "SMP"), child(8053, "SMA")]}, "TOO_MANY_CHILDREN"),
        ({"amountClaimed": "-100"}, "OUT_OF_RANGE"),
        ({"amountClaimed": "99999999999999"}, "OUT_OF_RANGE"),
        ({"note": "n" * (1024 * 1024)}, "TOO_LONG"),
        ({"incidentDate": "2010-01-01"}, "NOT_COVERED"),
    ],
)
async def test_submit_refuses_bad_input(
    writes: Any, staff: dict[str, Any], insured: Any, overrides: dict[str, Any], code: str
) -> None:
    p = await insured()
    async with writes.engine.connect() as conn:
        before = (await conn.execute(select(func.count()).select_from(Claim))).scalar_one()
    values: dict[str, Any] = {
        "participantId": p["id"],
        "program": "JKM",
        "cause": "DEATH",
        "incidentDate": TODAY.isoformat(),
        "recipients": [heir(8054)],
    }
    values.update(overrides)
    result = await submit(writes, staff["verifier"], **values)
    assert result["claim"] is None
    assert code in {e["code"] for e in result["errors"]}, result["errors"]
    async with writes.engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(Claim))).scalar_one() == before


async def test_heir_nik_equal_to_the_deceased(writes: Any, staff: dict[str, Any], insured: Any) -> None:
    p = await insured()
    nik = (await writes.gql("query($id: ID!) { participant(id: $id) { nik } }", {"id": p["id"]}, staff["verifier"]))[
        "data"
    ]["participant"]["nik"]
    result = await submit(
        writes,
        staff["verifier"],
        participantId=p["id"],
        program="JKM",
        cause="DEATH",
        incidentDate=TODAY.isoformat(),
        recipients=[{"name": "Self", "nik": nik, "relationship": "SPOUSE"}],
    )
    assert "SAME_AS_PARTICIPANT" in {e["code"] for e in result["errors"]}


async def test_jkm_scholarship_needs_36_months(writes: Any, staff: dict[str, Any], insured: Any) -> None:
    p = await insured(months=35)
    result = await jkm_death(writes, staff["verifier"], p, 8061, scholarshipChildren=[child(8062, "SD")])
    assert [e["code"] for e in result["errors"]] == ["NOT_ELIGIBLE"]
    assert "36 contribution months" in result["errors"][0]["message"]


async def test_idempotency_key_returns_the_first_claim(writes: Any, staff: dict[str, Any], insured: Any) -> None:
    p = await insured()
    values = {
        "participantId": p["id"],
        "program": "JKM",
        "cause": "DEATH",
        "incidentDate": TODAY.isoformat(),
        "recipients": [heir(8071)],
        "idempotencyKey": "branch-mataram-2026-0042",
    }
    first = (await submit(writes, staff["verifier"], **values))["claim"]
    again = (await submit(writes, staff["verifier"], **values))["claim"]
    assert again["id"] == first["id"]
    # Someone else's identical key is their own submission (here refused: the death is already claimed).
    other = await submit(writes, staff["supervisor"], **values)
    assert [e["code"] for e in other["errors"]] == ["DUPLICATE_DEATH_CLAIM"]
    # The same key for a different submission is an error, not a silent replay of the first claim.
    p2 = await insured()
    reused = await submit(writes, staff["verifier"], **{**values, "participantId": p2["id"]})
    assert [e["code"] for e in reused["errors"]] == ["KEY_REUSED"]


@pytest.mark.parametrize(
    ("mutation", "argument", "code"),
    [
        ("rejectClaim", 'reason: "   "', "REQUIRED"),
        ("verifyClaim", 'note: "bidi\\u202e"', "CONTROL_CHARACTERS"),
    ],
)
async def test_transition_text_is_checked(
    writes: Any, staff: dict[str, Any], insured: Any, mutation: str, argument: str, code: str
) -> None:
    p = await insured()
    claim = (await jkm_death(writes, staff["verifier"], p, 8081))["claim"]
    body = await writes.gql(
        f"mutation($id: ID!, $v: Int!) {{ r: {mutation}(id: $id, expectedVersion: $v, {argument}) "
        "{ claim { status } errors { code } } }",
        {"id": claim["id"], "v": claim["version"]},
        staff["verifier"],
    )
    assert body["data"]["r"] == {"claim": None, "errors": [{"code": code}]}


async def test_payment_needs_a_reference(writes: Any, staff: dict[str, Any], insured: Any) -> None:
    p = await insured()
    claim = (await jkm_death(writes, staff["verifier"], p, 8091))["claim"]
    claim = (await move(writes, staff["verifier"], "verify", claim))["data"]["r"]["claim"]
    claim = (await move(writes, staff["supervisor"], "approve", claim))["data"]["r"]["claim"]
    body = await writes.gql(
        'mutation($id: ID!, $v: Int!) { r: payClaim(id: $id, expectedVersion: $v, paymentReference: "") '
        "{ claim { status } errors { field code } } }",
        {"id": claim["id"], "v": claim["version"]},
        staff["verifier"],
    )
    assert body["data"]["r"] == {"claim": None, "errors": [{"field": "paymentReference", "code": "REQUIRED"}]}


REACH = {
    "SUBMITTED": [],
    "VERIFIED": ["verify"],
    "APPROVED": ["verify", "approve"],
    "PAID": ["verify", "approve", "pay"],
    "REJECTED": ["reject"],
}
TARGET = {"verify": "VERIFIED", "approve": "APPROVED", "pay": "PAID", "reject": "REJECTED"}
ALLOWED = {
    ("SUBMITTED", "verify"),
    ("SUBMITTED", "reject"),
    ("VERIFIED", "approve"),
    ("VERIFIED", "reject"),
    ("APPROVED", "pay"),
}


@pytest.mark.parametrize("action", sorted(TARGET))
@pytest.mark.parametrize("state", sorted(REACH))
async def test_every_action_from_every_state(
    writes: Any, staff: dict[str, Any], insured: Any, state: str, action: str
) -> None:
    """The whole transition table over GraphQL: allowed moves succeed, every other one is refused unchanged."""
    p = await insured()
    claim = (await jkm_death(writes, staff["verifier"], p, 8101))["claim"]
    for step in REACH[state]:
        # The supervisor approves; the verifier does everything else (separation of duties holds).
        claim = (await move(writes, staff["supervisor" if step == "approve" else "verifier"], step, claim))["data"][
            "r"
        ]["claim"]
    assert claim["status"] == state
    actor = staff["supervisor" if action == "approve" else "verifier"]
    body = await move(writes, actor, action, claim)
    result = body["data"]["r"]
    if (state, action) in ALLOWED:
        assert result["errors"] == []
        assert result["claim"]["status"] == TARGET[action]
    else:
        assert [e["code"] for e in result["errors"]] == ["INVALID_TRANSITION"]
        assert f"a {state} claim cannot become {TARGET[action]}" in result["errors"][0]["message"]
        async with writes.engine.connect() as conn:
            now = (
                await conn.execute(select(Claim.status).where(Claim.claim_number == claim["claimNumber"]))
            ).scalar_one()
        assert now == state


async def test_a_death_is_paid_once(writes: Any, staff: dict[str, Any], insured: Any) -> None:
    p = await insured()
    values = {
        "participantId": p["id"],
        "program": "JKM",
        "cause": "DEATH",
        "incidentDate": TODAY.isoformat(),
        "recipients": [heir(8111)],
    }
    first = await submit(writes, staff["verifier"], **values)
    assert first["errors"] == []
    second = await submit(writes, staff["verifier"], **values)
    assert [e["code"] for e in second["errors"]] == ["DUPLICATE_DEATH_CLAIM"]
    assert first["claim"]["claimNumber"] in second["errors"][0]["message"]
    # Once the first is rejected, a corrected claim may be filed.
    await move(writes, staff["verifier"], "reject", first["claim"])
    third = await submit(writes, staff["verifier"], **values)
    assert third["errors"] == []


async def test_retirement_age_and_resignation_wait(writes: Any, staff: dict[str, Any], insured: Any) -> None:
    p = await insured(programs=["JKK", "JKM", "JHT"])  # born 1990: far from 56
    young = await submit(
        writes,
        staff["verifier"],
        participantId=p["id"],
        program="JHT",
        cause="RETIREMENT",
        incidentDate=TODAY.isoformat(),
        amountClaimed="25000000",
    )
    assert [e["code"] for e in young["errors"]] == ["NOT_ELIGIBLE"]
    assert "age 56" in young["errors"][0]["message"]
    early = await submit(
        writes,
        staff["verifier"],
        participantId=p["id"],
        program="JHT",
        cause="RESIGNATION",
        incidentDate=TODAY.isoformat(),
        amountClaimed="25000000",
    )
    assert [e["code"] for e in early["errors"]] == ["TOO_EARLY"]


async def test_scholarship_years_and_children_over_claims(writes: Any, staff: dict[str, Any], insured: Any) -> None:
    """Scholarships are claimed yearly after the death: TK and SD share 8 years, and two children in all."""
    p = await insured(months=60)
    death = {"participantId": p["id"], "program": "JKM", "cause": "DEATH", "incidentDate": TODAY.isoformat()}
    first = await submit(
        writes,
        staff["verifier"],
        **death,
        recipients=[heir(8121)],
        scholarshipChildren=[child(8122, "TK"), child(8123, "SD")],
    )
    assert first["errors"] == []
    same_year = await submit(writes, staff["verifier"], **death, scholarshipChildren=[child(8122, "TK")])
    assert [e["code"] for e in same_year["errors"]] == ["ALREADY_CLAIMED_THIS_YEAR"]
    await claims_a_year_earlier(writes, p["id"])
    second_year = await submit(writes, staff["verifier"], **death, scholarshipChildren=[child(8122, "TK")])
    assert second_year["errors"] == []
    assert [(b["kind"], b["educationLevel"]) for b in second_year["claim"]["benefits"]] == [("SCHOLARSHIP", "TK")]
    # TK up to SD is one band of 8 years (PP 82/2019): a third TK year is paid, and the band ends after 8 years.
    for level in ("TK", "SD", "SD", "SD", "SD", "SD"):
        await claims_a_year_earlier(writes, p["id"])
        year = await submit(writes, staff["verifier"], **death, scholarshipChildren=[child(8122, level)])
        assert year["errors"] == [], level
    await claims_a_year_earlier(writes, p["id"])
    ninth_year = await submit(writes, staff["verifier"], **death, scholarshipChildren=[child(8122, "SD")])
    assert [e["code"] for e in ninth_year["errors"]] == ["YEARS_EXHAUSTED"]
    assert "8 years of the TK-SD scholarship" in ninth_year["errors"][0]["message"]
    third_child = await submit(writes, staff["verifier"], **death, scholarshipChildren=[child(8124, "SMP")])
    assert [e["code"] for e in third_child["errors"]] == ["TOO_MANY_CHILDREN"]


#: The audit trail's stance on personal data (``auth.policy.masked_changes``): it records what was written,
#: unmasked, and reading it masks for callers without pii:read. A claim's heirs are no exception.
AUDIT_TRAIL = """query($id: String!) { auditEvents(first: 5, filter: {entityType: "Claim", entityId: $id}) {
  edges { node { action changes } } } }"""


async def test_a_claims_heir_nik_is_recorded_unmasked_and_masked_on_reading(
    writes: Any, staff: dict[str, Any], insured: Any
) -> None:
    p = await insured(months=40)
    claim = (await jkm_death(writes, staff["verifier"], p, 8091))["claim"]
    nik = heir(8091)["nik"]
    local_id = from_base64(claim["id"])[1]
    async with writes.engine.connect() as conn:
        changes = (
            await conn.execute(
                select(AuditEvent.changes).where(
                    AuditEvent.entity_type == "Claim",
                    AuditEvent.entity_id == local_id,
                    AuditEvent.action == "claim.submit",
                )
            )
        ).scalar_one()
    assert {line["recipient_nik"] for line in changes["benefits"]["after"]} == {nik}

    def recorded(body: dict[str, Any]) -> str:
        assert "errors" not in body, body
        (event,) = [e["node"] for e in body["data"]["auditEvents"]["edges"] if e["node"]["action"] == "claim.submit"]
        return str(event["changes"]["benefits"]["after"][0]["recipient_nik"])

    assert recorded(await writes.gql(AUDIT_TRAIL, {"id": local_id}, staff["admin"])) == nik
    masked = recorded(await writes.gql(AUDIT_TRAIL, {"id": local_id}, staff["trail_reader"]))
    assert masked == nik[:4] + "*" * 10 + nik[-2:]
