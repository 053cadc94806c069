"""The contribution ledger: recording payments, and the participant figures derived from them.

A participant's ``paid_through``, ``contribution_months``, ``recent_contribution_months`` and ACTIVE/INACTIVE
status are never typed in: :func:`recompute_participant_figures` recounts them from the ledger, in the
transaction that wrote the ledger, with one UPDATE for a whole set of participants. Other writers of the
ledger (imports, the demo data) call it too, so the figures and the ledger cannot disagree.

Months are numbered ``year * 12 + month - 1`` (:func:`month_number`), so that windows ("12 months in the last
24") are integer arithmetic on every database.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain import clock
from domain.audit import writes as audit
from domain.db import one_of, read_rows, utcnow
from domain.participants.codes import ContributionCode, ParticipantCode
from domain.participants.contributions import MonthlyPrice, NoPrice, monthly_price
from domain.participants.models import (
    Contribution,
    Employer,
    FundingSource,
    Participant,
    ParticipantProgram,
)
from domain.participants.months import month_end, month_number, month_start
from domain.participants.rules import Program, Segment, funding_problems
from domain.participants.status import status_sql
from domain.regions.codes import RegionErrorCode
from domain.regions.models import Region
from domain.regions.rules import InvalidRegionCode, RegionCode
from domain.text import clean_text
from domain.writes.caller import Caller
from domain.writes.codes import WriteCode
from domain.writes.errors import Invalid, NotFound, Problem

#: At most this many payments in one call: a social affairs office posts its whole enrolled list at once.
MAX_BATCH = 1000
#: Months may be paid in advance up to this many months after the current one (BPU workers prepay up to a year).
MAX_PREPAID_MONTHS = 12
#: One payment covers at most this many months (a back-payment of a long history is split).
MAX_MONTHS_PER_PAYMENT = 120
#: Above this a figure is a typo, not a payment.
MAX_AMOUNT = Decimal("100000000000")
#: The window of the "recent months" figure, and of JKP eligibility.
RECENT_WINDOW = 24
_IDS_PER_STATEMENT = 1000


def months_within(ranges: Iterable[tuple[int, int]], lo: int, hi: int) -> int:
    """How many months of `ranges` (first, last; inclusive) fall in ``lo..hi``."""
    return sum(max(0, min(last, hi) - max(first, lo) + 1) for first, last in ranges)


@dataclass(frozen=True)
class ContributionItem:
    """One payment to record. `from_month` (any day of the month) defaults to the first unpaid month, and to
    the current month when the membership has lapsed (arrears are recorded with an explicit `from_month`)."""

    participant_id: int
    months: int
    amount: Decimal
    payer: FundingSource
    reference: str
    payer_region_code: str | None = None
    from_month: dt.date | None = None
    received_at: dt.datetime | None = None


@dataclass(frozen=True)
class Recorded:
    row: Contribution
    created: bool


async def paid_ranges(session: AsyncSession, participant_id: int) -> list[tuple[int, int]]:
    rows = await session.execute(
        select(Contribution.first_month, Contribution.last_month)
        .where(Contribution.participant_id == participant_id)
        .order_by(Contribution.first_month)
    )
    return [(r[0], r[1]) for r in rows]


async def recompute_participant_figures(
    session: AsyncSession, participant_ids: Iterable[int], *, today: dt.date | None = None, reload: bool = True
) -> None:
    """Recount the derived figures of these participants from the ledger, set-based (one UPDATE per thousand).

    ``paid_through`` = the end of the last month paid; ``contribution_months`` = the months paid;
    ``recent_contribution_months`` = those among the 24 months ending with the current month; status ACTIVE
    when the current month is paid, INACTIVE otherwise (DECEASED and RETIRED stay). The version moves, so a
    correction made on an older read is a conflict. Objects of these participants in the session are reloaded
    (``reload=False``: not — for the set-based writes, which hold no participant objects).
    """
    ids = sorted(set(participant_ids))
    today = today or clock.today()
    current = month_number(today)
    lo = current - RECENT_WINDOW + 1
    c = Contribution
    mine = c.participant_id == Participant.id
    overlap = case(
        (c.last_month < lo, 0),
        (c.first_month > current, 0),
        else_=case((c.last_month > current, current), else_=c.last_month)
        - case((c.first_month < lo, lo), else_=c.first_month)
        + 1,
    )
    paid_through = select(func.max(c.period_to)).where(mine).scalar_subquery()
    values = {
        "paid_through": paid_through,
        "contribution_months": select(func.coalesce(func.sum(c.months), 0)).where(mine).scalar_subquery(),
        "recent_contribution_months": select(func.coalesce(func.sum(overlap), 0)).where(mine).scalar_subquery(),
        # Stored as of the recount (reads derive it again for their own day: domain.participants.status).
        "status": status_sql(Participant.status, paid_through, today),
        "version": Participant.version + 1,
    }
    for start in range(0, len(ids), _IDS_PER_STATEMENT):
        chunk = ids[start : start + _IDS_PER_STATEMENT]
        await session.execute(
            update(Participant)
            .where(one_of(session, Participant.id, chunk))
            .values(values)
            .execution_options(synchronize_session=False)
        )
        if reload:
            await session.execute(
                select(Participant)
                .where(one_of(session, Participant.id, chunk))
                .execution_options(populate_existing=True)
            )


async def price_of_month(session: AsyncSession, participant: Participant, month: dt.date) -> MonthlyPrice:
    """What one month of the participant's programmes costs, by the rules in force in `month` (NoPrice if none)."""
    programs = (
        await session.scalars(
            select(ParticipantProgram.program).where(ParticipantProgram.participant_id == participant.id)
        )
    ).all()
    risk_class = None
    if participant.employer_id is not None:
        risk_class = await session.scalar(select(Employer.jkk_risk_class).where(Employer.id == participant.employer_id))
    return monthly_price(
        participant.segment,
        frozenset(programs),
        month_start(month_number(month)),
        wage=participant.monthly_wage,
        risk_class=risk_class,
    )


def _item_problems(i: int, item: ContributionItem) -> list[Problem]:
    where = f"input[{i}]"
    problems = []
    if not 1 <= item.months <= MAX_MONTHS_PER_PAYMENT:
        problems.append(
            Problem(
                f"{where}.months",
                ContributionCode.INVALID_MONTHS,
                f"a payment covers 1 to {MAX_MONTHS_PER_PAYMENT} months; {item.months} were given",
            )
        )
    if not Decimal(0) < item.amount <= MAX_AMOUNT or item.amount != item.amount.quantize(Decimal("0.01")):
        problems.append(
            Problem(
                f"{where}.amount",
                ContributionCode.INVALID_AMOUNT,
                f"the amount must be a positive rupiah figure up to Rp{MAX_AMOUNT:,}; {item.amount} was given",
            )
        )
    _, reference_problems = clean_text(item.reference, f"{where}.reference", max_length=64)
    problems += reference_problems
    if item.received_at is not None and item.received_at.tzinfo is None:
        problems.append(
            Problem(
                f"{where}.receivedAt",
                ContributionCode.NO_TIME_ZONE,
                "give the time with its offset, e.g. 2026-12-01T09:00:00+08:00",
            )
        )
    elif item.received_at is not None and item.received_at > utcnow():
        problems.append(
            Problem(f"{where}.receivedAt", WriteCode.IN_FUTURE, "a payment cannot be received in the future")
        )
    return problems


@dataclass(frozen=True, slots=True)
class Payee:
    """What the ledger's rules read of a participant (a loaded row or a column set of many)."""

    id: int
    region_code: str
    segment: Segment
    monthly_wage: Decimal | None
    employer_id: int | None
    registered_at: dt.datetime
    died_on: dt.date | None
    paid_through: dt.date | None
    contribution_months: int


#: The columns of :class:`Payee`, in its order.
PAYEE_COLUMNS = (
    Participant.id,
    Participant.region_code,
    Participant.segment,
    Participant.monthly_wage,
    Participant.employer_id,
    Participant.registered_at,
    Participant.died_on,
    Participant.paid_through,
    Participant.contribution_months,
)


def list_problems(
    items: Sequence[ContributionItem], earlier: Mapping[str, str] | None = None
) -> dict[int, list[Problem]]:
    """The problems each item has on its own, and a reference used again by a later item (refused there).
    Keyed by the item's index; the items without problems are absent.

    `earlier`: references the same list used before these items (a job's earlier chunks of one file), each
    with the name of its first use ("row 17"); an item using one is refused as a later item would be."""
    problems: dict[int, list[Problem]] = {}
    references: dict[str, str] = dict(earlier or {})
    for i, item in enumerate(items):
        mine = _item_problems(i, item)
        if item.reference in references:
            mine.append(
                Problem(
                    f"input[{i}].reference",
                    ContributionCode.DUPLICATE_REFERENCE,
                    f"reference {item.reference[:64]!r} is also used by {references[item.reference]}; "
                    "each payment has its own reference",
                )
            )
        references.setdefault(item.reference, f"input[{i}]")
        if mine:
            problems[i] = mine
    return problems


@dataclass
class LedgerState:
    """What the rules of a set of payments read from the database, loaded in sets (see :func:`load_state`)."""

    payees: dict[int, Payee]
    earlier: dict[str, Contribution]
    ranges: dict[int, list[tuple[int, int]]]
    held: dict[int, set[Program]]
    risk: dict[int, int]
    known_regions: set[str]


def _chunks(values: Sequence[Any], size: int = _IDS_PER_STATEMENT) -> Iterable[Sequence[Any]]:
    return (values[start : start + size] for start in range(0, len(values), size))


async def load_state(session: AsyncSession, items: Sequence[ContributionItem]) -> LedgerState:
    """Load the participants, earlier payments by reference, paid months, programmes, employers' risk classes
    and payer regions that `items` need, a thousand keys per statement."""
    participant_ids = sorted({item.participant_id for item in items})
    references = sorted({item.reference for item in items})
    state = LedgerState(
        {}, {}, {pid: [] for pid in participant_ids}, {pid: set() for pid in participant_ids}, {}, set()
    )
    for ids in _chunks(participant_ids):
        for row in await read_rows(session, select(*PAYEE_COLUMNS).where(one_of(session, Participant.id, ids))):
            state.payees[row.id] = Payee(*row)
        for pid, first, last in await read_rows(
            session,
            select(Contribution.participant_id, Contribution.first_month, Contribution.last_month).where(
                one_of(session, Contribution.participant_id, ids)
            ),
        ):
            state.ranges[pid].append((first, last))
        for pid, program in await read_rows(
            session,
            select(ParticipantProgram.participant_id, ParticipantProgram.program).where(
                one_of(session, ParticipantProgram.participant_id, ids)
            ),
        ):
            state.held[pid].add(program)
    for refs in _chunks(references):
        for payment in (
            await session.scalars(select(Contribution).where(one_of(session, Contribution.reference, refs)))
        ).all():
            state.earlier[payment.reference] = payment
    employer_ids = sorted({p.employer_id for p in state.payees.values() if p.employer_id is not None})
    for ids in _chunks(employer_ids):
        state.risk.update(
            (await session.execute(select(Employer.id, Employer.jkk_risk_class).where(Employer.id.in_(ids)))).all()
        )
    payer_regions = sorted({item.payer_region_code for item in items if item.payer_region_code})
    for codes in _chunks(payer_regions):
        state.known_regions.update((await session.scalars(select(Region.code).where(Region.code.in_(codes)))).all())
    return state


def decide(
    i: int, item: ContributionItem, state: LedgerState, caller: Caller, current: int
) -> tuple[Contribution | dict[str, Any] | None, list[Problem]]:
    """One item against the state: the earlier payment it repeats (a :class:`Contribution`), or the values
    of the new ledger row, or None with its problems. A new row's months are added to the state's ranges, so
    the next item of the same participant sees them."""
    where = f"input[{i}]"
    payee = state.payees[item.participant_id]
    previous = state.earlier.get(item.reference)
    if previous is not None:
        if (previous.participant_id, previous.months, previous.amount) == (
            item.participant_id,
            item.months,
            item.amount,
        ):
            return previous, []
        return None, [
            Problem(
                f"{where}.reference",
                ContributionCode.REFERENCE_REUSED,
                f"reference {item.reference!r} was recorded for another payment "
                f"({previous.months} months, Rp{previous.amount:,}) on {previous.recorded_at.date()}; "
                "a reference names one payment",
            )
        ]
    values, problems = _new_row(
        where, item, payee, state.held[payee.id], state.risk, state.ranges[payee.id], caller, current,
        state.known_regions,
    )  # fmt: skip
    if values is not None:
        state.ranges[payee.id].append((values["first_month"], values["last_month"]))
    return values, problems


@dataclass(frozen=True, slots=True)
class PaidFigures:
    """A participant's figures before a payment, where no :class:`Payee` was read (a new participant)."""

    paid_through: dt.date | None
    contribution_months: int


#: A participant who has paid nothing yet (enrolment's first payment).
NOTHING_PAID = PaidFigures(None, 0)


def payment_changes(
    rows: Sequence[dict[str, Any]], before: Payee | PaidFigures, after: tuple[Any, Any]
) -> dict[str, Any]:
    """The changes of a participant's ``contribution.record`` event: the payments, and the figures they moved
    (the one form of it: the single and the set-based recording, and enrolment's first payment)."""
    return {
        "payments": {
            "before": None,
            "after": [
                {
                    "reference": row["reference"],
                    "from": row["period_from"].isoformat(),
                    "to": row["period_to"].isoformat(),
                    "months": row["months"],
                    "amount": str(row["amount"]),
                    "payer": FundingSource(row["payer"]).value,
                    "payer_region_code": row["payer_region_code"],
                }
                for row in rows
            ],
        },
        **audit.diff(
            {"paid_through": before.paid_through, "contribution_months": before.contribution_months},
            {"paid_through": after[0], "contribution_months": after[1]},
        ),
    }


async def record_contributions(
    session: AsyncSession, caller: Caller, items: Sequence[ContributionItem], *, today: dt.date | None = None
) -> list[Recorded]:
    """Record payments, all or none, and recount the participants' figures.

    Idempotent by reference: a payment already recorded with the same reference, participant, months and
    amount is returned as it is (``created`` False); the same reference for anything else is refused. Every
    problem of every item is reported at once, with the item's index, and nothing is written.
    (:mod:`domain.participants.bulk_ledger` is the set-based form for lists of any length.)
    """
    if not items:
        raise Invalid([Problem("input", ContributionCode.EMPTY, "give at least one payment")])
    if len(items) > MAX_BATCH:
        raise Invalid(
            [
                Problem(
                    "input",
                    ContributionCode.TOO_MANY,
                    f"at most {MAX_BATCH} payments per call; {len(items)} were given",
                )
            ]
        )
    today = today or dt.date.today()
    current = month_number(today)
    found = list_problems(items)
    if found:
        raise Invalid([p for i in sorted(found) for p in found[i]])

    participant_ids = sorted({item.participant_id for item in items})
    participants = {
        p.id: p
        for p in (
            await session.scalars(
                select(Participant).where(Participant.id.in_(participant_ids)).execution_options(populate_existing=True)
            )
        ).all()
    }
    for pid in participant_ids:
        participant = participants.get(pid)
        if participant is None or not caller.sees(participant.region_code):
            raise NotFound("participant", pid)
    state = await load_state(session, items)

    problems: list[Problem] = []
    results: list[Recorded | None] = []
    new_rows: list[tuple[int, Contribution]] = []
    for i, item in enumerate(items):
        outcome, item_problems = decide(i, item, state, caller, current)
        problems += item_problems
        if isinstance(outcome, Contribution):
            results.append(Recorded(outcome, created=False))
        elif outcome is not None and not item_problems:
            new_rows.append((i, Contribution(**outcome)))
            results.append(None)
        else:
            results.append(None)
    if problems:
        raise Invalid(problems)
    for i, row in new_rows:
        session.add(row)
        results[i] = Recorded(row, created=True)
    if new_rows:
        await session.flush()
        touched = sorted({row.participant_id for _, row in new_rows})
        await recompute_participant_figures(session, touched, today=today)
        # One event per participant, on the participant: its trail shows each payment and what it changed.
        for pid in touched:
            mine = [_values(row) for _, row in new_rows if row.participant_id == pid]
            after = participants[pid]
            await audit.record(
                session,
                actor=caller.actor,
                action="contribution.record",
                entity_type="Participant",
                entity_id=pid,
                changes=payment_changes(mine, state.payees[pid], (after.paid_through, after.contribution_months)),
                meta=caller.meta,
            )
    return [r for r in results if r is not None]


def _values(row: Contribution) -> dict[str, Any]:
    return {c.key: getattr(row, c.key) for c in Contribution.__table__.columns}


def _new_row(
    where: str,
    item: ContributionItem,
    participant: Payee,
    programs: set[Program],
    risk: dict[int, int],
    ranges: list[tuple[int, int]],
    caller: Caller,
    current: int,
    known_regions: set[str],
) -> tuple[dict[str, Any] | None, list[Problem]]:
    """The values of the new ledger row for `item`, or None and why not (the rules of one payment)."""
    problems: list[Problem] = []
    if item.from_month is not None:
        first = month_number(item.from_month)
    else:
        first = max([current, *(last + 1 for _, last in ranges)])
    last = first + item.months - 1
    registered = month_number(participant.registered_at.date())
    if first < registered:
        problems.append(
            Problem(
                f"{where}.fromMonth",
                ContributionCode.BEFORE_REGISTRATION,
                f"the participant was registered in {month_start(registered):%Y-%m}; "
                f"no contribution is due for {month_start(first):%Y-%m}",
            )
        )
    if last > current + MAX_PREPAID_MONTHS:
        problems.append(
            Problem(
                f"{where}.months",
                ContributionCode.TOO_FAR_AHEAD,
                f"months up to {month_start(current + MAX_PREPAID_MONTHS):%Y-%m} may be paid in advance; "
                f"this payment would reach {month_start(last):%Y-%m}",
            )
        )
    overlap = [(a, b) for a, b in ranges if a <= last and first <= b]
    if overlap:
        a, b = overlap[0]
        problems.append(
            Problem(
                f"{where}.fromMonth",
                ContributionCode.MONTHS_ALREADY_PAID,
                f"{month_start(max(a, first)):%Y-%m} to {month_start(min(b, last)):%Y-%m} are already paid",
            )
        )
    if participant.died_on is not None and last > month_number(participant.died_on):
        problems.append(
            Problem(
                f"{where}.months",
                ParticipantCode.PARTICIPANT_DECEASED,
                f"the participant died on {participant.died_on.isoformat()}; no contribution is due after that month",
            )
        )
    problems += [
        Problem(f"{where}.payer", ContributionCode.PAYER_NOT_ALLOWED, m)
        for m in funding_problems(participant.segment, item.payer.value)
    ]
    payer_region = _payer_region(where, item, participant, caller, known_regions, problems)
    price: MonthlyPrice | None = None
    try:
        price = monthly_price(
            participant.segment,
            frozenset(programs),
            month_start(first),
            wage=participant.monthly_wage,
            risk_class=risk.get(participant.employer_id) if participant.employer_id is not None else None,
        )
    except NoPrice as exc:
        problems.append(Problem(f"{where}.amount", ContributionCode.NO_PRICE, str(exc)))
    if price is not None and price.amount * item.months != item.amount:
        problems.append(
            Problem(
                f"{where}.amount",
                ContributionCode.AMOUNT_MISMATCH,
                f"{item.months} months of {' + '.join(sorted(p.value for p in programs))} cost "
                f"Rp{price.amount * item.months:,} (Rp{price.amount:,} a month, rules {', '.join(price.rules)}); "
                f"Rp{item.amount:,} was given",
            )
        )
    if problems:
        return None, problems
    assert price is not None
    reference, _ = clean_text(item.reference, "reference", max_length=64)
    return {
        "participant_id": participant.id,
        "first_month": first,
        "last_month": last,
        "months": item.months,
        "period_from": month_start(first),
        "period_to": month_end(last),
        "amount": item.amount,
        "programs": " ".join(sorted(p.value for p in programs)),
        "payer": item.payer,
        "payer_region_code": payer_region,
        "reference": reference,
        "received_at": item.received_at or utcnow(),
        "recorded_at": utcnow(),
        "recorded_by": caller.actor.subject[:200],
        "price_rule": price.rule_id,
    }, []


def _payer_region(
    where: str,
    item: ContributionItem,
    participant: Payee,
    caller: Caller,
    known_regions: set[str],
    problems: list[Problem],
) -> str | None:
    """The paying agency's region for an APBD payment: given, or the caller's own region. It must be one the
    caller acts for, and the participant must live in it (a regency pays for its own residents)."""
    field = f"{where}.payerRegionCode"
    if item.payer is not FundingSource.APBD:
        if item.payer_region_code is not None:
            problems.append(
                Problem(field, ContributionCode.NOT_APPLICABLE, "only an APBD (regional budget) payer has a region")
            )
        return None
    code = item.payer_region_code or (caller.within.code if caller.within is not None else None)
    if code is None:
        problems.append(Problem(field, WriteCode.REQUIRED, "name the province or regency whose budget (APBD) paid"))
        return None
    try:
        parsed = RegionCode.parse(code)
    except InvalidRegionCode as exc:
        problems.append(Problem(field, RegionErrorCode.INVALID_REGION, str(exc)))
        return None
    if item.payer_region_code is not None and (not caller.sees(parsed.code) or parsed.code not in known_regions):
        problems.append(
            Problem(
                field,
                ContributionCode.PAYER_OUT_OF_REGION,
                f"region {parsed.code} is not one you may record payments for",
            )
        )
        return None
    if not parsed.contains(participant.region_code):
        problems.append(
            Problem(
                field,
                ContributionCode.PAYER_NOT_RESPONSIBLE,
                f"the participant lives outside {parsed.code}; its budget does not pay for them",
            )
        )
        return None
    return parsed.code
