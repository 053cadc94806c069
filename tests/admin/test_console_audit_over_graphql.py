"""A correction made in the console is the same audit event the API reports: same before/after, same reason."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from auth.scopes import Role
from domain.participants.models import Participant, ParticipantStatus
from tests.admin.conftest import Browser, submit

AUDIT = """
query($id: String) {
  auditEvents(filter: {entityType: "Participant", entityId: $id}, first: 10) {
    edges { node { action actorSubject changes reasonCode reason entityId } }
  }
}"""
PARTICIPANT = "query($id: ID!) { node(id: $id) { ... on Participant { fullName status version } } }"


async def test_console_correction_shows_up_in_audit_events(
    signed_in: Callable[[str], Any],
    sessions: async_sessionmaker[AsyncSession],
    console_app: Starlette,
    mint: Callable[..., str],
) -> None:
    async with sessions() as session:
        p = (
            await session.scalars(
                select(Participant)
                .where(Participant.regency_code == "52.03", Participant.status == ParticipantStatus.ACTIVE)
                .order_by(Participant.id.desc())
                .limit(1)
            )
        ).one()
    dewi: Browser = await signed_in("officer.dewi")
    saved = await submit(
        dewi,
        f"/admin/participant/edit/{p.id}",
        {
            "full_name": f"{p.full_name} binti Amaq",
            "status": "DECEASED",
            "reason_code": "DEATH_REPORTED",
            "reason": "Death certificate 5203-KM-2026-117 brought by the heir",
        },
    )
    assert saved.status_code == 303, saved.text

    headers = {"Authorization": f"Bearer {mint(Role.ADMIN)}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=console_app), base_url="http://jamsos.test") as api:
        body = (
            await api.post("/graphql", json={"query": AUDIT, "variables": {"id": str(p.id)}}, headers=headers)
        ).json()
        global_id = base64.b64encode(f"Participant:{p.id}".encode()).decode()
        node = (
            await api.post("/graphql", json={"query": PARTICIPANT, "variables": {"id": global_id}}, headers=headers)
        ).json()
    assert "errors" not in body, body
    [event] = [e["node"] for e in body["data"]["auditEvents"]["edges"]]
    assert event == {
        "action": "participant.update",
        "actorSubject": "user:officer.dewi",
        "entityId": str(p.id),
        "reasonCode": "DEATH_REPORTED",
        "reason": "Death certificate 5203-KM-2026-117 brought by the heir",
        "changes": {
            "full_name": {"before": p.full_name, "after": f"{p.full_name} binti Amaq"},
            "status": {"before": "ACTIVE", "after": "DECEASED"},
        },
    }
    assert node["data"]["node"] == {
        "fullName": f"{p.full_name} binti Amaq",
        "status": "DECEASED",
        "version": p.version + 1,
    }

    details = await dewi.get(f"/admin/participant/details/{p.id}")
    assert "Recent changes" not in details.text  # officers lack audit:read; the flash told them instead
    admin: Browser = await signed_in("admin.nasional")
    seen = await admin.get(f"/admin/participant/details/{p.id}")
    assert "Death certificate 5203-KM-2026-117" in seen.text
    assert "DEATH_REPORTED" in seen.text
