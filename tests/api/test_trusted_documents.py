"""Trusted documents and APQ at the HTTP endpoint (api.documents), on both databases.

Three partner clients on a database of their own: ``mataram`` runs only its registered documents
(``trusted_documents_only``), ``lotim`` may send text and gets APQ, ``sumbawa`` has documents of its own. The
documents are registered through the domain (as ``jamsos documents push`` does); tokens are minted for each
client. The app reads the registry on every request (``documents_cache_seconds=0``) so that a removal shows at
once; APQ is bounded to 3 documents per client to see evictions.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY

from auth import accounts
from auth.scopes import ROLE_SCOPES, Role
from domain.audit.writes import Actor
from domain.db import make_engine, make_sessionmaker
from domain.documents.models import document_id
from domain.documents.writes import NewDocument, push_documents, remove_document
from tests.conftest import AppFactory, Served, suite_settings

REGION = "query Region($code: String!) { region(code: $code) { code name } }"
REGIONS = "query Regions { regions(level: PROVINCE, first: 1) { edges { node { code } } } }"
FOREIGN = 'query Foreign { region(code: "52.04") { code } }'
LOOKUP = "query Lookup($m: String!) { participant(membershipNumber: $m) { membershipNumber fullName } }"
MUTATION = "mutation Verify($id: ID!) { verifyClaim(id: $id, expectedVersion: 1) { errors { code } } }"
ACTOR = Actor(subject="cli:test", kind="system")
SPEC = {"Accept": "application/graphql-response+json"}


@dataclass(frozen=True)
class Partners:
    url: str
    mataram: dict[str, str]  # headers with a token of the trusted-documents-only client
    lotim: dict[str, str]  # a client that may send text
    sumbawa: dict[str, str]
    lotim_client: str
    mataram_client: str


def _id(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture(scope="module")
def partners(backend: str, seeded_database: Callable[[str, str], str], mint: Callable[..., str]) -> Partners:
    url = seeded_database(backend, "trusted_documents")

    async def setup() -> tuple[str, str, str]:
        engine = make_engine(url, null_pool=True)
        try:
            async with make_sessionmaker(engine)() as session:
                ids = []
                for name, region, trusted in (
                    ("Bappeda Kota Mataram", "52.71", True),
                    ("Dinas Sosial Lombok Timur", "52.03", False),
                    ("Dinas Sosial Sumbawa", "52.04", False),
                ):
                    created = await accounts.create_client(
                        session,
                        name=name,
                        scopes=ROLE_SCOPES[Role.ANALYST],
                        region=region,
                        trusted_documents_only=trusted,
                        actor=ACTOR,
                    )
                    ids.append(created.client.client_id)
                mataram, lotim, sumbawa = ids
                for client, texts in (
                    (mataram, [REGION, REGIONS, MUTATION]),
                    (lotim, [REGION, LOOKUP]),
                    (sumbawa, [FOREIGN]),
                ):
                    docs = [NewDocument(document_id(t), t, None) for t in texts]
                    await push_documents(session, client_id=client, documents=docs, actor=ACTOR)
                await session.commit()
                return mataram, lotim, sumbawa
        finally:
            await engine.dispose()

    mataram, lotim, sumbawa = asyncio.run(setup())

    def headers(client: str, region: str) -> dict[str, str]:
        token = mint(Role.ANALYST, region, client_id=client, subject=client)
        return {"Authorization": f"Bearer {token}"}

    return Partners(url, headers(mataram, "52.71"), headers(lotim, "52.03"), headers(sumbawa, "52.04"), lotim, mataram)


@pytest.fixture
def served(partners: Partners, key_path: Path, app_factory: AppFactory) -> Served:
    settings = suite_settings(
        partners.url,
        key_path,
        documents_cache_seconds=0.0,
        apq_documents_per_client=3,
        apq_bytes_per_client=64 * 1024,
        apq_clients=8,
    )
    return app_factory(settings)


@pytest.fixture
def client(served: Served) -> httpx.AsyncClient:
    return served.client


async def _post(client: httpx.AsyncClient, body: dict[str, Any], headers: dict[str, str], **extra: str) -> Any:
    return await client.post("/graphql", json=body, headers={**headers, **extra})


def _evictions_counted() -> float:
    return REGISTRY.get_sample_value("jamsos_apq_evictions_total") or 0.0


def _code(response: httpx.Response) -> str:
    body = response.json()
    assert "data" not in body or body["data"] is None, body
    code: str = body["errors"][0]["extensions"]["code"]
    return code


async def test_a_registered_document_runs_by_id_by_post_and_by_get(
    client: httpx.AsyncClient, partners: Partners
) -> None:
    variables = {"code": "52.71"}
    by_id = await _post(client, {"documentId": _id(REGION), "variables": variables}, partners.mataram)
    assert by_id.status_code == 200, by_id.text
    assert by_id.json() == {"data": {"region": {"code": "52.71", "name": "Kota Mataram"}}}
    # Again: the fast lane answers the repeat by id the same way.
    again = await _post(client, {"documentId": _id(REGION), "variables": variables}, partners.mataram)
    assert again.content == by_id.content
    params = {"documentId": _id(REGION), "variables": json.dumps(variables)}
    by_get = await client.get("/graphql", params=params, headers=partners.mataram)
    assert by_get.status_code == 200, by_get.text
    assert by_get.json() == by_id.json()
    # Apollo's form: the bare hash in extensions.persistedQuery.
    apollo = {"sha256Hash": _id(REGION).removeprefix("sha256:"), "version": 1}
    by_hash = await _post(client, {"extensions": {"persistedQuery": apollo}, "variables": variables}, partners.mataram)
    assert by_hash.json() == by_id.json()
    # The document id with its exact text is the same document: it runs.
    both = await _post(client, {"documentId": _id(REGION), "query": REGION, "variables": variables}, partners.mataram)
    assert both.json() == by_id.json()


async def test_a_repeated_read_by_id_takes_the_fast_lane(
    client: httpx.AsyncClient, partners: Partners, served: Served
) -> None:
    page = await _post(
        client, {"query": "{ participants(first: 1) { edges { node { membershipNumber } } } }"}, partners.lotim
    )
    number = page.json()["data"]["participants"]["edges"][0]["node"]["membershipNumber"]
    counters = served.app.state.graphql.counters
    body = {"documentId": _id(LOOKUP), "variables": {"m": number}}
    first = await _post(client, body, partners.lotim)
    assert first.json()["data"]["participant"]["membershipNumber"] == number
    answered = counters.fast_answered
    again = await _post(client, body, partners.lotim)
    assert again.content == first.content
    assert counters.fast_answered == answered + 1


@pytest.mark.parametrize("spec", [False, True])
async def test_text_from_a_trusted_documents_only_client_is_refused(
    client: httpx.AsyncClient, partners: Partners, spec: bool
) -> None:
    headers = {**partners.mataram, **(SPEC if spec else {})}
    for _ in range(2):  # the second time, past any cache the first one filled
        response = await _post(client, {"query": REGION, "variables": {"code": "52.71"}}, headers)
        assert response.status_code == (400 if spec else 200)
        assert _code(response) == "PERSISTED_QUERY_REQUIRED"
    get = await client.get("/graphql", params={"query": REGIONS}, headers=headers)
    assert _code(get) == "PERSISTED_QUERY_REQUIRED"


async def test_unknown_malformed_foreign_and_huge_ids(client: httpx.AsyncClient, partners: Partners) -> None:
    unknown = _id("query Unknown { __typename }")
    cases = {
        unknown: "PERSISTED_QUERY_NOT_FOUND",
        _id(FOREIGN): "PERSISTED_QUERY_NOT_FOUND",  # sumbawa's document does not exist for mataram
        "sha256:" + "A" * 64: "PERSISTED_QUERY_INVALID",  # upper-case hex is not an id
        "sha256:abc": "PERSISTED_QUERY_INVALID",
        "md5:" + "0" * 32: "PERSISTED_QUERY_INVALID",
        "sha256:" + "0" * 10_000: "PERSISTED_QUERY_INVALID",
        "x" * 100_000: "PERSISTED_QUERY_INVALID",
    }
    for raw, code in cases.items():
        response = await _post(client, {"documentId": raw}, partners.mataram, **SPEC)
        assert response.status_code == 400, (raw[:20], response.text)
        assert _code(response) == code, raw[:20]
        message = response.json()["errors"][0]["message"]
        assert len(message) < 300  # a huge id is not echoed back
    for raw_id in (7, ["sha256:" + "0" * 64], {"id": 1}, True):
        response = await _post(client, {"documentId": raw_id}, partners.mataram)
        assert _code(response) == "PERSISTED_QUERY_INVALID"
    huge_get = await client.get("/graphql", params={"documentId": "z" * 6000}, headers=partners.mataram)
    assert _code(huge_get) == "PERSISTED_QUERY_INVALID"
    for extension in ({"version": 2, "sha256Hash": "0" * 64}, {"version": 1}, "yes", {"version": 1, "sha256Hash": 5}):
        response = await _post(client, {"extensions": {"persistedQuery": extension}}, partners.lotim)
        assert _code(response) == "PERSISTED_QUERY_INVALID", extension
    two = {"documentId": _id(REGION), "extensions": {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}}
    assert _code(await _post(client, two, partners.mataram)) == "PERSISTED_QUERY_INVALID"


async def test_the_owner_of_a_foreign_document_runs_it_and_nobody_else(
    client: httpx.AsyncClient, partners: Partners
) -> None:
    own = await _post(client, {"documentId": _id(FOREIGN)}, partners.sumbawa)
    assert own.json() == {"data": {"region": {"code": "52.04"}}}
    # lotim may send text, but an id registered for sumbawa only is still not found for it.
    assert _code(await _post(client, {"documentId": _id(FOREIGN)}, partners.lotim)) == "PERSISTED_QUERY_NOT_FOUND"


async def test_a_registered_id_with_a_different_text_is_refused(client: httpx.AsyncClient, partners: Partners) -> None:
    other = REGION.replace("name", "level")
    for headers in (partners.mataram, partners.lotim):
        body = {"documentId": _id(REGION), "query": other, "variables": {"code": "52.71"}}
        assert _code(await _post(client, body, headers)) == "PERSISTED_QUERY_MISMATCH"
    apollo = {"persistedQuery": {"version": 1, "sha256Hash": _id(REGION).removeprefix("sha256:")}}
    body = {"query": other, "extensions": apollo, "variables": {"code": "52.03"}}
    assert _code(await _post(client, body, partners.lotim)) == "PERSISTED_QUERY_MISMATCH"


async def test_apq_registers_on_a_miss_and_is_per_client(client: httpx.AsyncClient, partners: Partners) -> None:
    text = 'query Apq { region(code: "52.03") { code } }'
    apollo = {"persistedQuery": {"version": 1, "sha256Hash": _id(text).removeprefix("sha256:")}}
    miss = await _post(client, {"extensions": apollo}, partners.lotim)
    assert _code(miss) == "PERSISTED_QUERY_NOT_FOUND"
    assert "PersistedQueryNotFound" in miss.json()["errors"][0]["message"]  # what Apollo Client looks for
    registered = await _post(client, {"extensions": apollo, "query": text}, partners.lotim)
    assert registered.json() == {"data": {"region": {"code": "52.03"}}}
    hit = await _post(client, {"extensions": apollo}, partners.lotim)
    assert hit.json() == registered.json()
    by_document_id = await _post(client, {"documentId": _id(text)}, partners.lotim)
    assert by_document_id.json() == registered.json()
    # Another client's APQ cache does not have it; the trusted-only client's is never written.
    assert _code(await _post(client, {"extensions": apollo}, partners.sumbawa)) == "PERSISTED_QUERY_NOT_FOUND"
    refused = await _post(client, {"extensions": apollo, "query": text}, partners.mataram)
    assert _code(refused) == "PERSISTED_QUERY_NOT_FOUND"
    assert _code(await _post(client, {"extensions": apollo}, partners.mataram)) == "PERSISTED_QUERY_NOT_FOUND"


async def test_an_apq_flood_of_unique_hashes_stays_bounded_and_counts_evictions(
    client: httpx.AsyncClient, partners: Partners, served: Served
) -> None:
    store = served.app.state.graphql.documents.apq
    evictions_before, counted_before = store.evictions, _evictions_counted()
    texts = [f'query Flood{n} {{ region(code: "52.03") {{ code }} }}' for n in range(20)]
    for text in texts:
        apollo = {"persistedQuery": {"version": 1, "sha256Hash": _id(text).removeprefix("sha256:")}}
        response = await _post(client, {"extensions": apollo, "query": text}, partners.lotim)
        assert response.json() == {"data": {"region": {"code": "52.03"}}}
    key = f"client:{partners.lotim_client}"
    assert store.size(key) == 3
    assert store.evictions - evictions_before >= 17
    assert _evictions_counted() - counted_before >= 17
    metrics = (await client.get("/metrics")).text
    assert "jamsos_apq_evictions_total" in metrics
    # The oldest went; the newest three are still there.
    first = {"persistedQuery": {"version": 1, "sha256Hash": _id(texts[0]).removeprefix("sha256:")}}
    assert _code(await _post(client, {"extensions": first}, partners.lotim)) == "PERSISTED_QUERY_NOT_FOUND"
    last = {"persistedQuery": {"version": 1, "sha256Hash": _id(texts[-1]).removeprefix("sha256:")}}
    assert (await _post(client, {"extensions": last}, partners.lotim)).status_code == 200


async def test_a_mutation_by_id_over_get_is_refused(client: httpx.AsyncClient, partners: Partners) -> None:
    params = {"documentId": _id(MUTATION), "variables": json.dumps({"id": "Q2xhaW06MQ=="})}
    response = await client.get("/graphql", params=params, headers=partners.mataram)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


async def test_a_get_by_id_from_a_browser_gets_the_result_not_graphiql(
    client: httpx.AsyncClient, partners: Partners
) -> None:
    response = await client.get(
        "/graphql", params={"documentId": _id(REGIONS)}, headers={**partners.mataram, "Accept": "*/*"}
    )
    assert response.json() == {"data": {"regions": {"edges": [{"node": {"code": "52"}}]}}}


async def test_a_removed_document_is_not_found_any_more(
    client: httpx.AsyncClient, partners: Partners, backend: str
) -> None:
    text = 'query Removed { region(code: "52.03") { name } }'

    async def change(push: bool) -> None:
        engine = make_engine(partners.url, null_pool=True)
        try:
            async with make_sessionmaker(engine)() as session:
                if push:
                    docs = [NewDocument(document_id(text), text, "Removed")]
                    await push_documents(session, client_id=partners.lotim_client, documents=docs, actor=ACTOR)
                else:
                    await remove_document(session, document=document_id(text), client_id=None, actor=ACTOR)
                await session.commit()
        finally:
            await engine.dispose()

    await change(push=True)
    assert (await _post(client, {"documentId": document_id(text)}, partners.lotim)).status_code == 200
    await change(push=False)
    assert _code(await _post(client, {"documentId": document_id(text)}, partners.lotim)) == "PERSISTED_QUERY_NOT_FOUND"


async def test_anonymous_callers_get_no_apq(client: httpx.AsyncClient, partners: Partners) -> None:
    text = "query Anonymous { __typename }"
    apollo = {"persistedQuery": {"version": 1, "sha256Hash": _id(text).removeprefix("sha256:")}}
    await _post(client, {"extensions": apollo, "query": text}, {})
    assert _code(await _post(client, {"extensions": apollo}, {})) == "PERSISTED_QUERY_NOT_FOUND"


TRUSTED_DOCUMENTS = """query Registry($first: Int, $after: String) {
  trustedDocuments(first: $first, after: $after) {
    totalCount
    edges { node { id documentId operationName text registeredBy clients { clientId registeredBy } } }
    pageInfo { hasNextPage endCursor }
  }
}"""


async def test_national_administrators_page_through_the_registry(
    client: httpx.AsyncClient, partners: Partners, mint: Callable[..., str]
) -> None:
    admin = {"Authorization": f"Bearer {mint(Role.ADMIN)}"}
    seen: list[dict[str, Any]] = []
    after = None
    while True:
        body = {"query": TRUSTED_DOCUMENTS, "variables": {"first": 2, "after": after}}
        page = (await _post(client, body, admin)).json()
        assert "errors" not in page, page
        connection = page["data"]["trustedDocuments"]
        seen += [edge["node"] for edge in connection["edges"]]
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    assert len(seen) == connection["totalCount"] >= 4
    by_id = {node["documentId"]: node for node in seen}
    assert [n["documentId"] for n in seen] == sorted(by_id)
    assert by_id[_id(REGION)]["text"] == REGION
    assert {c["clientId"] for c in by_id[_id(REGION)]["clients"]} == {partners.mataram_client, partners.lotim_client}
    assert by_id[_id(FOREIGN)]["registeredBy"] == "cli:test"
    node = await _post(
        client, {"query": "query N($id: ID!) { node(id: $id) { id } }", "variables": {"id": seen[0]["id"]}}, admin
    )
    assert node.json() == {"data": {"node": {"id": seen[0]["id"]}}}


@pytest.mark.parametrize(
    ("role", "region"), [(Role.ADMIN, "52.71"), (Role.AUDITOR, None), (Role.ANALYST, "52.03"), (None, None)]
)
async def test_the_registry_is_refused_to_everyone_else(
    client: httpx.AsyncClient, mint: Callable[..., str], role: Role | None, region: str | None
) -> None:
    headers = {"Authorization": f"Bearer {mint(role, region)}"} if role else {}
    body = (await _post(client, {"query": TRUSTED_DOCUMENTS, "variables": {"first": 5}}, headers)).json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == ("FORBIDDEN" if role else "UNAUTHENTICATED")
