"""enrollBeneficiary: the Inpres 4/2022 link, idempotent, refused for the wrong people and places."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select
from strawberry.relay import to_base64

from domain.audit.models import AuditEvent
from domain.beneficiaries.models import PovertyBeneficiary
from tests.conftest import WriteEnv
from tests.writes.conftest import unlinked_beneficiary

ENROL = """mutation($id: ID!, $allow: Boolean! = false, $funding: FundingSource) {
  enrollBeneficiary(beneficiaryId: $id, allowNonExtremePoor: $allow, funding: $funding) {
    created monthlyContribution errors { field code message }
    participant { id membershipNumber segment fundingSource status programs { program } }
    beneficiary { enrolled participant { id } } } }"""


@pytest.fixture(scope="session")
def writes(own_writes: Callable[[str], WriteEnv]) -> WriteEnv:
    """These tests' own database: they take none of the shared one's beneficiaries (``own_writes``)."""
    return own_writes("enrolment")


async def _unlinked(writes: Any, *, extreme: bool, regency: str = "52.03") -> PovertyBeneficiary:
    row: PovertyBeneficiary = await unlinked_beneficiary(writes.engine, extreme=extreme, regency=regency)
    return row


async def _audits(writes: Any) -> int:
    async with writes.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(AuditEvent))).scalar_one())


async def test_extreme_poor_becomes_an_apbd_funded_bpu_participant(writes: Any, staff: dict[str, Any]) -> None:
    b = await _unlinked(writes, extreme=True)
    bid = to_base64("PovertyBeneficiary", b.id)
    first = (await writes.gql(ENROL, {"id": bid}, staff["officer_5203"]))["data"]["enrollBeneficiary"]
    assert first["errors"] == []
    assert first["created"] is True
    p = first["participant"]
    assert (p["segment"], p["fundingSource"], p["status"]) == ("BPU", "APBD", "ACTIVE")
    assert {x["program"] for x in p["programs"]} == {"JKK", "JKM"}
    assert first["monthlyContribution"] == "16800"
    assert first["beneficiary"] == {"enrolled": True, "participant": {"id": p["id"]}}
    audits = await _audits(writes)
    second = (await writes.gql(ENROL, {"id": bid}, staff["officer_5203"]))["data"]["enrollBeneficiary"]
    assert second["created"] is False
    assert second["participant"]["membershipNumber"] == p["membershipNumber"]
    assert await _audits(writes) == audits  # nothing changed, nothing recorded
    # A partner without participants:read may enrol, but is not shown the participant record.
    partner = await writes.gql(ENROL, {"id": bid}, staff["dinsos_5203"])
    assert partner["data"]["enrollBeneficiary"]["participant"] is None
    assert partner["data"]["enrollBeneficiary"]["beneficiary"]["enrolled"] is True
    assert {e["extensions"]["code"] for e in partner["errors"]} == {"FORBIDDEN"}


async def test_not_extreme_poor_needs_explicit_consent(writes: Any, staff: dict[str, Any]) -> None:
    b = await _unlinked(writes, extreme=False)
    bid = to_base64("PovertyBeneficiary", b.id)
    refused = (await writes.gql(ENROL, {"id": bid}, staff["officer_5203"]))["data"]["enrollBeneficiary"]
    assert [e["code"] for e in refused["errors"]] == ["NOT_EXTREME_POOR"]
    assert refused["participant"] is None
    allowed = (await writes.gql(ENROL, {"id": bid, "allow": True}, staff["officer_5203"]))["data"]["enrollBeneficiary"]
    assert allowed["errors"] == []
    assert allowed["created"] is True


async def test_wrong_funding_and_other_region(writes: Any, staff: dict[str, Any]) -> None:
    b = await _unlinked(writes, extreme=True, regency="52.71")
    bid = to_base64("PovertyBeneficiary", b.id)
    wrong = (await writes.gql(ENROL, {"id": bid, "funding": "EMPLOYER"}, staff["verifier"]))["data"][
        "enrollBeneficiary"
    ]
    assert [e["code"] for e in wrong["errors"]] == ["FUNDING_NOT_ALLOWED"]
    elsewhere = await writes.gql(ENROL, {"id": bid}, staff["dinsos_5203"])
    assert elsewhere["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    no_scope = await writes.gql(ENROL, {"id": bid}, staff["analyst_5203"])
    assert no_scope["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    unknown = await writes.gql(ENROL, {"id": to_base64("PovertyBeneficiary", 10**9)}, staff["verifier"])
    assert unknown["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    wrong_type = await writes.gql(ENROL, {"id": to_base64("Participant", b.id)}, staff["verifier"])
    assert wrong_type["errors"][0]["extensions"]["code"] == "NOT_FOUND"
