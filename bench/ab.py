"""This service at two checkouts, alternating in the same run: requests/s and server CPU per request per token.

    .venv/bin/python bench/ab.py --database-url postgresql+asyncpg://…/jamsos_bench_ntb \
        --other /path/to/a/worktree/at/another/commit --scenarios S1 S2 --rounds 3 --duration 8

On SQLite (``--database-url sqlite+aiosqlite:///bench/.work/small.db``) the file is made first when it is
missing, with the demo data of ``--size`` (default ``small``: ``jamsos migrate`` and ``jamsos seed``).

``--other`` is a checkout with its own ``.venv`` (``git worktree add … <ref>`` and ``make install`` there), or
this one again when only ``--other-env`` settings differ (``--other-env JAMSOS_X=1``). Each round starts this
checkout's server and the other's in turn (the order reverses every round) and measures each scenario with
both tokens at 8 clients, as ``bench/run.py`` does (its server, wrk and tokens). Prints one JSON line per
measurement and the medians; writes nothing into ``bench/results``. A benchmark: nothing asserts.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import run  # bench/run.py: this file runs as a script from bench/


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=run.DEFAULT_URL)
    parser.add_argument("--other", type=Path, help="another checkout, with its own .venv (default: this one)")
    parser.add_argument(
        "--other-env", nargs="*", default=[], metavar="NAME=VALUE", help="settings of the other server only"
    )
    parser.add_argument("--scenarios", nargs="+", default=["S1", "S2"])
    parser.add_argument("--tokens", nargs="+", choices=run.TOKENS, default=list(run.TOKENS))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--size", default="small", help="demo data for a new SQLite file (jamsos seed --size)")
    args = parser.parse_args()
    url = args.database_url
    if run.sqlite_path(url) is not None:
        run.ensure_seeded_sqlite(url, args.size)
    run.WORK.mkdir(exist_ok=True)
    (run.WORK / "data").mkdir(exist_ok=True)
    key_path = run.WORK / "signing-key.pem"
    keys = run.sample(url)
    tokens = {name: run.mint_token(url, key_path, pii=name == "pii") for name in args.tokens}
    files = {s: run.write_lines("jamsos", s, keys) for s in args.scenarios}
    other = (args.other or run.ROOT).resolve()
    checkouts = {"this": (run.ROOT, run.VENV_BIN), "other": (other, other / ".venv" / "bin")}
    envs = {"this": {}, "other": dict(item.split("=", 1) for item in args.other_env)}
    results: list[dict[str, object]] = []
    print(json.dumps(run.machine()), flush=True)
    for round_number in range(args.rounds):
        order = ["this", "other"] if round_number % 2 == 0 else ["other", "this"]
        for name in order:
            run.ROOT, run.VENV_BIN = checkouts[name]
            with run.server("jamsos", url, key_path, envs[name]) as process:
                for scenario in args.scenarios:
                    for token_name, token in tokens.items():
                        run.run_wrk("jamsos", files[scenario], args.concurrency, 2, token)
                        row = run.run_wrk(
                            "jamsos", files[scenario], args.concurrency, args.duration, token, process.pid
                        )
                        row |= {"checkout": name, "token": token_name, "scenario": scenario, "round": round_number}
                        print(json.dumps(row), flush=True)
                        results.append(row)
    print(json.dumps(run.machine()), flush=True)
    print("| checkout | scenario | token | req/s (median) | CPU ms/req (median) | p99 ms (median) |")
    print("|---|---|---|---:|---:|---:|")
    for name in checkouts:
        for scenario in args.scenarios:
            for token_name in tokens:
                rows = [
                    r for r in results if (r["checkout"], r["scenario"], r["token"]) == (name, scenario, token_name)
                ]
                rps = statistics.median(float(r["rps"]) for r in rows)  # type: ignore[arg-type]
                cpu = statistics.median(float(r["cpu_ms_per_request"]) for r in rows)  # type: ignore[arg-type]
                p99 = statistics.median(float(r["p99_ms"]) for r in rows)  # type: ignore[arg-type]
                print(f"| {name} | {scenario} | {token_name} | {rps:,.0f} | {cpu:.2f} | {p99:.1f} |")
    for name in checkouts:
        for scenario in args.scenarios:
            ratios = []
            for round_number in range(args.rounds):
                got = {
                    r["token"]: float(r["rps"])  # type: ignore[arg-type]
                    for r in results
                    if (r["checkout"], r["scenario"], r["round"]) == (name, scenario, round_number)
                }
                if "pii" in got and "masked" in got:
                    ratios.append(got["pii"] / got["masked"])
            if ratios:
                shown = ", ".join(f"{x:.2f}" for x in ratios)
                print(f"{name} {scenario}: pii ÷ masked per round {shown}; median {statistics.median(ratios):.2f}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
