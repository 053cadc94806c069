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

from admin.access_log import console_reads
from admin.auth import console_principal
from auth.policy import Treatment, access_log_entry, masked_changes, shown, treatment
from auth.principal import Principal
from domain import clock
from domain.audit.access import PersonalDataReads
from domain.participants.status import derived_status

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


def shown_in_console(
    principal: Principal, row: Any, name: str, program: Any = None, *, reads: PersonalDataReads | None = None
) -> Any:
    """A column of `row` as ``auth.policy`` lets `principal` see it, as console text.

    The same rule set as the API (``policy.PERSONAL_DATA`` and the wage-derived amounts): a masked identifier
    shows its region part and last two digits, a withheld value reads "(hidden)" where the API gives null.
    A claim's amounts depend on its programme: `program` (default: the row's own ``program``); a contribution's
    on its payer (``reveals_wage``). Personal data shown in full is noted in `reads`, for the access log.
    """
    value = getattr(row, name)
    if value is None:
        return ""
    of_program = program if program is not None else getattr(row, "program", None)
    wage_based: bool | None = getattr(row, "reveals_wage", None)  # a contribution says so itself
    if treatment(principal, type(row), name, of_program, wage_based=wage_based) is Treatment.WITHHELD:
        return HIDDEN
    if reads is not None and (entry := access_log_entry(principal, row, name)) is not None:
        reads.note(*entry)
    return plain(shown(principal, type(row), name, value, of_program, wage_based=wage_based))


def in_console(request: Request, row: Any, name: str, program: Any = None) -> Any:
    """:func:`shown_in_console` for the signed-in user, noting what it shows in full in the request's access log."""
    return shown_in_console(console_principal(request), row, name, program, reads=console_reads(request))


def protected(row: Any, name: str, request: Request) -> Any:
    """Formatter for a personal column (SQLAdmin's protocol); the base view installs it on every one."""
    return in_console(request, row, name)


#: The formatters views and tests have named; both apply the one rule set.
masked = protected
personal = protected


def as_plain(row: Any, name: str, request: Request) -> Any:
    return plain(getattr(row, name))


def participant_status(row: Any, name: str, request: Request) -> Any:
    """A participant's status as every read shows it (derived from the ledger today), not the stored lifecycle."""
    return plain(derived_status(row.status, row.paid_through, clock.today()))


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


def changes_shown(request: Request, event: Any) -> Any:
    """An audit event's ``changes`` as the signed-in user may see them (``auth.policy.masked_changes``); the
    personal columns it shows in full are noted for the access log, as the API's ``AuditEvent.changes`` does."""
    changes, revealed = masked_changes(console_principal(request), event.changes)
    reads = console_reads(request)
    for column in sorted(revealed):
        reads.note("AuditEvent", event.id, column)
    return changes


def changes_formatter(row: Any, name: str, request: Request) -> Markup:
    return changes_table(changes_shown(request, row))


def changes_line(row: Any, name: str, request: Request) -> str:
    """The before/after values in one line, for lists (the details page shows :func:`changes_table`)."""
    return changes_summary(changes_shown(request, row))


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
