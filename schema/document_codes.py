"""The ``extensions.code`` values of requests refused over their document (trusted documents and APQ).

They are Apollo's names where Apollo has one (``PERSISTED_QUERY_NOT_FOUND``: Apollo Client's persisted-query
link resends the text on it), so that off-the-shelf clients behave; the rest are ours. One place, so that the
error catalogue can take them over as they are. Each is a request error: the document never ran, so there is
no ``data`` (400 under ``application/graphql-response+json``, 200 under ``application/json``).
"""

from __future__ import annotations

import enum
from typing import Final


class DocumentErrorCode(enum.StrEnum):
    #: The id names no document this client may run: never registered for it, registered for another client
    #: only (a foreign id does not exist for the caller), removed, or not in its APQ cache (any more).
    PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
    #: The client is marked ``trusted_documents_only`` and sent document text without an id.
    PERSISTED_QUERY_REQUIRED = "PERSISTED_QUERY_REQUIRED"
    #: An id sent with a text that is not the text the id names (its SHA-256 differs).
    PERSISTED_QUERY_MISMATCH = "PERSISTED_QUERY_MISMATCH"
    #: The id is malformed (not ``sha256:`` and 64 lowercase hex digits, or not a string, or too long), the
    #: ``persistedQuery`` extension is not ``{"version": 1, "sha256Hash": "<hex>"}``, or two different ids.
    PERSISTED_QUERY_INVALID = "PERSISTED_QUERY_INVALID"


#: Every code above, as strings (schema.errors lets them through as they are).
DOCUMENT_ERROR_CODES: Final = frozenset(code.value for code in DocumentErrorCode)
