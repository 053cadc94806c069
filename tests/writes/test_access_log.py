"""Reads of unmasked NIKs and family-card numbers are logged: one event per entity type per request."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from strawberry.relay import from_base64

from domain.audit.models import DataAccessEvent


async def _events(writes: Any) -> list[DataAccessEvent]:
    async with writes.engine.connect() as conn:
        return list((await conn.execute(select(DataAccessEvent).order_by(DataAccessEvent.id))).all())  # type: ignore[arg-type]


async def test_unmasked_reads_are_logged_once_per_request(writes: Any, staff: dict[str, Any]) -> None:
    before = len(await _events(writes))
    body = await writes.gql(
        "{ participants(first: 5) { edges { node { nik beneficiary { nik familyCardNumber } } } } "
        "beneficiaries(first: 3) { edges { node { nik } } } }",
        caller=staff["verifier"],
    )
    assert "errors" not in body, body
    events = (await _events(writes))[before:]
    by_type = {e.entity_type: e for e in events}
    assert set(by_type) <= {"Participant", "PovertyBeneficiary"}
    assert by_type["Participant"].count == 5
    assert by_type["Participant"].actor_subject == "officer.rina@52.71"
    assert by_type["Participant"].fields == ["nik"]
    assert len(events) == len(by_type)  # one row per entity type, not per record


async def test_masked_reads_and_reads_without_nik_are_not_logged(writes: Any, staff: dict[str, Any]) -> None:
    before = len(await _events(writes))
    await writes.gql("{ participants(first: 5) { edges { node { nik } } } }", caller=staff["analyst_5203"])
    await writes.gql("{ participants(first: 5) { edges { node { fullName } } } }", caller=staff["verifier"])
    assert len(await _events(writes)) == before


async def test_access_log_is_queryable_by_auditors_only(writes: Any, staff: dict[str, Any]) -> None:
    await writes.gql("{ participants(first: 2) { edges { node { nik } } } }", caller=staff["admin"])
    body = await writes.gql(
        "{ dataAccessEvents(first: 5) { totalCount edges { node { actorSubject entityType count fields } } } }",
        caller=staff["auditor"],
    )
    assert body["data"]["dataAccessEvents"]["edges"][0]["node"]["actorSubject"] == "admin.nasional"
    officer = await writes.gql("{ dataAccessEvents { totalCount } }", caller=staff["verifier"])
    assert officer["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    async with writes.engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(DataAccessEvent))).scalar_one() > 0


async def test_audit_changes_are_personal_data_too(
    writes: Any, staff: dict[str, Any], register: Any, new_nik: Any
) -> None:
    nik = new_nik()
    p = (await register(nik, monthlyWage="2750000"))["participant"]
    query = (
        'query($id: String) { auditEvents(filter: {entityType: "Participant", entityId: $id}) '
        "{ edges { node { action changes } } } }"
    )
    db_id = from_base64(p["id"])[1]
    # A national reader of the trail without pii:read sees masked NIKs and no birth dates or wages.
    trail_only = staff["trail_reader"]
    before = len(await _events(writes))
    body = await writes.gql(query, {"id": db_id}, trail_only)
    changes = body["data"]["auditEvents"]["edges"][0]["node"]["changes"]
    assert changes["nik"] == {"before": None, "after": nik[:4] + "*" * 10 + nik[-2:]}
    assert changes["birth_date"] == {"before": None, "after": None}
    assert changes["monthly_wage"] == {"before": None, "after": None}
    assert len(await _events(writes)) == before
    # An auditor with pii:read sees them, and that read is logged.
    body = await writes.gql(query, {"id": db_id}, staff["auditor"])
    changes = body["data"]["auditEvents"]["edges"][0]["node"]["changes"]
    assert changes["nik"]["after"] == nik
    assert changes["monthly_wage"]["after"] == "2750000"
    [event] = (await _events(writes))[before:]
    assert event.entity_type == "AuditEvent"
    assert set(event.fields) == {"nik", "birth_date", "monthly_wage"}
