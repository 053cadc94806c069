"""A repeated document is parsed and validated once: nothing adds per-request validation rules."""

from __future__ import annotations

from typing import Any

from strawberry.extensions.parser_cache import _get_parse_cache
from strawberry.extensions.validation_cache import _get_validate_cache

from schema.core.document_cache import DOCUMENT_CACHE_SIZE


async def test_the_second_request_hits_both_caches(gql: Any, callers: dict[str, Any]) -> None:
    # Not a compiled read: a repeated compiled read is answered before the pipeline (api.fast_reads).
    # (A region's coverage, a Monev figure, is the resolvers': schema.compiled.plan.RESOLVER_ONLY.)
    query = 'query DocumentCacheProbe { region(code: "52") { name coverage { participants } } }'
    parse, validate = _get_parse_cache(DOCUMENT_CACHE_SIZE), _get_validate_cache(DOCUMENT_CACHE_SIZE)
    await gql(query, None, callers["admin"])
    parsed, validated = parse.cache_info(), validate.cache_info()
    for _ in range(3):
        body = await gql(query, None, callers["admin"])
        assert "errors" not in body
    assert parse.cache_info().hits == parsed.hits + 3
    assert parse.cache_info().misses == parsed.misses
    assert validate.cache_info().hits == validated.hits + 3
    assert validate.cache_info().misses == validated.misses


async def test_the_limits_still_refuse_from_the_cache(gql: Any, callers: dict[str, Any]) -> None:
    deep = "{ participants(first: 1) { edges { node { " + "region { parent { " * 7 + "code" + " } }" * 7 + " } } } }"
    for _ in range(2):
        body = await gql(deep, None, callers["admin"])
        assert body["errors"], "a query deeper than the limit is refused, cached or not"
