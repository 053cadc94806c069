"""The command line of the in-process benchmarks (``bench/pipeline_cpu.py``, ``bench/private_api.py``,
``bench/region_reads.py``): a database URL, requests per round and rounds; a temporary directory for the
signing key the measurement creates."""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

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
