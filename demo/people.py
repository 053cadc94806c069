"""Building blocks of the demo generator: weighted picks, dates, Indonesian names and unique NIKs.

Everything draws from one ``random.Random`` passed in, so the output is a function of the seed alone.
"""

from __future__ import annotations

import datetime as dt
import random
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import Generic, TypeVar

from domain.beneficiaries.models import BeneficiarySource
from domain.nik import Sex, build_nik

T = TypeVar("T")

UTC = dt.UTC
DAYS_PER_YEAR = 365.2425


class Weighted(Generic[T]):
    """A weighted choice that costs one ``random()`` and a bisect (``random.choices`` is slower per call)."""

    __slots__ = ("_cum", "_items", "_total")

    def __init__(self, pairs: Sequence[tuple[T, float]]) -> None:
        self._items = [item for item, _ in pairs]
        self._cum = list(accumulate(weight for _, weight in pairs))
        self._total = self._cum[-1]

    def pick(self, rng: random.Random) -> T:
        i = bisect_right(self._cum, rng.random() * self._total)
        return self._items[min(i, len(self._items) - 1)]


def end_of_month(d: dt.date) -> dt.date:
    nxt = dt.date(d.year + d.month // 12, d.month % 12 + 1, 1)
    return nxt - dt.timedelta(days=1)


def months_between(a: dt.date, b: dt.date) -> int:
    """Whole calendar months from `a`'s month to `b`'s month, counting both (0 when b is before a)."""
    return max(0, (b.year - a.year) * 12 + b.month - a.month + 1)


def years_before(d: dt.date, years: float) -> dt.date:
    return d - dt.timedelta(days=round(years * DAYS_PER_YEAR))


def add_years(d: dt.date, years: int) -> dt.date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February
        return d.replace(year=d.year + years, day=28)


def random_date(rng: random.Random, lo: dt.date, hi: dt.date) -> dt.date:
    """A uniform date in [lo, hi] (lo when hi is before lo)."""
    span = (hi - lo).days
    return lo if span <= 0 else lo + dt.timedelta(days=rng.randint(0, span))


def office_time(rng: random.Random, day: dt.date) -> dt.datetime:
    """An aware UTC datetime during office hours in NTB (WITA, UTC+8: 08:00-17:00 local)."""
    seconds = rng.randint(0, 9 * 3600 - 1)
    return dt.datetime(day.year, day.month, day.day, tzinfo=UTC) + dt.timedelta(seconds=seconds)


class Names:
    """Indonesian names from Faker's ``id_ID`` person lists, read once and combined with the seeded rng.

    Lombok is mostly Sasak: a share of names there carry the Sasak titles *Lalu* (men) and *Baiq* (women).
    """

    _LOMBOK = frozenset({"52.01", "52.02", "52.03", "52.08", "52.71"})

    def __init__(self) -> None:
        from faker.providers.person.id_ID import Provider as PersonProvider

        self.first = {Sex.M: tuple(PersonProvider.first_names_male), Sex.F: tuple(PersonProvider.first_names_female)}
        self.last = {Sex.M: tuple(PersonProvider.last_names_male), Sex.F: tuple(PersonProvider.last_names_female)}

    def name(self, rng: random.Random, sex: Sex, regency: str | None = None) -> str:
        first = rng.choice(self.first[sex])
        r = rng.random()
        if r < 0.25:
            name = first
        elif r < 0.4:
            name = f"{first} {rng.choice(self.first[sex])}"
        else:
            name = f"{first} {rng.choice(self.last[sex])}"
        if regency in self._LOMBOK and rng.random() < 0.06:
            name = ("Lalu " if sex is Sex.M else "Baiq ") + name
        return name


class NikIssuer:
    """Unique NIKs: the serial counts up per birth date, so (birth date, serial) never repeats.

    Two NIKs with different birth dates differ in the date digits (every birth year here lies within one
    century, so the two-digit year is unambiguous); two with the same birth date differ in the serial.
    The state is one small counter per birth date, whatever the number of people.
    """

    def __init__(self) -> None:
        self._serial: dict[dt.date, int] = {}

    def issue(self, district_code: str, birth_date: dt.date, sex: Sex) -> str:
        serial = self._serial.get(birth_date, 0) + 1
        self._serial[birth_date] = serial
        return build_nik(district_code, birth_date, sex, serial)


@dataclass(frozen=True, slots=True)
class Poverty:
    """One person's entry on a poverty list: the registry, its snapshot, the decile and the extreme-poor flag."""

    source: BeneficiarySource
    decile: int
    extreme: bool
    snapshot: dt.date


_SOURCES = Weighted([(BeneficiarySource.P3KE, 45), (BeneficiarySource.DTSEN, 40), (BeneficiarySource.DTKS, 15)])
_SOURCES_EXTREME = Weighted([(BeneficiarySource.P3KE, 60), (BeneficiarySource.DTSEN, 30), (BeneficiarySource.DTKS, 10)])
_DECILE_4 = Weighted([(1, 25), (2, 30), (3, 25), (4, 20)])
_DECILE_10 = Weighted(list(zip(range(1, 11), (18, 16, 14, 12, 10, 9, 7, 6, 5, 3), strict=True)))


class PovertyLists:
    """P3KE and DTKS (deciles 1-4) and DTSEN (1-10, quarterly since 2025) entries, extreme poor mostly decile 1."""

    def __init__(self, as_of: dt.date) -> None:
        quarters = [end_of_month(dt.date(y, m, 1)) for y in range(2025, as_of.year + 1) for m in (3, 6, 9, 12)]
        self.snapshots = {
            BeneficiarySource.P3KE: [dt.date(2022, 6, 30), dt.date(2023, 6, 30)],
            BeneficiarySource.DTKS: [dt.date(2023, 12, 31), dt.date(2024, 6, 30), dt.date(2024, 12, 31)],
            BeneficiarySource.DTSEN: [q for q in quarters if q <= as_of],
        }

    def entry(self, rng: random.Random, extreme_share: float) -> Poverty:
        extreme = rng.random() < extreme_share
        source = (_SOURCES_EXTREME if extreme else _SOURCES).pick(rng)
        if extreme:
            decile = 1 if rng.random() < 0.9 else 2
        else:
            decile = (_DECILE_10 if source is BeneficiarySource.DTSEN else _DECILE_4).pick(rng)
        return Poverty(source, decile, extreme, rng.choice(self.snapshots[source]))


def family_card_number(rng: random.Random, district_code: str, not_after: dt.date) -> str:
    """A KK number: the issuing district's 6 digits, the issue date (DDMMYY) and a 4-digit serial."""
    issued = random_date(rng, dt.date(2012, 1, 1), not_after)
    return f"{district_code.replace('.', '')}{issued:%d%m%y}{rng.randint(1, 9999):04d}"
