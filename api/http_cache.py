"""HTTP caching of ``GET /graphql`` by document id: ``Cache-Control`` by what the response holds, ``ETag``,
``304 Not Modified`` and ``Vary: Authorization``.

Only a GET that named its document by id (a registered document or an APQ entry) may be kept by a cache; the
URL then names the document and its variables, and nothing in the request body can change the answer. What
may keep it depends on the response:

- ``no-store`` when it holds unmasked personal data (the request noted reads for the personal-data access log,
  schema.core.access_log: a copy in a cache would be a read nobody logged), when it carries errors or another
  status than 200, and for every other GET (by text, refused, malformed);
- ``public, max-age=N`` when the document was pushed with ``--public-cache`` for the caller's client and the
  caller reads statistics only (``auth.policy.statistics_only``: every count suppressed, no row readable);
- ``private, max-age=N`` otherwise: the caller's own rows, which a browser or the app's own cache may keep
  for N seconds but a shared cache may not.

Every GET carries ``Vary: Authorization`` (and ``Vary: Accept``, api.graphql): a cache keys its entries by
token. A cacheable response carries a strong ``ETag`` (SHA-256 of its media type and body); a request whose
``If-None-Match`` matches it is answered ``304 Not Modified`` without a body. The document still runs to
compute the tag: a 304 saves the bytes, not the work, and whatever the run must do (its cost charge) is done.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

NO_STORE = "no-store"
#: Response headers a 304 repeats (RFC 9110 §15.4.5: those a 200 would have sent that describe the entry).
_REPEATED = ("cache-control", "etag", "vary", "content-location", "expires")


@dataclass(frozen=True, slots=True)
class CacheFacts:
    """What decides a GET response's caching, gathered by the view."""

    #: The request named its document by id (registered or APQ).
    by_id: bool
    #: 200 with no error in the response.
    clean: bool
    #: The response holds unmasked personal data.
    personal: bool
    #: The document was pushed with ``--public-cache`` for this client, and the caller reads statistics only.
    public: bool


def cache_control(facts: CacheFacts, max_age: int) -> str:
    """The ``Cache-Control`` of a GET response (the rules in this module's docstring)."""
    if not facts.by_id or not facts.clean or facts.personal or max_age <= 0:
        return NO_STORE
    return f"{'public' if facts.public else 'private'}, max-age={max_age}"


def entity_tag(response: Response) -> str:
    """A strong validator of `response`'s representation: its media type and its bytes."""
    digest = hashlib.sha256()
    digest.update(response.headers.get("content-type", "").encode())
    digest.update(b"\n")
    digest.update(response.body)
    return f'"{digest.hexdigest()[:40]}"'


def _matches(if_none_match: str, tag: str) -> bool:
    # If-None-Match compares weakly (RFC 9110 §13.1.2): W/"x" matches "x".
    candidates = [c.strip().removeprefix("W/") for c in if_none_match[:4096].split(",")]
    return "*" in candidates or tag in candidates


def answer(request: Request, response: Response, facts: CacheFacts, max_age: int) -> Response:
    """`response` with its caching headers, or ``304 Not Modified`` when the request's validator matches."""
    response.headers.add_vary_header("Authorization")
    directive = cache_control(facts, max_age)
    response.headers["Cache-Control"] = directive
    if directive == NO_STORE:
        return response
    tag = entity_tag(response)
    response.headers["ETag"] = tag
    if not _matches(request.headers.get("if-none-match", ""), tag):
        return response
    kept = {name: value for name, value in response.headers.items() if name in _REPEATED}
    return Response(status_code=304, headers=kept)
