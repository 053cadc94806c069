"""Participant.phoneNumber end to end through the API: registered and corrected, validated, masked, logged, audited."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select
from strawberry.relay import from_base64

from domain.audit.models import DataAccessEvent
from domain.participants.models import Participant
from tests.writes.conftest import registration

REGISTER = """
mutation($input: RegisterParticipantInput!) {
  registerParticipant(input: $input) { participant { id version phoneNumber } errors { field code message } }
}"""

UPDATE = """
mutation($id: ID!, $input: UpdateParticipantInput!, $reason: String!) {
  updateParticipant(id: $id, input: $input, reason: $reason) {
    participant { id version phoneNumber }
    errors { field code message }
  }
}"""

READ = "query($id: ID!) { participant(id: $id) { id nik phoneNumber } }"


async def _stored(writes: Any, global_id: str) -> str | None:
    async with writes.engine.connect() as conn:
        stmt = select(Participant.phone_number).where(Participant.id == int(from_base64(global_id)[1]))
        value: str | None = (await conn.execute(stmt)).scalar_one()
        return value


async def _participants(writes: Any) -> int:
    async with writes.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(Participant))).scalar_one())


async def _events(writes: Any) -> list[Any]:
    async with writes.engine.connect() as conn:
        return list((await conn.execute(select(DataAccessEvent).order_by(DataAccessEvent.id))).all())


async def _register(writes: Any, staff: dict[str, Any], nik: str, phone: Any, caller: str = "verifier") -> Any:
    return await writes.gql(REGISTER, {"input": registration(nik, phoneNumber=phone)}, staff[caller])


@pytest.mark.parametrize(
    "typed",
    ["0812-3456-7890", "+62 812 3456 7890", "6281234567890", "(0812) 3456.7890", " 081234567890 "],
)
async def test_register_normalises_every_way_of_writing_a_number(
    writes: Any, staff: dict[str, Any], new_nik: Callable[..., str], typed: str
) -> None:
    body = await _register(writes, staff, new_nik(), typed)
    payload = body["data"]["registerParticipant"]
    assert payload["errors"] == []
    assert payload["participant"]["phoneNumber"] == "+6281234567890"
    assert await _stored(writes, payload["participant"]["id"]) == "+6281234567890"


async def test_a_participant_without_a_number_reads_null(
    writes: Any, staff: dict[str, Any], new_nik: Callable[..., str]
) -> None:
    for given in (None, "", "   "):
        payload = (await _register(writes, staff, new_nik(), given))["data"]["registerParticipant"]
        assert payload["errors"] == []
        assert payload["participant"]["phoneNumber"] is None
        assert await _stored(writes, payload["participant"]["id"]) is None


@pytest.mark.parametrize(
    "bad",
    [
        "021-555-1234",  # a Jakarta landline
        "+6221555123",  # a landline in E.164
        "0812345",  # too short
        "08123456789012345",  # too long
        "+0812345678901",  # a plus before the trunk 0
        "+1 415 555 2671",  # not Indonesian
        "0812 3456 789O",  # a letter O for a zero
        "0812\u20123456\u20127890",  # figure dashes
        "\u0660\u0668\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669",  # Arabic-Indic digits
        "0812-3456-7890 ext 2",
        "9" * 10_000,  # huge
    ],
)
async def test_register_refuses_what_is_not_a_mobile_number(
    writes: Any, staff: dict[str, Any], new_nik: Callable[..., str], bad: str
) -> None:
    before = await _participants(writes)
    payload = (await _register(writes, staff, new_nik(), bad))["data"]["registerParticipant"]
    assert payload["participant"] is None
    [error] = payload["errors"]
    assert (error["field"], error["code"]) == ("phoneNumber", "INVALID_PHONE_NUMBER")
    assert len(error["message"]) < 200
    assert bad[:20] not in error["message"]
    assert await _participants(writes) == before


async def test_register_refuses_control_characters(
    writes: Any, staff: dict[str, Any], new_nik: Callable[..., str]
) -> None:
    before = await _participants(writes)
    # NUL and the other C0/C1 controls: refused by the request's input check before any write runs.
    body = await _register(writes, staff, new_nik(), "0812\x003456\x007890")
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    # Tabs, newlines and format characters (a right-to-left override) pass that check; the number's refuses them.
    for bad in ("0812\n3456\t7890", "0812\u202e34567890"):
        payload = (await _register(writes, staff, new_nik(), bad))["data"]["registerParticipant"]
        assert payload["participant"] is None
        assert [(e["field"], e["code"]) for e in payload["errors"]] == [("phoneNumber", "INVALID_PHONE_NUMBER")]
    assert await _participants(writes) == before


async def test_a_number_that_is_not_text_is_refused_by_the_schema(
    writes: Any, staff: dict[str, Any], new_nik: Callable[..., str]
) -> None:
    body = await _register(writes, staff, new_nik(), 81234567890)
    assert body["errors"]
    assert body.get("data") is None


async def test_update_corrects_removes_and_audits_the_number(
    writes: Any, staff: dict[str, Any], new_nik: Callable[..., str]
) -> None:
    p = (await _register(writes, staff, new_nik(), "081234567890"))["data"]["registerParticipant"]["participant"]

    async def update(version: int, phone: str) -> dict[str, Any]:
        body = await writes.gql(
            UPDATE,
            {
                "id": p["id"],
                "input": {"expectedVersion": version, "phoneNumber": phone, "reasonCode": "TYPO"},
                "reason": "the participant gave a new number at the branch",
            },
            staff["verifier"],
        )
        assert "errors" not in body, body
        result: dict[str, Any] = body["data"]["updateParticipant"]
        return result

    bad = await update(p["version"], "0812")
    assert [(e["field"], e["code"]) for e in bad["errors"]] == [("phoneNumber", "INVALID_PHONE_NUMBER")]
    assert await _stored(writes, p["id"]) == "+6281234567890"
    corrected = await update(p["version"], "+62 857 1111 2222")
    assert corrected["errors"] == []
    assert corrected["participant"]["phoneNumber"] == "+6285711112222"
    removed = await update(corrected["participant"]["version"], "")
    assert removed["errors"] == []
    assert removed["participant"]["phoneNumber"] is None
    assert await _stored(writes, p["id"]) is None

    trail = """query($id: String) { auditEvents(filter: {entityType: "Participant", entityId: $id}) {
      edges { node { action changes } } } }"""
    variables = {"id": from_base64(p["id"])[1]}
    full = await writes.gql(trail, variables, staff["auditor"])
    changes = [e["node"]["changes"].get("phone_number") for e in full["data"]["auditEvents"]["edges"]]
    assert {"before": "+6281234567890", "after": "+6285711112222"} in changes
    assert {"before": "+6285711112222", "after": None} in changes


async def test_masked_without_pii_read_and_logged_with_it(
    writes: Any, staff: dict[str, Any], new_nik: Callable[..., str]
) -> None:
    p = (await _register(writes, staff, new_nik(), "0812-3456-7889"))["data"]["registerParticipant"]["participant"]
    before = len(await _events(writes))
    masked = await writes.gql(READ, {"id": p["id"]}, staff["writer_no_pii"])
    assert masked["data"]["participant"]["phoneNumber"] == "+62812******89"
    assert len(await _events(writes)) == before, "a masked value is not a read of personal data"

    shown = await writes.gql(READ, {"id": p["id"]}, staff["verifier"])
    assert shown["data"]["participant"]["phoneNumber"] == "+6281234567889"
    [event] = (await _events(writes))[before:]
    assert event.entity_type == "Participant"
    assert event.entity_ids == [from_base64(p["id"])[1]]
    assert sorted(event.fields) == ["nik", "phoneNumber"]


async def test_the_mutation_payload_masks_and_logs_like_a_read(
    writes: Any, staff: dict[str, Any], new_nik: Callable[..., str]
) -> None:
    before = len(await _events(writes))
    payload = (await _register(writes, staff, new_nik(), "081234567889", "writer_no_pii"))["data"]
    assert payload["registerParticipant"]["participant"]["phoneNumber"] == "+62812******89"
    assert len(await _events(writes)) == before
    payload = (await _register(writes, staff, new_nik(), "081234567889"))["data"]
    assert payload["registerParticipant"]["participant"]["phoneNumber"] == "+6281234567889"
    [event] = (await _events(writes))[before:]
    assert event.fields == ["phoneNumber"]
