"""A participant's status: the lifecycle as stored, ACTIVE or INACTIVE as the ledger says today.

DECEASED and RETIRED are lifecycle states, stored in ``participants.status`` when they happen (a paid death
claim, retirement). A participant in neither is a member, and whether that member is ACTIVE or INACTIVE is
never stored as a fact: ACTIVE means contributions are paid through the current month (``paid_through``,
counted from the ledger, on or after the current month's last day), INACTIVE otherwise. The stored column
holds ACTIVE or INACTIVE for a member (as of its last recount), and that value means only "a member": every
read derives the status from ``paid_through`` and today's date (:mod:`domain.clock`), so nothing has to run
when a month turns.

One rule, three forms: :func:`derived_status` for a loaded row, :func:`status_sql` for a column of a query
(the compiled path's JSON statements), :func:`status_is` for a filter. The filter's form is an indexed
predicate: ``status`` (the lifecycle) and a range of ``paid_through``, both in
``ix_participants_status_paid_through``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ColumnElement, and_, case, literal, or_
from sqlalchemy.orm import QueryableAttribute

from domain.participants.models import Participant, ParticipantStatus
from domain.participants.months import month_end, month_number

#: A column of a query, or a mapped attribute standing for one.
Column = ColumnElement[Any] | QueryableAttribute[Any]

#: Stored lifecycle values of a member (neither deceased nor retired); which one is stored carries no meaning.
MEMBER = (ParticipantStatus.ACTIVE, ParticipantStatus.INACTIVE)


def paid_through_needed(today: dt.date) -> dt.date:
    """The last day of `today`'s month: a member paid through it (or later) is ACTIVE."""
    return month_end(month_number(today))


def derived_status(stored: ParticipantStatus, paid_through: dt.date | None, today: dt.date) -> ParticipantStatus:
    if stored not in MEMBER:
        return stored
    if paid_through is not None and paid_through >= paid_through_needed(today):
        return ParticipantStatus.ACTIVE
    return ParticipantStatus.INACTIVE


def status_sql(status: Column, paid_through: Column, today: dt.date) -> ColumnElement[Any]:
    """:func:`derived_status` as SQL over the row's `status` and `paid_through` columns (the stored values)."""
    member = status.in_([s.value for s in MEMBER])
    needed = literal(paid_through_needed(today), Participant.paid_through.type)
    return case(
        (and_(member, paid_through >= needed), literal(ParticipantStatus.ACTIVE.value)),
        (member, literal(ParticipantStatus.INACTIVE.value)),
        else_=status,
    )


def status_is(wanted: ParticipantStatus, today: dt.date) -> ColumnElement[bool]:
    """The participants whose derived status is `wanted`: the lifecycle column and a ``paid_through`` range."""
    p = Participant
    if wanted not in MEMBER:
        return p.status == wanted
    member = p.status.in_(MEMBER)
    needed = paid_through_needed(today)
    if wanted is ParticipantStatus.ACTIVE:
        return and_(member, p.paid_through >= needed)
    return and_(member, or_(p.paid_through < needed, p.paid_through.is_(None)))
