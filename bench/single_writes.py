"""The single writes the set-based ones share their rules with: one registration, one payment, timed one by one.

Not a test: it measures and prints. Each write runs through the domain function the API calls
(:func:`domain.participants.writes.register_participant`, :func:`domain.participants.ledger.record_contributions`
with one item) in a transaction of its own that is rolled back, so the data set is left as it was; the
median and the 90th percentile of `--runs` writes each are printed (the first few warm the connection).

    .venv/bin/python bench/single_writes.py --runs 200 \\
        --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/jamsos_bulkspeed_apbd

The database is one ``bench/bulk_writes.py --phase setup`` made (APBD-funded workers of 52.03): the payments
are one month each for its first workers, the registrations new BPU workers of its villages.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bulk_writes import REGENCY, _niks, _villages, caller, next_month, nik_district

from domain.db import make_engine, make_sessionmaker
from domain.participants.ledger import ContributionItem, price_of_month, record_contributions
from domain.participants.models import FundingSource, Participant
from domain.participants.rules import Program, Segment
from domain.participants.writes import Registration, register_participant

WARM = 5


def _summary(times: list[float], cpu: list[float]) -> dict[str, float]:
    measured = sorted(times[WARM:])
    return {
        "median_ms": round(statistics.median(measured) * 1000, 2),
        "p90_ms": round(measured[int(len(measured) * 0.9)] * 1000, 2),
        # This process's CPU per write: steadier than wall time on a loaded machine (the database's is not in it).
        "cpu_median_ms": round(statistics.median(cpu[WARM:]) * 1000, 2),
        "runs": len(measured),
    }


async def main(url: str, runs: int) -> dict[str, Any]:
    engine = make_engine(url, null_pool=False)
    sessions = make_sessionmaker(engine)
    who = caller(REGENCY)
    out: dict[str, Any] = {}
    try:
        villages = await _villages(engine)
        districts = sorted({v.rsplit(".", 1)[0] for v in villages})
        by_district = {d: [v for v in villages if v.startswith(d + ".")] for d in districts}
        times: list[float] = []
        cpu: list[float] = []
        for nik, birth, sex in _niks(districts, runs + WARM, 9_000_000):
            data = Registration(
                nik=nik, full_name="Pekerja Tunggal", birth_date=birth, sex=sex, segment=Segment.BPU,
                funding_source=FundingSource.SELF, region_code=by_district[nik_district(nik)][0],
                programs={Program.JKK, Program.JKM},
            )  # fmt: skip
            async with sessions() as session:
                started, started_cpu = time.perf_counter(), time.process_time()
                await register_participant(session, who, data)
                await session.flush()
                times.append(time.perf_counter() - started)
                cpu.append(time.process_time() - started_cpu)
                await session.rollback()
        out["register_participant"] = _summary(times, cpu)
        month = (next_month() + dt.timedelta(days=32)).replace(day=1)  # past the APBD run's month
        async with sessions() as session:
            ids = list(
                await session.scalars(
                    select(Participant.id)
                    .where(Participant.funding_source == FundingSource.APBD, Participant.regency_code == REGENCY)
                    .order_by(Participant.id).limit(runs + WARM)
                )
            )  # fmt: skip
        times, cpu = [], []
        for pid in ids:
            async with sessions() as session:
                participant = await session.get(Participant, pid)
                assert participant is not None
                price = await price_of_month(session, participant, month)
                item = ContributionItem(
                    participant_id=pid, months=1, amount=Decimal(price.amount), payer=FundingSource.SELF,
                    reference=f"SINGLE-{pid}-{month:%Y%m}", from_month=month,
                )  # fmt: skip
                started, started_cpu = time.perf_counter(), time.process_time()
                await record_contributions(session, who, [item])
                await session.flush()
                times.append(time.perf_counter() - started)
                cpu.append(time.process_time() - started_cpu)
                await session.rollback()
        out["record_contributions_1"] = _summary(times, cpu)
    finally:
        await engine.dispose()
    out["load"] = [round(x, 1) for x in os.getloadavg()]
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.database_url, args.runs))))
