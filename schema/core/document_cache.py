"""Parse and validate each distinct document once per process, not on every request.

Validation of an unchanged document was about a third of a lookup's CPU. Strawberry's ``ParserCache`` and
``ValidationCache`` keep bounded LRU caches keyed by the document text (parse) and by (schema, parsed
document, validation rules) (validation). The last part matters: a validation rule class built per request
(as ``QueryDepthLimiter`` and ``MaxAliasesLimiter`` do when created by a factory) makes a new key every
time, and the cache never hits. The limits (schema.core.limits) therefore measure the document themselves and add
no validation rules; ``tests/schema/test_document_cache.py`` checks that a repeated document hits both caches.
"""

from __future__ import annotations

from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import ParserCache, ValidationCache

#: Distinct documents whose parse and validation results are kept (bounded: unique documents evict).
DOCUMENT_CACHE_SIZE = 1024


def _enabled(extension: ParserCache | ValidationCache) -> bool:
    """Off only when the server's settings say so (``JAMSOS_DOCUMENT_CACHE=false``, to measure the cache)."""
    return bool(getattr(extension.execution_context.context, "document_cache", True))


class DocumentParseCache(ParserCache):
    """Strawberry's ParserCache (bounded LRU keyed by the document text), switchable per server."""

    def __init__(self) -> None:
        super().__init__(maxsize=DOCUMENT_CACHE_SIZE)

    def on_parse(self) -> Iterator[None]:
        if _enabled(self):
            context = self.execution_context
            try:
                context.graphql_document = self.cached_parse_document(context.query, **context.parse_options)
            except GraphQLError:
                # A document that does not parse (a syntax error, more tokens than the limit) is not cached:
                # Strawberry parses it again itself and reports the error the way it and the limits expect.
                context.graphql_document = None
        yield


class DocumentValidationCache(ValidationCache):
    """Strawberry's ValidationCache (bounded LRU keyed by schema, document and rules), switchable per server."""

    def __init__(self) -> None:
        super().__init__(maxsize=DOCUMENT_CACHE_SIZE)

    def on_validate(self) -> Iterator[None]:
        if _enabled(self):
            yield from super().on_validate()
        else:
            yield
