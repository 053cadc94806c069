"""The programmes of BPJS Ketenagakerjaan, the participant segments, and which segment may hold which.

The compatibility table is the one rule; the database check constraint on enrolments is generated from it,
so the two cannot drift.
"""

from __future__ import annotations

import datetime as dt
import enum

#: Participants are workers, so of working age. Indonesia's Manpower Act (UU 13/2003) defines a child as a
#: person under 18 (art. 1 point 26) and forbids employing children (art. 68); the exceptions it allows (light
#: work from 13, art. 69) are not a reason to insure a child. A child of an extreme-poor household is covered
#: through the household, not enrolled as a worker.
MIN_WORKING_AGE = 18


class Program(enum.StrEnum):
    JKK = "JKK"  # Jaminan Kecelakaan Kerja: work accident and occupational disease
    JKM = "JKM"  # Jaminan Kematian: non-work death
    JHT = "JHT"  # Jaminan Hari Tua: old-age savings
    JP = "JP"  # Jaminan Pensiun: pension
    JKP = "JKP"  # Jaminan Kehilangan Pekerjaan: job loss (PU only)


class Segment(enum.StrEnum):
    PU = "PU"  # Penerima Upah: formal wage earners
    BPU = "BPU"  # Bukan Penerima Upah: informal workers
    JAKON = "JAKON"  # construction workers, enrolled per project
    PMI = "PMI"  # Pekerja Migran Indonesia: migrant workers


#: Programmes each segment may hold (docs/domain.md). JHT is optional for BPU and PMI but allowed.
SEGMENT_PROGRAMS: dict[Segment, frozenset[Program]] = {
    Segment.PU: frozenset(Program),
    Segment.BPU: frozenset({Program.JKK, Program.JKM, Program.JHT}),
    Segment.PMI: frozenset({Program.JKK, Program.JKM, Program.JHT}),
    Segment.JAKON: frozenset({Program.JKK, Program.JKM}),
}

#: Programmes every participant of a segment must hold: the protection the segment exists for.
SEGMENT_REQUIRED: dict[Segment, frozenset[Program]] = {
    Segment.PU: frozenset({Program.JKK, Program.JKM}),
    Segment.BPU: frozenset({Program.JKK, Program.JKM}),
    Segment.PMI: frozenset({Program.JKK, Program.JKM}),
    Segment.JAKON: frozenset({Program.JKK, Program.JKM}),
}


def program_problems(segment: Segment, programs: set[Program]) -> list[str]:
    """What is wrong with enrolling a `segment` participant in `programs` (empty when allowed)."""
    problems = []
    not_allowed = sorted(programs - SEGMENT_PROGRAMS[segment])
    if not_allowed:
        allowed = ", ".join(sorted(SEGMENT_PROGRAMS[segment]))
        problems.append(f"segment {segment.value} cannot hold {', '.join(not_allowed)}; it may hold {allowed}")
    missing = sorted(SEGMENT_REQUIRED[segment] - programs)
    if missing:
        problems.append(f"segment {segment.value} must hold {', '.join(missing)}")
    return problems


def segment_program_check_sql() -> str:
    """SQL boolean expression over columns ``segment`` and ``program`` that the table above allows."""
    clauses = []
    for segment, programs in SEGMENT_PROGRAMS.items():
        listed = ", ".join(f"'{p.value}'" for p in sorted(programs))
        clauses.append(f"(segment = '{segment.value}' AND program IN ({listed}))")
    return " OR ".join(clauses)


def funding_problems(segment: Segment, funding: str) -> list[str]:
    """Wage earners and construction workers are paid for by their employer; nobody else is."""
    employer_paid = segment in (Segment.PU, Segment.JAKON)
    if employer_paid and funding != "EMPLOYER":
        return [f"segment {segment.value} is funded by the employer, not {funding}"]
    if not employer_paid and funding == "EMPLOYER":
        return [f"segment {segment.value} has no employer; funding is SELF, APBD, APBN or CSR"]
    return []


def age_on(birth: dt.date, day: dt.date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def working_age_problems(birth: dt.date, today: dt.date) -> list[str]:
    age = age_on(birth, today)
    if age < MIN_WORKING_AGE:
        return [
            f"participants are workers of at least {MIN_WORKING_AGE} (UU 13/2003 on manpower); this person is {age}"
        ]
    return []


#: JKK contribution by the employer's risk class, percent of the wage (PP 44/2015 appendix I). The classes
#: an employer may have are the keys: forms, checks and descriptions read them from here.
JKK_RISK_RATES: dict[int, str] = {1: "0.24", 2: "0.54", 3: "0.89", 4: "1.27", 5: "1.74"}
JKK_RISK_CLASS_MIN = min(JKK_RISK_RATES)
JKK_RISK_CLASS_MAX = max(JKK_RISK_RATES)
