"""Registering and removing trusted documents, each change one audit event in the same transaction.

Callers (the CLI, the console) check that a text is a valid GraphQL operation; this module checks what the
registry itself guarantees: an id is the SHA-256 of its text, the client exists, and a push is all or nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.audit.writes import Actor, RequestMeta, record
from domain.db import utcnow
from domain.documents.models import (
    InvalidDocumentId,
    TrustedDocument,
    TrustedDocumentClient,
    document_id,
    parse_document_id,
)
from domain.identity.models import OAuthClient


class DocumentError(ValueError):
    """A refused registry change, with a message a person can act on."""


@dataclass(frozen=True, slots=True)
class NewDocument:
    """A document to register: the id it was given (a manifest's key, or computed for a file), its text."""

    id: str
    text: str
    operation_name: str | None
    #: Where it came from (a file name and key), for messages.
    source: str = ""


@dataclass(frozen=True, slots=True)
class PushReport:
    added: list[str]
    already: list[str]


def check_document(new: NewDocument) -> str:
    """`new`'s id, normalised, when it is the SHA-256 of its text; DocumentError otherwise."""
    where = f" ({new.source})" if new.source else ""
    try:
        given = parse_document_id(new.id)
    except InvalidDocumentId as exc:
        raise DocumentError(f"{exc}{where}") from None
    actual = document_id(new.text)
    if given != actual:
        raise DocumentError(f"the id {given} is not the SHA-256 of its text{where}: the text hashes to {actual}")
    return given


async def _client(session: AsyncSession, client_id: str) -> OAuthClient:
    client = await session.scalar(select(OAuthClient).where(OAuthClient.client_id == client_id))
    if client is None:
        raise DocumentError(f"no OAuth client {client_id!r} (jamsos clients list shows them)")
    return client


async def push_documents(
    session: AsyncSession,
    *,
    client_id: str,
    documents: Sequence[NewDocument],
    actor: Actor,
    public_cache: bool = False,
    meta: RequestMeta | None = None,
) -> PushReport:
    """Register every document of `documents` for `client_id`, or none (a bad id refuses the whole push).

    `public_cache` is set on every pushed document's link for this client, new or not: pushing a manifest
    again without it takes the promise back.
    """
    if not documents:
        raise DocumentError("nothing to push: give a persisted-documents manifest (.json) or .graphql files")
    await _client(session, client_id)
    checked = {check_document(new): new for new in documents}
    stored = {
        d.id: d for d in await session.scalars(select(TrustedDocument).where(TrustedDocument.id.in_(list(checked))))
    }
    linked = {
        link.document_id: link
        for link in await session.scalars(
            select(TrustedDocumentClient).where(
                TrustedDocumentClient.client_id == client_id, TrustedDocumentClient.document_id.in_(list(checked))
            )
        )
    }
    now = utcnow()
    added: list[str] = []
    flagged: list[str] = []
    for doc_id, new in checked.items():
        if doc_id not in stored:
            session.add(
                TrustedDocument(
                    id=doc_id,
                    text=new.text,
                    operation_name=new.operation_name,
                    registered_by=actor.subject,
                    registered_at=now,
                )
            )
        link = linked.get(doc_id)
        if link is None:
            session.add(
                TrustedDocumentClient(
                    document_id=doc_id,
                    client_id=client_id,
                    registered_by=actor.subject,
                    registered_at=now,
                    public_cache=public_cache,
                )
            )
            added.append(doc_id)
        elif link.public_cache != public_cache:
            link.public_cache = public_cache
            flagged.append(doc_id)
    await session.flush()
    changes: dict[str, Any] = {}
    if added:
        changes["documents"] = {"before": None, "after": sorted(added)}
    if flagged:
        changes["public_cache"] = {"before": not public_cache, "after": public_cache, "documents": sorted(flagged)}
    if changes:
        await record(
            session,
            actor=actor,
            action="documents.push",
            entity_type="oauth_client",
            entity_id=client_id,
            changes=changes,
            meta=meta,
        )
    return PushReport(added=sorted(added), already=sorted(linked))


async def remove_document(
    session: AsyncSession,
    *,
    document: str,
    client_id: str | None,
    actor: Actor,
    meta: RequestMeta | None = None,
) -> list[str]:
    """Unregister `document` for `client_id` (for every client when None); the clients it was removed for.

    A document left with no client is deleted: the registry holds only what some client may run.
    """
    try:
        doc_id = parse_document_id(document)
    except InvalidDocumentId as exc:
        raise DocumentError(str(exc)) from None
    links = select(TrustedDocumentClient.client_id).where(TrustedDocumentClient.document_id == doc_id)
    if client_id is not None:
        links = links.where(TrustedDocumentClient.client_id == client_id)
    clients = sorted(await session.scalars(links))
    if not clients:
        whose = f" for client {client_id!r}" if client_id else ""
        raise DocumentError(f"no document {doc_id} is registered{whose} (jamsos documents list shows them)")
    await session.execute(
        delete(TrustedDocumentClient).where(
            TrustedDocumentClient.document_id == doc_id, TrustedDocumentClient.client_id.in_(clients)
        )
    )
    remaining = await session.scalar(
        select(func.count()).select_from(TrustedDocumentClient).where(TrustedDocumentClient.document_id == doc_id)
    )
    if not remaining:
        await session.execute(delete(TrustedDocument).where(TrustedDocument.id == doc_id))
    for client in clients:
        await record(
            session,
            actor=actor,
            action="documents.remove",
            entity_type="oauth_client",
            entity_id=client,
            changes={"documents": {"before": [doc_id], "after": None}},
            meta=meta,
        )
    return clients
