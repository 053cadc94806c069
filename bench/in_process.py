"""What the in-process benchmarks share (``bench/pipeline_cpu.py``, ``bench/private_api.py``,
``bench/region_reads.py``): their command line (a database URL, requests per round and rounds; a temporary
directory for the signing key), the app's settings, a national bearer token, and the CPU per request of a
round of POSTs through the whole ASGI app."""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections.abc import Callable, Coroutine, Mapping
from pathlib import Path
from typing import Any

import httpx

from api.settings import Settings
from auth.keys import import_pem
from auth.scopes import Role, Scope
from auth.tokens import TokenConfig, issue_access_token

#: ``measure(database_url, requests, rounds, directory)``: one benchmark's whole run.
Measure = Callable[[str, int, int, Path], Coroutine[Any, Any, None]]


def main(description: str, measure: Measure, *, requests: int, rounds: int) -> None:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--requests", type=int, default=requests)
    parser.add_argument("--rounds", type=int, default=rounds)
    args = parser.parse_args()
    os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(measure(args.database_url, args.requests, args.rounds, Path(tmp)))


def bench_settings(url: str, directory: Path) -> Settings:
    """The app's settings over `url`: a signing key in `directory`, a cost budget no round can spend."""
    return Settings(
        env="test",
        database_url=url,
        signing_key_path=directory / "key.pem",
        cost_budget_per_minute=10**12,
        issuer="http://bench",
    )


def national_bearer(pem: str, settings: Settings, scopes: frozenset[Scope]) -> dict[str, str]:
    """The Authorization header of a national admin's token holding `scopes`, signed with `pem`."""
    issued = issue_access_token(
        import_pem(pem),
        TokenConfig("http://bench", settings.audience),
        subject="bench",
        client_id="bench",
        scopes=scopes,
        roles=frozenset({Role.ADMIN}),
        region=None,
    )
    return {"Authorization": f"Bearer {issued}"}


async def cpu_per_request(
    client: httpx.AsyncClient, payload: Mapping[str, Any], headers: dict[str, str], n: int
) -> float:
    """This process's CPU milliseconds per request over `n` POSTs of `payload` (each a 200 without errors)."""
    cpu = time.process_time()
    for _ in range(n):
        response = await client.post("/graphql", json=payload, headers=headers)
        assert response.status_code == 200, response.text
        assert "errors" not in response.json(), response.text
    return (time.process_time() - cpu) / n * 1000
