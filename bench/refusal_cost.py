"""CPU a refused document costs the server: the four-alias region tree, refused as QUERY_TOO_COMPLEX.

Not a test (it measures, it asserts nothing). It migrates a throwaway SQLite database (the refusal happens
before any SQL but token verification reads the signing keys), mints an admin token, and times N refused
requests through the ASGI app in process:

    .venv/bin/python bench/refusal_cost.py [--requests 100]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

import httpx

from api.app import create_app
from api.migrate import upgrade
from api.settings import Settings
from auth.scopes import ROLE_SCOPES, Role
from auth.tokens import TokenConfig, issue_access_token, load_or_create_key

TREE = "regions(first: 100, level: PROVINCE) { edges { node { children { children { children { code name } } } } } }"
QUERY = "{ " + " ".join(f"a{i}: {TREE}" for i in range(4)) + " }"


async def measure(directory: Path, requests: int) -> None:
    url = f"sqlite+aiosqlite:///{directory / 'bench.db'}"
    key_path = directory / "key.pem"
    settings = Settings(
        env="test", database_url=url, signing_key_path=key_path, cost_budget_per_minute=10**12, issuer="http://bench"
    )
    app = create_app(settings)
    token = issue_access_token(
        load_or_create_key(key_path),
        TokenConfig("http://bench", settings.audience),
        subject="bench",
        client_id="bench",
        scopes=ROLE_SCOPES[Role.ADMIN],
        roles=frozenset({Role.ADMIN}),
        region=None,
    )
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:
        first = (await client.post("/graphql", json={"query": QUERY}, headers=headers)).json()
        print("refusal:", first["errors"][0]["extensions"])
        started = time.process_time()
        for _ in range(requests):
            await client.post("/graphql", json={"query": QUERY}, headers=headers)
        spent = time.process_time() - started
    await app.state.engine.dispose()
    print(f"CPU per refused request: {spent / requests * 1000:.1f} ms over {requests} requests")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100)
    args = parser.parse_args()
    os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")
    with tempfile.TemporaryDirectory() as tmp:
        upgrade(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}")
        asyncio.run(measure(Path(tmp), args.requests))


if __name__ == "__main__":
    main()
