"""File uploads to ``/graphql`` (the GraphQL multipart request spec): who may send a large body, and how large.

Every other request keeps the application's small body limit. A multipart request from a caller holding a
scope that uploads a file (:data:`UPLOAD_SCOPES`: ``beneficiaries:write`` for importBeneficiaries,
``participants:write`` for importParticipants and importContributions) may carry up to
``import_max_upload_bytes``; a larger one is refused from its ``Content-Length`` before any of it is read
(and, without one, as soon as the bytes read pass the limit). Anyone else's multipart request keeps the small
limit: an anonymous caller cannot make the server read a large body.
"""

from __future__ import annotations

import json

from starlette.datastructures import Headers
from starlette.middleware.body_limit import RequestBodyLimitMiddleware
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from api.middleware import principal_of
from auth.scopes import Scope as ApiScope
from domain.codes import ErrorCode

#: The scopes of the mutations that take a file.
UPLOAD_SCOPES = frozenset({ApiScope.BENEFICIARIES_WRITE, ApiScope.PARTICIPANTS_WRITE})


class UploadLimit:
    def __init__(self, app: ASGIApp, max_upload_bytes: int) -> None:
        self.app = app
        self.max_upload_bytes = max_upload_bytes
        self.upload_app = RequestBodyLimitMiddleware(app, max_body_size=max_upload_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if not headers.get("content-type", "").startswith("multipart/form-data"):
            await self.app(scope, receive, send)
            return
        if not UPLOAD_SCOPES & principal_of(HTTPConnection(scope)).scopes:
            await self.app(scope, receive, send)  # the application's ordinary limit applies
            return
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self.max_upload_bytes:
            await _refuse(send, int(length), self.max_upload_bytes)
            return
        await self.upload_app(scope, receive, send)


async def _refuse(send: Send, size: int, limit: int) -> None:
    message = (
        f"the upload has {size:,} bytes; at most {limit:,} are accepted over the API. "
        "Split the list, or load it with `jamsos import` on the server"
    )
    body = json.dumps(
        {"data": None, "errors": [{"message": message, "extensions": {"code": ErrorCode.BAD_USER_INPUT.value}}]}
    )
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"connection", b"close")],
        }
    )
    await send({"type": "http.response.body", "body": body.encode()})
