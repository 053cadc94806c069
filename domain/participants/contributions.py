"""The versioned contribution rule table: what a month of contributions costs, with its regulation.

Every figure is a row with the regulation that set it and the date it took effect; a payment is priced by the
rows in force on the first day of the first month it pays for. Two kinds of rows:

* **Rates** (:class:`RateRule`): a percentage of the monthly wage, for wage earners (PU), or of the declared
  income, for informal workers (BPU), or a fixed rupiah amount (BPU JKM). PU JKK depends on the employer's
  risk class; PU JP applies to the wage up to a cap that BPJS Ketenagakerjaan sets every year.
* **Packages** (:class:`PackageRule`): the BPU packages a government budget buys under Inpres 4/2022: the
  programmes and the income they declare (the "wage" of a JKK death or disability benefit). A package's
  monthly price is not a figure of its own: it is the BPU rates applied to that income
  (:func:`package_price`), so JKK+JKM on Rp1,000,000 is Rp16,800 and JKK+JKM+JHT Rp36,800 (Permenaker
  5/2021), and a change of a rate reprices every package.

JKP (job loss) is funded by the central government and by a recomposition of the JKK and JKM contributions
already paid, so it adds nothing to what the payer owes; its rate is kept here for the record only.
JAKON (per project value) and PMI (per placement period) are not priced per month: a monthly payment for
them is refused with ``NO_PRICE`` rather than guessed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from domain.participants.rules import JKK_RISK_RATES, Program, Segment


@dataclass(frozen=True, slots=True)
class PackageRule:
    id: str
    programs: frozenset[Program]
    regulation: str
    effective_from: dt.date
    #: The monthly income the package declares: the wage of a wage-based benefit for its holders, and the basis
    #: of its percentages (JKK 1 %, JHT 2 %).
    declared_income: Decimal = Decimal("1000000")


@dataclass(frozen=True, slots=True)
class RateRule:
    id: str
    segment: Segment
    program: Program
    regulation: str
    effective_from: dt.date
    percent: Decimal | None = None  # a share of the wage (PU) or declared income (BPU)
    amount: Decimal | None = None  # or a fixed rupiah amount a month
    risk_class: int | None = None  # PU JKK: the employer's risk class 1-5
    wage_cap: Decimal | None = None  # the rate applies to the wage up to this (PU JP)
    #: Funded by the government (JKP), not by the payer: not part of the amount a payment must have.
    government_funded: bool = False


PACKAGES: tuple[PackageRule, ...] = (
    # The cheapest BPU package: JKK Rp10,000 + JKM Rp6,800 a month (lowest income band, Rp1,000,000).
    PackageRule("BPU-JKK-JKM-2021", frozenset({Program.JKK, Program.JKM}), "Permenaker 5/2021", dt.date(2021, 2, 2)),
    # With JHT (optional for BPU): + 2 % of the declared income, Rp20,000 on Rp1,000,000: Rp36,800 a month.
    PackageRule(
        "BPU-JKK-JKM-JHT-2021",
        frozenset({Program.JKK, Program.JKM, Program.JHT}),
        "Permenaker 5/2021",
        dt.date(2021, 2, 2),
    ),
)

_PP44 = "PP 44/2015"
_PP44_FROM = dt.date(2015, 7, 1)
_PU, _BPU = Segment.PU, Segment.BPU

#: JP wage caps, set yearly by BPJS Ketenagakerjaan from GDP growth (PP 45/2015 art. 28), from March.
_JP_CAPS = (
    (dt.date(2015, 7, 1), "7000000"),
    (dt.date(2016, 3, 1), "7335300"),
    (dt.date(2017, 3, 1), "7703500"),
    (dt.date(2018, 3, 1), "8094000"),
    (dt.date(2019, 3, 1), "8512400"),
    (dt.date(2020, 3, 1), "8754600"),
    (dt.date(2021, 3, 1), "8939700"),
    (dt.date(2022, 3, 1), "9077600"),
    (dt.date(2023, 3, 1), "9559600"),
    (dt.date(2024, 3, 1), "10042300"),
    (dt.date(2025, 3, 1), "10547400"),
)

RATES: tuple[RateRule, ...] = (
    # PU JKK by the employer's risk class (PP 44/2015 appendix I), paid by the employer.
    *(
        RateRule(f"PU-JKK-{cls}-2015", _PU, Program.JKK, _PP44, _PP44_FROM, percent=Decimal(rate), risk_class=cls)
        for cls, rate in JKK_RISK_RATES.items()
    ),
    RateRule("PU-JKM-2015", _PU, Program.JKM, _PP44, _PP44_FROM, percent=Decimal("0.30")),
    # JHT 5.7 %: 3.7 % employer + 2 % worker (PP 46/2015).
    RateRule("PU-JHT-2015", _PU, Program.JHT, "PP 46/2015", _PP44_FROM, percent=Decimal("5.7")),
    # JP 3 %: 2 % employer + 1 % worker, on the wage up to the year's cap (PP 45/2015).
    *(
        RateRule(
            f"PU-JP-{since.year}",
            _PU,
            Program.JP,
            "PP 45/2015",
            since,
            percent=Decimal(3),
            wage_cap=Decimal(cap),
        )
        for since, cap in _JP_CAPS
    ),
    # JKP: 0.46 % under PP 37/2021, 0.36 % under PP 6/2025; government-funded and recomposed, see above.
    RateRule(
        "PU-JKP-2021", _PU, Program.JKP, "PP 37/2021", dt.date(2021, 2, 2), percent=Decimal("0.46"),
        government_funded=True,
    ),
    RateRule(
        "PU-JKP-2025", _PU, Program.JKP, "PP 6/2025", dt.date(2025, 2, 7), percent=Decimal("0.36"),
        government_funded=True,
    ),
    # BPU: JKK 1 % of the declared income, JKM Rp6,800 a month, JHT 2 % of the declared income.
    RateRule("BPU-JKK-2021", _BPU, Program.JKK, "Permenaker 5/2021", dt.date(2021, 2, 2), percent=Decimal(1)),
    RateRule("BPU-JKM-2021", _BPU, Program.JKM, "Permenaker 5/2021", dt.date(2021, 2, 2), amount=Decimal(6800)),
    RateRule("BPU-JHT-2021", _BPU, Program.JHT, "Permenaker 5/2021", dt.date(2021, 2, 2), percent=Decimal(2)),
)  # fmt: skip

#: The lowest income a BPU worker can declare: the income of the cheapest package.
BPU_MIN_DECLARED_INCOME = Decimal("1000000")


class NoPrice(LookupError):
    """No contribution rule prices this segment, programme and month."""


@dataclass(frozen=True, slots=True)
class MonthlyPrice:
    """What one month costs the payer, and the rules it came from."""

    amount: Decimal
    rules: tuple[str, ...]

    @property
    def rule_id(self) -> str:
        return "+".join(self.rules)[:40]


def bpu_package(programs: frozenset[Program], on: dt.date) -> PackageRule | None:
    """The package in force on `on` for exactly these programmes, if there is one."""
    rules = [r for r in PACKAGES if r.programs == programs and r.effective_from <= on]
    return max(rules, key=lambda r: r.effective_from) if rules else None


def package_price(package: PackageRule, on: dt.date) -> MonthlyPrice:
    """A package's monthly price on `on`: the BPU rates in force then, on the income it declares."""
    return monthly_price(Segment.BPU, package.programs, on, wage=package.declared_income)


def rate_for(segment: Segment, program: Program, on: dt.date, risk_class: int | None = None) -> RateRule:
    candidates = [
        r
        for r in RATES
        if r.segment is segment
        and r.program is program
        and r.effective_from <= on
        and (r.risk_class is None or r.risk_class == risk_class)
    ]
    if not candidates:
        risk = f" (risk class {risk_class})" if risk_class is not None else ""
        raise NoPrice(f"no {segment.value} {program.value} contribution rule{risk} in force on {on.isoformat()}")
    return max(candidates, key=lambda r: r.effective_from)


def _rupiah(value: Decimal) -> Decimal:
    return value.quantize(Decimal(1), rounding=ROUND_HALF_UP)


def monthly_price(
    segment: Segment,
    programs: frozenset[Program],
    on: dt.date,
    *,
    wage: Decimal | None,
    risk_class: int | None = None,
) -> MonthlyPrice:
    """What the payer owes for one month of `programs`, by the rules in force on `on`.

    PU: the percentages of `wage` (JP on the wage up to its cap), JKK by `risk_class`. BPU: the percentages of
    the declared income `wage` (at least the lowest band) plus the fixed JKM amount. Each programme is rounded
    to whole rupiah, as a payment slip shows it.
    """
    if segment not in (Segment.PU, Segment.BPU):
        raise NoPrice(f"{segment.value} contributions are not priced per month (JAKON per project, PMI per placement)")
    if not programs:
        raise NoPrice("the participant holds no programme to pay for")
    if segment is Segment.PU and wage is None:
        raise NoPrice("a wage earner's contribution is a share of the wage; no wage is recorded")
    basis = wage if segment is Segment.PU else max(wage or BPU_MIN_DECLARED_INCOME, BPU_MIN_DECLARED_INCOME)
    assert basis is not None
    total, used = Decimal(0), []
    for program in sorted(programs):
        rule = rate_for(segment, program, on, risk_class if program is Program.JKK else None)
        if rule.government_funded:
            continue
        if rule.amount is not None:
            total += rule.amount
        else:
            assert rule.percent is not None
            base = min(basis, rule.wage_cap) if rule.wage_cap is not None else basis
            total += _rupiah(base * rule.percent / 100)
        used.append(rule.id)
    return MonthlyPrice(total, tuple(used))
