"""Trusted documents in the console (admins only): listed with their clients, shown, removed through
``domain.documents.writes`` with an audit event per client; officers do not see the page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from auth import accounts
from auth.scopes import Scope
from domain.audit.models import AuditEvent
from domain.audit.writes import Actor
from domain.documents.models import TrustedDocument, document_id
from domain.documents.writes import NewDocument, push_documents
from tests.admin.conftest import Browser

TEXT = 'query ConsoleRegion { region(code: "52.71") { code name } }'
ACTOR = Actor(subject="cli:test", kind="system")


async def _registered(sessions: async_sessionmaker[AsyncSession]) -> tuple[str, str, str]:
    async with sessions() as session:
        one = await accounts.create_client(
            session, name="Console Documents A", scopes=frozenset({Scope.REGIONS_READ}), region=None, actor=ACTOR
        )
        two = await accounts.create_client(
            session, name="Console Documents B", scopes=frozenset({Scope.REGIONS_READ}), region=None, actor=ACTOR
        )
        new = [NewDocument(document_id(TEXT), TEXT, "ConsoleRegion")]
        for client in (one.client, two.client):
            await push_documents(session, client_id=client.client_id, documents=new, actor=ACTOR)
        await session.commit()
        return document_id(TEXT), one.client.client_id, two.client.client_id


async def test_admins_list_show_and_remove_a_document(
    signed_in: Callable[[str], Any], sessions: async_sessionmaker[AsyncSession]
) -> None:
    doc_id, first, second = await _registered(sessions)
    b: Browser = await signed_in("admin.nasional")
    listing = await b.get("/admin/trusted-document/list", params={"search": first})
    assert listing.status_code == 200
    for shown in (doc_id, "ConsoleRegion", second):
        assert shown in listing.text
    details = await b.get(f"/admin/trusted-document/details/{doc_id}")
    assert details.status_code == 200
    assert "region(code: &#34;52.71&#34;)" in details.text  # the text, escaped by the template
    assert "Remove for every client" in details.text

    removed = await b.post(f"/admin/trusted-document/remove/{doc_id}", {})
    assert removed.status_code == 303
    assert (await b.get(f"/admin/trusted-document/details/{doc_id}")).status_code == 404
    async with sessions() as session:
        assert await session.get(TrustedDocument, doc_id) is None
        events = (
            await session.scalars(
                select(AuditEvent.entity_id).where(AuditEvent.action == "documents.remove").order_by(AuditEvent.seq)
            )
        ).all()
    assert {first, second} <= set(events)


async def test_officers_do_not_see_the_registry(
    signed_in: Callable[[str], Any], sessions: async_sessionmaker[AsyncSession]
) -> None:
    b: Browser = await signed_in("officer.rina")
    assert (await b.get("/admin/trusted-document/list")).status_code in (403, 404)
    forged = await b.post("/admin/trusted-document/remove/sha256:" + "0" * 64, {}, token=False)
    assert forged.status_code in (403, 404)
