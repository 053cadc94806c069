"""The registry of trusted documents: each operation's exact text under its SHA-256 id, and the clients it is
registered for.

A document is content-addressed: its id is ``sha256:`` and the lowercase hex SHA-256 of its exact text (the
form GraphQL Code Generator's persisted-documents manifest and the GraphQL-over-HTTP persisted documents
convention use), so the same text pushed twice is one row, and an id can never name another text. Who may run
it is the link table: a document registered for client A does not exist for client B.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from typing import Final

from sqlalchemy import Boolean, ForeignKey, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from domain.db import Base, UTCDateTime, utcnow

#: The one algorithm ids are written with, and the id's prefix.
ALGORITHM: Final = "sha256"
#: ``sha256:`` and 64 lowercase hex digits: nothing else is an id.
DOCUMENT_ID_RE: Final = re.compile(r"^sha256:[0-9a-f]{64}$")
#: The longest id (``sha256:`` + 64): longer input is refused before anything else looks at it.
DOCUMENT_ID_LENGTH: Final = len(ALGORITHM) + 1 + 64


class InvalidDocumentId(ValueError):
    """Not ``sha256:<64 lowercase hex digits>``."""


def document_id(text: str) -> str:
    """The id of `text`: ``sha256:`` + the hex SHA-256 of its UTF-8 bytes, exactly as sent (no normalising)."""
    return f"{ALGORITHM}:{hashlib.sha256(text.encode()).hexdigest()}"


def parse_document_id(raw: object) -> str:
    """`raw` as a document id; a bare 64-digit hex hash (Apollo's ``sha256Hash``) gets the prefix."""
    if not isinstance(raw, str):
        raise InvalidDocumentId(f"a document id is a string, not {type(raw).__name__}")
    if len(raw) > DOCUMENT_ID_LENGTH:
        raise InvalidDocumentId(f"a document id has {DOCUMENT_ID_LENGTH} characters; this one has {len(raw)}")
    candidate = raw if raw.startswith(f"{ALGORITHM}:") else f"{ALGORITHM}:{raw}"
    if not DOCUMENT_ID_RE.match(candidate):
        shown = raw[:80]
        raise InvalidDocumentId(
            f"{shown!r} is not a document id: write sha256: and the 64 lowercase hex digits of the text's SHA-256"
        )
    return candidate


class TrustedDocument(Base):
    """One operation's text under its id, with who registered it first and when."""

    __tablename__ = "trusted_documents"

    id: Mapped[str] = mapped_column(String(DOCUMENT_ID_LENGTH), primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    #: The operation's name (the manifest's documents have one each); None for an anonymous operation.
    operation_name: Mapped[str | None] = mapped_column(String(200))
    #: Who registered the text first (``cli:<user>``, ``user:<name>``); the links say who added each client.
    registered_by: Mapped[str] = mapped_column(String(200))
    registered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    clients: Mapped[list[TrustedDocumentClient]] = relationship(
        back_populates="document",
        cascade="all, delete-orphan",
        lazy="raise",
        order_by="TrustedDocumentClient.client_id",
    )


class TrustedDocumentClient(Base):
    """A document registered for one OAuth client: that client's tokens may run it by id."""

    __tablename__ = "trusted_document_clients"

    document_id: Mapped[str] = mapped_column(ForeignKey("trusted_documents.id", ondelete="CASCADE"), primary_key=True)
    client_id: Mapped[str] = mapped_column(
        ForeignKey("oauth_clients.client_id", ondelete="CASCADE"), primary_key=True, index=True
    )
    registered_by: Mapped[str] = mapped_column(String(200))
    registered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: The pusher's word that the document returns only suppressed Monev aggregates: a shared HTTP cache may
    #: keep its GET responses to this client when the client reads statistics only (api.http_cache).
    public_cache: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    document: Mapped[TrustedDocument] = relationship(back_populates="clients", lazy="raise")
