"""Error codes of the API and how every error leaves the server.

Resolvers raise exceptions that carry ``extensions = {"code": ...}``; graphql-core copies those onto the
GraphQL error. :func:`format_errors` gives every remaining error a code and hides internals: an exception
we did not raise on purpose becomes ``INTERNAL_SERVER_ERROR`` with a generic message (and is logged).
"""

from __future__ import annotations

import enum
import logging
from typing import Any

from graphql import GraphQLError
from strawberry.exceptions import StrawberryInputCoercionError

log = logging.getLogger("jamsos.errors")


class ErrorCode(enum.StrEnum):
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    BAD_USER_INPUT = "BAD_USER_INPUT"
    CONFLICT = "CONFLICT"
    RATE_LIMITED = "RATE_LIMITED"
    QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"
    INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"


class BadInput(Exception):
    """Input the caller can fix; the message says how."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.extensions: dict[str, Any] = {"code": ErrorCode.BAD_USER_INPUT.value}
        if field:
            self.extensions["field"] = field


class QueryTooComplex(Exception):
    """The request asks for more than the server resolves at once; the message says the limit."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.extensions: dict[str, Any] = {"code": ErrorCode.QUERY_TOO_COMPLEX.value}


INTERNAL_MESSAGE = "Internal server error. The request id in the response headers identifies it in our logs."


def is_unexpected(error: GraphQLError) -> bool:
    """An error we did not raise on purpose: a bug or an outage, to be logged and hidden from the caller."""
    code = (error.extensions or {}).get("code")
    return code not in ErrorCode.__members__ and error.original_error is not None and not _is_input_coercion(error)


def log_unexpected(errors: list[GraphQLError]) -> None:
    """Log the errors worth a look (with their traceback); expected ones (bad input, denied access) are not."""
    for error in errors:
        if is_unexpected(error):
            log.error("unexpected error in %s", error.path, exc_info=error.original_error)


def format_errors(errors: list[GraphQLError]) -> list[GraphQLError]:
    """Give every error a code; replace anything unexpected by a generic internal error."""
    formatted = []
    for error in errors:
        code = (error.extensions or {}).get("code")
        if code in ErrorCode.__members__:
            formatted.append(error)
        elif error.original_error is None or _is_input_coercion(error):
            # Syntax, validation and coercion errors: graphql-core's messages are safe to show.
            formatted.append(_with_code(error, ErrorCode.BAD_USER_INPUT))
        else:
            formatted.append(
                GraphQLError(
                    INTERNAL_MESSAGE,
                    path=error.path,
                    extensions={"code": ErrorCode.INTERNAL_SERVER_ERROR.value},
                )
            )
    return formatted


def _is_input_coercion(error: GraphQLError) -> bool:
    # Scalars that fail to parse (a Date of month 13, a global id that is not base64) are input errors,
    # raised while arguments are coerced, before any resolver of ours runs.
    if isinstance(error.original_error, StrawberryInputCoercionError):
        return True
    # A variable of the wrong type (1.5 for an Int, "BANK" for an enum) fails before execution: no path.
    return error.path is None and isinstance(error.original_error, (GraphQLError, ValueError, TypeError))


def _with_code(error: GraphQLError, code: ErrorCode) -> GraphQLError:
    return GraphQLError(
        error.message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions={**(error.extensions or {}), "code": code.value},
    )
