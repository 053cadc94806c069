"""The personal-data access log for GraphQL (``domain.audit.access``; the console writes the same log).

Resolvers of personal fields (and the compiled read path) note (entity type, id, field) in the request
context when they return a value unmasked; after execution the request's rows (one ``DataAccessEvent`` per
entity type) go to the app's :class:`~domain.audit.access.AccessLogWriter`, which commits the rows of all
requests waiting at that moment together (group commit, docs/adr/0012-access-log-group-commit.md). The
response leaves only once its own rows are committed; if they cannot be, it carries no data, only
:data:`ACCESS_LOG_MESSAGE`: personal data never leaves unlogged.

Writing it is the last per-request step (schema.core.pipeline.PersonalDataAccessLog), on every read path:
it raises :class:`AccessLogWithheld`, and the request is answered with ``data: null`` and that error
(tests/schema/test_access_log_withheld.py holds it to that on every read path, POST and GET).
"""

from __future__ import annotations

import logging

from graphql import GraphQLError

from domain.audit.access import AccessLogUnavailable, AccessLogWriter
from domain.codes import ErrorCode
from schema.core.context import Context
from schema.core.errors import UNAVAILABLE_RETRY_AFTER

log = logging.getLogger("jamsos.access_log")

ACCESS_LOG_MESSAGE = "The personal-data access log could not be written, so this response is withheld; retry shortly."


class AccessLogWithheld(GraphQLError):
    """The whole response is withheld: its personal-data reads could not be logged."""

    def __init__(self) -> None:
        super().__init__(
            ACCESS_LOG_MESSAGE,
            extensions={"code": ErrorCode.SERVICE_UNAVAILABLE.value, "retryAfter": UNAVAILABLE_RETRY_AFTER},
        )


async def write_access_log(context: Context) -> bool:
    """Write the request's noted personal-data reads and wait until they are durable; False if they are not.

    Every read path ends here: the last per-request step (schema.core.pipeline), and a subscription's events
    (schema.core.subscriptions).
    """
    if not context.pii_reads:
        return True
    writer = context.access_log
    if writer is None:
        if context.sessions is None:
            log.error("personal data was read without an access log to write it to; withholding the response")
            return False
        writer = AccessLogWriter(context.sessions)  # a context made outside an app: a writer of its own
    caller = context.caller
    try:
        await writer.write(caller.actor, caller.meta, context.pii_reads)
    except AccessLogUnavailable:
        log.exception("could not write the personal-data access log; withholding the response")
        return False
    return True
