"""How values look in the console's lists, details and exports: masked where ``auth.policy`` says so.

Formatters take ``(row, attribute, request)`` (SQLAdmin's protocol) and read the signed-in principal, so a
list, a details page and a CSV export of the same row show the same masked values. Whatever they return
as text is escaped by the templates; only :func:`changes_table` builds markup, and it escapes every value.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from markupsafe import Markup
from starlette.requests import Request

from admin.auth import console_principal
from auth.policy import masked_identifier, pii_visible

Formatter = Callable[[Any, str, Request], Any]
HIDDEN = "(hidden)"


def plain(value: Any) -> Any:
    """A value as text for lists and CSV (enums by value, aware datetimes in UTC, None as empty)."""
    if value is None:
        return ""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    if isinstance(value, Decimal | dt.date):
        return str(value)
    return value


def masked(row: Any, name: str, request: Request) -> Any:
    """A NIK or family-card number: in full with ``pii:read``, else region part and last two digits."""
    return masked_identifier(console_principal(request), getattr(row, name)) or ""


def personal(row: Any, name: str, request: Request) -> Any:
    """A birth date or wage: shown only with ``pii:read``."""
    value = getattr(row, name)
    if value is None:
        return ""
    return plain(value) if pii_visible(console_principal(request)) else HIDDEN


def as_plain(row: Any, name: str, request: Request) -> Any:
    return plain(getattr(row, name))


def _short(value: Any) -> str:
    if value is None:
        return "∅"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 300 else text[:300] + "…"


def changes_table(changes: Any) -> Markup:
    """``{"field": {"before": …, "after": …}}`` as a small table; every value is escaped."""
    if not isinstance(changes, dict) or not changes:
        return Markup('<span class="text-muted">none</span>')
    rows = []
    for name, change in changes.items():
        if isinstance(change, dict) and ("before" in change or "after" in change):
            before, after = _short(change.get("before")), _short(change.get("after"))
        else:
            before, after = "", _short(change)
        rows.append(
            Markup(
                '<tr><th scope="row">{}</th><td class="before">{}</td><td>→</td><td class="after">{}</td></tr>'
            ).format(name, before, after)
        )
    body = Markup("").join(rows)
    return Markup(
        '<table class="table table-sm changes mb-0"><thead><tr><th>field</th><th>before</th><th></th><th>after</th>'
        "</tr></thead><tbody>{}</tbody></table>"
    ).format(body)


def changes_formatter(row: Any, name: str, request: Request) -> Markup:
    return changes_table(getattr(row, name))


def changes_line(row: Any, name: str, request: Request) -> str:
    """The before/after values in one line, for lists (the details page shows :func:`changes_table`)."""
    return changes_summary(getattr(row, name))


def changes_summary(changes: Any) -> str:
    """One line: ``full_name: Ifa → Ifa Rahma; status: ACTIVE → DECEASED``."""
    if not isinstance(changes, dict):
        return ""
    parts = []
    for name, change in list(changes.items())[:4]:
        if isinstance(change, dict) and ("before" in change or "after" in change):
            parts.append(f"{name}: {_short(change.get('before'))} → {_short(change.get('after'))}")
        else:
            parts.append(f"{name}: {_short(change)}")
    more = len(changes) - 4
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")
