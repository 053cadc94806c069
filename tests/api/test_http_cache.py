"""HTTP caching of ``GET /graphql`` by document id (api.http_cache), proved with a real HTTP cache.

A uvicorn server on a database of its own, and hishel's RFC 9111 caches in front of it (a private cache, as a
browser's, and a shared one, as a proxy's or a CDN's): what the cache serves without asking the server, what it
revalidates (``304 Not Modified``), and what it never keeps, per token. ``max-age`` is 2 seconds here.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from hishel import CacheOptions, SqliteStorage
from hishel.httpx import CacheClient

from auth import accounts
from auth.scopes import ROLE_SCOPES, Role, Scope
from domain.audit.writes import Actor
from domain.db import make_engine, make_sessionmaker
from domain.documents.models import document_id
from domain.documents.writes import NewDocument, push_documents
from tests.conftest import AUDIENCE, ISSUER
from tests.live import free_port, live_server, service_env

REGION = "query Region($code: String!) { region(code: $code) { code name } }"
PEOPLE = "query People { participants(first: 3) { edges { node { membershipNumber nik } } } }"
COVERAGE = 'query Coverage { coverage(regionCode: "52") { month participants activeParticipants } }'
ACTOR = Actor(subject="cli:test", kind="system")
MAX_AGE = 2


@dataclass(frozen=True)
class Server:
    base: str
    tokens: dict[str, str]


@pytest.fixture(scope="module")
def server(
    backend: str,
    seeded_database: Callable[[str, str], str],
    key_path: Path,
    mint: Callable[..., str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Server]:
    url = seeded_database(backend, "http_cache")

    async def setup() -> dict[str, str]:
        engine = make_engine(url, null_pool=True)
        try:
            async with make_sessionmaker(engine)() as session:
                made = {}
                for name, scopes, docs, public in (
                    ("Kantor Cabang app", ROLE_SCOPES[Role.OFFICER], [REGION, PEOPLE], False),
                    ("Kementerian PPN", frozenset({Scope.STATS_READ}), [COVERAGE], True),
                    ("Bappeda tanpa cache", frozenset({Scope.STATS_READ}), [COVERAGE], False),
                ):
                    client = (
                        await accounts.create_client(session, name=name, scopes=scopes, region=None, actor=ACTOR)
                    ).client
                    new = [NewDocument(document_id(t), t, None) for t in docs]
                    await push_documents(
                        session, client_id=client.client_id, documents=new, actor=ACTOR, public_cache=public
                    )
                    made[name] = client.client_id
                await session.commit()
                return made
        finally:
            await engine.dispose()

    clients = asyncio.run(setup())
    app, ministry, bappeda = clients["Kantor Cabang app"], clients["Kementerian PPN"], clients["Bappeda tanpa cache"]
    stats = frozenset({Scope.STATS_READ})
    tokens = {
        "officer": mint(Role.OFFICER, "52.71", subject="officer.cache@52.71", client_id=app),
        "officer_again": mint(
            Role.OFFICER, "52.71", subject="officer.cache@52.71", client_id=app, now=int(time.time()) - 5
        ),
        "officer_5203": mint(Role.OFFICER, "52.03", subject="officer.cache@52.03", client_id=app),
        "masked": mint(
            Role.OFFICER, "52.71", ROLE_SCOPES[Role.OFFICER] - {Scope.PII_READ}, subject="clerk@52.71", client_id=app
        ),
        "ministry": mint(Role.ADMIN, None, stats, subject=ministry, client_id=ministry),
        "bappeda": mint(Role.ADMIN, None, stats, subject=bappeda, client_id=bappeda),
    }
    data = tmp_path_factory.mktemp("http_cache")
    env = service_env(
        url, data, signing_key_path=str(key_path), issuer=ISSUER, audience=AUDIENCE, http_cache_seconds=str(MAX_AGE)
    )
    with live_server(env, free_port()) as base:
        yield Server(base, tokens)


def _cache(tmp_path: Path, *, shared: bool) -> CacheClient:
    storage = SqliteStorage(database_path=str(tmp_path / f"cache-{shared}.db"))
    return CacheClient(storage=storage, rfc=CacheOptions(shared=shared), timeout=30)


def _get(cache: CacheClient, server: Server, text: str, token: str, **variables: Any) -> httpx.Response:
    params = {"documentId": document_id(text)}
    if variables:
        params["variables"] = json.dumps(variables)
    headers = {"Authorization": f"Bearer {server.tokens[token]}"}
    response = cache.get(f"{server.base}/graphql", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response


def _status(response: httpx.Response) -> dict[str, bool]:
    status: dict[str, bool] = response.extensions["caching"]
    return status


def _asked(response: httpx.Response) -> bool:
    """The server answered this request (fresh, or a 304 to the cache's conditional request)."""
    status = _status(response)
    return not status["from_cache"] or status["revalidated"]


def test_the_callers_rows_are_private_kept_for_max_age_then_revalidated(server: Server, tmp_path: Path) -> None:
    with _cache(tmp_path, shared=False) as cache:
        first = _get(cache, server, REGION, "officer", code="52.71")
        assert first.headers["cache-control"] == f"private, max-age={MAX_AGE}"
        assert "Authorization" in first.headers["vary"]
        assert first.headers["etag"]
        assert _status(first)["stored"]
        second = _get(cache, server, REGION, "officer", code="52.71")
        assert _status(second)["from_cache"]  # the server was not asked
        assert second.json() == first.json()
        time.sleep(MAX_AGE + 0.5)
        third = _get(cache, server, REGION, "officer", code="52.71")
        assert _status(third)["revalidated"]  # If-None-Match sent, 304 answered, the stored body served
        assert third.json() == first.json()
        # Another token is never served the first one's entry unasked (Vary: Authorization): the cache asks
        # the server with the entry's ETag; for the same person's next token the answer is the same, so 304.
        other = _get(cache, server, REGION, "officer_again", code="52.71")
        assert _status(other)["revalidated"]
        assert other.json() == first.json()
        # A token of another region gets its own answer (the region does not exist for it), not the cached one.
        lombok = _get(cache, server, REGION, "officer_5203", code="52.71")
        assert not _status(lombok)["from_cache"]
        assert lombok.json() == {"data": {"region": None}}
        # Other variables, another URL, another entry.
        elsewhere = _get(cache, server, REGION, "officer", code="52.03")
        assert not _status(elsewhere)["from_cache"]
        assert elsewhere.json()["data"]["region"] is None  # outside the officer's region, as ever


def test_a_shared_cache_keeps_none_of_a_callers_rows(server: Server, tmp_path: Path) -> None:
    with _cache(tmp_path, shared=True) as proxy:
        for _ in range(2):
            response = _get(proxy, server, REGION, "masked", code="52.71")
            assert response.headers["cache-control"].startswith("private")
            assert _asked(response)
            assert not _status(response)["stored"]


def test_unmasked_personal_data_is_never_stored(server: Server, tmp_path: Path) -> None:
    with _cache(tmp_path, shared=False) as cache:
        for _ in range(2):
            shown = _get(cache, server, PEOPLE, "officer")
            nik = shown.json()["data"]["participants"]["edges"][0]["node"]["nik"]
            assert "*" not in nik  # unmasked: the officer holds pii:read
            assert shown.headers["cache-control"] == "no-store"
            assert "etag" not in shown.headers
            assert not _status(shown)["from_cache"]
            assert not _status(shown)["stored"]
        # The same document for a token without pii:read: masked NIKs, the caller's rows, private.
        masked = _get(cache, server, PEOPLE, "masked")
        assert "*" in masked.json()["data"]["participants"]["edges"][0]["node"]["nik"]
        assert masked.headers["cache-control"] == f"private, max-age={MAX_AGE}"
        assert _status(_get(cache, server, PEOPLE, "masked"))["from_cache"]


def test_suppressed_aggregates_are_public_for_a_statistics_client_whose_document_says_so(
    server: Server, tmp_path: Path
) -> None:
    with _cache(tmp_path, shared=True) as proxy:
        first = _get(proxy, server, COVERAGE, "ministry")
        assert first.headers["cache-control"] == f"public, max-age={MAX_AGE}"
        assert _status(first)["stored"]
        assert _status(_get(proxy, server, COVERAGE, "ministry"))["from_cache"]
        # Another statistics client with the same text, pushed without --public-cache: private, so the shared
        # cache asks the server each time (the ministry's entry is another token's: Vary: Authorization).
        for _ in range(2):
            other = _get(proxy, server, COVERAGE, "bappeda")
            assert other.headers["cache-control"] == f"private, max-age={MAX_AGE}"
            assert _asked(other)


def test_if_none_match_answers_304_and_errors_and_text_are_no_store(server: Server) -> None:
    headers = {"Authorization": f"Bearer {server.tokens['masked']}"}
    params = {"documentId": document_id(REGION), "variables": json.dumps({"code": "52.71"})}
    first = httpx.get(f"{server.base}/graphql", params=params, headers=headers, timeout=30)
    tag = first.headers["etag"]
    for validator in (tag, f"W/{tag}", f'"nope", {tag}', "*"):
        again = httpx.get(
            f"{server.base}/graphql", params=params, headers={**headers, "If-None-Match": validator}, timeout=30
        )
        assert again.status_code == 304, validator
        assert again.content == b""
        assert again.headers["etag"] == tag
        assert again.headers["cache-control"] == first.headers["cache-control"]
    stale = httpx.get(f"{server.base}/graphql", params=params, headers={**headers, "If-None-Match": '"x"'}, timeout=30)
    assert stale.status_code == 200
    # The same id under the spec's media type is another representation, with another tag.
    spec = httpx.get(
        f"{server.base}/graphql",
        params=params,
        headers={**headers, "Accept": "application/graphql-response+json", "If-None-Match": tag},
        timeout=30,
    )
    assert spec.status_code == 200
    assert spec.headers["etag"] != tag
    refusals = [
        {"documentId": "sha256:" + "0" * 64},  # not found
        {"documentId": document_id(REGION)},  # a variable missing: a request error
        {"query": REGION, "variables": json.dumps({"code": "52.71"})},  # text: nothing names the document
    ]
    for query in refusals:
        response = httpx.get(f"{server.base}/graphql", params=query, headers=headers, timeout=30)
        assert response.headers["cache-control"] == "no-store", query
        assert "etag" not in response.headers
    post = httpx.post(
        f"{server.base}/graphql",
        json={"documentId": document_id(REGION), "variables": {"code": "52.71"}},
        headers=headers,
        timeout=30,
    )
    assert post.status_code == 200
    assert "cache-control" not in post.headers
