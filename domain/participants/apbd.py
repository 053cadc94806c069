"""The monthly APBD run (Inpres 4/2022): a regional government books one month for every worker it funds.

**Whose budget.** A payer is a province or a regency/city (the governments with an APBD). The caller may only
book for a payer of its own region — a regency's office for its regency, a province's for the province, a
national administrator for any one it names — and that is checked before any participant row is read.

**Which workers.** Members (not deceased, not retired) funded by APBD, registered by the end of the month,
living in the payer's region, whose payer is this one: the payer region of their latest APBD payment, or —
before any — their regency (the government enrolment books the first month for when no budget-level office
enrols them, :mod:`domain.beneficiaries.enrolment`). So a worker a province took over is the province's, and
one month is never booked by two governments.

**How much.** One month of the worker's programmes at the rule table's price for that month
(:func:`domain.participants.contributions.monthly_price` — the package price of Permenaker 5/2021 for an
enrolled worker's declared income), which is the price the ledger checks it against.

**Idempotent.** Each booking's reference is ``APBD-<payer>-<YYYYMM>-<participant id>``: running the month
again finds it recorded and changes nothing. A worker whose month someone else already paid (the enrolment's
first month, a self-payment) is counted, not booked twice. The bookings go through
:func:`domain.participants.bulk_ledger.record_contributions_bulk`, so every rule of the ledger applies, each
worker changed gets its ``contribution.record`` audit event, and the Monev's APBD amount for the month is
the booked payments.

For jobs: workers are taken in participant-id order, a page at a time; ``checkpoint(last_id)`` is awaited
after each page written and ``after_id=last_id`` resumes after it.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.codes import UserErrorCode
from domain.db import one_of, read_rows
from domain.participants.budget_payer import check_payer
from domain.participants.bulk import Progress, collector_paused
from domain.participants.bulk_ledger import record_contributions_bulk
from domain.participants.codes import ContributionCode
from domain.participants.contributions import MonthlyPrice, NoPrice, monthly_price
from domain.participants.ledger import MAX_PREPAID_MONTHS, ContributionItem
from domain.participants.models import (
    Contribution,
    Employer,
    FundingSource,
    Participant,
    ParticipantProgram,
    ParticipantStatus,
)
from domain.participants.months import month_number, month_start
from domain.participants.rules import Program, Segment
from domain.regions.models import placed_within
from domain.regions.rules import RegionCode
from domain.writes.caller import Caller
from domain.writes.errors import Invalid, Problem

#: Governments with a budget (APBD): provinces and regencies/cities.
#: Workers per page: one bulk-ledger call, one progress report, one checkpoint (a job passes its chunk size).
PAGE = 20_000
#: Workers per chunk of the bulk ledger within a page: it decides the next chunk while the database recounts
#: one (:mod:`domain.participants.bulk_ledger`), so a page is several.
LEDGER_CHUNK = 1000


@dataclass(frozen=True, slots=True)
class WorkerRefusal:
    participant_id: int
    code: UserErrorCode
    message: str


@dataclass
class ApbdMonth:
    """What booking (or, in a dry run, pricing) one month for one payer did."""

    payer_region_code: str
    month: dt.date
    #: Workers the payer funds for the month: booked + already booked + already paid + refused.
    workers: int = 0
    booked: int = 0
    #: Booked by an earlier run of the same month (same reference): nothing to do.
    already_booked: int = 0
    #: The month was already paid by another payment (the enrolment's first month, a self-payment).
    already_paid: int = 0
    refused: int = 0
    #: The month's cost: rupiah of the bookings made (dry run: to be made).
    amount: Decimal = Decimal(0)
    reasons: Counter[str] = field(default_factory=Counter)
    refusals: list[WorkerRefusal] = field(default_factory=list)
    written: bool = False
    #: The last participant id done (pass as ``after_id`` to resume).
    cursor: int = 0


def apbd_reference(payer: str, month: dt.date, participant_id: int) -> str:
    """The booking's reference: one per payer, month and worker (what makes the run idempotent)."""
    return f"{_reference_prefix(payer, month)}{participant_id}"


@functools.lru_cache(maxsize=64)
def _reference_prefix(payer: str, month: dt.date) -> str:
    # Formatting the month is most of a reference's cost, and a run makes 200,000 of one payer and month.
    return f"APBD-{payer}-{month:%Y%m}-"


async def candidate_count(session: AsyncSession, payer: RegionCode, month: dt.date) -> int:
    """How many participants a run of `month` for `payer` goes through (a job's 100 %; some turn out to be
    another government's)."""
    count = await session.scalar(select(func.count()).select_from(Participant).where(*_members(payer, month)))
    return int(count or 0)


def _members(payer: RegionCode, month: dt.date) -> list[ColumnElement[bool]]:
    """APBD-funded members living in the payer's region, registered by the end of `month`: the candidates,
    read a page at a time by indexed conditions (whose budget each is, is decided from its payments)."""
    p = Participant
    next_month = month_start(month_number(month) + 1)
    return [
        placed_within(p, payer),
        p.funding_source == FundingSource.APBD,
        p.status.not_in([ParticipantStatus.DECEASED, ParticipantStatus.RETIRED]),
        p.registered_at < dt.datetime.combine(next_month, dt.time(), dt.UTC),
    ]


@dataclass
class _Payments:
    """What a page of candidates' payments say: the payer of each one's latest APBD payment, and who has the
    month paid by a payment that is not this run's booking."""

    latest_payer: dict[int, str]
    paid_elsewhere: set[int]


async def _payments(session: AsyncSession, ids: list[int], payer: str, month: dt.date) -> _Payments:
    n = month_number(month)
    c = Contribution
    latest: dict[int, tuple[int, int, str]] = {}
    elsewhere: set[int] = set()
    rows = await read_rows(
        session,
        select(c.participant_id, c.id, c.first_month, c.last_month, c.payer, c.payer_region_code, c.reference).where(
            one_of(session, c.participant_id, ids)
        ),
    )
    for pid, cid, first, last, paid_by, region, reference in rows:
        if paid_by is FundingSource.APBD and region is not None and (last, cid) > latest.get(pid, (-1, -1, ""))[:2]:
            latest[pid] = (last, cid, region)
        if first <= n <= last and reference != apbd_reference(payer, month, pid):
            elsewhere.add(pid)
    return _Payments({pid: region for pid, (_, _, region) in latest.items()}, elsewhere)


async def book_apbd_month(
    session: AsyncSession,
    caller: Caller,
    payer_region_code: str,
    month: dt.date,
    *,
    dry_run: bool = False,
    after_id: int = 0,
    page: int = PAGE,
    progress: Progress | None = None,
    checkpoint: Callable[[int], Awaitable[None]] | None = None,
    today: dt.date | None = None,
    max_pages: int | None = None,
) -> ApbdMonth:
    """Book `month` (any day of it) for every worker `payer_region_code` funds (see the module docstring).

    `max_pages` stops after that many pages (a job does one page per chunk; ``cursor`` says where it stopped).
    Raises :class:`Invalid` for a payer that is not a budget of the caller's region or not in the region list,
    and for a month past what may be paid in advance. The caller commits when ``written``.
    """
    payer = RegionCode.parse(await check_payer(session, caller, payer_region_code, field="payerRegionCode"))
    month = month.replace(day=1)
    today = today or dt.date.today()
    if month_number(month) > month_number(today) + MAX_PREPAID_MONTHS:
        raise Invalid(
            [
                Problem(
                    "month",
                    ContributionCode.TOO_FAR_AHEAD,
                    f"months up to {month_start(month_number(today) + MAX_PREPAID_MONTHS):%Y-%m} may be paid "
                    f"in advance; {month:%Y-%m} was given",
                )
            ]
        )
    outcome = ApbdMonth(payer.code, month, cursor=after_id)
    members = _members(payer, month)
    prices: dict[tuple[Segment, frozenset[Program], Decimal | None, int | None], MonthlyPrice | NoPrice] = {}
    done = pages = 0
    while max_pages is None or pages < max_pages:
        pages += 1
        with collector_paused():  # a page's rows live until it is written (see collector_paused)
            candidates = await read_rows(
                session,
                select(
                    Participant.id,
                    Participant.segment,
                    Participant.monthly_wage,
                    Participant.regency_code,
                    Participant.province_code,
                    Employer.jkk_risk_class,
                )
                .outerjoin(Employer, Employer.id == Participant.employer_id)
                .where(*members, Participant.id > outcome.cursor)
                .order_by(Participant.id)
                .limit(page),
            )
            if not candidates:
                break
            outcome.cursor = candidates[-1].id
            paid = await _payments(session, [w.id for w in candidates], payer.code, month)
            # The payer of the latest APBD payment funds the worker; before any, the regency (enrolment's default).
            workers = [
                w for w in candidates if paid.latest_payer.get(w.id, w.regency_code or w.province_code) == payer.code
            ]
            outcome.already_paid += sum(1 for w in workers if w.id in paid.paid_elsewhere)
            workers = [w for w in workers if w.id not in paid.paid_elsewhere]
            held: dict[int, set[Program]] = {w.id: set() for w in workers}
            for pid, program in await read_rows(
                session,
                select(ParticipantProgram.participant_id, ParticipantProgram.program).where(
                    one_of(session, ParticipantProgram.participant_id, list(held))
                ),
            ):
                held[pid].add(program)
            items: list[ContributionItem] = []
            for w in workers:
                key = (w.segment, frozenset(held[w.id]), w.monthly_wage, w.jkk_risk_class)
                if key not in prices:
                    try:
                        prices[key] = monthly_price(
                            w.segment, key[1], month, wage=w.monthly_wage, risk_class=w.jkk_risk_class
                        )
                    except NoPrice as exc:
                        prices[key] = exc
                price = prices[key]
                if isinstance(price, NoPrice):
                    outcome.refused += 1
                    outcome.reasons[ContributionCode.NO_PRICE] += 1
                    outcome.refusals.append(WorkerRefusal(w.id, ContributionCode.NO_PRICE, str(price)))
                    continue
                items.append(
                    ContributionItem(
                        participant_id=w.id,
                        months=1,
                        amount=price.amount,
                        payer=FundingSource.APBD,
                        reference=apbd_reference(payer.code, month, w.id),
                        payer_region_code=payer.code,
                        from_month=month,
                    )
                )
            recorded = await record_contributions_bulk(
                session,
                caller,
                items,
                dry_run=dry_run,
                chunk_size=LEDGER_CHUNK,
                today=today,
            )
            outcome.booked += recorded.created
            outcome.already_booked += recorded.unchanged
            outcome.refused += recorded.refused
            outcome.amount += recorded.amount
            outcome.reasons.update(recorded.reasons)
            outcome.refusals += [
                WorkerRefusal(items[r.index].participant_id, r.code, r.message) for r in recorded.refusals
            ]
            done += len(candidates)
            if progress is not None:
                progress(done, dict(outcome.reasons))
            if not dry_run and checkpoint is not None:
                await checkpoint(outcome.cursor)
    outcome.workers = outcome.booked + outcome.already_booked + outcome.already_paid + outcome.refused
    outcome.written = not dry_run
    return outcome
