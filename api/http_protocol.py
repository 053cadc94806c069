"""uvicorn's httptools protocol, writing a response of known length to the socket once instead of twice.

uvicorn writes the status line and headers when the app sends ``http.response.start`` and the body when it
sends ``http.response.body``: two ``transport.write`` calls, so two ``send`` system calls on an idle socket,
and on loopback each of them also runs the receiving side's TCP processing. For a small GraphQL answer that
second system call was a sixth of the server's CPU per request (bench/README.md).

:class:`OneWriteHttpToolsProtocol` gives each request's cycle a transport that keeps the header block back
and writes it together with the first body chunk. Only when the response states its ``content-length`` (a
complete body follows at once, as Starlette's ``Response`` sends it); a chunked or streamed response gets
its headers immediately, as before. Everything else about the connection is uvicorn's own.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle


class _HeadersWithBody:
    """The transport as one request's cycle sees it: a length-delimited response's headers wait for its body."""

    __slots__ = ("_cycle", "_headers_seen", "_held", "_transport")

    def __init__(self, transport: asyncio.Transport, cycle: RequestResponseCycle) -> None:
        self._transport = transport
        self._cycle = cycle
        self._held: bytes | None = None
        self._headers_seen = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._held is not None:
            held, self._held = self._held, None
            self._transport.write(held + bytes(data))
            return
        cycle = self._cycle
        if not self._headers_seen and cycle.response_started:
            # The header block (uvicorn sets response_started just before writing it; a "100 Continue"
            # written earlier goes straight out). Held only when a content-length says a body write comes
            # next; uvicorn writes no body at all for HEAD.
            self._headers_seen = True
            if cycle.chunked_encoding is False and cycle.scope["method"] != "HEAD":
                self._held = bytes(data)
                return
        self._transport.write(data)

    def close(self) -> None:
        # The app failed after starting its response: the connection is closed without an answer anyway.
        self._held = None
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class OneWriteHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol whose request cycles write headers and body of a response together."""

    def on_headers_complete(self) -> None:
        before = self.cycle
        super().on_headers_complete()
        cycle = self.cycle
        if cycle is not None and cycle is not before:
            # The cycle's task is scheduled, not started: nothing has been written through it yet.
            cycle.transport = _HeadersWithBody(self.transport, cycle)  # type: ignore[assignment]
