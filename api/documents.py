"""Which document a GraphQL request runs: its text, a registered (trusted) document's id, or an APQ hash.

A request names a document by id as ``{"documentId": "sha256:<hex>"}`` (the GraphQL-over-HTTP persisted
documents convention; ``?documentId=`` on GET) or as Apollo's ``extensions.persistedQuery.sha256Hash`` (the
hash without its prefix). :meth:`Documents.resolve` turns that into the text to run, or refuses with one of
``domain.codes.ErrorCode``; the view (api.graphql) and the fast lane (api.fast_reads) both ask it, so that
every request is decided by the same rules:

- A client marked ``trusted_documents_only`` runs only documents registered for it (``jamsos documents
  push``): text without an id is ``PERSISTED_QUERY_REQUIRED``, an id it has not registered
  ``PERSISTED_QUERY_NOT_FOUND``. Its APQ cache is never written.
- Any other client may send text, and gets APQ: a hash alone that is neither registered for it nor in its
  cache is ``PERSISTED_QUERY_NOT_FOUND``; a hash with its text is remembered after the hash is checked.
- A document registered for one client does not exist for another (``PERSISTED_QUERY_NOT_FOUND``). An id sent
  with a text it does not name is ``PERSISTED_QUERY_MISMATCH``; a malformed id ``PERSISTED_QUERY_INVALID``.
- The rule follows the OAuth client the token was issued to, whoever its subject: a person signed in
  through a frontend app (authorization code) is bound by that app's flag and runs that app's documents.
  A token with no client (a development token without one) is never bound; anonymous callers get no APQ.

A registered document's text comes from the database once per process and :attr:`ttl` seconds (as does the
client's flag), and the same ``str`` object is handed out on every hit: the parse and validation caches
(schema.core.document_cache), keyed by the text, then hash it once and compare it by identity, so a document sent
by id is parsed and validated once per process, like a repeated text, without reading or hashing its text
per request. A document removed, or a flag changed, takes effect in every process within :attr:`ttl` seconds.

APQ entries live in this process (each worker keeps its own; a miss on another worker costs the client one
resend with the text), bounded per client by count and by bytes and in the number of clients, least
recently used first; evictions are counted in ``jamsos_apq_evictions_total``.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Final

from prometheus_client import Counter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from auth.principal import Principal
from domain.codes import ErrorCode
from domain.documents.models import (
    InvalidDocumentId,
    TrustedDocument,
    TrustedDocumentClient,
    document_id,
    parse_document_id,
)
from domain.identity.models import OAuthClient
from schema.compiled.cache import BoundedCache

APQ_REGISTERED = Counter("jamsos_apq_registrations_total", "Documents remembered by automatic persisted queries")
APQ_EVICTIONS = Counter(
    "jamsos_apq_evictions_total", "APQ documents dropped to stay within the per-client and client bounds"
)

#: The ``persistedQuery`` extension's only version (Apollo's protocol).
APQ_VERSION: Final = 1


class DocumentRefused(Exception):
    """The request's document cannot run: `code` (domain.codes.ErrorCode) and a message saying what to do."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class Resolved:
    """The text to run (None: the request named none, which Strawberry refuses), and how it was named."""

    query: str | None
    #: The id it ran as, when it came by id (registered or APQ); None for plain text.
    document_id: str | None = None
    #: True when it is a document registered for the caller's client.
    registered: bool = False
    #: Registered with ``--public-cache`` for the caller's client (api.http_cache).
    public_cache: bool = False


@dataclass(frozen=True, slots=True)
class Registered:
    """A document registered for a client: its text, and whether it was pushed with ``--public-cache``."""

    text: str
    public_cache: bool


@dataclass(frozen=True, slots=True)
class ApqBounds:
    documents_per_client: int = 256
    bytes_per_client: int = 1024 * 1024
    clients: int = 256


class _ClientApq:
    """One client's APQ documents, least recently used first, within a count and a byte bound."""

    def __init__(self) -> None:
        self.texts: OrderedDict[str, str] = OrderedDict()
        self.bytes = 0

    def get(self, doc_id: str) -> str | None:
        text = self.texts.get(doc_id)
        if text is not None:
            self.texts.move_to_end(doc_id)
        return text

    def put(self, doc_id: str, text: str, bounds: ApqBounds) -> int | None:
        """Remember `text`; how many older documents had to go (None: it was there already)."""
        if doc_id in self.texts:
            self.texts.move_to_end(doc_id)
            return None
        self.texts[doc_id] = text
        self.bytes += len(text)
        evicted = 0
        while len(self.texts) > bounds.documents_per_client or (
            self.bytes > bounds.bytes_per_client and len(self.texts) > 1
        ):
            _, old = self.texts.popitem(last=False)
            self.bytes -= len(old)
            evicted += 1
        return evicted


class ApqStore:
    """Automatic persisted queries per client key, bounded (ApqBounds); thread-safe like BoundedCache."""

    def __init__(self, bounds: ApqBounds) -> None:
        self.bounds = bounds
        self._clients: OrderedDict[str, _ClientApq] = OrderedDict()
        self._lock = threading.Lock()
        #: Evictions since start (the Prometheus counter is process-wide; tests read this app's own).
        self.evictions = 0

    def get(self, key: str, doc_id: str) -> str | None:
        with self._lock:
            store = self._clients.get(key)
            if store is None:
                return None
            self._clients.move_to_end(key)
            return store.get(doc_id)

    def put(self, key: str, doc_id: str, text: str) -> None:
        if len(text) > self.bounds.bytes_per_client:
            return  # larger than a client's whole share: run it, but do not keep it
        with self._lock:
            store = self._clients.get(key)
            if store is None:
                store = self._clients[key] = _ClientApq()
            self._clients.move_to_end(key)
            evicted = store.put(doc_id, text, self.bounds)
            if evicted is None:
                return
            while len(self._clients) > self.bounds.clients:
                _, dropped = self._clients.popitem(last=False)
                evicted += len(dropped.texts)
        APQ_REGISTERED.inc()
        if evicted:
            self.evictions += evicted
            APQ_EVICTIONS.inc(evicted)

    def size(self, key: str) -> int:
        with self._lock:
            store = self._clients.get(key)
            return 0 if store is None else len(store.texts)


#: Registry answers kept per process: (client, id) → text (None: not registered), and client → its flag.
_REGISTRY_ENTRIES: Final = 4096


class Documents:
    """The registry as this process sees it (read through a short-lived cache), and the APQ store."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], *, ttl: float = 10.0, apq: ApqBounds | None = None
    ) -> None:
        self.sessions = sessions
        #: Seconds a registry answer is trusted before it is read again.
        self.ttl = ttl
        self.apq = ApqStore(apq or ApqBounds())
        self._texts: BoundedCache[tuple[str, str], tuple[float, Registered]] = BoundedCache(_REGISTRY_ENTRIES)
        #: Ids looked up and not registered, apart: a flood of unknown ids evicts only other unknown ids.
        self._unknown: BoundedCache[tuple[str, str], float] = BoundedCache(_REGISTRY_ENTRIES)
        self._flags: BoundedCache[str, tuple[float, bool]] = BoundedCache(_REGISTRY_ENTRIES)

    async def trusted_only(self, client_id: str | None) -> bool:
        """Whether `client_id`'s tokens may run registered documents only (unknown or no client: no)."""
        if client_id is None:
            return False
        cached = self._flags.get(client_id)
        if isinstance(cached, tuple) and cached[0] > time.monotonic():
            return bool(cached[1])
        async with self.sessions() as session:
            flag = await session.scalar(
                select(OAuthClient.trusted_documents_only).where(OAuthClient.client_id == client_id)
            )
        value = bool(flag)
        self._flags.put(client_id, (time.monotonic() + self.ttl, value))
        return value

    async def registered(self, client_id: str | None, doc_id: str) -> Registered | None:
        """`doc_id` as registered for `client_id`, else None (foreign ids included)."""
        if client_id is None:
            return None
        key, now = (client_id, doc_id), time.monotonic()
        cached = self._texts.get(key)
        if isinstance(cached, tuple) and cached[0] > now:
            known: Registered = cached[1]
            return known
        unknown_until = self._unknown.get(key)
        if isinstance(unknown_until, float) and unknown_until > now:
            return None
        async with self.sessions() as session:
            row = (
                await session.execute(
                    select(TrustedDocument.text, TrustedDocumentClient.public_cache)
                    .join(TrustedDocumentClient, TrustedDocumentClient.document_id == TrustedDocument.id)
                    .where(TrustedDocument.id == doc_id, TrustedDocumentClient.client_id == client_id)
                )
            ).first()
        if row is None:
            # A miss is kept too (an APQ hit would read the registry first every time), but only briefly: a
            # document pushed a moment ago must soon be found.
            self._unknown.put(key, time.monotonic() + min(self.ttl, 1.0))
            return None
        found = Registered(row.text, bool(row.public_cache))
        self._texts.put(key, (time.monotonic() + self.ttl, found))
        return found

    async def resolve(
        self, principal: Principal, *, requested_id: object = None, extensions: Any = None, query: Any = None
    ) -> Resolved:
        """The text `principal`'s request runs, by the rules in this module's docstring; DocumentRefused if none.

        `requested_id` is the request's ``documentId`` (None when absent), `extensions` its ``extensions``
        and `query` its ``query``, as sent (their types are not checked yet).
        """
        named = _requested_id(requested_id, extensions)
        text = query if isinstance(query, str) else None
        trusted_only = await self.trusted_only(principal.client_id)
        if named is None:
            if text is not None and trusted_only:
                raise DocumentRefused(
                    ErrorCode.PERSISTED_QUERY_REQUIRED,
                    'This client runs only its registered documents: send {"documentId": "sha256:…"} instead of '
                    "the text (an administrator registers them with jamsos documents push).",
                )
            return Resolved(query)
        if text is not None and document_id(text) != named:
            raise DocumentRefused(
                ErrorCode.PERSISTED_QUERY_MISMATCH,
                f"The text sent is not the document {named}: its SHA-256 differs. Send the id alone, or the text "
                "that the id was computed from.",
            )
        registered = await self.registered(principal.client_id, named)
        if registered is not None:
            return Resolved(registered.text, named, registered=True, public_cache=registered.public_cache)
        key = None if trusted_only else apq_key(principal)
        if key is not None:
            remembered = self.apq.get(key, named)
            if remembered is not None:
                return Resolved(remembered, named)
            if text is not None:
                self.apq.put(key, named, text)
                return Resolved(text, named)
        raise DocumentRefused(ErrorCode.PERSISTED_QUERY_NOT_FOUND, _not_found(named, trusted_only, key))


def apq_key(principal: Principal) -> str | None:
    """Whose APQ cache a request reads and fills: its client's, else its subject's; none when anonymous."""
    if not principal.is_authenticated:
        return None
    return f"client:{principal.client_id}" if principal.client_id else f"subject:{principal.subject}"


def _not_found(named: str, trusted_only: bool, key: str | None) -> str:
    if trusted_only or key is None:
        return f"PersistedQueryNotFound: no document {named} is registered for this client."
    return (
        f"PersistedQueryNotFound: no document {named} is registered for this client or remembered for it; "
        "send the id again together with the text."
    )


def _requested_id(raw_id: object, extensions: Any) -> str | None:
    """The id a request names (``documentId`` or Apollo's ``persistedQuery``), normalised; None if neither."""
    named = None if raw_id is None else _checked(raw_id)
    persisted = extensions.get("persistedQuery") if isinstance(extensions, dict) else None
    if persisted is None:
        return named
    if (
        not isinstance(persisted, dict)
        or persisted.get("version") != APQ_VERSION
        or not isinstance(persisted.get("sha256Hash"), str)
    ):
        raise DocumentRefused(
            ErrorCode.PERSISTED_QUERY_INVALID,
            'The persistedQuery extension is {"version": 1, "sha256Hash": "<64 lowercase hex digits>"}.',
        )
    hashed = _checked(persisted["sha256Hash"])
    if named is not None and named != hashed:
        raise DocumentRefused(
            ErrorCode.PERSISTED_QUERY_INVALID,
            "documentId and extensions.persistedQuery.sha256Hash name two different documents; send one of them.",
        )
    return hashed


def _checked(raw: object) -> str:
    try:
        return parse_document_id(raw)
    except InvalidDocumentId as exc:
        raise DocumentRefused(ErrorCode.PERSISTED_QUERY_INVALID, str(exc)) from None
