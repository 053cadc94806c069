"""Region-heavy reads on the resolvers and on the compiled path: statements and CPU per request, in process.

Not a test (it measures, it asserts nothing but 200s without errors). Two apps over one database, one with
the compiled read path off (the resolvers: what served these reads before issue 20 compiled the regions)
and one with it on, alternating round by round; each query is sent over and over with a national token
without ``pii:read`` through the whole ASGI app (middleware, token check, GraphQL), only the socket is
missing. Reported per query and path: the SQL statements one request runs (counted by the engine's
``before_cursor_execute`` event, which the compiled path's driver-level statements call too; the fewest of
three requests) and the server-side CPU per request (``time.process_time`` over the round, so the shared
machine's other load does not count), medians over the rounds, and the compiled ÷ resolvers ratio:

    .venv/bin/python bench/region_reads.py --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/<db>

The database must hold seeded data with the NTB regions (``bench/seed_bench.py --size ntb``, or ``jamsos seed``).
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import httpx
from in_process import bench_settings, cpu_per_request, main, national_bearer  # bench/ is on the path
from sqlalchemy import event, func, select
from starlette.applications import Starlette

from api.app import create_app
from auth.keys import ensure_active_key
from auth.scopes import ROLE_SCOPES, Role, Scope
from domain.participants.models import Participant

#: The region-heavy shapes: a page of a province's regencies with their districts, and a participant's
#: region with the region above it.
QUERIES = {
    "regions+children": """query R($p: String!) {
  regions(parentCode: $p, first: 100) { edges { node { code name level children { code name } } } }
}""",
    "participant.region.parent": """query P($m: String!) {
  participant(membershipNumber: $m) { membershipNumber region { name parent { name } } }
}""",
}


async def measure(url: str, requests: int, rounds: int, directory: Path) -> None:
    base = bench_settings(url, directory)
    apps: dict[str, Starlette] = {
        "resolvers": create_app(base.model_copy(update={"compiled_reads": False})),
        "compiled": create_app(base.model_copy(update={"compiled_reads": True})),
    }
    statements = {"count": 0}

    def count(*_args: Any) -> None:
        statements["count"] += 1

    for app in apps.values():
        event.listen(app.state.engine.sync_engine, "before_cursor_execute", count)
    first = apps["compiled"]
    async with first.state.sessions() as session:
        pem = (await ensure_active_key(session, base.signing_key_path)).private_pem
        await session.commit()
        number = (
            await session.execute(
                select(func.min(Participant.membership_number)).where(Participant.region_code.is_not(None))
            )
        ).scalar_one()
    headers = national_bearer(pem, base, ROLE_SCOPES[Role.ADMIN] - {Scope.PII_READ})
    variables = {"regions+children": {"p": "52"}, "participant.region.parent": {"m": number}}
    cpu: dict[tuple[str, str], list[float]] = {}
    counted: dict[tuple[str, str], int] = {}
    clients = {
        label: httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench")
        for label, app in apps.items()
    }
    for name, query in QUERIES.items():
        payload = {"query": query, "variables": variables[name]}
        for label, client in clients.items():
            await cpu_per_request(client, payload, headers, 20)  # warm-up: parse, plan, statement text, loaders' caches
            # The fewest of three single requests: a periodic refresh (the revoked-token list every few
            # seconds) may fall into one of them.
            single = []
            for _ in range(3):
                statements["count"] = 0
                await cpu_per_request(client, payload, headers, 1)
                single.append(statements["count"])
            counted[(name, label)] = min(single)
        for _ in range(rounds):
            for label, client in clients.items():
                cpu.setdefault((name, label), []).append(await cpu_per_request(client, payload, headers, requests))
    for client in clients.values():
        await client.aclose()
    for app in apps.values():
        await app.state.graphql.access_log.close()
        await app.state.engine.dispose()
    print("| query | path | statements/request | CPU ms/request (median) | compiled ÷ resolvers |")
    print("|---|---|---:|---:|---:|")
    for name in QUERIES:
        medians = {label: statistics.median(cpu[(name, label)]) for label in apps}
        for label in apps:
            ratio = f"{medians['compiled'] / medians['resolvers']:.2f}x" if label == "compiled" else ""
            print(f"| {name} | {label} | {counted[(name, label)]} | {medians[label]:.2f} | {ratio} |")


if __name__ == "__main__":
    main(__doc__.splitlines()[0], measure, requests=100, rounds=5)
