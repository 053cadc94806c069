"""The partner story, end to end over HTTP against a running service and the real ``jamsos`` command line.

Dinas Sosial Lombok Timur is registered with ``jamsos clients create``, gets a client-credentials token,
sees only Lombok Timur's poverty beneficiaries (masked, no participants), and is cut off by revocation.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from domain.audit.models import AuditEvent
from domain.beneficiaries.models import PovertyBeneficiary
from domain.db import make_engine, make_sessionmaker
from tests.live import free_port, jamsos, jamsos_json, live_server, service_env

BENEFICIARIES = "{ beneficiaries(first: 100) { totalCount edges { node { id nik birthDate } } } }"


@pytest.fixture
def partner_url(backend: str, seeded_database: Callable[[str, str], str]) -> str:
    """A database of each story's own (a copy of the template): each story counts the clients it made."""
    return seeded_database(backend, "partner")


def _facts(url: str) -> tuple[set[int], int, list[AuditEvent]]:
    async def run() -> tuple[set[int], int, list[AuditEvent]]:
        engine = make_engine(url, null_pool=True)
        try:
            async with make_sessionmaker(engine)() as session:
                inside = set(
                    (
                        await session.scalars(
                            select(PovertyBeneficiary.id).where(PovertyBeneficiary.regency_code == "52.03")
                        )
                    ).all()
                )
                total = (await session.execute(select(func.count()).select_from(PovertyBeneficiary))).scalar_one()
                events = (await session.scalars(select(AuditEvent).where(AuditEvent.action == "client.create"))).all()
                return inside, total, list(events)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _local_id(global_id: str) -> int:
    typename, _, local = base64.b64decode(global_id).decode().partition(":")
    assert typename == "PovertyBeneficiary"
    return int(local)


def test_partner_story(partner_url: str, tmp_path: Path) -> None:
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    env = service_env(partner_url, tmp_path, issuer=issuer, signing_key_path=str(tmp_path / "k.pem"))
    created = jamsos_json(
        env,
        "clients",
        "create",
        "--name",
        "Dinas Sosial Lombok Timur",
        "--scopes",
        "beneficiaries:read stats:read",
        "--region",
        "52.03",
        "--json",
    )
    assert set(created) == {"client_id", "client_secret"}
    inside, total, events = _facts(partner_url)
    assert 0 < len(inside) < total
    assert [e.entity_id for e in events] == [created["client_id"]]
    assert events[0].actor_subject.startswith("cli:")
    assert events[0].changes is not None
    assert "client_secret" not in str(events[0].changes)

    partner = httpx.BasicAuth(created["client_id"], created["client_secret"])
    with live_server(env, port) as base, httpx.Client(base_url=base) as http:
        token_response = http.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=partner)
        assert token_response.status_code == 200, token_response.text
        token = token_response.json()["access_token"]
        assert "refresh_token" not in token_response.json()
        bearer = {"Authorization": f"Bearer {token}"}

        seen = http.post("/graphql", json={"query": BENEFICIARIES}, headers=bearer).json()
        assert "errors" not in seen, seen
        page = seen["data"]["beneficiaries"]
        assert page["totalCount"] == len(inside)
        assert {_local_id(e["node"]["id"]) for e in page["edges"]} == inside
        assert all("*" in e["node"]["nik"] and e["node"]["birthDate"] is None for e in page["edges"])

        query = {"query": "{ participants(first: 5) { totalCount } }"}
        participants = http.post("/graphql", json=query, headers=bearer)
        body = participants.json()
        assert body["data"] is None
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"

        revoked = http.post("/oauth/revoke", data={"token": token}, auth=partner)
        assert revoked.status_code == 200
        after = http.post("/graphql", json={"query": BENEFICIARIES}, headers=bearer)
        assert after.status_code == 401
        assert after.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        assert "revoked" in after.headers["www-authenticate"]

    listed = jamsos_json(env, "clients", "list", "--json")
    assert [c["name"] for c in listed] == ["Dinas Sosial Lombok Timur"]
    assert jamsos(env, "clients", "disable", "--client-id", created["client_id"]).returncode == 0


async def test_person_story(partner_url: str, tmp_path: Path) -> None:
    """An officer signs in on the sign-in page through a frontend app (code + PKCE), refreshes, and a replayed
    refresh token ends the session, all against a running service."""
    from tests.auth.conftest import CALLBACK, PASSWORD, Registered, code_flow

    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    env = service_env(partner_url, tmp_path, issuer=issuer, signing_key_path=str(tmp_path / "k.pem"))
    made = jamsos(
        env, "users", "create", "--username", "rina", "--role", "officer", "--region", "52.71", stdin=PASSWORD
    )
    assert made.returncode == 0, made.stderr
    grants = ("--grant-types", "authorization_code refresh_token", "--redirect-uri", CALLBACK)
    app = jamsos_json(env, "clients", "create", "--name", "Monev NTB", "--scopes", "participants:read pii:read",
                      *grants, "--json")  # fmt: skip
    frontend = Registered(app["client_id"], app["client_secret"])
    me = {"query": "{ me { subject kind roles scopes regionCode } }"}
    with live_server(env, port) as base:
        async with httpx.AsyncClient(base_url=base) as http:
            tokens, _ = await code_flow(http, frontend, "rina")
            bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
            who = (await http.post("/graphql", json=me, headers=bearer)).json()["data"]["me"]
            assert who == {
                "subject": "user:rina",
                "kind": "user",
                "roles": ["officer"],
                "scopes": ["participants:read", "pii:read"],  # the app's scopes within the officer's
                "regionCode": "52.71",
            }
            refresh = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
            rotated = await http.post("/oauth/token", data=refresh, auth=frontend.basic)
            assert rotated.status_code == 200, rotated.text
            fresh = rotated.json()
            assert fresh["refresh_token"] != tokens["refresh_token"]
            fresh_bearer = {"Authorization": f"Bearer {fresh['access_token']}"}
            assert (await http.post("/graphql", json=me, headers=fresh_bearer)).status_code == 200

            replay = await http.post("/oauth/token", data=refresh, auth=frontend.basic)
            assert replay.json()["error"] == "invalid_grant"
            assert (await http.post("/graphql", json=me, headers=fresh_bearer)).status_code == 401
            again = {"grant_type": "refresh_token", "refresh_token": fresh["refresh_token"]}
            assert (await http.post("/oauth/token", data=again, auth=frontend.basic)).json()["error"] == "invalid_grant"
