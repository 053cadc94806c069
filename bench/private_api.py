"""What the one remaining private library API of the read path pays: SQLAlchemy's ``_generate_cache_key``.

Not a test (it measures, it asserts nothing). ``schema.compiled.run`` keys the kept SQL text of a
``participants`` JSON statement by the page's structure, which ``page_structure`` reads with
``HasCacheKey._generate_cache_key()`` (the page's filters, keyset and limit change per request, their
structure does not). Through public API only, either the statement is built and executed as Core on every
request (SQLAlchemy's own compiled cache still applies), or the page is compiled to SQL text on every request
(``Select.compile``) to learn its structure before the kept text is used. This script runs S1
(``bench/queries/S1.graphql``: a page of 100 participants of a regency with region, programmes and three
claims) in process through the ASGI app, the three ways in alternating rounds, and prints the server-side
CPU per request (``time.process_time``) and the wall time:

    .venv/bin/python bench/private_api.py --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/<db>

The database must hold the bench data (``bench/seed_bench.py``; a copy of ``jamsos_bench_ntb`` will do:
``CREATE DATABASE <db> TEMPLATE jamsos_bench_ntb``). The token is national without ``pii:read`` (masked), so
nothing is written to the access log. "Core each time" is the path the compiled path takes when it keeps no
text (the app's statement cache ``put`` made a no-op); "page compiled" swaps ``schema.compiled.run.page_structure``.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import httpx
from in_process import main  # bench/ is on the path: this file runs as a script from there

from api.app import create_app
from api.settings import Settings
from auth.keys import ensure_active_key, import_pem
from auth.scopes import ROLE_SCOPES, Role, Scope
from auth.tokens import TokenConfig, issue_access_token
from schema.compiled import run

QUERY = (Path(__file__).parent / "queries" / "S1.graphql").read_text()
REGION = "52.71"


async def _round(client: httpx.AsyncClient, headers: dict[str, str], requests: int) -> tuple[float, float]:
    payload = {"query": QUERY, "variables": {"region": REGION}}
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(requests):
        response = await client.post("/graphql", json=payload, headers=headers)
        assert response.status_code == 200, response.text
    return (time.process_time() - cpu) / requests * 1000, (time.perf_counter() - wall) / requests * 1000


async def measure(url: str, requests: int, rounds: int, directory: Path) -> None:
    key_path = directory / "key.pem"
    settings = Settings(
        env="test",
        database_url=url,
        signing_key_path=key_path,
        cost_budget_per_minute=10**12,
        issuer="http://bench",
        fast_reads=False,  # the fast lane runs the same json_rows; off, so every request builds its page
    )
    app = create_app(settings)
    # Signed with the database's active key (the key file is imported only into a database without one).
    async with app.state.sessions() as session:
        pem = (await ensure_active_key(session, key_path)).private_pem
        await session.commit()
    token = issue_access_token(
        import_pem(pem),
        TokenConfig("http://bench", settings.audience),
        subject="bench",
        client_id="bench",
        scopes=ROLE_SCOPES[Role.ADMIN] - {Scope.PII_READ},  # national, masked: no access-log writes
        roles=frozenset({Role.ADMIN}),
        region=None,
    )
    headers = {"Authorization": f"Bearer {token}"}
    statements = app.state.graphql.statements
    kept_put, kept_structure = statements.put, run.page_structure
    dialect = app.state.engine.dialect
    results: dict[str, list[tuple[float, float]]] = {
        "with the kept text": [],
        "public: page compiled": [],
        "public: Core each time": [],
    }

    def no_put(*_: Any) -> None:
        return None

    def by_compiling(page: Any) -> tuple[Any, list[Any]]:
        """The page's structure through public API: its SQL text, and its parameters in their positions."""
        compiled = page.compile(dialect=dialect)
        return compiled.string, [compiled.binds[name] for name in compiled.positiontup]

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:
        counters = app.state.graphql.counters
        for _ in range(rounds):
            for label in results:
                statements.clear()
                statements.put = no_put if "Core" in label else kept_put  # type: ignore[method-assign]
                run.page_structure = by_compiling if "compiled" in label else kept_structure
                await _round(client, headers, 20)  # warm-up: plan, statement, SQLAlchemy's compiled cache
                texts = counters.json_texts
                results[label].append(await _round(client, headers, requests))
                used = counters.json_texts - texts
                print(f"{label}: {results[label][-1][0]:.2f} ms CPU, {results[label][-1][1]:.2f} ms wall; texts {used}")
    statements.put, run.page_structure = kept_put, kept_structure  # type: ignore[method-assign]
    await app.state.engine.dispose()
    print()
    base = statistics.median(c for c, _ in results["with the kept text"])
    for label, figures in results.items():
        cpu = statistics.median(c for c, _ in figures)
        wall = statistics.median(w for _, w in figures)
        ratio = cpu / base
        print(f"{label:24} median {cpu:.2f} ms CPU/request, {wall:.2f} ms wall ({ratio:.2f}x the kept text's CPU)")


if __name__ == "__main__":
    main(__doc__.splitlines()[0], measure, requests=200, rounds=3)
