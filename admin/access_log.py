"""The console's share of the personal-data access log (``domain.audit.access``): lists, details pages, the
audit trail and CSV exports that show NIKs, family-card numbers, birth dates or wages in full are logged like
the API's responses.

The formatters note what they show in the request's :class:`PersonalDataReads` (:func:`console_reads`);
:class:`ConsoleAccessLog` writes it before any byte of the response leaves. A page is rendered before it is
sent, so its reads are logged before the response starts; if that write fails, the user gets an error page
instead of the data. A CSV export is streamed: each batch's reads are logged before the batch is sent, and a
failed write ends the download there.
"""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from admin.auth import console_principal
from auth.requests import request_meta
from domain.audit.access import PersonalDataReads, log_reads

log = logging.getLogger("jamsos.access_log")

_STATE = "console_pii_reads"


def console_reads(request: Request) -> PersonalDataReads:
    """This request's record of personal data shown in full (one per request, shared by every formatter)."""
    reads = getattr(request.state, _STATE, None)
    if not isinstance(reads, PersonalDataReads):
        reads = PersonalDataReads()
        setattr(request.state, _STATE, reads)
    return reads


class ConsoleAccessLog:
    """ASGI middleware: holds each response part back until the personal data it carries is logged."""

    def __init__(self, app: ASGIApp, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.app = app
        self.sessions = sessions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        held: Message | None = None  # the response start, sent with the first part that is logged
        refused = False

        async def send_logged(message: Message) -> None:
            nonlocal held, refused
            if refused:
                return  # an error page went out instead; the rest of the response is dropped
            if message["type"] == "http.response.start":
                held = message
                return
            if message["type"] == "http.response.body":
                try:
                    await self._log(request)
                except Exception:
                    log.exception("could not write the personal-data access log; withholding the console's response")
                    if held is None:
                        raise  # part of an export already went out: end the download here
                    refused = True
                    await PlainTextResponse(
                        "The access log could not be written, so this page is withheld. Try again.", 503
                    )(scope, receive, send)
                    return
            if held is not None:
                await send(held)
                held = None
            await send(message)

        await self.app(scope, receive, send_logged)

    async def _log(self, request: Request) -> None:
        reads = console_reads(request).take()
        if not reads:
            return
        actor = console_principal(request).actor
        async with self.sessions() as session, session.begin():
            await log_reads(session, actor, request_meta(request), reads)
