"""The Inpres reports: coverage for Inpres 2/2021 (every semester) and extreme poverty for Inpres 4/2022
(every quarter), per province with one row per regency/city and per district, as XLSX or CSV.

The figures come from :mod:`domain.monev.tables` with the caller's :class:`Viewer`, so a report is scoped and
suppressed exactly like the API. Stocks (participants, active, extreme-poor enrolment) are taken at the end
of the period's last month; flows (claims paid, scholarships) are summed over the period's months, and a sum
that includes a withheld month is withheld too.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.monev import cells, formats
from domain.monev.figures import child_level
from domain.monev.periods import Month, Period, figures_as_of, is_complete
from domain.monev.tables import Published, Viewer, region_exists, region_months, sub_region_months, visible_children
from domain.participants.models import FundingSource
from domain.participants.rules import Program, Segment
from domain.regions.rules import RegionCode, RegionLevel

Value = int | float | Decimal | str | None


@dataclass(frozen=True)
class Column:
    title: str
    kind: str  # "text" | "count" | "share" | "rupiah"
    value: Callable[[Published, Sequence[Published]], Value]


def _count(cell: str) -> Callable[[Published, Sequence[Published]], Value]:
    return lambda end, _months: end.counts[cell]


def _flow_count(cell: str) -> Callable[[Published, Sequence[Published]], Value]:
    def total(_end: Published, months: Sequence[Published]) -> Value:
        values = [m.counts[cell] for m in months]
        return None if any(v is None for v in values) else sum(v for v in values if v is not None)

    return total


def _flow_amount(name: str) -> Callable[[Published, Sequence[Published]], Value]:
    def total(_end: Published, months: Sequence[Published]) -> Value:
        values = [m.amounts[name] for m in months]
        return None if any(v is None for v in values) else sum((v for v in values if v is not None), Decimal(0))

    return total


_BASE = [
    Column("Kode", "text", lambda end, _m: end.code),
    Column("Wilayah", "text", lambda end, _m: end.name),
]

INPRES_2_COLUMNS: list[Column] = [
    *_BASE,
    Column("Penduduk bekerja (BPS)", "count", lambda end, _m: end.denominator.employed_population),
    Column("Target UCJ", "share", lambda end, _m: float(end.denominator.target) if end.denominator.target else None),
    Column("Peserta terdaftar", "count", _count(cells.PARTICIPANTS)),
    Column("Peserta aktif", "count", _count(cells.ACTIVE)),
    Column("UCJ (aktif / bekerja)", "share", lambda end, _m: end.coverage_rate),
    Column("Selisih ke target", "share", lambda end, _m: end.gap_to_target),
    *(Column(f"Aktif {s.value}", "count", _count(cells.segment_active(s))) for s in Segment),
    Column("Aktif dibiayai APBD", "count", _count(cells.funding_active(FundingSource.APBD))),
    Column("Iuran APBD bulan terakhir (Rp)", "rupiah", lambda end, _m: _apbd_amount(end)),
    Column("Miskin ekstrem", "count", _count(cells.POOR_TOTAL)),
    Column("Miskin ekstrem terdaftar", "count", _count(cells.POOR_ENROLLED)),
    Column("Miskin ekstrem aktif", "count", _count(cells.POOR_ACTIVE)),
    *(Column(f"Klaim {p.value} dibayar", "count", _flow_count(cells.claims_paid(p))) for p in Program),
    *(Column(f"Klaim {p.value} dibayar (Rp)", "rupiah", _flow_amount(cells.claims_paid_amount(p))) for p in Program),
    Column(
        "Beasiswa dibayar (Rp)",
        "rupiah",
        lambda end, months: _sum_amounts([_flow_amount(cells.claims_scholarship(p))(end, months) for p in Program]),
    ),
]

INPRES_4_COLUMNS: list[Column] = [
    *_BASE,
    Column("Miskin ekstrem (registri)", "count", _count(cells.POOR_TOTAL)),
    Column("Terdaftar peserta", "count", _count(cells.POOR_ENROLLED)),
    Column("Peserta aktif", "count", _count(cells.POOR_ACTIVE)),
    Column("Tingkat kepesertaan", "share", lambda end, _m: end.enrollment_rate),
    Column("Pekerja rentan dibiayai APBD", "count", _count(cells.funding_active(FundingSource.APBD))),
    Column("Iuran APBD bulan terakhir (Rp)", "rupiah", lambda end, _m: _apbd_amount(end)),
    Column("Klaim JKM dibayar", "count", _flow_count(cells.claims_paid(Program.JKM))),
    Column("Klaim JKM dibayar (Rp)", "rupiah", _flow_amount(cells.claims_paid_amount(Program.JKM))),
    Column("Klaim JKK dibayar", "count", _flow_count(cells.claims_paid(Program.JKK))),
    Column("Klaim JKK dibayar (Rp)", "rupiah", _flow_amount(cells.claims_paid_amount(Program.JKK))),
    Column(
        "Beasiswa dibayar (Rp)",
        "rupiah",
        lambda end, months: _sum_amounts([_flow_amount(cells.claims_scholarship(p))(end, months) for p in Program]),
    ),
]


def _apbd_amount(end: Published) -> Value:
    """The regional budget's contributions for the period's last month; '-' when no ledger records them."""
    amount = end.amounts[cells.funding_amount(FundingSource.APBD)]
    if amount is None and end.counts[cells.funding_active(FundingSource.APBD)] is not None:
        return formats.UNKNOWN
    return amount


def _sum_amounts(values: Sequence[Value]) -> Value:
    if any(v is None for v in values):
        return None
    return sum((Decimal(str(v)) for v in values), Decimal(0))


@dataclass(frozen=True)
class Kind:
    key: str
    title: str
    columns: list[Column]


INPRES_2_2021 = Kind("inpres-2-2021", "Inpres 2/2021 - Cakupan Jaminan Sosial Ketenagakerjaan", INPRES_2_COLUMNS)
INPRES_4_2022 = Kind("inpres-4-2022", "Inpres 4/2022 - Penghapusan Kemiskinan Ekstrem", INPRES_4_COLUMNS)
KINDS = {k.key: k for k in (INPRES_2_2021, INPRES_4_2022)}

_LEVEL_SHEET = {
    RegionLevel.REGENCY: "Kabupaten-Kota",
    RegionLevel.DISTRICT: "Kecamatan",
    RegionLevel.VILLAGE: "Desa-Kelurahan",
}


@dataclass(frozen=True)
class Sheet:
    title: str
    header: list[str]
    kinds: list[str]
    rows: list[list[Value]]


@dataclass(frozen=True)
class Report:
    kind: Kind
    region: str
    period: Period
    sheets: list[Sheet]
    notes: list[tuple[str, str]]


class ReportError(ValueError):
    """The report cannot be made as asked (unknown region, not yours, a village)."""


def _row(kind: Kind, months: Sequence[Published]) -> list[Value]:
    return [c.value(months[-1], months) for c in kind.columns]


async def build_report(conn: AsyncConnection, viewer: Viewer, kind: Kind, region: RegionCode, period: Period) -> Report:
    """The report's sheets: the region itself, then one sheet per level below it (down to districts)."""
    if not viewer.sees(region.code) or not await region_exists(conn, viewer, region.code):
        raise ReportError(f"region {region.code} is unknown or not entirely within your region")
    if child_level(region) is None:
        raise ReportError(f"{region.code} is a village; a report is for a province, regency or district")
    months = list(period.months)
    header = [c.title for c in kind.columns]
    kinds = [c.kind for c in kind.columns]
    own = await region_months(conn, viewer, region, months)
    sheets = [Sheet("Ringkasan", header, kinds, [_row(kind, own)])]
    parents = [region]
    while parents and child_level(parents[0]) is not None and child_level(parents[0]) is not RegionLevel.VILLAGE:
        level = child_level(parents[0])
        assert level is not None
        rows: list[list[Value]] = []
        next_parents: list[RegionCode] = []
        for parent in parents:
            table = await sub_region_months(conn, viewer, parent, months)
            by_code: dict[str, list[Published]] = {}
            for p in table:
                by_code.setdefault(p.code, []).append(p)
            for code in sorted(by_code):
                rows.append(_row(kind, sorted(by_code[code], key=lambda p: p.month)))
            next_parents += [RegionCode(c) for c in await visible_children(conn, viewer, parent)]
        sheets.append(Sheet(_LEVEL_SHEET[level], header, kinds, rows))
        parents = next_parents if level is RegionLevel.REGENCY else []
    notes = [
        ("Laporan", kind.title),
        ("Wilayah", f"{region.code} {own[0].name}"),
        ("Periode", f"{period.label}: {months[0].key} s.d. {months[-1].key}"),
        ("Posisi peserta", _position(months[-1])),
        ("Klaim", "dibayar dalam periode (bulan menurut WITA)"),
        ("Tanda *", "angka di bawah ambang ditahan (supresi angka kecil), atau yang dapat menghitung ulang angka itu"),
        ("Tanda -", "tidak tersedia"),
        ("Dibuat", dt.datetime.now(dt.UTC).isoformat(timespec="seconds")),
    ]
    return Report(kind, region.code, period, sheets, notes)


def _position(last: Month) -> str:
    """When the stocks are taken; the current month is month-to-date and the note says so."""
    rule = "aktif = iuran terbayar s.d. hari itu, masih hidup dan belum pensiun"
    if is_complete(last):
        return f"akhir bulan {last.key} ({rule})"
    day = figures_as_of(last).isoformat()
    return f"{day}: bulan {last.key} masih berjalan, angka s.d. hari ini (belum lengkap) ({rule})"


def _display(kind: str, value: Value) -> str:
    if kind == "text" or isinstance(value, str):
        return "" if value is None else str(value)
    if kind == "count":
        return formats.number(value if isinstance(value, int) else None)
    if kind == "share":
        return formats.percent(float(value) if isinstance(value, (int, float, Decimal)) else None)
    return formats.rupiah(Decimal(str(value)) if isinstance(value, (int, float, Decimal)) else None)


_FORMATS = {"count": "#,##0", "share": "0.0%", "rupiah": '"Rp"#,##0'}


def to_xlsx(report: Report) -> bytes:
    """One workbook: a sheet of notes, the region's summary, one sheet per level below it.

    Numbers stay numbers (so the sheet can be summed) with Indonesian-style formats; a withheld figure is
    the text ``*``.
    """
    book = Workbook()
    notes = book.active
    assert notes is not None
    notes.title = "Keterangan"
    for key, text in report.notes:
        notes.append([key, text])
    notes.column_dimensions["A"].width = 18
    notes.column_dimensions["B"].width = 90
    bold, fill = Font(bold=True), PatternFill("solid", fgColor="DDEBF7")
    for sheet in report.sheets:
        ws = book.create_sheet(sheet.title)
        ws.append(sheet.header)
        for cell in ws[1]:
            cell.font, cell.fill = bold, fill
            cell.alignment = Alignment(wrap_text=True, vertical="top")
        for row in sheet.rows:
            ws.append([_xlsx_value(k, v) for k, v in zip(sheet.kinds, row, strict=True)])
        for i, kind in enumerate(sheet.kinds, start=1):
            letter = get_column_letter(i)
            ws.column_dimensions[letter].width = 28 if i == 2 else 16
            if kind in _FORMATS:
                for cell in ws[letter][1:]:
                    if not isinstance(cell.value, str):
                        cell.number_format = _FORMATS[kind]
        ws.freeze_panes = "C2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _xlsx_value(kind: str, value: Value) -> Any:
    if kind == "text" or isinstance(value, str):
        return value
    if value is None:
        return formats.WITHHELD
    return float(value) if isinstance(value, Decimal) else value


def to_csv(report: Report) -> bytes:
    """All sheets in one CSV (first column: the sheet), ';'-separated with Indonesian number formats."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    for sheet in report.sheets:
        writer.writerow(["Lembar", *sheet.header])
        for row in sheet.rows:
            writer.writerow([sheet.title, *(_display(k, v) for k, v in zip(sheet.kinds, row, strict=True))])
    # A BOM so that spreadsheet programs read the file as UTF-8.
    return ("\ufeff" + out.getvalue()).encode()


def filename(report: Report, fmt: str) -> str:
    label = report.period.label.replace(" semester ", "-").replace(" ", "-")
    return f"{report.kind.key}_{report.region}_{label}.{fmt}"
