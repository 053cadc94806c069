"""Demo claims: what happened (plan), then the claim row, its benefit lines and its status history.

A claim is planned before its participant is generated, so the participant fits it: a JKM claim's
participant is deceased on the incident date, a JP claim's participant is retired at pension age, a JKP
claimant was dismissed and had 12 contribution months. Benefit amounts come from ``domain.claims.benefits``.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from demo.people import UTC, Names, NikIssuer, Weighted, add_years, years_before
from domain.claims.benefits import (
    JKM_SCHOLARSHIP_MIN_MONTHS,
    amount_of,
    death_benefits,
    monthly_amounts,
    retirement_age,
    rule_for,
    scholarship_years,
)
from domain.claims.models import BenefitKind, ClaimStatus, EducationLevel, Relationship
from domain.claims.rules import JP_PENSION_MIN_MONTHS
from domain.nik import Sex
from domain.participants.models import ParticipantStatus
from domain.participants.rules import Program

Row = tuple[Any, ...]

_PROGRAMS = Weighted([(Program.JHT, 40), (Program.JKK, 25), (Program.JKM, 15), (Program.JP, 10), (Program.JKP, 10)])
_STATUSES = Weighted(
    [
        (ClaimStatus.PAID, 55),
        (ClaimStatus.APPROVED, 8),
        (ClaimStatus.VERIFIED, 10),
        (ClaimStatus.SUBMITTED, 12),
        (ClaimStatus.REJECTED, 15),
    ]
)
_JKK_KINDS = Weighted([("MEDICAL", 55), ("TEMPORARY", 25), ("DEATH", 10), ("DISABILITY", 10)])
_JHT_KINDS = Weighted([("RESIGNATION", 65), ("RETIREMENT", 35)])
#: Every (programme, status) pair, given to the first claims so that even the tiny set has them all.
_EVERY_PAIR = [(p, s) for s in ClaimStatus for p in Program]
#: Kinds whose benefit is a multiple of the wage (so the participant needs one: not PMI).
WAGE_KINDS = frozenset({"DEATH_JKK", "DISABILITY", "TEMPORARY", "RESIGNATION", "RETIREMENT", "PENSION", "JOB_LOSS"})

# kind -> (participant status, age range at the incident, contribution months needed, days to submit)
_PROFILE: dict[str, tuple[ParticipantStatus, tuple[float, float], int, tuple[int, int]]] = {
    "DEATH_JKM": (ParticipantStatus.DECEASED, (24, 70), 1, (3, 60)),
    "DEATH_JKK": (ParticipantStatus.DECEASED, (20, 55), 1, (3, 45)),
    "DISABILITY": (ParticipantStatus.INACTIVE, (20, 55), 1, (20, 90)),
    "MEDICAL": (ParticipantStatus.ACTIVE, (18, 55), 1, (1, 30)),
    "TEMPORARY": (ParticipantStatus.ACTIVE, (18, 55), 1, (10, 60)),
    "RESIGNATION": (ParticipantStatus.INACTIVE, (22, 50), 6, (35, 200)),
    "RETIREMENT": (ParticipantStatus.RETIRED, (56, 57.5), 24, (0, 90)),
    # JP: the pension age in force on the incident date (PP 45/2015 art. 15) plus up to a year and a half.
    "PENSION": (ParticipantStatus.RETIRED, (0, 1.5), 24, (0, 60)),
    "JOB_LOSS": (ParticipantStatus.INACTIVE, (20, 50), 12, (7, 90)),
}
_REJECTIONS: dict[Program, tuple[str, ...]] = {
    Program.JKK: ("Kecelakaan tidak terkait hubungan kerja", "Laporan kecelakaan melewati batas waktu"),
    Program.JKM: ("Dokumen ahli waris tidak lengkap", "Akta kematian belum dilampirkan"),
    Program.JHT: ("Masa tunggu satu bulan belum terpenuhi", "Data rekening tidak sesuai nama peserta"),
    Program.JP: ("Usia pensiun belum tercapai", "Dokumen ahli waris tidak lengkap"),
    Program.JKP: ("Iuran kurang dari 12 bulan dalam 24 bulan terakhir", "Bukti PHK tidak sah"),
}
_LEVEL_AGES = {
    EducationLevel.TK: (4, 6),
    EducationLevel.SD: (7, 12),
    EducationLevel.SMP: (13, 15),
    EducationLevel.SMA: (16, 18),
    EducationLevel.UNIVERSITY: (19, 22),
}
_HOSPITALS = ("RSUD Provinsi NTB", "RSUD Kota Mataram", "RSUD Praya", "RSUD dr. R. Soedjono Selong", "RS Bhayangkara")


@dataclass(frozen=True, slots=True)
class ClaimPlan:
    program: Program
    status: ClaimStatus
    kind: str
    incident: dt.date
    #: (status, when) from SUBMITTED to the current status, in order.
    steps: tuple[tuple[ClaimStatus, dt.datetime], ...]
    participant_status: ParticipantStatus
    age_at_incident: tuple[float, float]
    min_months: int


@dataclass(frozen=True, slots=True)
class Claimant:
    """What a claim needs to know about its participant."""

    id: int
    nik: str
    name: str
    birth_date: dt.date
    sex: Sex
    wage: Decimal | None
    months: int
    #: Months of JP itself (from JP's start and the participant's JP enrolment): what a JP pension counts.
    jp_months: int
    #: Wage earners (PU) save 5.7 % of the wage in JHT; others 2 % of their declared income.
    wage_earner: bool
    placement: tuple[str, str, str | None, str | None]


def _path(rng: random.Random, status: ClaimStatus) -> list[ClaimStatus]:
    if status is ClaimStatus.REJECTED:
        return [ClaimStatus.REJECTED] if rng.random() < 0.5 else [ClaimStatus.VERIFIED, ClaimStatus.REJECTED]
    order = [ClaimStatus.VERIFIED, ClaimStatus.APPROVED, ClaimStatus.PAID]
    return order[: order.index(status) + 1] if status in order else []


_STEP_DAYS = {
    ClaimStatus.VERIFIED: (0.1, 5.0),
    ClaimStatus.APPROVED: (0.05, 3.0),
    ClaimStatus.PAID: (0.05, 2.0),
    ClaimStatus.REJECTED: (0.3, 7.0),
}


def plan_claim(rng: random.Random, index: int, as_of: dt.date) -> ClaimPlan:
    """Plan claim number `index` (0-based); the first 25 cover every programme x status pair."""
    program, status = _EVERY_PAIR[index] if index < len(_EVERY_PAIR) else (_PROGRAMS.pick(rng), _STATUSES.pick(rng))
    if program is Program.JKK:
        kind = _JKK_KINDS.pick(rng)
        kind = "DEATH_JKK" if kind == "DEATH" else kind
    elif program is Program.JHT:
        kind = _JHT_KINDS.pick(rng)
    else:
        kind = {Program.JKM: "DEATH_JKM", Program.JP: "PENSION", Program.JKP: "JOB_LOSS"}[program]
    p_status, ages, min_months, lag = _PROFILE[kind]
    path = _path(rng, status)
    gaps = [dt.timedelta(days=rng.uniform(*_STEP_DAYS[s])) for s in path]
    # Open claims are recent; closed ones spread over three years (JKP over months: its rule dates from 2025).
    if status in (ClaimStatus.SUBMITTED, ClaimStatus.VERIFIED, ClaimStatus.APPROVED):
        back_days = rng.uniform(0.1, 10)
    else:
        back_days = rng.uniform(0.5, 120 if program is Program.JKP else 1095)
    end = dt.datetime(as_of.year, as_of.month, as_of.day, tzinfo=UTC) - dt.timedelta(days=back_days)
    submitted = end - sum(gaps, dt.timedelta())
    steps = [(ClaimStatus.SUBMITTED, submitted)]
    for s, gap in zip(path, gaps, strict=True):
        steps.append((s, steps[-1][1] + gap))
    incident = (submitted - dt.timedelta(days=rng.randint(*lag))).date()
    if kind == "PENSION":
        age = retirement_age(Program.JP, incident).age
        ages = (age + ages[0], age + ages[1])
    return ClaimPlan(program, status, kind, incident, tuple(steps), p_status, ages, min_months)


class ClaimWriter:
    """Turns a plan and its participant into rows; owns the claim, benefit and event id counters."""

    def __init__(self, rng: random.Random, names: Names, niks: NikIssuer) -> None:
        self.rng, self.names, self.niks = rng, names, niks
        self.claim_id = self.benefit_id = self.event_id = 0

    def rows(self, plan: ClaimPlan, c: Claimant, district: str) -> tuple[Row, list[Row], list[Row]]:
        rng = self.rng
        self.claim_id += 1
        cid = self.claim_id
        regency = c.placement[2]
        officers = rng.sample(range(1, 9), 3)
        branch = (regency or "52").replace(".", "")
        intake, verifier, approver = (f"petugas.{branch}.{n:02d}" for n in officers)
        benefits = self._benefits(plan, c, district)
        submitted_at = plan.steps[0][1]
        events: list[Row] = []
        verified_by = approved_by = paid_at = reason = payment_ref = None
        for status, at in plan.steps:
            actor, note = intake, "Berkas diterima di kantor cabang"
            if status is ClaimStatus.VERIFIED:
                actor, note, verified_by = verifier, "Dokumen lengkap dan sesuai", verifier
            elif status is ClaimStatus.APPROVED:
                actor, note, approved_by = approver, "Klaim disetujui", approver
            elif status is ClaimStatus.PAID:
                paid_at, payment_ref = at, f"TRF-{at:%Y%m%d}-{cid:08d}"
                actor, note = "system:payment", f"Ditransfer ke rekening penerima, ref {payment_ref}"
            elif status is ClaimStatus.REJECTED:
                reason = rng.choice(_REJECTIONS[plan.program])
                actor, note = (approver if verified_by else verifier), reason
            self.event_id += 1
            events.append((self.event_id, cid, status.value, at, actor, note))
        approved = plan.status in (ClaimStatus.APPROVED, ClaimStatus.PAID)
        total = sum((b[7] for b in benefits), Decimal(0)) if approved else None
        claim = (
            cid,
            f"KLM-{submitted_at.year}-{cid:07d}",
            c.id,
            plan.program.value,
            plan.status.value,
            plan.incident,
            submitted_at,
            paid_at,
            total,
            payment_ref,
            reason,
            verified_by,
            approved_by,
            None,
            1,
            *c.placement,
        )
        return claim, benefits, events

    def _line(self, kind: BenefitKind, amount: Decimal, rule: str | None = None, *, to: tuple[Any, ...] = ()) -> Row:
        self.benefit_id += 1
        name, nik, rel, level = (*to, None, None, None, None)[:4]
        return (self.benefit_id, self.claim_id, kind.value, name, nik, rel, level, amount, rule)

    def _benefits(self, plan: ClaimPlan, c: Claimant, district: str) -> list[Row]:
        on, wage, rng = plan.incident, c.wage, self.rng
        self_to = (c.name, c.nik, Relationship.SELF.value, None)
        if plan.kind == "MEDICAL":
            bill = Decimal(round(rng.triangular(1.5, 60, 4) * 10) * 100_000)  # no cap; most bills are small
            return [self._line(BenefitKind.MEDICAL, bill, to=(rng.choice(_HOSPITALS),))]
        assert wage is not None or plan.kind == "DEATH_JKM"
        if plan.kind == "TEMPORARY":
            amount = (wage or Decimal(0)) * rng.randint(1, 6)
            return [self._line(BenefitKind.TEMPORARY_INABILITY, amount, to=self_to)]
        if plan.kind in ("RESIGNATION", "RETIREMENT"):
            return [self._line(BenefitKind.BALANCE, _jht_balance(c), to=self_to)]
        if plan.kind == "PENSION":
            kind = BenefitKind.PENSION if c.jp_months >= JP_PENSION_MIN_MONTHS else BenefitKind.LUMP_SUM
            return [self._line(kind, _pension(c), rule_for(Program.JP, kind, on).id, to=self_to)]
        if plan.kind == "JOB_LOSS":
            rule = rule_for(Program.JKP, BenefitKind.JOB_LOSS, on)
            paid_months = max(1, min(6, (plan.steps[-1][1].date() - on).days // 30))
            assert wage is not None
            monthly = monthly_amounts(rule, wage)[:paid_months]
            return [self._line(BenefitKind.JOB_LOSS, amount, rule.id, to=self_to) for amount in monthly]
        lines: list[Row] = []
        if plan.kind == "DISABILITY":
            rule = rule_for(Program.JKK, BenefitKind.DISABILITY, on)
            lines.append(self._line(BenefitKind.DISABILITY, amount_of(rule, wage), rule.id, to=self_to))
        else:
            heir = self._heir(c, on, district)
            for rule, amount in death_benefits(plan.program, on, wage):
                lines.append(self._line(rule.kind, amount, rule.id, to=heir))
        if plan.program is Program.JKK or c.months >= JKM_SCHOLARSHIP_MIN_MONTHS:
            children = self._children(c, on, district)
            levels = [EducationLevel(child[3]) for child in children]
            for child, (rule, amount) in zip(children, scholarship_years(plan.program, on, levels), strict=True):
                lines.append(self._line(BenefitKind.SCHOLARSHIP, amount, rule.id, to=child))
        return lines

    def _person(self, sex: Sex, birth: dt.date, district: str, regency: str | None) -> tuple[str, str]:
        return self.names.name(self.rng, sex, regency), self.niks.issue(district, birth, sex)

    def _heir(self, c: Claimant, on: dt.date, district: str) -> tuple[Any, ...]:
        rng = self.rng
        age = (on - c.birth_date).days / 365.25
        if age >= 42 and rng.random() < 0.35:
            birth = years_before(on, rng.uniform(18, age - 20))
            sex = Sex.M if rng.random() < 0.5 else Sex.F
            rel = Relationship.CHILD
        else:
            birth = years_before(on, max(18.5, age + rng.uniform(-6, 4)))
            sex = Sex.F if c.sex is Sex.M else Sex.M
            rel = Relationship.SPOUSE
        name, nik = self._person(sex, birth, district, c.placement[2])
        return (name, nik, rel.value, None)

    def _children(self, c: Claimant, on: dt.date, district: str) -> list[tuple[Any, ...]]:
        rng = self.rng
        out: list[tuple[Any, ...]] = []
        for _ in range(rng.choice((0, 1, 1, 2, 2))):
            level = rng.choice(list(_LEVEL_AGES))
            birth = years_before(on, rng.uniform(*_LEVEL_AGES[level]) + rng.random() * 0.9)
            if birth <= add_years(c.birth_date, 18) or birth >= on:
                continue
            sex = Sex.M if rng.random() < 0.5 else Sex.F
            name, nik = self._person(sex, birth, district, c.placement[2])
            out.append((name, nik, Relationship.CHILD.value, level.value))
        return out


def _jht_balance(c: Claimant) -> Decimal:
    """JHT savings: 5.7 % of wage a month for wage earners (2 % of declared income otherwise), with returns."""
    wage = c.wage or Decimal(0)
    rate = Decimal("0.057") if c.wage_earner else Decimal("0.02")
    growth = 1 + Decimal(c.months) / 12 * Decimal("0.03") / 2
    return (wage * rate * c.months * growth).quantize(Decimal(1))


def _pension(c: Claimant) -> Decimal:
    """JP: with 180 JP months a monthly pension (1 % x years x wage, within the floor and cap), else a lump sum."""
    wage = c.wage or Decimal(0)
    if c.jp_months >= JP_PENSION_MIN_MONTHS:
        monthly = wage * Decimal("0.01") * Decimal(c.jp_months) / 12
        return min(max(monthly, Decimal(416_000)), Decimal(4_992_000)).quantize(Decimal(1))
    return (wage * Decimal("0.03") * c.jp_months * Decimal("1.05")).quantize(Decimal(1))
