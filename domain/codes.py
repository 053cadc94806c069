"""Error codes as a typed contract: every code a caller can meet is a member of a catalogue, with its meaning.

Two kinds of codes leave the service:

* :class:`UserErrorCode` — what is wrong with the input, per field (``UserError.code`` of a mutation payload,
  an import report's ``code`` column, a refusal of a batch, a console form error). Each family of the domain
  declares its own subclass beside its code (``domain/claims/codes.py`` …); :mod:`domain.error_catalogue`
  gathers them into the one ``UserErrorCode`` enum of the SDL.
* :class:`ErrorCode` — how a whole request or field failed (a GraphQL error's ``extensions.code``, the
  GraphQL-shaped bodies of the HTTP errors). Declared here, below every layer that raises such an error.

A member is declared as ``NAME = "NAME", "What it means."``: the string is what clients see and compare, so
it never changes once published; the description is what the SDL and ``docs/api.md`` show. A code string is
a plain ``str`` too (a ``StrEnum``), so CSV reports, JSON and templates write it unchanged.
"""

from __future__ import annotations

import enum
from typing import Self


class Code(enum.StrEnum):
    """A stable machine-readable code with a description (the base of every catalogue; it has no members)."""

    _value_: str
    description: str

    def __new__(cls, value: str, description: str) -> Self:
        member = str.__new__(cls, value)
        member._value_ = value
        member.description = description
        return member


class UserErrorCode(Code):
    """A problem with the input that the caller can fix; the base of each family's catalogue (no members)."""


def require_code(code: object) -> None:
    """Refuse a code that is not a catalogue member where one is stored: mypy catches typed callers, this the
    rest (a string from a test, a template, a file)."""
    if not isinstance(code, UserErrorCode):
        raise TypeError(f"{code!r} is not a UserErrorCode member; declare it in its family's catalogue")


class ErrorCode(Code):
    """The ``extensions.code`` of a GraphQL error: how a request or a field failed, whoever raised it."""

    UNAUTHENTICATED = (
        "UNAUTHENTICATED",
        "No token where one is needed, or a token that does not verify (then HTTP 401 with an RFC 6750 challenge).",
    )
    FORBIDDEN = (
        "FORBIDDEN",
        "A token without the scope a field needs (the message names it); writing into another region; separation "
        "of duties; a regional token reading the audit trail; introspection outside development.",
    )
    NOT_FOUND = (
        "NOT_FOUND",
        "A mutation's target does not exist or lies outside the caller's region (lookups answer null instead).",
    )
    BAD_USER_INPUT = (
        "BAD_USER_INPUT",
        "Syntax, validation and argument errors (variables of the wrong type included); a malformed id, cursor, "
        "region code or NIK argument; a control character in any string argument; a malformed HTTP request.",
    )
    CONFLICT = (
        "CONFLICT",
        "A stale expectedVersion, a concurrent change of the same row, a unique key taken meanwhile: reload and retry.",
    )
    RATE_LIMITED = (
        "RATE_LIMITED",
        "The caller's budget is spent: HTTP 429 with Retry-After, and extensions.retryAfter in seconds.",
    )
    QUERY_TOO_COMPLEX = (
        "QUERY_TOO_COMPLEX",
        "A document over a limit (depth, aliases, tokens, directives, fragments, cost, representations), refused "
        "before it runs; extensions carry limit, measured and maximum.",
    )
    SERVICE_UNAVAILABLE = (
        "SERVICE_UNAVAILABLE",
        "The database cannot be reached or is read-only, or the personal-data access log could not be written so "
        "the whole response is withheld (data: null); HTTP 503 with Retry-After.",
    )
    PERSISTED_QUERY_NOT_FOUND = (
        "PERSISTED_QUERY_NOT_FOUND",
        "The document id names no document this client may run: never registered for it, registered for another "
        "client only, removed, or not (any more) in its APQ cache. Apollo's name: its clients resend the text.",
    )
    PERSISTED_QUERY_REQUIRED = (
        "PERSISTED_QUERY_REQUIRED",
        "The client is marked trusted_documents_only and sent document text instead of a registered document id.",
    )
    PERSISTED_QUERY_MISMATCH = (
        "PERSISTED_QUERY_MISMATCH",
        "A document id sent with a text that is not the text the id names (its SHA-256 differs).",
    )
    PERSISTED_QUERY_INVALID = (
        "PERSISTED_QUERY_INVALID",
        "A malformed document id (not sha256: and 64 lowercase hex digits, not a string, too long), a "
        "persistedQuery extension that is not {version: 1, sha256Hash}, or two different ids in one request.",
    )
    INTERNAL_SERVER_ERROR = (
        "INTERNAL_SERVER_ERROR",
        "Anything unexpected; the message carries no internals, extensions.requestId identifies it in the logs.",
    )
