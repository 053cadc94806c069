"""Two people act on the same claim at the same moment: exactly one wins, nothing is lost or doubled."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from sqlalchemy import func, select

from domain.audit.models import AuditEvent

TODAY = dt.date.today()
APPROVE = (
    "mutation($id: ID!, $v: Int!) { approveClaim(id: $id, expectedVersion: $v) "
    "{ claim { status version } errors { code } } }"
)


async def test_concurrent_approvals(
    writes: Any, staff: dict[str, Any], register: Any, pay: Any, new_nik: Any, mint: Any
) -> None:
    p = (await register(new_nik()))["participant"]
    await pay(p["id"], 2)
    submitted = await writes.gql(
        "mutation($input: SubmitClaimInput!) { submitClaim(input: $input) { claim { id version } errors { code } } }",
        {
            "input": {
                "participantId": p["id"],
                "program": "JKM",
                "cause": "DEATH",
                "incidentDate": TODAY.isoformat(),
                "recipients": [{"name": "Ani", "nik": "5271024403920002", "relationship": "SPOUSE"}],
            }
        },
        staff["verifier"],
    )
    claim = submitted["data"]["submitClaim"]["claim"]
    verified = await writes.gql(
        "mutation($id: ID!, $v: Int!) { verifyClaim(id: $id, expectedVersion: $v) { claim { id version } } }",
        {"id": claim["id"], "v": claim["version"]},
        staff["verifier"],
    )
    version = verified["data"]["verifyClaim"]["claim"]["version"]

    async def approvals() -> int:
        async with writes.engine.connect() as conn:
            stmt = select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "claim.approve")
            return int((await conn.execute(stmt)).scalar_one())

    before = await approvals()
    results = await asyncio.gather(
        writes.gql(APPROVE, {"id": claim["id"], "v": version}, staff["supervisor"]),
        writes.gql(APPROVE, {"id": claim["id"], "v": version}, staff["admin"]),
    )
    won = [r for r in results if r.get("data") and r["data"]["approveClaim"]["claim"]]
    lost = [r for r in results if r.get("errors")]
    assert len(won) == 1, results
    assert len(lost) == 1, results
    assert lost[0]["errors"][0]["extensions"]["code"] == "CONFLICT"
    assert won[0]["data"]["approveClaim"]["claim"] == {"status": "APPROVED", "version": version + 1}
    assert await approvals() == before + 1
