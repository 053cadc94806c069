"""A database of random Monev data per seed, and a brute-force recount written independently of domain.monev."""

from __future__ import annotations

import asyncio
import calendar
import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import delete, insert
from sqlalchemy.ext.asyncio import AsyncEngine

from demo.regions import load_regions
from domain.beneficiaries.models import PovertyBeneficiary
from domain.claims.models import Claim, ClaimBenefit, ClaimEvent
from domain.db import make_engine
from domain.participants.models import Contribution, Employer, Participant, ParticipantProgram

WITA = dt.timezone(dt.timedelta(hours=8))
SEGMENT_PROGRAMS = {
    "PU": ["JKK", "JKM", "JHT", "JP", "JKP"],
    "BPU": ["JKK", "JKM", "JHT"],
    "JAKON": ["JKK", "JKM"],
    "PMI": ["JKK", "JKM", "JHT"],
}
#: Villages the random data lives in: two regencies, two districts each, three villages each, plus strays.
VILLAGES = [
    "52.01.01.1001", "52.01.01.1004", "52.01.01.1011", "52.01.02.2001", "52.01.02.2002", "52.01.02.2003",
    "52.71.01.1004", "52.71.01.1005", "52.71.01.1006", "52.71.02.1001", "52.71.02.1002", "52.71.02.1008",
    "52.02.01.1001", "52.03.01.2001",
]  # fmt: skip
START = dt.datetime(2021, 11, 1, tzinfo=dt.UTC)


@dataclass
class Data:
    """Every row of one random data set, as plain dicts (the oracle's input)."""

    participants: list[dict[str, Any]] = field(default_factory=list)
    programs: list[dict[str, Any]] = field(default_factory=list)
    beneficiaries: list[dict[str, Any]] = field(default_factory=list)
    claims: list[dict[str, Any]] = field(default_factory=list)
    benefits: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    contributions: list[dict[str, Any]] = field(default_factory=list)


def _place(village: str) -> dict[str, str]:
    return {"region_code": village, "province_code": "52", "regency_code": village[:5], "district_code": village[:8]}


def _moment(rng: random.Random, now: dt.datetime) -> dt.datetime:
    """A random instant, often within hours of a month boundary (WITA vs UTC is where bugs hide)."""
    if rng.random() < 0.3:
        months = (now.year - START.year) * 12 + now.month - START.month
        k = rng.randrange(1, max(2, months))
        y, m = START.year + (START.month - 1 + k) // 12, (START.month - 1 + k) % 12 + 1
        edge = dt.datetime(y, m, 1, tzinfo=WITA).astimezone(dt.UTC)
        moment = edge + dt.timedelta(minutes=rng.randint(-600, 600))
        return min(moment, now)
    return START + (now - START) * rng.random()


def _month_end(rng: random.Random, now: dt.datetime) -> dt.date | None:
    if rng.random() < 0.1:
        return None
    d = _moment(rng, now + dt.timedelta(days=40)).date()
    return dt.date(d.year, d.month, calendar.monthrange(d.year, d.month)[1])


def _lifecycle(
    rng: random.Random, registered: dt.datetime, paid: dt.date | None, now: dt.datetime
) -> tuple[str, dt.date | None, dt.date | None]:
    """Some participants died or retired, often while (or before) months were still paid for them, and often
    on a month's last day (the edge of "alive at the month's end")."""
    roll = rng.random()
    if roll > 0.3:
        return "ACTIVE", None, None
    day = _moment(rng, now).date()
    day = max(day, registered.date())
    if rng.random() < 0.3:
        day = dt.date(day.year, day.month, calendar.monthrange(day.year, day.month)[1])
    elif paid is not None and rng.random() < 0.3:
        day = paid  # the last paid day itself
    return ("DECEASED", day, None) if roll < 0.15 else ("RETIRED", None, day)


def random_data(seed: int, now: dt.datetime) -> Data:
    rng = random.Random(seed)
    data = Data()
    n = rng.randint(60, 160)
    for pid in range(1, n + 1):
        segment = rng.choice(list(SEGMENT_PROGRAMS))
        funding = "EMPLOYER" if segment in ("PU", "JAKON") else rng.choice(["SELF", "APBD", "APBN", "CSR"])
        registered = _moment(rng, now)
        paid = _month_end(rng, now)
        status, died_on, retired_on = _lifecycle(rng, registered, paid, now)
        data.participants.append(
            {
                "id": pid,
                "membership_number": f"{pid:011d}",
                "nik": f"5271{pid:012d}",
                "full_name": f"Peserta {pid}",
                "birth_date": dt.date(1980, 1, 1),
                "sex": "M",
                "segment": segment,
                "status": status,
                "died_on": died_on,
                "retired_on": retired_on,
                "funding_source": funding,
                "employer_id": 1 if segment in ("PU", "JAKON") else None,
                "monthly_wage": None,
                "paid_through": paid,
                "contribution_months": 1,
                "registered_at": registered,
                "version": 1,
                **_place(rng.choice(VILLAGES)),
            }
        )
        last = (paid or registered.date()).year * 12 + (paid or registered.date()).month - 1
        first = last - rng.randint(0, 30)
        while first <= last and rng.random() < 0.8:
            # consecutive payments, some of several months (1/n of the amount counts in each month)
            months = min(rng.randint(1, 4), last - first + 1)
            payer = funding if rng.random() < 0.9 else rng.choice(["SELF", "APBD", "CSR"])
            data.contributions.append(
                {
                    "id": len(data.contributions) + 1,
                    "participant_id": pid,
                    "first_month": first,
                    "last_month": first + months - 1,
                    "months": months,
                    "period_from": dt.date(first // 12, first % 12 + 1, 1),
                    "period_to": dt.date((first + months - 1) // 12, (first + months - 1) % 12 + 1, 1),
                    "amount": Decimal(16_800 * months * rng.randint(1, 3)),
                    "programs": "JKK JKM",
                    "payer": payer,
                    "payer_region_code": "52" if payer == "APBD" else None,
                    "reference": f"REF-{pid}-{first}",
                    "received_at": registered,
                    "recorded_at": registered,
                    "recorded_by": "test",
                    "price_rule": None,
                }
            )
            first += months
        for program in rng.sample(SEGMENT_PROGRAMS[segment], rng.randint(1, len(SEGMENT_PROGRAMS[segment]))):
            since = (registered + dt.timedelta(days=rng.randint(-40, 400))).date()
            data.programs.append({"participant_id": pid, "program": program, "segment": segment, "since": since})
    unlinked = list(data.participants)
    rng.shuffle(unlinked)
    for bid in range(1, rng.randint(20, 80)):
        linked = unlinked.pop() if rng.random() < 0.5 else None
        nik = linked["nik"] if linked else f"5203{bid:012d}"
        for snapshot in rng.sample(
            [dt.date(2022, 3, 1), dt.date(2024, 6, 30), dt.date(2025, 12, 31)], rng.randint(1, 2)
        ):
            data.beneficiaries.append(
                {
                    "id": len(data.beneficiaries) + 1,
                    "nik": nik,
                    "family_card_number": None,
                    "full_name": f"Penerima {bid}",
                    "birth_date": dt.date(1975, 1, 1),
                    "sex": "F",
                    "decile": 1,
                    "extreme_poor": rng.random() < 0.7,
                    "source": "P3KE",
                    "snapshot_date": snapshot,
                    "participant_id": linked["id"] if linked else None,
                    "version": 1,
                    **_place(linked["region_code"] if linked and rng.random() < 0.8 else rng.choice(VILLAGES)),
                }
            )
    for cid in range(1, rng.randint(30, 120)):
        who = rng.choice(data.participants)
        program = rng.choice(SEGMENT_PROGRAMS[str(who["segment"])])
        submitted = _moment(rng, now)
        status = rng.choice(["SUBMITTED", "VERIFIED", "APPROVED", "PAID", "PAID", "PAID", "REJECTED"])
        verified = submitted + dt.timedelta(hours=rng.randint(1, 200))
        paid_at = verified + dt.timedelta(hours=rng.randint(1, 240)) if status == "PAID" else None
        if paid_at is not None and paid_at > now:
            paid_at = now
        amount = Decimal(rng.randint(1, 50) * 1_000_000) if status in ("APPROVED", "PAID") else None
        data.claims.append(
            {
                "id": cid,
                "claim_number": f"C{cid:08d}",
                "participant_id": who["id"],
                "program": program,
                "status": status,
                "incident_date": submitted.date(),
                "submitted_at": submitted,
                "paid_at": paid_at,
                "amount_approved": amount,
                "payment_reference": None,
                "rejection_reason": "incomplete" if status == "REJECTED" else None,
                "verified_by": None,
                "approved_by": None,
                "idempotency_key": None,
                "version": 1,
                **{k: who[k] for k in ("region_code", "province_code", "regency_code", "district_code")},
            }
        )
        if status in ("VERIFIED", "APPROVED", "PAID") and rng.random() < 0.95:
            data.events.append(
                {
                    "id": len(data.events) + 1,
                    "claim_id": cid,
                    "status": "VERIFIED",
                    "at": verified,
                    "actor": "t",
                    "note": None,
                }
            )
        for _ in range(rng.choice([0, 0, 1, 2])):
            data.benefits.append(
                {
                    "id": len(data.benefits) + 1,
                    "claim_id": cid,
                    "kind": rng.choice(["SCHOLARSHIP", "LUMP_SUM"]),
                    "recipient_name": None,
                    "recipient_nik": None,
                    "relationship": None,
                    "education_level": "SD",
                    "amount": Decimal(rng.randint(1, 12) * 500_000),
                    "rule_id": None,
                }
            )
    return data


async def load(engine: AsyncEngine, data: Data) -> None:
    """Replace every participant, beneficiary and claim row with `data`."""
    tables = [
        ClaimBenefit,
        ClaimEvent,
        Claim,
        PovertyBeneficiary,
        Contribution,
        ParticipantProgram,
        Participant,
        Employer,
    ]
    async with engine.begin() as conn:
        for model in tables:
            await conn.execute(delete(model))
        await conn.execute(
            insert(Employer),
            [
                {
                    "id": 1,
                    "registration_number": "NPP1",
                    "name": "PT Uji",
                    "jkk_risk_class": 1,
                    "version": 1,
                    **_place(VILLAGES[0]),
                }
            ],
        )
        for model, rows in (
            (Participant, data.participants),
            (ParticipantProgram, data.programs),
            (Contribution, data.contributions),
            (PovertyBeneficiary, data.beneficiaries),
            (Claim, data.claims),
            (ClaimEvent, data.events),
            (ClaimBenefit, data.benefits),
        ):
            if rows:
                await conn.execute(insert(model), rows)


@pytest.fixture(scope="session")
def monev_url(backend: str, migrated_database: Callable[[str, str], str]) -> str:
    """A migrated database with NTB's regions and no people: each test loads its own random data."""
    url = migrated_database(backend, "monev")

    async def regions() -> None:
        engine = make_engine(url, null_pool=True)
        try:
            await load_regions(engine, ["52"])
        finally:
            await engine.dispose()

    asyncio.run(regions())
    return url


@pytest.fixture(scope="session")
async def monev_engine(monev_url: str) -> Any:
    engine = make_engine(monev_url)
    yield engine
    await engine.dispose()
