"""The hand-written peer: S1, S2 and S3 as plain SQL over asyncpg, JSON by orjson, on Starlette. Not GraphQL.

It answers the same questions with the same statements a careful person would write by hand (a page, then
one statement per relation for the whole page), no scoping and no masking, so it marks what the database
and the HTTP stack cost without any GraphQL layer. bench/run.py starts it:

    .venv/bin/python bench/baseline.py --database-url postgresql://postgres@127.0.0.1:5432/jamsos_bench --port 5102
"""

from __future__ import annotations

import argparse
import contextlib
from collections import defaultdict
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import asyncpg
import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

S1_PAGE = """
SELECT p.id, p.membership_number, p.full_name, p.nik, r.name AS region_name
FROM participants p LEFT JOIN regions r ON r.code = p.region_code
WHERE p.regency_code = $1 ORDER BY p.registered_at, p.id LIMIT $2"""
PROGRAMS = """
SELECT participant_id, program FROM participant_programs WHERE participant_id = ANY($1::int[]) ORDER BY program"""
CLAIM_PAGES = """
SELECT participant_id, claim_number, program, status, amount_approved FROM (
  SELECT c.*, row_number() OVER (PARTITION BY participant_id ORDER BY submitted_at, id) AS rank
  FROM claims c WHERE participant_id = ANY($1::int[])) ranked
WHERE rank <= $2 ORDER BY participant_id, submitted_at, id"""
S2_ONE = """
SELECT p.id, p.membership_number, p.full_name, p.nik, r.name AS region_name
FROM participants p LEFT JOIN regions r ON r.code = p.region_code WHERE p.membership_number = $1"""
S2_CLAIMS = """
SELECT claim_number, program, status, amount_approved FROM claims
WHERE participant_id = $1 ORDER BY submitted_at, id LIMIT 10"""
S3_MANY = """
SELECT p.id, p.membership_number, p.full_name, r.name AS region_name
FROM participants p LEFT JOIN regions r ON r.code = p.region_code WHERE p.id = ANY($1::int[])"""


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _claim(row: Any) -> dict[str, Any]:
    return {
        "claimNumber": row["claim_number"],
        "program": row["program"],
        "status": row["status"],
        "amountApproved": _money(row["amount_approved"]),
    }


def _json(data: Any) -> Response:
    return Response(orjson.dumps({"data": data}), media_type="application/json")


def create_app(database_url: str) -> Starlette:
    pool: asyncpg.Pool | None = None

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        nonlocal pool
        pool = await asyncpg.create_pool(database_url, min_size=4, max_size=16)
        yield
        await pool.close()

    async def page_of(request: Request, with_programs: bool) -> Response:
        region = request.query_params.get("region", "52.03")
        assert pool is not None
        programs: dict[int, list[dict[str, str]]] = defaultdict(list)
        async with pool.acquire() as conn:
            page = await conn.fetch(S1_PAGE, region, 100)
            ids = [r["id"] for r in page]
            if with_programs:
                for r in await conn.fetch(PROGRAMS, ids):
                    programs[r["participant_id"]].append({"program": r["program"]})
            claims: dict[int, list[dict[str, Any]]] = defaultdict(list)
            for r in await conn.fetch(CLAIM_PAGES, ids, 3):
                claims[r["participant_id"]].append({"node": _claim(r)})
        edges = []
        for p in page:
            node: dict[str, Any] = {
                "membershipNumber": p["membership_number"],
                "fullName": p["full_name"],
                "nik": p["nik"],
                "region": {"name": p["region_name"]},
            }
            if with_programs:
                node["programs"] = programs.get(p["id"], [])
            node["claims"] = {"edges": claims.get(p["id"], [])}
            edges.append({"node": node})
        return _json({"participants": {"edges": edges}})

    async def s1(request: Request) -> Response:
        return await page_of(request, with_programs=True)

    async def s1n(request: Request) -> Response:
        return await page_of(request, with_programs=False)

    async def s2(request: Request) -> Response:
        assert pool is not None
        async with pool.acquire() as conn:
            p = await conn.fetchrow(S2_ONE, request.query_params.get("m", ""))
            if p is None:
                return _json({"participant": None})
            claims = await conn.fetch(S2_CLAIMS, p["id"])
        return _json(
            {
                "participant": {
                    "membershipNumber": p["membership_number"],
                    "fullName": p["full_name"],
                    "nik": p["nik"],
                    "region": {"name": p["region_name"]},
                    "claims": {"edges": [{"node": _claim(c)} for c in claims]},
                }
            }
        )

    async def s3(request: Request) -> Response:
        ids = [int(i) for i in orjson.loads(await request.body())["ids"]]
        assert pool is not None
        async with pool.acquire() as conn:
            rows = {r["id"]: r for r in await conn.fetch(S3_MANY, ids)}
        out = [
            {
                "membershipNumber": r["membership_number"],
                "fullName": r["full_name"],
                "region": {"name": r["region_name"]},
            }
            if (r := rows.get(i)) is not None
            else None
            for i in ids
        ]
        return _json({"_entities": out})

    return Starlette(
        routes=[Route("/s1", s1), Route("/s1n", s1n), Route("/s2", s2), Route("/s3", s3, methods=["POST"])],
        lifespan=lifespan,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/jamsos_bench")
    parser.add_argument("--port", type=int, default=5102)
    args = parser.parse_args()
    uvicorn.run(create_app(args.database_url), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
