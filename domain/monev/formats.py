"""Indonesian number formats for Monev figures: ``Rp1.234.567``, ``1.234``, ``32,5%``.

Dots group thousands and a comma marks decimals, as Indonesian readers (and a Monev meeting's slides)
expect; a withheld figure is shown as ``*`` (suppressed), an unknown one as ``-``.
"""

from __future__ import annotations

from decimal import Decimal

WITHHELD = "*"
UNKNOWN = "-"


def _grouped(whole: int) -> str:
    return f"{whole:,}".replace(",", ".")


def number(value: int | None, *, withheld: bool = True) -> str:
    if value is None:
        return WITHHELD if withheld else UNKNOWN
    return _grouped(value)


def rupiah(value: Decimal | None, *, withheld: bool = True) -> str:
    if value is None:
        return WITHHELD if withheld else UNKNOWN
    rounded = int(value.quantize(Decimal(1)))
    return ("-" if rounded < 0 else "") + "Rp" + _grouped(abs(rounded))


def percent(share: float | None, digits: int = 1, *, withheld: bool = True) -> str:
    """A share 0-1 as a percentage with a decimal comma: 0.325 -> '32,5%'."""
    if share is None:
        return WITHHELD if withheld else UNKNOWN
    text = f"{share * 100:,.{digits}f}"
    return text.replace(",", "_").replace(".", ",").replace("_", ".") + "%"
