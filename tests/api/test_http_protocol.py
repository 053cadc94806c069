"""One socket write per response of known length (api.http_protocol), on a real uvicorn server over TCP.

The server runs in this event loop with the protocol under test; each connection's transport records the
writes it is asked for before passing them on, so the test sees both what uvicorn wrote and what the client
received.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from api.http_protocol import OneWriteHttpToolsProtocol

WRITES: list[bytes] = []


class _Recording:
    """The connection's transport, recording what is written to it."""

    def __init__(self, transport: Any) -> None:
        self._transport = transport

    def write(self, data: bytes) -> None:
        WRITES.append(bytes(data))
        self._transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class RecordingProtocol(OneWriteHttpToolsProtocol):
    def connection_made(self, transport: Any) -> None:
        super().connection_made(_Recording(transport))  # type: ignore[arg-type]  # a transport by its methods


async def small(request: Request) -> Response:
    return PlainTextResponse("hello, " + request.query_params.get("name", "world"))


STREAM_GO = asyncio.Event()


async def stream(request: Request) -> Response:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"first"
        await STREAM_GO.wait()
        yield b"second"

    return StreamingResponse(chunks(), media_type="text/plain")


APP = Starlette(routes=[Route("/small", small, methods=["GET", "HEAD"]), Route("/stream", stream)])


@pytest.fixture
async def server() -> AsyncIterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    config = uvicorn.Config(APP, host="127.0.0.1", port=port, http=RecordingProtocol, log_config=None, lifespan="off")
    instance = uvicorn.Server(config)
    task = asyncio.create_task(instance.serve())
    for _ in range(500):  # uvicorn has no event for "listening"; a bounded wait for its flag
        if instance.started:
            break
        await asyncio.sleep(0.01)
    assert instance.started
    yield port
    instance.should_exit = True
    await task


async def _exchange(port: int, request: bytes, until: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        received = b""
        while until not in received:
            chunk = await asyncio.wait_for(reader.read(65536), 5)
            assert chunk, f"connection closed after {received!r}"
            received += chunk
        return received
    finally:
        writer.close()


async def test_a_response_of_known_length_is_one_write(server: int) -> None:
    WRITES.clear()
    two = b"GET /small?name=a HTTP/1.1\r\nhost: x\r\n\r\nGET /small?name=bb HTTP/1.1\r\nhost: x\r\n\r\n"
    received = await _exchange(server, two, b"hello, bb")
    assert received.count(b"HTTP/1.1 200 OK") == 2
    assert b"content-length: 8\r\n" in received
    assert b"\r\n\r\nhello, a" in received
    assert len(WRITES) == 2, WRITES  # one per response (two keep-alive requests on one connection)
    assert WRITES[0].startswith(b"HTTP/1.1 200 OK")
    assert WRITES[0].endswith(b"\r\n\r\nhello, a")


async def test_head_gets_its_headers(server: int) -> None:
    WRITES.clear()
    received = await _exchange(server, b"HEAD /small HTTP/1.1\r\nhost: x\r\n\r\n", b"\r\n\r\n")
    assert received.startswith(b"HTTP/1.1 200 OK")
    assert b"content-length: 12" in received
    assert received.endswith(b"\r\n\r\n")


async def test_a_streamed_response_gets_its_headers_before_its_body_ends(server: int) -> None:
    STREAM_GO.clear()
    reader, writer = await asyncio.open_connection("127.0.0.1", server)
    try:
        writer.write(b"GET /stream HTTP/1.1\r\nhost: x\r\n\r\n")
        received = b""
        while b"first" not in received:  # headers and the first chunk, while the second is held back
            received += await asyncio.wait_for(reader.read(65536), 5)
        assert received.startswith(b"HTTP/1.1 200 OK")
        assert b"transfer-encoding: chunked" in received
        STREAM_GO.set()
        while not received.endswith(b"0\r\n\r\n"):
            received += await asyncio.wait_for(reader.read(65536), 5)
        assert b"second" in received
    finally:
        writer.close()
