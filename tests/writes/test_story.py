"""The story from the news of the day, end to end over GraphQL.

An informal worker in Lombok Timur on the P3KE extreme-poverty list, whose self-paid membership had
lapsed, is enrolled by the regional social affairs office with APBD funding (Inpres 4/2022). Months later
the worker dies; the widow files a JKM claim with scholarships for two children; a branch officer
verifies, a supervisor approves, the payment is recorded. Amounts follow docs/domain.md; every step is in the
audit chain and ``jamsos audit verify`` finds it intact.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import sys
from asyncio.subprocess import PIPE
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.relay import from_base64, to_base64

from domain.beneficiaries.models import PovertyBeneficiary
from domain.nik import Sex, build_nik
from domain.participants.models import Participant

TODAY = dt.date.today()
ENROL = """mutation($id: ID!) { enrollBeneficiary(beneficiaryId: $id) {
  created monthlyContribution errors { code message } beneficiary { enrolled } } }"""
PERSON = "query($id: ID!) { participant(id: $id) { id version status fundingSource programs { program } } }"


async def _the_worker(writes: Any) -> tuple[PovertyBeneficiary, Participant]:
    async with AsyncSession(writes.engine) as session:
        rows = (
            await session.execute(
                select(PovertyBeneficiary, Participant)
                .join(Participant, Participant.id == PovertyBeneficiary.participant_id)
                .where(
                    PovertyBeneficiary.regency_code == "52.03",
                    PovertyBeneficiary.extreme_poor.is_(True),
                    PovertyBeneficiary.source == "P3KE",
                    Participant.segment == "BPU",
                    Participant.funding_source != "APBD",
                    Participant.status.in_(["ACTIVE", "INACTIVE"]),
                    Participant.contribution_months >= 36,
                )
                .order_by(PovertyBeneficiary.id)
            )
        ).all()
    assert rows, "the tiny data set should hold a lapsed self-paying extreme-poor worker in Lombok Timur"
    return rows[0][0], rows[0][1]


async def test_the_story(writes: Any, staff: dict[str, Any], pay: Any, writes_url: str, key_path: Any) -> None:
    beneficiary, person = await _the_worker(writes)
    bid, pid = to_base64("PovertyBeneficiary", beneficiary.id), to_base64("Participant", person.id)

    # 1. The social affairs office enrols them: APBD pays JKK + JKM at the package price; asking again changes nothing.
    first = (await writes.gql(ENROL, {"id": bid}, staff["dinsos_5203"]))["data"]["enrollBeneficiary"]
    assert first["errors"] == []
    assert Decimal(first["monthlyContribution"]) == Decimal(16_800)
    assert first["beneficiary"]["enrolled"] is True
    enrolled = (await writes.gql(PERSON, {"id": pid}, staff["officer_5203"]))["data"]["participant"]
    assert enrolled["fundingSource"] == "APBD"
    assert enrolled["status"] == "ACTIVE"
    assert {p["program"] for p in enrolled["programs"]} >= {"JKK", "JKM"}
    await writes.gql(ENROL, {"id": bid}, staff["dinsos_5203"])
    again = (await writes.gql(PERSON, {"id": pid}, staff["officer_5203"]))["data"]["participant"]
    assert again["version"] == enrolled["version"]

    # 2. The regional budget pays the next month too (the enrolment month was recorded by the enrolment).
    await pay(pid, 1, payer="APBD", caller="officer_5203")

    # 3. The worker dies; the widow files JKM with two children's scholarships.
    widow = {
        "name": "Inaq Sumiati",
        "nik": build_nik("52.03.01", dt.date(1988, 2, 3), Sex.F, 7001),
        "relationship": "SPOUSE",
    }
    children = [
        {"name": "Lalu Rizki", "nik": build_nik("52.03.01", dt.date(2016, 4, 5), Sex.M, 7002), "educationLevel": "SD"},
        {"name": "Baiq Ayu", "nik": build_nik("52.03.01", dt.date(2012, 8, 9), Sex.F, 7003), "educationLevel": "SMP"},
    ]
    submitted = await writes.gql(
        "mutation($input: SubmitClaimInput!) { submitClaim(input: $input) { claim { id version claimNumber "
        "benefits { kind amount relationship educationLevel } } errors { field code message } } }",
        {
            "input": {
                "participantId": pid,
                "program": "JKM",
                "cause": "DEATH",
                "incidentDate": TODAY.isoformat(),
                "recipients": [widow],
                "scholarshipChildren": children,
                "idempotencyKey": "lotim-jkm-0001",
            }
        },
        staff["officer_5203"],
    )
    result = submitted["data"]["submitClaim"]
    assert result["errors"] == [], result
    claim = result["claim"]
    amounts = sorted((b["kind"], b["educationLevel"], Decimal(b["amount"])) for b in claim["benefits"])
    assert amounts == sorted(
        [
            ("LUMP_SUM", None, Decimal(20_000_000)),
            ("PERIODIC", None, Decimal(12_000_000)),
            ("FUNERAL", None, Decimal(10_000_000)),
            ("SCHOLARSHIP", "SD", Decimal(1_500_000)),
            ("SCHOLARSHIP", "SMP", Decimal(2_000_000)),
        ]
    )

    # 4. An officer verifies, a supervisor approves (not the verifier), the payment is recorded.
    def step(name: str, extra: str = "") -> str:
        return (
            f"mutation($id: ID!, $v: Int!) {{ r: {name}(id: $id, expectedVersion: $v{extra}) "
            "{ claim { version status amountApproved } errors { code message } } }"
        )

    version = claim["version"]
    for name, who, extra in (
        ("verifyClaim", "officer_5203", ', note: "death certificate and KK checked"'),
        ("approveClaim", "supervisor_5203", ""),
        ("payClaim", "officer_5203", ', paymentReference: "BPD-NTB-2026-118"'),
    ):
        body = await writes.gql(step(name, extra), {"id": claim["id"], "v": version}, staff[who])
        assert body["data"]["r"]["errors"] == [], body
        version = body["data"]["r"]["claim"]["version"]
    assert body["data"]["r"]["claim"]["status"] == "PAID"
    assert Decimal(body["data"]["r"]["claim"]["amountApproved"]) == Decimal(45_500_000)

    # 5. Every step is in the audit trail, and the chain verifies (through the CLI, as an auditor would).
    trail = await writes.gql(
        "{ auditEvents(first: 100) { edges { node { action entityType entityId actorSubject } } } }",
        caller=staff["auditor"],
    )
    ours = {("Participant", str(person.id)), ("PovertyBeneficiary", str(beneficiary.id))}
    actions = [
        (e["node"]["action"], e["node"]["actorSubject"])
        for e in trail["data"]["auditEvents"]["edges"]
        if (e["node"]["entityType"], e["node"]["entityId"]) in ours
    ]
    assert ("beneficiary.enroll", "dinsos-lombok-timur") in actions
    assert ("contribution.record", "dinsos-lombok-timur") in actions  # the enrolment month
    assert ("contribution.record", "officer.dewi@52.03") in actions  # the next month
    claim_id = from_base64(claim["id"])[1]
    claim_trail = [
        e["node"]["action"]
        for e in trail["data"]["auditEvents"]["edges"]
        if (e["node"]["entityType"], e["node"]["entityId"]) == ("Claim", claim_id)
    ]
    assert claim_trail == ["claim.pay", "claim.approve", "claim.verify", "claim.submit"]
    env = {**os.environ, "JAMSOS_DATABASE_URL": writes_url, "JAMSOS_ENV": "test"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "api.cli", "audit", "verify", env=env, stdout=PIPE, stderr=PIPE
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    assert "audit chain intact" in out.decode()
