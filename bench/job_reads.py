"""S2 reads from another client while a 100,000-row job runs: their p50, p99 and errors, against no job.

    .venv/bin/python bench/job_reads.py --workers 100000 \\
        --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/jamsos_job_reads
    # options: --duration 60 (seconds per wrk run)  --concurrency 8  --port 5190
    #          --skip-setup --month YYYY-MM (reuse the data, book another month)

Issue 21: "While a 100,000-row job runs, S2 reads from another client keep answering (report their p99 during
the job)". Set-up (not measured): bench/bulk_writes.py's data — the database dropped, made, migrated, the
regions (``tiny``) and N APBD-funded BPU workers of Lombok Timur (52.03) — and the queue's tables. Then the
Procfile's deployment on PostgreSQL, each in a process of its own: ``jamsos serve --workers 1`` (bench/run.py's
production settings) and ``jamsos worker``; and wrk (``-t1 -c8``, bench/lua/replay.lua, bench/run.py's request
files) sending S2 (bench/queries/S2.graphql, a national token without ``pii:read``) for membership numbers of
those workers. Phases:

1. ``quiet``: S2 for ``--duration`` s, no job (after a 2 s warm-up).
2. ``during``: ``jamsos contributions apbd-month --payer 52.03 --month <next> --as-job`` queues the month
   for every worker (one job, ``contributions.apbd_month``, chunks of 1,000, each its own transaction) and the
   worker runs it; S2 for ``--duration`` s from the moment it is queued. The job's row says afterwards when it
   ran: the figures count as "during" only if wrk's window lies inside the job's (the script says so).
3. ``after``: S2 again once the job is done (more rows in the ledger; the same reads).

Per phase: requests/s, p50, p99, errors (non-200 or a GraphQL error, bench/lua/replay.lua), the CPU seconds of
the web process, of the worker and of the database backends of this database (their connections are pooled,
so the same processes throughout), and the load average. Nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import bulk_writes  # noqa: E402 - bench/ is on the path: these are scripts beside this one
import run as harness  # noqa: E402

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/jamsos_job_reads"


def backend_pids(url: str) -> list[int]:
    """The database's server processes serving this database (the web process's and the worker's pools)."""
    rows = harness.psql_scalar(
        url, "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    return [int(p) for p in rows.split()]


def cpu(pids: list[int]) -> float:
    return sum(harness.cpu_seconds(pid) for pid in pids)


def job_row(url: str, job_id: int) -> dict[str, Any]:
    columns = "'state', state, 'processed', processed, 'total', total, 'counts', counts, 'started_at', started_at, "
    columns += "'finished_at', finished_at, 'error', error"
    where = f"id = {int(job_id)}"
    sql = f"SELECT json_build_object({columns}) FROM jobs WHERE {where}"  # noqa: S608 - fixed text, an integer
    out: dict[str, Any] = json.loads(harness.psql_scalar(url, sql))
    return out


def measure(
    name: str, lines: Path, args: argparse.Namespace, token: str, web: int, worker: int, url: str
) -> dict[str, Any]:
    pids = backend_pids(url)
    before = (harness.cpu_seconds(web), harness.cpu_seconds(worker), cpu(pids))
    started = dt.datetime.now(dt.UTC)
    row = harness.run_wrk("jamsos", lines, args.concurrency, args.duration, token)
    row.pop("cpu_ms_per_request", None)  # bench/run.py's own, without a pid: computed below
    ended = dt.datetime.now(dt.UTC)
    after = (harness.cpu_seconds(web), harness.cpu_seconds(worker), cpu(pids))
    row |= {
        "phase": name,
        "from": started.isoformat(timespec="seconds"),
        "to": ended.isoformat(timespec="seconds"),
        "cpu_s_web": round(after[0] - before[0], 1),
        "cpu_ms_web_per_request": round((after[0] - before[0]) * 1000 / max(row["requests"], 1), 2),
        "cpu_s_worker": round(after[1] - before[1], 1),
        "cpu_s_database": round(after[2] - before[2], 1),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    print(json.dumps(row), flush=True)
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--workers", type=int, default=100_000)
    parser.add_argument("--duration", type=int, default=60)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--port", type=int, default=5190, help="the web process's port (not bench/run.py's)")
    parser.add_argument("--skip-setup", action="store_true", help="reuse the data (give another --month)")
    parser.add_argument("--month", help="YYYY-MM to book (default: next month)")
    args = parser.parse_args()
    url = args.database_url
    if not url.startswith("postgresql+asyncpg://"):
        raise SystemExit("a postgresql+asyncpg:// URL: the worker process runs on PostgreSQL")
    harness.PORTS["jamsos"] = args.port
    harness.WORK.mkdir(exist_ok=True)
    (harness.WORK / "data").mkdir(exist_ok=True)
    print(json.dumps({"machine": harness.machine(), "command": " ".join(sys.argv)}), flush=True)
    if not args.skip_setup:
        started = time.perf_counter()
        import asyncio

        from api.cli_jobs import apply_queue_schema

        asyncio.run(bulk_writes.setup(url, args.workers))
        asyncio.run(apply_queue_schema(url))
        print(f"set-up: {args.workers:,} workers in {time.perf_counter() - started:.0f} s", flush=True)
    key_path = harness.WORK / "signing-key.pem"
    token = harness.mint_token(url, key_path)
    numbers = harness.psql_scalar(url, "SELECT membership_number FROM participants ORDER BY random() LIMIT 2000")
    lines = harness.WORK / "job_reads-S2.txt"
    lines.write_text("\n".join(harness.request_lines("jamsos", "S2", {"numbers": numbers.split()})) + "\n")
    month = args.month or f"{bulk_writes.next_month():%Y-%m}"
    env = {
        **os.environ,
        "JAMSOS_ENV": "production",
        "JAMSOS_DATABASE_URL": url,
        "JAMSOS_SIGNING_KEY_PATH": str(key_path),
        "JAMSOS_ISSUER": harness.ISSUER,
        "JAMSOS_DATA_DIR": str(harness.WORK / "data"),
        "JAMSOS_SECRET_KEY": "bench-only-not-a-secret",
        "JAMSOS_JOBS_RUNNER": "worker",
    }
    jamsos = str(harness.VENV_BIN / "jamsos")
    with (harness.WORK / "job_reads-worker.log").open("ab") as log:
        worker = subprocess.Popen([jamsos, "worker"], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=harness.ROOT)
    results: list[dict[str, Any]] = []
    try:
        with harness.server("jamsos", url, key_path, env={"JAMSOS_JOBS_RUNNER": "worker"}) as web:
            first = lines.read_text().splitlines()[0].split("\t")[2].encode()
            probe = urllib.request.Request(
                f"http://127.0.0.1:{args.port}/graphql",
                data=first,
                headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
            )
            with urllib.request.urlopen(probe, timeout=10) as answer:  # noqa: S310 - our own local server
                print("an S2 answer:", answer.read().decode()[:300], flush=True)
            harness.run_wrk("jamsos", lines, args.concurrency, 2, token)  # warm-up
            results.append(measure("quiet", lines, args, token, web.pid, worker.pid, url))
            queued = subprocess.run(
                [jamsos, "contributions", "apbd-month", "--payer", "52.03", "--month", month, "--as-job"],
                env=env, capture_output=True, text=True, check=True, cwd=harness.ROOT,
            )  # fmt: skip
            job_id = int(queued.stdout.split()[1])
            during = measure("during", lines, args, token, web.pid, worker.pid, url)
            results.append(during)
            job = job_row(url, job_id)
            while job["state"] in ("QUEUED", "RUNNING"):
                time.sleep(1)
                job = job_row(url, job_id)
            print(json.dumps({"job": job_id} | job), flush=True)
            started = dt.datetime.fromisoformat(job["started_at"])
            finished = dt.datetime.fromisoformat(job["finished_at"])
            window = (dt.datetime.fromisoformat(during["from"]), dt.datetime.fromisoformat(during["to"]))
            print(
                json.dumps(
                    {
                        "job_seconds": round((finished - started).total_seconds(), 1),
                        "job_started_after_wrk_began_s": round((started - window[0]).total_seconds(), 1),
                        "job_finished_after_wrk_ended_s": round((finished - window[1]).total_seconds(), 1),
                        "wrk_window_inside_the_job": finished >= window[1],
                    }
                ),
                flush=True,
            )
            results.append(measure("after", lines, args, token, web.pid, worker.pid, url))
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=60)
        except subprocess.TimeoutExpired:
            worker.kill()
    harness.RESULTS.mkdir(exist_ok=True)
    text = json.dumps({"command": " ".join(sys.argv), "results": results}, indent=1) + "\n"
    for name in (f"job_reads-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M}.json", "job_reads-latest.json"):
        (harness.RESULTS / name).write_text(text)
    print("wrote bench/results/job_reads-latest.json", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
