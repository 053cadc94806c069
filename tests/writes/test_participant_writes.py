"""registerParticipant and updateParticipant: rules, errors, audit."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select
from strawberry.relay import from_base64

from domain.audit.models import AuditEvent
from domain.nik import Sex
from domain.participants.models import Participant

REGISTER = """
mutation($input: RegisterParticipantInput!) {
  registerParticipant(input: $input) { participant { id } errors { field code message } }
}"""


def registration(nik: str, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "nik": nik,
        "fullName": "Lalu Muhammad Zainuddin",
        "birthDate": "1990-05-17",
        "sex": "M",
        "segment": "BPU",
        "fundingSource": "SELF",
        "regionCode": "52.71.01.1004",
        "programs": ["JKK", "JKM"],
    }
    values.update(overrides)
    return values


UPDATE = """
mutation($id: ID!, $input: UpdateParticipantInput!, $reason: String!) {
  updateParticipant(id: $id, input: $input, reason: $reason) {
    participant { id nik fullName version status programs { program } }
    errors { field code message }
  }
}"""


async def _count(writes: Any, model: Any) -> int:
    async with writes.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(model))).scalar_one())


async def test_register_participant(writes: Any, register: Any, new_nik: Callable[..., str]) -> None:
    nik = new_nik()
    audits = await _count(writes, AuditEvent)
    payload = await register(nik)
    assert payload["errors"] == []
    p = payload["participant"]
    assert p["nik"] == nik
    assert p["status"] == "INACTIVE"  # derived from the ledger: nothing is paid yet
    assert p["fundingSource"] == "SELF"
    assert len(p["membershipNumber"]) == 11
    assert {x["program"] for x in p["programs"]} == {"JKK", "JKM"}
    assert p["region"]["code"] == "52.71.01.1004"
    assert await _count(writes, AuditEvent) == audits + 1


@pytest.mark.parametrize(
    ("overrides", "field", "code"),
    [
        ({"programs": ["JKK", "JKM", "JP"]}, "programs", "PROGRAM_NOT_ALLOWED"),
        ({"programs": ["JKK"]}, "programs", "PROGRAM_NOT_ALLOWED"),
        (
            {"segment": "JAKON", "programs": ["JKK", "JKM", "JHT"], "fundingSource": "EMPLOYER"},
            "programs",
            "PROGRAM_NOT_ALLOWED",
        ),
        ({"fundingSource": "EMPLOYER"}, "fundingSource", "FUNDING_NOT_ALLOWED"),
        ({"sex": "F"}, "nik", "INVALID_NIK"),
        ({"birthDate": "1990-05-18"}, "nik", "INVALID_NIK"),
        ({"regionCode": "52.71.01"}, "regionCode", "NOT_A_VILLAGE"),
        ({"regionCode": "52.71.01.9999"}, "regionCode", "UNKNOWN_REGION"),
        ({"regionCode": "nowhere"}, "regionCode", "INVALID_REGION"),
        ({"fullName": "   "}, "fullName", "REQUIRED"),
        ({"fullName": "Budi\u202eitsaM"}, "fullName", "CONTROL_CHARACTERS"),
        ({"fullName": "x" * (1024 * 1024)}, "fullName", "TOO_LONG"),
        (
            {"segment": "PU", "fundingSource": "EMPLOYER", "monthlyWage": "3000000"},
            "employerRegistrationNumber",
            "UNKNOWN_EMPLOYER",
        ),
        ({"segment": "PU", "fundingSource": "EMPLOYER"}, "monthlyWage", "REQUIRED"),
        ({"monthlyWage": "-5"}, "monthlyWage", "NEGATIVE"),
        ({"monthlyWage": "99999999999999"}, "monthlyWage", "ABSURD"),
    ],
)
async def test_register_refuses_bad_input(
    writes: Any, register: Any, new_nik: Callable[..., str], overrides: dict[str, Any], field: str, code: str
) -> None:
    before = await _count(writes, Participant), await _count(writes, AuditEvent)
    payload = await register(new_nik(), **overrides)
    assert payload["participant"] is None
    assert (field, code) in {(e["field"], e["code"]) for e in payload["errors"]}, payload["errors"]
    assert all(e["message"] for e in payload["errors"])
    assert (await _count(writes, Participant), await _count(writes, AuditEvent)) == before


async def test_duplicate_nik_names_the_membership_number_only_when_visible(
    writes: Any, register: Any, new_nik: Callable[..., str]
) -> None:
    nik = new_nik()
    first = (await register(nik))["participant"]
    again = await register(nik)
    assert again["participant"] is None
    [error] = again["errors"]
    assert error["code"] == "DUPLICATE_NIK"
    assert first["membershipNumber"] in error["message"]
    # An officer of Lombok Timur registering the same person in 52.03 learns only that the NIK is taken.
    elsewhere = await register(nik, caller="officer_5203", regionCode="52.03.01.2001")
    [error] = elsewhere["errors"]
    assert error["code"] == "DUPLICATE_NIK"
    assert first["membershipNumber"] not in error["message"]
    assert "outside your region" in error["message"]


async def test_register_outside_own_region_is_forbidden(
    writes: Any, staff: dict[str, Any], new_nik: Callable[..., str]
) -> None:
    body = await writes.gql(REGISTER, {"input": registration(new_nik(), regionCode="52.03.01.2001")}, staff["verifier"])
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert body["data"] is None


async def test_register_needs_participants_write(
    writes: Any, staff: dict[str, Any], new_nik: Callable[..., str]
) -> None:
    body = await writes.gql(
        REGISTER, {"input": registration(new_nik(), regionCode="52.03.01.2001")}, staff["analyst_5203"]
    )
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    body = await writes.gql(REGISTER, {"input": registration(new_nik())})
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_sql_looking_names_are_stored_literally(writes: Any, register: Any, new_nik: Callable[..., str]) -> None:
    name = "Robert'); DROP TABLE participants;--"
    payload = await register(new_nik(), fullName=name)
    assert payload["participant"]["fullName"] == name
    assert await _count(writes, Participant) > 0


async def test_names_are_normalised_to_nfc(writes: Any, register: Any, new_nik: Callable[..., str]) -> None:
    decomposed = "Jose\u0301 Ramli"  # e + combining acute
    payload = await register(new_nik(), fullName=f"  {decomposed}  ")
    assert payload["participant"]["fullName"] == "Jos\u00e9 Ramli"


async def test_update_with_reason_and_version(
    writes: Any, staff: dict[str, Any], register: Any, new_nik: Callable[..., str]
) -> None:
    p = (await register(new_nik(), fullName="Baiq Nurul Hidayat"))["participant"]
    body = await writes.gql(
        UPDATE,
        {
            "id": p["id"],
            "input": {"expectedVersion": p["version"], "fullName": "Baiq Nurul Hidayati", "reasonCode": "TYPO"},
            "reason": "KTP shows the final i",
        },
        staff["verifier"],
    )
    payload = body["data"]["updateParticipant"]
    assert payload["errors"] == []
    assert payload["participant"]["fullName"] == "Baiq Nurul Hidayati"
    assert payload["participant"]["version"] == p["version"] + 1
    events = await writes.gql(
        'query($id: String) { auditEvents(filter: {entityType: "Participant", entityId: $id}) '
        "{ edges { node { action reason reasonCode changes actorSubject } } } }",
        {"id": from_base64(p["id"])[1]},
        staff["auditor"],
    )
    [update, register_event] = [e["node"] for e in events["data"]["auditEvents"]["edges"]]
    assert register_event["action"] == "participant.register"
    assert update["action"] == "participant.update"
    assert update["reason"] == "KTP shows the final i"
    assert update["reasonCode"] == "TYPO"
    assert update["actorSubject"] == "officer.rina@52.71"
    assert update["changes"] == {"full_name": {"before": "Baiq Nurul Hidayat", "after": "Baiq Nurul Hidayati"}}


async def test_update_stale_version_is_conflict(
    writes: Any, staff: dict[str, Any], register: Any, new_nik: Callable[..., str]
) -> None:
    p = (await register(new_nik()))["participant"]
    change = {
        "id": p["id"],
        "input": {"expectedVersion": p["version"], "fullName": "Baiq Nurul", "reasonCode": "TYPO"},
        "reason": "typo",
    }
    first = await writes.gql(UPDATE, change, staff["verifier"])
    assert first["data"]["updateParticipant"]["errors"] == []
    audits = await _count(writes, AuditEvent)
    stale = await writes.gql(
        UPDATE,
        {**change, "input": {"expectedVersion": p["version"], "fullName": "Other Name", "reasonCode": "TYPO"}},
        staff["verifier"],
    )
    assert stale["errors"][0]["extensions"]["code"] == "CONFLICT"
    assert "changed by someone else" in stale["errors"][0]["message"]
    assert await _count(writes, AuditEvent) == audits


@pytest.mark.parametrize(
    ("change", "reason", "code"),
    [
        ({"nik": "527101170590000"}, "fix", "INVALID_NIK"),
        ({"fullName": "Same"}, "   ", "REQUIRED"),
        ({"programs": ["JKK", "JKM", "JKP"]}, "add JKP", "PROGRAM_NOT_ALLOWED"),
        ({"monthlyWage": "-1"}, "fix", "NEGATIVE"),
    ],
)
async def test_update_refuses_bad_input(
    writes: Any,
    staff: dict[str, Any],
    register: Any,
    new_nik: Callable[..., str],
    change: dict[str, Any],
    reason: str,
    code: str,
) -> None:
    p = (await register(new_nik()))["participant"]
    body = await writes.gql(
        UPDATE,
        {"id": p["id"], "input": {"expectedVersion": p["version"], "reasonCode": "TYPO", **change}, "reason": reason},
        staff["verifier"],
    )
    payload = body["data"]["updateParticipant"]
    assert code in {e["code"] for e in payload["errors"]}, payload
    assert payload["participant"] is None


async def test_nik_correction_relinks_registry_records(
    writes: Any, staff: dict[str, Any], register: Any, new_nik: Callable[..., str]
) -> None:
    wrong = new_nik(birth=dt.date(1985, 1, 2), sex=Sex.F)
    p = (await register(wrong, birthDate="1985-01-02", sex="F"))["participant"]
    right = new_nik(birth=dt.date(1985, 1, 2), sex=Sex.F)
    body = await writes.gql(
        UPDATE,
        {
            "id": p["id"],
            "input": {"expectedVersion": p["version"], "nik": right, "reasonCode": "TYPO"},
            "reason": "serial mistyped",
        },
        staff["verifier"],
    )
    assert body["data"]["updateParticipant"]["participant"]["nik"] == right


async def test_update_other_region_is_not_found(
    writes: Any, staff: dict[str, Any], register: Any, new_nik: Callable[..., str]
) -> None:
    p = (await register(new_nik()))["participant"]
    body = await writes.gql(
        UPDATE,
        {"id": p["id"], "input": {"expectedVersion": p["version"], "status": "INACTIVE"}, "reason": "x"},
        staff["officer_5203"],
    )
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    body = await writes.gql(
        UPDATE,
        {"id": "UGFydGljaXBhbnQ6OTk5OTk5OQ==", "input": {"expectedVersion": 1, "status": "INACTIVE"}, "reason": "x"},
        staff["verifier"],
    )
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_nik_errors_do_not_reveal_what_the_nik_encodes_without_pii(
    writes: Any, staff: dict[str, Any], register: Any, new_nik: Callable[..., str]
) -> None:
    p = (await register(new_nik(birth=dt.date(1990, 5, 17))))["participant"]
    change = {
        "id": p["id"],
        "input": {"expectedVersion": p["version"], "birthDate": "2000-01-01", "reasonCode": "TYPO"},
        "reason": "probe",
    }
    blind = (await writes.gql(UPDATE, change, staff["writer_no_pii"]))["data"]["updateParticipant"]
    [error] = blind["errors"]
    assert error["code"] == "INVALID_NIK"
    assert "1990" not in error["message"]
    assert "does not agree" in error["message"]
    # With pii:read the message says exactly what disagrees.
    full = (await writes.gql(UPDATE, change, staff["verifier"]))["data"]["updateParticipant"]
    assert "1990-05-17" in full["errors"][0]["message"]


async def test_duplicate_nik_is_reported_only_when_all_else_is_valid(
    writes: Any, register: Any, new_nik: Callable[..., str]
) -> None:
    nik = new_nik()
    await register(nik)
    probe = await register(nik, segment="PU", fundingSource="EMPLOYER", monthlyWage="3000000")
    assert [e["code"] for e in probe["errors"]] == ["UNKNOWN_EMPLOYER"]
