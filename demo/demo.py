"""Deterministic demo data for NTB (province 52): employers, participants, enrolments, beneficiaries, claims.

:func:`generate` yields batches of plain row tuples (columns :data:`COLUMNS`, tables in foreign-key order
:data:`TABLES`), never ORM objects and never the whole data set: one chunk of participants with the rows
that depend on them at a time. Primary keys are assigned here, so children refer to their parents without
a round trip. The rows are a function of ``(size, seed, as_of)`` only.

Values have the column types: enum columns hold the enum's string value, Numeric columns ``Decimal``,
dates ``date`` and UTCDateTime columns aware UTC ``datetime``.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from demo.claims import WAGE_KINDS, Claimant, ClaimPlan, ClaimWriter, plan_claim
from demo.people import (
    Names,
    NikIssuer,
    Poverty,
    PovertyLists,
    Weighted,
    add_years,
    end_of_month,
    family_card_number,
    months_between,
    office_time,
    random_date,
    years_before,
)
from demo.regions import ntb_structure
from domain.claims.benefits import JP_START
from domain.nik import Sex
from domain.participants.contributions import RATES, MonthlyPrice, NoPrice, monthly_price
from domain.participants.ledger import MAX_MONTHS_PER_PAYMENT, RECENT_WINDOW, months_within
from domain.participants.models import FundingSource, ParticipantStatus
from domain.participants.months import month_end, month_number, month_start
from domain.participants.rules import Program, Segment

Row = tuple[Any, ...]
Batch = dict[str, list[Row]]

_PLACE = ("region_code", "province_code", "regency_code", "district_code")
#: Column order of each table's rows; the tables are listed parents first.
COLUMNS: dict[str, tuple[str, ...]] = {
    "employers": ("id", "registration_number", "name", "jkk_risk_class", "version", *_PLACE),
    "participants": (
        "id", "membership_number", "nik", "full_name", "birth_date", "sex", "segment", "status",
        "funding_source", "employer_id", "monthly_wage", "phone_number", "paid_through", "contribution_months",
        "recent_contribution_months", "died_on", "retired_on", "registered_at", "version", *_PLACE,
    ),
    "participant_programs": ("participant_id", "program", "segment", "since"),
    "contributions": (
        "id", "participant_id", "first_month", "last_month", "months", "period_from", "period_to", "amount",
        "programs", "payer", "payer_region_code", "reference", "received_at", "recorded_at", "recorded_by",
        "price_rule",
    ),
    "poverty_beneficiaries": (
        "id", "nik", "family_card_number", "full_name", "birth_date", "sex", "decile", "extreme_poor",
        "source", "snapshot_date", "participant_id", "version", *_PLACE,
    ),
    "claims": (
        "id", "claim_number", "participant_id", "program", "status", "incident_date", "submitted_at",
        "paid_at", "amount_approved", "payment_reference", "rejection_reason", "verified_by",
        "approved_by", "idempotency_key", "version", *_PLACE,
    ),
    "claim_benefits": (
        "id", "claim_id", "kind", "recipient_name", "recipient_nik", "relationship", "education_level",
        "amount", "rule_id",
    ),
    "claim_events": ("id", "claim_id", "status", "at", "actor", "note"),
}  # fmt: skip
TABLES: tuple[str, ...] = tuple(COLUMNS)


@dataclass(frozen=True, slots=True)
class Size:
    participants: int
    beneficiaries: int
    claims: int

    @property
    def employers(self) -> int:
        return max(5, self.participants // 40)


SIZES: dict[str, Size] = {
    "tiny": Size(200, 100, 40),
    "small": Size(5_000, 2_500, 1_000),
    "ntb": Size(100_000, 50_000, 20_000),
    "bench": Size(1_000_000, 500_000, 200_000),
    # The scale point of a whole country's BPU and PU membership order (bench/run.py --scale-sizes … national).
    "national": Size(10_000_000, 5_000_000, 2_000_000),
}
#: Share of the beneficiaries who are the same person as a participant (same NIK).
MATCHED_SHARE = 0.3
#: Earliest `as_of`: JKP claims (up to ~230 days back) need the JKP rule of 7 February 2025 in force.
EARLIEST_AS_OF = dt.date(2025, 10, 1)
#: NTB provincial minimum wage (UMP) 2025.
UMP_NTB = Decimal(2_602_931)

_P, _B, _J, _M = Segment.PU, Segment.BPU, Segment.JAKON, Segment.PMI
_SEGMENTS = Weighted([(_P, 42), (_B, 48), (_J, 5), (_M, 5)])
_SEGMENTS_POOR = Weighted([(_P, 30), (_B, 60), (_J, 5), (_M, 5)])
_SEGMENTS_EXTREME = Weighted([(_P, 8), (_B, 85), (_J, 4), (_M, 3)])
_F = FundingSource
_FUND_BPU = Weighted([(_F.SELF, 62), (_F.APBD, 25), (_F.APBN, 6), (_F.CSR, 7)])
_FUND_BPU_POOR = Weighted([(_F.SELF, 45), (_F.APBD, 40), (_F.APBN, 10), (_F.CSR, 5)])
_FUND_BPU_EXTREME = Weighted([(_F.APBD, 75), (_F.APBN, 10), (_F.SELF, 10), (_F.CSR, 5)])
_S = ParticipantStatus
_STATUSES = Weighted([(_S.ACTIVE, 80), (_S.INACTIVE, 16.5), (_S.RETIRED, 2), (_S.DECEASED, 1.5)])
_MALE_SHARE = {_P: 0.6, _B: 0.55, _J: 0.95, _M: 0.4}
#: Earliest registration per segment: BPJS Ketenagakerjaan (2014), PMI (2017), JAKON (2015).
_FLOOR = {_P: dt.date(1995, 1, 1), _B: dt.date(2014, 1, 1), _J: dt.date(2015, 7, 1), _M: dt.date(2017, 8, 1)}
_BUDGET_FLOOR = dt.date(2021, 3, 1)  # regional budgets pay contributions since Inpres 2/2021
#: When each programme began (JP: PP 45/2015; JKP: the first whole month after PP 37/2021 took effect on
#: 2021-02-02, the first month the contribution table prices).
_PROGRAM_START = {Program.JP: JP_START, Program.JKP: dt.date(2021, 3, 1)}
_DECLARED = Weighted(
    [(Decimal(v * 100_000), w) for v, w in ((10, 40), (15, 15), (20, 15), (25, 10), (30, 10), (40, 6), (50, 4))]
)
_SECTORS = Weighted(
    [(("Niaga", 1), 30), (("Jasa", 1), 25), (("Pariwisata", 2), 5), (("Agro", 3), 15), (("Industri", 3), 10),
     (("Konstruksi", 4), 12), (("Tambang", 5), 3)]
)  # fmt: skip
#: Mobile operators' prefixes after +62 (Telkomsel, Indosat, XL, Tri, Smartfren).
_MOBILE_PREFIXES = ("812", "813", "821", "852", "857", "878", "896", "881")
_COMPANY_WORDS = ("Rinjani", "Sasak", "Samawa", "Mbojo", "Gili", "Senggigi", "Mandalika", "Tambora", "Abadi", "Mandiri",
                  "Sejahtera", "Nusa", "Karya", "Jaya", "Lestari", "Makmur")  # fmt: skip


def held_in(held: dict[Program, dt.date], registered: dt.date, month: int) -> frozenset[Program]:
    """The programmes paid for in `month`: held since its first day, or enrolled in it at registration."""
    return frozenset(
        p
        for p, since in held.items()
        if since <= month_start(month) or month_number(since) == month_number(registered) == month
    )


def _amount(price: MonthlyPrice | None) -> Decimal | None:
    return price.amount if price is not None else None


def demo_payments(
    seg: Segment,
    held: dict[Program, dt.date],
    registered: dt.date,
    wage: Decimal | None,
    risk: int | None,
    first: int,
    last: int,
) -> list[tuple[int, int, frozenset[Program], MonthlyPrice | None]]:
    """Months first..last as payments (first month, months, programmes, price or None when the rule table does not
    price them): a new payment wherever the programmes held or the rules in force change, at most
    MAX_MONTHS_PER_PAYMENT months each. The price of each is the rule table's for its first month, so it is the
    price of each of its months."""
    dates = [r.effective_from for r in RATES] + list(held.values())
    breaks = sorted({m for d in dates for m in (month_number(d), month_number(d) + 1) if first < m <= last})
    out: list[tuple[int, int, frozenset[Program], MonthlyPrice | None]] = []
    for start, end in zip([first, *breaks], [*(b - 1 for b in breaks), last], strict=True):
        programs = held_in(held, registered, start)
        try:
            price: MonthlyPrice | None = monthly_price(seg, programs, month_start(start), wage=wage, risk_class=risk)
        except NoPrice:
            price = None
        # The same amount a month (a new year's JP wage cap above this wage changes nothing): one payment.
        same = bool(out) and out[-1][2] == programs and _amount(out[-1][3]) == _amount(price)
        if same and out[-1][1] + end - start + 1 <= MAX_MONTHS_PER_PAYMENT:
            a, n, _, earlier = out[-1]
            out[-1] = (a, n + end - start + 1, programs, earlier)
            continue
        while end - start + 1 > MAX_MONTHS_PER_PAYMENT:
            out.append((start, MAX_MONTHS_PER_PAYMENT, programs, price))
            start += MAX_MONTHS_PER_PAYMENT
        out.append((start, end - start + 1, programs, price))
    return out


def generate(
    size: str | Size, seed: int = 42, *, as_of: dt.date | None = None, chunk_size: int = 20_000
) -> Iterator[Batch]:
    """Yield the demo rows, employers first, then per chunk of `chunk_size` participants their rows.

    `as_of` is "today" for the data (paid-through months, claim dates); default: today (UTC).
    """
    spec = SIZES[size] if isinstance(size, str) else size
    as_of = as_of or dt.datetime.now(dt.UTC).date()
    if as_of < EARLIEST_AS_OF:
        raise ValueError(f"as_of must be {EARLIEST_AS_OF.isoformat()} or later")
    return _Generator(spec, seed, as_of).batches(max(1, chunk_size))


class _Generator:
    def __init__(self, spec: Size, seed: int, as_of: dt.date) -> None:
        self.spec, self.as_of = spec, as_of
        self.rng = rng = random.Random(seed)
        self.names, self.niks = Names(), NikIssuer()
        self.claims = ClaimWriter(rng, self.names, self.niks)
        tree = ntb_structure()
        self.villages = {r: [v for vs in districts.values() for v in vs] for r, districts in tree.items()}
        self.districts = [d for districts in tree.values() for d in districts]
        # People live in proportion to villages; Kota Mataram is denser than its 50 kelurahan suggest.
        self.regencies = Weighted([(r, len(vs) * (3 if r == "52.71" else 1)) for r, vs in self.villages.items()])
        self.poverty = PovertyLists(as_of)
        self.kpj_offset = rng.randrange(10**9)
        self.employer_regency: list[str] = []
        self.employer_risk: list[int] = []
        self.builders: list[int] = []
        self.beneficiary_id = 0
        self.contribution_id = 0

    def batches(self, chunk: int) -> Iterator[Batch]:
        batch: Batch = {t: [] for t in TABLES}
        for eid in range(1, self.spec.employers + 1):
            batch["employers"].append(self._employer(eid))
            if len(batch["employers"]) >= chunk:
                yield batch
                batch = {t: [] for t in TABLES}
        yield from self._people(chunk, batch)

    def _employer(self, eid: int) -> Row:
        rng = self.rng
        regency = self.regencies.pick(rng)
        village = rng.choice(self.villages[regency])
        sector, risk = _SECTORS.pick(rng)
        if risk == 4:
            self.builders.append(eid)
        risk = min(5, max(1, risk + (1 if rng.random() < 0.15 else 0)))
        prefix = rng.choice(("PT", "PT", "PT", "CV", "CV", "UD", "Koperasi"))
        owner = rng.choice(self.names.last[Sex.M])
        name = f"{prefix} {owner} {rng.choice(_COMPANY_WORDS)} {sector}"
        self.employer_regency.append(regency)
        self.employer_risk.append(risk)
        reg_no = f"NPP{regency.replace('.', '')}{eid:07d}"
        return (eid, reg_no, name, risk, 1, village, "52", regency, village[:8])

    def _people(self, chunk: int, batch: Batch) -> Iterator[Batch]:
        rng, n = self.rng, self.spec.participants
        matched = round(self.spec.beneficiaries * MATCHED_SHARE)
        unmatched = self.spec.beneficiaries - matched
        claims_left, matched_left, unmatched_done = self.spec.claims, matched, 0
        for i in range(n):
            remaining = n - i
            # Selection sampling (Knuth's algorithm S): exactly `claims` and `matched` participants, uniformly.
            plan = None
            if claims_left and rng.random() * remaining < claims_left:
                plan = plan_claim(rng, self.spec.claims - claims_left, self.as_of)
                claims_left -= 1
            poor = None
            if matched_left and rng.random() * remaining < matched_left:
                poor = self.poverty.entry(self.rng, 0.45)
                matched_left -= 1
            self._participant(i + 1, plan, poor, batch)
            due = (i + 1) * unmatched // n
            while unmatched_done < due:
                batch["poverty_beneficiaries"].append(self._unmatched())
                unmatched_done += 1
            if len(batch["participants"]) >= chunk:
                yield batch
                batch = {t: [] for t in TABLES}
        if any(batch.values()):
            yield batch

    def _segment(self, plan: ClaimPlan | None, poor: Poverty | None) -> Segment:
        rng = self.rng
        if plan is not None and plan.program in (Program.JP, Program.JKP):
            return _P
        if plan is not None and plan.program is Program.JHT:
            return _P if rng.random() < 0.8 else _B
        table = _SEGMENTS if poor is None else _SEGMENTS_EXTREME if poor.extreme else _SEGMENTS_POOR
        seg = table.pick(rng)
        if seg is _M and plan is not None and plan.kind in WAGE_KINDS:
            seg = _B  # PMI have no wage on record, and these benefits are wage multiples
        return seg

    def _funding(self, seg: Segment, poor: Poverty | None, plan: ClaimPlan | None) -> FundingSource:
        if seg in (_P, _J):
            return _F.EMPLOYER
        r = self.rng.random()
        if seg is _M:
            return _F.APBD if r < 0.1 else _F.SELF
        if plan is not None and plan.program is Program.JHT:
            return _F.SELF  # budget-paid packages are JKK + JKM only
        table = _FUND_BPU if poor is None else _FUND_BPU_EXTREME if poor.extreme else _FUND_BPU_POOR
        return table.pick(self.rng)

    def _programs(self, seg: Segment, funding: FundingSource, plan: ClaimPlan | None) -> list[Program]:
        rng, need = self.rng, plan.program if plan is not None else None
        progs = [Program.JKK, Program.JKM]
        if seg is _P:
            progs.append(Program.JHT)
            if need in (Program.JP, Program.JKP) or rng.random() < 0.85:
                progs.append(Program.JP)
                if need is Program.JKP or rng.random() < 0.9:
                    progs.append(Program.JKP)
        elif seg in (_B, _M) and (
            need is Program.JHT or (funding in (_F.SELF, _F.CSR) and rng.random() < (0.25 if seg is _B else 0.4))
        ):
            progs.append(Program.JHT)
        return progs

    def _phone_number(self, pid: int) -> str | None:
        """Two participants in three have a mobile number (E.164). Computed from the id, not drawn from the
        generator's stream, so that every other value of the data set is what it was before numbers existed."""
        if pid % 3 == 0:
            return None
        prefix = _MOBILE_PREFIXES[pid % len(_MOBILE_PREFIXES)]
        return f"+62{prefix}{(pid * 2_654_435_761 + self.kpj_offset) % 10**8:08d}"

    def _participant(self, pid: int, plan: ClaimPlan | None, poor: Poverty | None, batch: Batch) -> None:
        rng, as_of = self.rng, self.as_of
        seg = self._segment(plan, poor)
        funding = self._funding(seg, poor, plan)
        employer_id = regency = None
        if seg in (_P, _J):
            pool = self.builders if seg is _J and self.builders else None
            employer_id = rng.choice(pool) if pool else 1 + int(len(self.employer_regency) * rng.random() ** 2)
            if rng.random() < 0.8:
                regency = self.employer_regency[employer_id - 1]
        regency = regency or self.regencies.pick(rng)
        village = rng.choice(self.villages[regency])
        district = village[:8]
        if plan is not None:
            status, end, min_months = plan.participant_status, plan.incident, plan.min_months
            ages = plan.age_at_incident
        else:
            status, min_months = _STATUSES.pick(rng), 1
            end, ages = self._exit(status)
        if status is _S.ACTIVE:
            paid_through = end_of_month(as_of)
        elif status is _S.INACTIVE:  # lapsed: nothing paid for the current month
            paid_through = end_of_month(min(end, as_of.replace(day=1) - dt.timedelta(days=1)))
        else:
            paid_through = end_of_month(end)
        birth = years_before(end, rng.uniform(*ages))
        sex = Sex.M if rng.random() < _MALE_SHARE[seg] else Sex.F
        latest = end - dt.timedelta(days=31 * min_months)
        if funding in (_F.APBD, _F.APBN) and latest < _BUDGET_FLOOR:
            funding = _F.SELF  # coverage ended before regional budgets paid contributions
        floor = _BUDGET_FLOOR if funding in (_F.APBD, _F.APBN) else _FLOOR[seg]
        lo = max(floor, add_years(birth, 18))
        registered = random_date(rng, lo, latest) if latest >= lo else min(end, max(latest, add_years(birth, 18)))
        covered = months_between(registered, paid_through)
        months = covered
        if seg is _B and funding is _F.SELF:  # the self-paying skip months
            months = max(min_months, int(covered * rng.uniform(0.5, 1)))
        wage = self._wage(seg, poor)
        name = self.names.name(rng, sex, regency)
        nik_district = district if rng.random() < 0.85 else rng.choice(self.districts)
        nik = self.niks.issue(nik_district, birth, sex)
        kpj = f"{registered.year % 100:02d}{(pid * 387_420_489 + self.kpj_offset) % 10**9:09d}"
        place = (village, "52", regency, district)
        last = month_number(paid_through)
        current = month_number(as_of)
        recent = max(0, min(last, current) - max(last - months + 1, current - RECENT_WINDOW + 1) + 1)
        died_on = end if status is _S.DECEASED else None
        retired_on = end if status is _S.RETIRED else None
        batch["participants"].append(
            (pid, kpj, nik, name, birth, sex.value, seg.value, status.value, funding.value, employer_id, wage,
             self._phone_number(pid), paid_through, months, recent, died_on, retired_on,
             office_time(rng, registered), 1, *place)
        )  # fmt: skip
        held: dict[Program, dt.date] = {}
        for prog in self._programs(seg, funding, plan):
            start = _PROGRAM_START.get(prog)
            if start is not None and paid_through < start:
                continue
            held[prog] = max(registered, start or registered)
            batch["participant_programs"].append((pid, prog.value, seg.value, held[prog]))
        if months > 0:
            risk = self.employer_risk[employer_id - 1] if employer_id is not None else None
            batch["contributions"].extend(
                self._payments(pid, seg, funding, held, registered, wage, risk, last, months, place)
            )
        if poor is not None:
            batch["poverty_beneficiaries"].append(self._beneficiary(nik, name, birth, sex, poor, place, pid))
        if plan is not None:
            jp_since = month_number(max(registered, JP_START))
            jp_months = months_within([(last - months + 1, last)], jp_since, last) if Program.JP in held else 0
            who = Claimant(pid, nik, name, birth, sex, wage, months, jp_months, seg is _P, place)
            claim, benefits, events = self.claims.rows(plan, who, district)
            batch["claims"].append(claim)
            batch["claim_benefits"].extend(benefits)
            batch["claim_events"].extend(events)

    def _payments(
        self,
        pid: int,
        seg: Segment,
        funding: FundingSource,
        held: dict[Program, dt.date],
        registered: dt.date,
        wage: Decimal | None,
        risk: int | None,
        last: int,
        months: int,
        place: tuple[str, ...],
    ) -> list[Row]:
        """The ledger rows behind the participant's figures: their paid months, ending with the paid-through
        month, as one payment per stretch of months with the same price, at the rule table's price for the
        programmes held then (:func:`demo_payments`). Months the table does not price (before its first rule,
        or JAKON and PMI, priced per project and placement) are an opening balance of 0, as the ledger's
        migration records the history before the ledger."""
        rows = []
        payer_region = place[2] if funding is _F.APBD else None
        for first, n, programs, price in demo_payments(seg, held, registered, wage, risk, last - months + 1, last):
            self.contribution_id += 1
            amount = price.amount * n if price is not None else Decimal(0)
            rule = price.rule_id if price is not None else None
            end = first + n - 1
            received = dt.datetime(*month_start(end).timetuple()[:3], 1, tzinfo=dt.UTC)
            kind = "DEMO" if price is not None else "DEMO-OPENING"
            rows.append(
                (self.contribution_id, pid, first, end, n, month_start(first), month_end(end), amount,
                 " ".join(sorted(p.value for p in programs)), funding.value, payer_region,
                 f"{kind}-{pid}-{first}", received, received, "demo", rule)
            )  # fmt: skip
        return rows

    def _exit(self, status: ParticipantStatus) -> tuple[dt.date, tuple[float, float]]:
        """When coverage ended (today for the active) and the age range then."""
        rng, as_of = self.rng, self.as_of
        if status is _S.ACTIVE:
            return as_of, (18, rng.choice((30, 40, 57)))
        if status is _S.INACTIVE:
            return as_of - dt.timedelta(days=rng.randint(60, 1500)), (20, 55)
        if status is _S.RETIRED:
            return as_of - dt.timedelta(days=rng.randint(30, 3650)), (56, 57.5)
        return as_of - dt.timedelta(days=rng.randint(30, 1500)), (25, 75)

    def _wage(self, seg: Segment, poor: Poverty | None) -> Decimal | None:
        rng = self.rng
        if seg is _P:
            factor = max(1.0, math.exp(rng.gauss(0.2, 0.4)))
            return Decimal(round(float(UMP_NTB) * factor, -3))
        if seg is _J:
            return Decimal(rng.randint(28, 45) * 100_000)
        if seg is _B:
            return Decimal(1_000_000) if poor is not None and poor.extreme else _DECLARED.pick(rng)
        return None

    def _beneficiary(
        self, nik: str, name: str, birth: dt.date, sex: Sex, poor: Poverty, place: tuple[str, ...], pid: int | None
    ) -> Row:
        rng = self.rng
        self.beneficiary_id += 1
        kk = family_card_number(rng, place[3], poor.snapshot)
        return (self.beneficiary_id, nik, kk, name, birth, sex.value, poor.decile, poor.extreme, poor.source.value,
                poor.snapshot, pid, 1, *place)  # fmt: skip

    def _unmatched(self) -> Row:
        rng = self.rng
        regency = self.regencies.pick(rng)
        village = rng.choice(self.villages[regency])
        district = village[:8]
        sex = Sex.M if rng.random() < 0.5 else Sex.F
        birth = years_before(self.as_of, rng.uniform(5, 80))
        nik = self.niks.issue(district if rng.random() < 0.9 else rng.choice(self.districts), birth, sex)
        name = self.names.name(rng, sex, regency)
        return self._beneficiary(
            nik, name, birth, sex, self.poverty.entry(self.rng, 0.25), (village, "52", regency, district), None
        )
