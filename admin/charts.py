"""Server-side SVG charts for the Monev dashboard: no JavaScript, no CDN, nothing to download.

Each function returns an ``<svg>`` element as safe markup, with every label escaped. A withheld value
(small-count suppression) is drawn as no bar, labelled ``*``; an unknown one as ``-``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

Format = Callable[[float | None], str]

_BAR = "#2f6fb0"
_TARGET = "#d9480f"
_GRID = "#d0d7de"
_TEXT = "#1f2328"
_FONT = 'font-family="system-ui, sans-serif" font-size="12"'


@dataclass(frozen=True)
class Bar:
    label: str
    value: float | None
    #: A per-bar reference, e.g. the region's UCJ target (drawn as a tick).
    marker: float | None = None


def _svg(width: int, height: int, title: str, body: list[str]) -> Markup:
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="{escape(title)}" class="monev-chart" {_FONT}><title>{escape(title)}</title>'
    )
    return Markup(head + "".join(body) + "</svg>")  # noqa: S704 - every interpolated text is escaped above/below


def horizontal_bars(bars: Sequence[Bar], *, title: str, fmt: Format, scale_max: float | None = None) -> Markup:
    """One bar per item (e.g. a regency's coverage rate), with its marker (the target) as a red tick."""
    label_w, bar_w, row_h, top = 170, 380, 24, 8
    width, height = label_w + bar_w + 90, top + row_h * max(1, len(bars)) + 24
    values = [v for b in bars for v in (b.value, b.marker) if v is not None]
    top_value = scale_max or max(values, default=1.0) or 1.0
    body = [f'<rect x="0" y="0" width="{width}" height="{height}" fill="white"/>']
    for i in range(5):
        x = label_w + bar_w * i / 4
        body.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{height - 20}" stroke="{_GRID}"/>')
        body.append(
            f'<text x="{x:.1f}" y="{height - 6}" text-anchor="middle" fill="{_TEXT}">'
            f"{escape(fmt(top_value * i / 4))}</text>"
        )
    for i, bar in enumerate(bars):
        y = top + i * row_h
        body.append(f'<text x="{label_w - 6}" y="{y + 16}" text-anchor="end" fill="{_TEXT}">{escape(bar.label)}</text>')
        if bar.value is not None:
            w = bar_w * min(bar.value, top_value) / top_value
            body.append(f'<rect x="{label_w}" y="{y + 4}" width="{w:.1f}" height="{row_h - 8}" fill="{_BAR}"/>')
        text_x = label_w + (bar_w * min(bar.value, top_value) / top_value if bar.value is not None else 0) + 6
        body.append(f'<text x="{text_x:.1f}" y="{y + 16}" fill="{_TEXT}">{escape(fmt(bar.value))}</text>')
        if bar.marker is not None:
            mx = label_w + bar_w * min(bar.marker, top_value) / top_value
            body.append(
                f'<line x1="{mx:.1f}" y1="{y + 1}" x2="{mx:.1f}" y2="{y + row_h - 1}" stroke="{_TARGET}" '
                'stroke-width="3">'
                f"<title>target {escape(fmt(bar.marker))}</title></line>"
            )
    return _svg(width, height, title, body)


def columns(points: Sequence[Bar], *, title: str, fmt: Format, line: bool = False) -> Markup:
    """Vertical columns (or a line, `line`) over months; markers (a target) as a dashed red line."""
    left, plot_w, plot_h, top = 90, 540, 180, 10
    width, height = left + plot_w + 20, top + plot_h + 50
    values = [v for p in points for v in (p.value, p.marker) if v is not None]
    top_value = max(values, default=1.0) or 1.0
    n = max(1, len(points))
    step = plot_w / n
    body = [f'<rect x="0" y="0" width="{width}" height="{height}" fill="white"/>']
    for i in range(5):
        y = top + plot_h - plot_h * i / 4
        body.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="{_GRID}"/>')
        body.append(
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="{_TEXT}">'
            f"{escape(fmt(top_value * i / 4))}</text>"
        )

    def y_of(v: float) -> float:
        return top + plot_h - plot_h * v / top_value

    path: list[str] = []
    targets: list[str] = []
    for i, p in enumerate(points):
        cx = left + step * (i + 0.5)
        if p.value is not None:
            if line:
                path.append(f"{cx:.1f},{y_of(p.value):.1f}")
                body.append(
                    f'<circle cx="{cx:.1f}" cy="{y_of(p.value):.1f}" r="3" fill="{_BAR}"><title>{escape(p.label)}: '
                    f"{escape(fmt(p.value))}</title></circle>"
                )
            else:
                h = plot_h * p.value / top_value
                body.append(
                    f'<rect x="{cx - step * 0.35:.1f}" y="{top + plot_h - h:.1f}" width="{step * 0.7:.1f}" '
                    f'height="{h:.1f}" fill="{_BAR}"><title>{escape(p.label)}: {escape(fmt(p.value))}</title></rect>'
                )
        else:
            body.append(f'<text x="{cx:.1f}" y="{top + plot_h - 4}" text-anchor="middle" fill="{_TEXT}">*</text>')
        if p.marker is not None:
            targets.append(f"{cx:.1f},{y_of(p.marker):.1f}")
        if i % max(1, n // 12) == 0:
            body.append(
                f'<text x="{cx:.1f}" y="{top + plot_h + 16}" text-anchor="middle" fill="{_TEXT}">'
                f"{escape(p.label)}</text>"
            )
    if line and len(path) > 1:
        body.append(f'<polyline points="{" ".join(path)}" fill="none" stroke="{_BAR}" stroke-width="2"/>')
    if len(targets) > 1:
        body.append(
            f'<polyline points="{" ".join(targets)}" fill="none" stroke="{_TARGET}" stroke-width="2" '
            'stroke-dasharray="6 4"><title>target</title></polyline>'
        )
    return _svg(width, height, title, body)
