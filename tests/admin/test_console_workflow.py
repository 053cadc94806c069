"""Claims in the console: the status moves only through the workflow buttons (domain.claims.writes)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.claims.models import Claim, ClaimStatus
from tests.admin.conftest import Browser


async def claim_in(sessions: async_sessionmaker[AsyncSession], regency: str, status: ClaimStatus | None) -> Claim:
    async with sessions() as session:
        stmt = select(Claim).where(Claim.regency_code == regency).order_by(Claim.id.desc())
        if status is not None:
            stmt = stmt.where(Claim.status == status)
        found = (await session.scalars(stmt.limit(1))).first()
    assert found is not None, (regency, status)
    return found


async def reload(sessions: async_sessionmaker[AsyncSession], claim_id: int) -> Claim:
    async with sessions() as session:
        claim = await session.get(Claim, claim_id)
    assert claim is not None
    return claim


async def press(b: Browser, claim: Claim, action: str, **fields: str) -> str:
    """Open the claim, press a workflow button, and return the page it lands on."""
    page = await b.get(f"/admin/claim/details/{claim.id}")
    assert page.status_code == 200
    response = await b.post(
        f"/admin/claim/workflow/{claim.id}", {"action": action, "version": str(claim.version), **fields}
    )
    assert response.status_code == 303, response.text
    landed = await b.get(response.headers["location"])
    return landed.text


async def test_status_is_not_editable(
    signed_in: Callable[[str], Any], sessions: async_sessionmaker[AsyncSession]
) -> None:
    claim = await claim_in(sessions, "52.71", None)
    b: Browser = await signed_in("officer.rina")
    assert (await b.get(f"/admin/claim/edit/{claim.id}")).status_code == 403
    assert (await b.get("/admin/claim/create")).status_code == 403
    await b.get("/admin/")
    posted = await b.post(f"/admin/claim/edit/{claim.id}", {"status": "PAID", "version": str(claim.version)})
    assert posted.status_code == 403
    assert (await reload(sessions, claim.id)).status is claim.status


async def test_verify_then_approve_by_someone_else_then_pay(
    signed_in: Callable[[str], Any], sessions: async_sessionmaker[AsyncSession]
) -> None:
    claim = await claim_in(sessions, "52.71", ClaimStatus.SUBMITTED)
    rina: Browser = await signed_in("officer.rina")
    page = await press(rina, claim, "verify", note="Documents complete")
    assert f"Claim {claim.claim_number} is now VERIFIED" in page
    assert 'id="action-approve"' not in page  # the verifier is not offered the approval …
    claim = await reload(sessions, claim.id)
    assert (claim.status, claim.verified_by) == (ClaimStatus.VERIFIED, "user:officer.rina")

    refused = await press(rina, claim, "approve")  # … and the domain refuses it if forced
    assert "someone else must approve it" in refused
    assert (await reload(sessions, claim.id)).status is ClaimStatus.VERIFIED

    admin: Browser = await signed_in("admin.nasional")
    approved = await press(admin, claim, "approve", note="ok")
    assert "is now APPROVED" in approved
    claim = await reload(sessions, claim.id)
    no_reference = await press(admin, claim, "pay", payment_reference="")
    assert "Nothing was saved" in no_reference
    paid = await press(admin, claim, "pay", payment_reference="BNI-2026-0001")
    assert "is now PAID" in paid
    claim = await reload(sessions, claim.id)
    assert (claim.status, claim.payment_reference) == (ClaimStatus.PAID, "BNI-2026-0001")
    assert 'id="actions"' not in paid  # a paid claim has nothing left to do


async def test_a_stale_button_changes_nothing(
    signed_in: Callable[[str], Any], sessions: async_sessionmaker[AsyncSession]
) -> None:
    claim = await claim_in(sessions, "52.02", ClaimStatus.SUBMITTED)
    rina: Browser = await signed_in("admin.kedua")
    await rina.get(f"/admin/claim/details/{claim.id}")
    stale = await rina.post(
        f"/admin/claim/workflow/{claim.id}", {"action": "reject", "version": str(claim.version - 1), "reason": "x"}
    )
    page = await rina.get(stale.headers["location"])
    assert "changed by someone else" in page.text
    assert (await reload(sessions, claim.id)).status is ClaimStatus.SUBMITTED
    rejected = await press(rina, claim, "reject", reason="The death certificate is not legible")
    assert "is now REJECTED" in rejected
    assert (await reload(sessions, claim.id)).rejection_reason == "The death certificate is not legible"


async def test_unknown_actions_are_refused(
    signed_in: Callable[[str], Any], sessions: async_sessionmaker[AsyncSession]
) -> None:
    claim = await claim_in(sessions, "52.05", ClaimStatus.SUBMITTED)
    rina: Browser = await signed_in("admin.kedua")
    await rina.get(f"/admin/claim/details/{claim.id}")
    response = await rina.post(f"/admin/claim/workflow/{claim.id}", {"action": "pay-twice", "version": "1"})
    assert response.status_code == 403
    assert (await reload(sessions, claim.id)).status is ClaimStatus.SUBMITTED
