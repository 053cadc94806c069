"""CPU per request of repeated compiled reads (S2 and S1n) through the whole ASGI app, in process.

Not a test (it measures, it asserts nothing but 200s). S2 (``bench/queries/S2.graphql``: one participant by
membership number with its region and first ten claims) and S1n (``bench/queries/S1n.graphql``: a page of 100
participants of regency 52.03 with their regions and first three claims; a fifth as many requests) are sent over
and over with two national tokens, one holding ``pii:read`` (unmasked: every response writes the personal-data
access log, here one request at a time, so one commit each) and one without it (masked); the middleware stack,
the token check and the GraphQL app all run, only the socket is missing. Reported: server-side CPU per request
(``time.process_time`` over the round, so the shared machine's other load does not count; the in-process
client's own work is in it too, the same on every tree) and how many of the round's requests the cached path
answered:

    .venv/bin/python bench/pipeline_cpu.py --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/<db>

The database must hold seeded data (``jamsos seed``); the membership number is the first participant's
with the most claims.
"""

from __future__ import annotations

import statistics
from pathlib import Path

import httpx
from in_process import bench_settings, cpu_per_request, main, national_bearer  # bench/ is on the path
from sqlalchemy import func, select

from api.app import create_app
from auth.keys import ensure_active_key
from auth.scopes import ROLE_SCOPES, Role, Scope
from domain.claims.models import Claim
from domain.participants.models import Participant

QUERIES = {s: (Path(__file__).parent / "queries" / f"{s}.graphql").read_text() for s in ("S2", "S1n")}


async def measure(url: str, requests: int, rounds: int, directory: Path) -> None:
    settings = bench_settings(url, directory)
    app = create_app(settings)
    async with app.state.sessions() as session:
        pem = (await ensure_active_key(session, settings.signing_key_path)).private_pem
        await session.commit()
        number = (
            await session.execute(
                select(Participant.membership_number)
                .join(Claim, Claim.participant_id == Participant.id)
                .group_by(Participant.membership_number)
                .order_by(func.count().desc(), Participant.membership_number)
                .limit(1)
            )
        ).scalar_one()

    admin = ROLE_SCOPES[Role.ADMIN]
    tokens = {
        "pii:read": national_bearer(pem, settings, admin),
        "masked": national_bearer(pem, settings, admin - {Scope.PII_READ}),
    }
    payloads = {
        "S2": ({"query": QUERIES["S2"], "variables": {"m": number}}, requests),
        "S1n": ({"query": QUERIES["S1n"], "variables": {"region": "52.03"}}, max(1, requests // 5)),
    }
    counters = app.state.graphql.counters
    results: dict[tuple[str, str], list[float]] = {(s, label): [] for s in payloads for label in tokens}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:
        for payload, _ in payloads.values():
            for headers in tokens.values():
                await cpu_per_request(client, payload, headers, 20)  # warm-up: parse, plan, statement text
        for _ in range(rounds):
            for scenario, (payload, n) in payloads.items():
                for label, headers in tokens.items():
                    answered = counters.fast_answered
                    results[(scenario, label)].append(await cpu_per_request(client, payload, headers, n))
                    cached = counters.fast_answered - answered
                    figure = results[(scenario, label)][-1]
                    print(f"{scenario} {label}: {figure:.3f} ms CPU/request; cached path {cached}/{n}")
    await app.state.graphql.access_log.close()
    await app.state.engine.dispose()
    print()
    for (scenario, label), figures in results.items():
        print(f"{scenario} {label:9} median {statistics.median(figures):.3f} ms CPU/request (min {min(figures):.3f})")


if __name__ == "__main__":
    main(__doc__.splitlines()[0], measure, requests=300, rounds=5)
