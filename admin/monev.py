"""The Monev dashboard in the console: coverage per regency against its target, the monthly trend, the
PU/BPU split, APBD-funded workers and budget, extreme-poor enrolment and claims paid per month, with the
Inpres reports as downloads.

Open to admins, officers and analysts holding ``stats:read`` (analysts may sign in to the console for this
page only, read-only). Figures come from ``domain.monev.tables`` with the user's ``auth.policy.monev_viewer``:
the same scoping and suppression as the API; the region picker offers only regions the user sees in full.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, ClassVar

from sqladmin import BaseView, expose
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from admin import charts
from admin.auth import console_principal
from auth.policy import monev_viewer
from auth.scopes import Role, Scope
from domain.monev import cells, formats
from domain.monev.figures import child_level
from domain.monev.periods import (
    Month,
    PeriodError,
    check_as_of,
    figures_as_of,
    is_complete,
    parse_quarter,
    parse_semester,
    today,
)
from domain.monev.reports import KINDS, ReportError, build_report, filename, to_csv, to_xlsx
from domain.monev.suppression import DEFAULT_THRESHOLD
from domain.monev.tables import Published, Viewer, region_months, sub_region_months
from domain.participants.models import FundingSource
from domain.participants.rules import Program, Segment
from domain.regions.models import Region
from domain.regions.rules import InvalidRegionCode, RegionCode

MONEV_ROLES = frozenset({Role.ADMIN, Role.OFFICER, Role.ANALYST})
_MONTHS_ID = ("Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des")
TREND_MONTHS = 12


def month_label(m: Month) -> str:
    return f"{_MONTHS_ID[m.month - 1]} {m.year % 100:02d}"


def _share(v: float | None) -> str:
    return formats.percent(v)


def _rupiah_millions(v: float | None) -> str:
    return "*" if v is None else f"Rp{formats.number(round(v / 1_000_000))} jt"


def _count(v: float | None) -> str:
    return formats.number(None if v is None else round(v))


class MonevView(BaseView):
    name = "Monev"
    identity = "monev"
    icon = "fa-solid fa-chart-column"
    #: Set per console (admin.console): the service's engine and the suppression threshold.
    engine: ClassVar[AsyncEngine]
    threshold: ClassVar[int] = DEFAULT_THRESHOLD

    def is_accessible(self, request: Request) -> bool:
        principal = console_principal(request)
        return (
            principal.is_authenticated and bool(principal.roles & MONEV_ROLES) and principal.has_scope(Scope.STATS_READ)
        )

    def is_visible(self, request: Request) -> bool:
        return self.is_accessible(request)

    def _viewer(self, request: Request) -> Viewer:
        return monev_viewer(console_principal(request), self.threshold)

    def _region(self, request: Request, viewer: Viewer) -> tuple[RegionCode, str | None]:
        """The region asked for, if the user sees it in full; otherwise their own (with a notice)."""
        default = viewer.region or RegionCode("52")
        raw = request.query_params.get("region")
        if not raw:
            return default, None
        try:
            code = RegionCode.parse(raw)
        except InvalidRegionCode as exc:
            return default, str(exc)
        if not viewer.sees(code.code) or child_level(code) is None:
            return default, f"Region {code.code} is not one you can chart here; showing {default.code}."
        return code, None

    @staticmethod
    def _month(request: Request) -> tuple[Month, str | None]:
        raw = request.query_params.get("month")
        current = Month.of(today())
        if not raw:
            return current, None
        try:
            year, month = (int(x) for x in raw.split("-"))
            return check_as_of(dt.date(year, month, 1)), None
        except (ValueError, PeriodError) as exc:
            return current, f"Month {raw!r} cannot be shown ({exc}); showing {current.key}."

    async def _options(self, conn: AsyncConnection, viewer: Viewer, region: RegionCode) -> list[tuple[str, str]]:
        """Regions for the picker: the user's root, the path down to the current region, and its sub-regions."""
        root = viewer.region or RegionCode(region.province)
        codes = {root.code, *(a for a in region.ancestors if root.contains(a)), region.code}
        stmt = (
            select(Region.code, Region.name)
            .where((Region.code.in_(codes)) | (Region.parent_code == region.code), viewer.visible(Region))
            .order_by(Region.code)
        )
        rows = (await conn.execute(stmt)).all()
        return [(r.code, r.name) for r in rows if viewer.sees(r.code) and child_level(RegionCode(r.code)) is not None]

    @expose("/monev", methods=["GET"], identity="monev")
    async def dashboard(self, request: Request) -> Response:
        viewer = self._viewer(request)
        region, region_notice = self._region(request, viewer)
        month, month_notice = self._month(request)
        trend_months = month.plus(-(TREND_MONTHS - 1)).until(month)
        async with self.engine.connect() as conn:
            trend = await region_months(conn, viewer, region, trend_months)
            children = await sub_region_months(conn, viewer, region, [month])
            options = await self._options(conn, viewer, region)
        current = trend[-1]
        context: dict[str, Any] = {
            "title": f"Monev {current.name}",
            "subtitle": f"Inpres 2/2021 dan 4/2022 - posisi akhir {month_label(month)}"
            if is_complete(month)
            else f"Inpres 2/2021 dan 4/2022 - posisi {figures_as_of(month).isoformat()} "
            f"({month_label(month)} masih berjalan: angka s.d. hari ini, belum lengkap)",
            "notices": [n for n in (region_notice, month_notice) if n],
            "region": region.code,
            "month": month.key,
            "max_month": Month.of(today()).key,
            "options": options,
            "kpis": _kpis(current),
            "charts": _charts(current, children, trend),
            "semester": f"{month.year}-{1 if month.month <= 6 else 2}",
            "quarter": f"{month.year}-Q{(month.month - 1) // 3 + 1}",
        }
        return await self.templates.TemplateResponse(request, "jamsos/monev.html", context)

    @expose("/monev/report", methods=["GET"], identity="monev_report")
    async def report(self, request: Request) -> Response:
        viewer = self._viewer(request)
        params = request.query_params
        kind = KINDS.get(params.get("kind", ""))
        fmt = params.get("format", "xlsx")
        if kind is None or fmt not in ("xlsx", "csv"):
            raise HTTPException(
                status_code=400, detail="kind must be inpres-2-2021 or inpres-4-2022, format xlsx or csv"
            )
        try:
            region = RegionCode.parse(params.get("region", ""))
            text = params.get("period", "")
            period = parse_semester(text) if kind.key == "inpres-2-2021" else parse_quarter(text)
            async with self.engine.connect() as conn:
                report = await build_report(conn, viewer, kind, region, period)
        except (InvalidRegionCode, PeriodError, ReportError) as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from None
        content = to_xlsx(report) if fmt == "xlsx" else to_csv(report)
        media = (
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            if fmt == "xlsx"
            else "text/csv; charset=utf-8"
        )
        disposition = f'attachment; filename="{filename(report, fmt)}"'
        return Response(content, media_type=media, headers={"content-disposition": disposition})


def _kpis(p: Published) -> list[tuple[str, str, str]]:
    """(title, value, note) cards."""
    c = p.counts
    apbd_amount = p.amounts[cells.funding_amount(FundingSource.APBD)]
    budget = (
        formats.rupiah(apbd_amount)
        if apbd_amount is not None or c[cells.funding_active(FundingSource.APBD)] is None
        else "-"
    )
    claims_paid = [p.amounts[cells.claims_paid_amount(g)] for g in Program]
    paid_total = None if any(a is None for a in claims_paid) else sum((a for a in claims_paid if a), Decimal(0))
    return [
        (
            "UCJ (aktif / penduduk bekerja)",
            formats.percent(p.coverage_rate, withheld=c[cells.ACTIVE] is None),
            f"target {formats.percent(float(p.denominator.target) if p.denominator.target else None, withheld=False)}",
        ),
        ("Peserta aktif", formats.number(c[cells.ACTIVE]), f"dari {formats.number(c[cells.PARTICIPANTS])} terdaftar"),
        (
            "Pekerja rentan dibiayai APBD",
            formats.number(c[cells.funding_active(FundingSource.APBD)]),
            f"iuran APBD bulan ini {budget}",
        ),
        (
            "Miskin ekstrem terdaftar",
            formats.percent(p.enrollment_rate),
            f"{formats.number(c[cells.POOR_ENROLLED])} dari {formats.number(c[cells.POOR_TOTAL])}",
        ),
        (
            "Klaim dibayar bulan ini",
            formats.rupiah(paid_total),
            f"JKM tepat waktu {formats.percent(p.jkm_within_target_share)}",
        ),
    ]


def _charts(current: Published, children: list[Published], trend: list[Published]) -> list[tuple[str, Any]]:
    level = "wilayah"
    coverage = charts.horizontal_bars(
        [
            charts.Bar(
                p.name, p.coverage_rate, float(p.denominator.target) if p.denominator.target is not None else None
            )
            for p in children
        ],
        title=f"UCJ per {level} terhadap target (garis merah)",
        fmt=_share,
    )
    trend_chart = charts.columns(
        [
            charts.Bar(
                month_label(p.month), p.coverage_rate, float(p.denominator.target) if p.denominator.target else None
            )
            for p in trend
        ],
        title="UCJ per bulan (garis putus merah: target)",
        fmt=_share,
        line=True,
    )
    c = current.counts
    segments = charts.horizontal_bars(
        [charts.Bar(s.value, _float(c[cells.segment_active(s)])) for s in Segment],
        title="Peserta aktif per segmen (PU / BPU / Jakon / PMI)",
        fmt=_count,
    )
    funding = charts.horizontal_bars(
        [charts.Bar(f.value, _float(c[cells.funding_active(f)])) for f in FundingSource],
        title="Peserta aktif per sumber iuran (APBD = anggaran daerah)",
        fmt=_count,
    )
    poor = charts.horizontal_bars(
        [charts.Bar(p.name, p.enrollment_rate) for p in children],
        title="Miskin ekstrem yang terdaftar peserta, per wilayah",
        fmt=_share,
        scale_max=1.0,
    )
    claims = charts.columns(
        [charts.Bar(month_label(p.month), _paid_total(p)) for p in trend],
        title="Klaim dibayar per bulan (semua program)",
        fmt=_rupiah_millions,
    )
    return [
        ("UCJ per wilayah", coverage),
        ("Tren UCJ", trend_chart),
        ("Segmen", segments),
        ("Sumber iuran", funding),
        ("Miskin ekstrem", poor),
        ("Klaim dibayar", claims),
    ]


def _float(v: int | None) -> float | None:
    return None if v is None else float(v)


def _paid_total(p: Published) -> float | None:
    amounts = [p.amounts[cells.claims_paid_amount(g)] for g in Program]
    return None if any(a is None for a in amounts) else float(sum(a for a in amounts if a is not None))
