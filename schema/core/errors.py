"""How every error leaves the server, with a code of the catalogue :class:`domain.codes.ErrorCode`.

Resolvers raise exceptions that carry ``extensions = {"code": ErrorCode....value}``; graphql-core copies those
onto the GraphQL error. :func:`format_errors` gives every remaining error a code and hides internals: an exception
we did not raise on purpose becomes ``INTERNAL_SERVER_ERROR`` with a generic message (and is logged).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from graphql import GraphQLError
from strawberry.exceptions import StrawberryInputCoercionError
from strawberry.relay.types import GlobalIDValueError

from domain.codes import ErrorCode

log = logging.getLogger("jamsos.errors")


class BadInput(Exception):
    """Input the caller can fix; the message says how."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.extensions: dict[str, Any] = {"code": ErrorCode.BAD_USER_INPUT.value}
        if field:
            self.extensions["field"] = field


class QueryTooComplex(Exception):
    """The request asks for more than the server resolves at once; the message says the limit."""

    def __init__(
        self, message: str, *, limit: str | None = None, measured: int | None = None, maximum: int | None = None
    ) -> None:
        super().__init__(message)
        self.extensions: dict[str, Any] = {"code": ErrorCode.QUERY_TOO_COMPLEX.value}
        if limit is not None:
            self.extensions.update({"limit": limit, "measured": measured, "maximum": maximum})


class RateLimited(Exception):
    """The caller spent its budget; HTTP 429 with ``Retry-After`` (api/graphql.py sets both)."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"rate limit reached; retry after {retry_after} s")
        self.retry_after = retry_after
        self.extensions: dict[str, Any] = {"code": ErrorCode.RATE_LIMITED.value, "retryAfter": retry_after}


INTERNAL_MESSAGE = "Internal server error. The request id identifies it in our logs."
UNAVAILABLE_MESSAGE = "The database is unavailable for a moment; retry shortly."
READ_ONLY_MESSAGE = "The database accepts no changes at the moment (it is read-only); reads go on. Retry later."
#: Seconds a caller should wait after SERVICE_UNAVAILABLE.
UNAVAILABLE_RETRY_AFTER = 2


def _causes(exc: BaseException | None) -> list[BaseException]:
    chain: list[BaseException] = []
    while exc is not None and len(chain) < 10:
        chain.append(exc)
        exc = exc.__cause__ or exc.__context__
    return chain


def is_read_only(exc: BaseException | None) -> bool:
    """A write refused because the database is read-only (a replica, or read-only during maintenance)."""
    return any(getattr(e, "sqlstate", None) == "25006" for e in _causes(exc))


def is_outage(exc: BaseException | None) -> bool:
    """The database went away (restart, failover, network), as opposed to a bug: retryable, HTTP 503."""
    from sqlalchemy.exc import DBAPIError, InterfaceError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, PoolTimeout | InterfaceError | ConnectionError | OSError):
            return True
        if isinstance(exc, DBAPIError) and exc.connection_invalidated:
            return True
        name = type(exc).__name__
        if name in _OUTAGE_EXCEPTIONS:
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


# Driver exceptions meaning "no server to talk to" (asyncpg's, by name: the SQLite suite has no asyncpg
# installed necessarily, and these are matched in the cause chain SQLAlchemy wraps them in).
_OUTAGE_EXCEPTIONS = frozenset(
    {
        "ConnectionDoesNotExistError",
        "ConnectionFailureError",
        "CannotConnectNowError",
        "AdminShutdownError",
        "CrashShutdownError",
        "TooManyConnectionsError",
        "ConnectionRejectionError",
        "InterfaceError",
    }
)


def is_unexpected(error: GraphQLError) -> bool:
    """An error we did not raise on purpose: a bug or an outage, to be logged and hidden from the caller."""
    code = (error.extensions or {}).get("code")
    return code not in ErrorCode.__members__ and error.original_error is not None and not _is_input_coercion(error)


def log_unexpected(errors: list[GraphQLError]) -> None:
    """Log the errors worth a look (with their traceback); expected ones (bad input, denied access) are not."""
    for error in errors:
        if is_unexpected(error):
            if is_outage(error.original_error) or is_read_only(error.original_error):
                log.warning("database unavailable in %s: %s", error.path, error.original_error)
            else:
                log.error("unexpected error in %s", error.path, exc_info=error.original_error)


def format_errors(errors: list[GraphQLError], request_id: str | None = None) -> list[GraphQLError]:
    """Give every error a code; replace anything unexpected by a generic error carrying the request id."""
    formatted = []
    for error in errors:
        code = (error.extensions or {}).get("code")
        if code in ErrorCode.__members__:
            formatted.append(error)
        elif error.original_error is None and (limit := _TOKEN_LIMIT.search(error.message)):
            # The parser's token limit, when it fired where schema.core.limits could not restate it (a parser cache).
            maximum = int(limit.group(1))
            formatted.append(
                GraphQLError(
                    f"The document has more than {maximum:,} tokens, the limit. Send a smaller document.",
                    extensions={"code": ErrorCode.QUERY_TOO_COMPLEX.value, "limit": "tokens", "maximum": maximum},
                )
            )
        elif error.original_error is None or _is_input_coercion(error):
            # Syntax, validation and coercion errors: graphql-core's messages are safe to show.
            formatted.append(_with_code(error, ErrorCode.BAD_USER_INPUT))
        elif is_read_only(error.original_error) or is_outage(error.original_error):
            extensions: dict[str, Any] = {"code": ErrorCode.SERVICE_UNAVAILABLE.value}
            extensions["retryAfter"] = UNAVAILABLE_RETRY_AFTER
            if request_id:
                extensions["requestId"] = request_id
            message = READ_ONLY_MESSAGE if is_read_only(error.original_error) else UNAVAILABLE_MESSAGE
            formatted.append(GraphQLError(message, path=error.path, extensions=extensions))
        else:
            extensions = {"code": ErrorCode.INTERNAL_SERVER_ERROR.value}
            if request_id:
                extensions["requestId"] = request_id
            formatted.append(GraphQLError(INTERNAL_MESSAGE, path=error.path, extensions=extensions))
    return formatted


_TOKEN_LIMIT = re.compile(r"^Syntax Error: Document contains more than (\d+) tokens")


def _is_input_coercion(error: GraphQLError) -> bool:
    # Scalars that fail to parse (a Date of month 13, a global id that is not base64) are input errors,
    # raised while arguments are coerced, before any resolver of ours runs; so is a global id naming a
    # type this schema does not have (relay's node() raises it before any lookup). Variables that fail to
    # coerce (a null for a non-null Upload!, "yes" for a Boolean) carry graphql-core's own GraphQLError.
    if isinstance(error.original_error, StrawberryInputCoercionError | GlobalIDValueError | GraphQLError):
        return True
    # A variable of the wrong type (1.5 for an Int, "BANK" for an enum) fails before execution: no path.
    return error.path is None and isinstance(error.original_error, ValueError | TypeError)


def _with_code(error: GraphQLError, code: ErrorCode) -> GraphQLError:
    return GraphQLError(
        error.message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions={**(error.extensions or {}), "code": code.value},
    )
