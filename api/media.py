"""Which media type a GraphQL response is sent as: content negotiation per the GraphQL-over-HTTP spec.

Two response media types are served. ``application/graphql-response+json`` is the spec's own: its status
codes mean something (a request error, one that stopped the document before it ran, is 4xx without
``data``). ``application/json`` is the legacy one, kept exactly as it was: 200 whatever the GraphQL
outcome (429 and 503 aside). A client that sends no ``Accept``, an empty one, or only wildcards gets
``application/json``: the spec lets the server choose then, and every client written before this change
keeps what it had. An ``Accept`` that neither type satisfies is answered 406.

The choice follows RFC 9110 §12.5.1: each type takes the quality of the most specific range that matches it
(``application/json`` over ``application/*`` over ``*/*``), ``q=0`` excludes, the higher quality wins; on a
tie, a type named outright beats one a wildcard matched, then the one named first in the header, then
``application/json``. A range whose ``charset`` is not UTF-8 matches nothing (the spec's responses are
UTF-8 only).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

#: The GraphQL-over-HTTP spec's response media type.
GRAPHQL_RESPONSE_JSON: Final = "application/graphql-response+json"
#: The legacy response media type, and the default.
JSON: Final = "application/json"
#: The ``Content-Type`` each media type is sent with. The spec's type names its charset (it MUST be UTF-8);
#: ``application/json`` is sent as it always was (RFC 8259 defines no charset parameter for it).
CONTENT_TYPES: Final = {GRAPHQL_RESPONSE_JSON: f"{GRAPHQL_RESPONSE_JSON}; charset=utf-8", JSON: JSON}

#: Longest ``Accept`` header read; past it the header is cut (a browser's is a few hundred bytes).
_MAX_ACCEPT = 4096
#: Most media ranges read from one header.
_MAX_RANGES = 64


@dataclass(frozen=True)
class _Range:
    type: str
    subtype: str
    quality: float
    position: int

    def specificity(self, media_type: str) -> int | None:
        """How specifically this range names `media_type` (2 exactly, 1 ``type/*``, 0 ``*/*``), or None."""
        kind, _, sub = media_type.partition("/")
        if self.type == kind and self.subtype == sub:
            return 2
        if self.type == kind and self.subtype == "*":
            return 1
        if self.type == "*" and self.subtype == "*":
            return 0
        return None


def _quality(value: str) -> float | None:
    try:
        quality = float(value)
    except ValueError:
        return None
    return quality if 0.0 <= quality <= 1.0 else None


def _ranges(accept: str) -> list[_Range]:
    ranges: list[_Range] = []
    for position, part in enumerate(accept[:_MAX_ACCEPT].split(",")[:_MAX_RANGES]):
        media, *params = (p.strip() for p in part.split(";"))
        kind, slash, sub = media.lower().partition("/")
        if not slash or not kind or not sub:
            continue
        quality: float | None = 1.0
        charset_ok = True
        for param in params:
            name, _, value = param.partition("=")
            name, value = name.strip().lower(), value.strip().strip('"').lower()
            if name == "q":
                quality = _quality(value)
            elif name == "charset":
                charset_ok = value in ("utf-8", "utf8")
        if quality is None or not charset_ok:
            continue  # a malformed quality, or a charset we never send: this range asks for nothing we have
        ranges.append(_Range(kind, sub, quality, position))
    return ranges


def negotiate(accept: str | None) -> str | None:
    """The response media type for an ``Accept`` header (None or empty: the default), or None for 406."""
    if accept is None or not accept.strip():
        return JSON
    ranges = _ranges(accept)
    best: tuple[float, bool, int, bool] | None = None
    chosen: str | None = None
    for media_type in (GRAPHQL_RESPONSE_JSON, JSON):
        matches = [(r.specificity(media_type), r) for r in ranges]
        scored = [(s, r) for s, r in matches if s is not None]
        if not scored:
            continue
        specificity, match = max(scored, key=lambda sr: (sr[0], -sr[1].position))
        if match.quality <= 0:
            continue
        key = (match.quality, specificity == 2, -match.position, media_type == JSON)
        if best is None or key > best:
            best, chosen = key, media_type
    return chosen


def unacceptable_message(accept: str) -> str:
    """What a 406 says: the two media types this endpoint can answer with."""
    shown = accept[:200]
    return (
        f"Nothing in the Accept header ({shown!r}) matches a media type this endpoint answers with: "
        f"send Accept: {GRAPHQL_RESPONSE_JSON} (the GraphQL-over-HTTP spec's type) or {JSON}."
    )
