"""A witness of the read chokepoint: every SELECT on a region-placed table carries the scoping predicate.

The predicate is what ``auth.policy.visible`` (through ``domain.regions.models.placed_within``) puts into a
statement: ``<placement column> = :region_scope``. :class:`ScopeGuard` listens on an engine, takes each
executed statement as SQLAlchemy compiled it, and records the placed tables a SELECT reads without such a
predicate on them. A query written by hand (``select(Participant).where(...)`` without ``visible``) is found
whatever entry point runs it.

It recognises the predicate only for a caller bound to a region: for a national caller ``visible`` is TRUE
and leaves no trace, so the tests that use the guard run as regional callers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql import visitors
from sqlalchemy.sql.elements import BinaryExpression, BindParameter, False_
from sqlalchemy.sql.selectable import Alias, Select

import domain.models  # noqa: F401  # every model mapped, so PLACED_TABLES sees them all
from auth.policy import PUBLIC_REGISTER
from domain.db import Base
from domain.regions.models import SCOPE_PARAMETER, THROUGH_LINK, is_placed

#: Tables whose rows belong to a place, read off the mapped models (a new placed model is covered unasked).
PLACED_TABLES = frozenset(m.class_.__table__.name for m in Base.registry.mappers if is_placed(m.class_))


def _table_name(element: Any) -> str | None:
    while isinstance(element, Alias):
        element = element.element
    return element.name if isinstance(element, Table) else None


def _always_false(clause: Any) -> bool:
    """Whether a WHERE clause was folded to FALSE (SQLAlchemy may wrap the constant as a boolean)."""
    return isinstance(clause, False_) or isinstance(getattr(clause, "element", None), False_)


def unscoped_tables(statement: Any, bind_names: dict[BindParameter[Any], str]) -> set[str]:
    """The placed tables `statement` reads with no scoping predicate on any of their columns."""
    read: set[str] = set()
    scoped: set[str] = set()
    for element in visitors.iterate(statement):
        name = _table_name(element)
        if name in PLACED_TABLES:
            read.add(name)
        if isinstance(element, Select) and _always_false(element.whereclause):
            # ``visible(...) AND false()`` folds to false(): a filter outside the caller's region reads nothing.
            scoped |= {n for f in element.get_final_froms() if (n := _table_name(f)) is not None}
        if (
            isinstance(element, BinaryExpression)
            and isinstance(element.right, BindParameter)
            and bind_names.get(element.right, "").startswith(SCOPE_PARAMETER)
        ):
            table = getattr(element.left, "table", None)
            scoped_name = _table_name(table)
            if scoped_name is not None:
                scoped.add(scoped_name)
    return read - scoped


@dataclass
class ScopeGuard:
    """Collects, per executed SELECT, the placed tables it read without the scoping predicate."""

    #: (SQL text, unscoped tables) of each offending statement.
    violations: list[tuple[str, set[str]]] = field(default_factory=list)
    #: How many SELECTs read a placed table at all (a guard that saw none proves nothing).
    placed_reads: int = 0
    #: Placed tables read in the statements the guard saw.
    tables_seen: set[str] = field(default_factory=set)

    def __call__(
        self, conn: Connection, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
    ) -> None:
        compiled = getattr(context, "compiled", None)
        if compiled is None or not isinstance(compiled.statement, Select):
            return  # text(), DDL, INSERT/UPDATE (writes load their target through load_visible first)
        if compiled.statement.get_execution_options().get(PUBLIC_REGISTER):
            return  # policy.region_exists: whether a code is in the public Kemendagri register
        read = {
            n for e in visitors.iterate(compiled.statement) if (n := _table_name(e)) is not None and n in PLACED_TABLES
        }
        if not read:
            return
        self.placed_reads += 1
        self.tables_seen |= read
        missing = unscoped_tables(compiled.statement, compiled.bind_names)
        missing -= set(compiled.statement.get_execution_options().get(THROUGH_LINK, ()))
        if missing:
            self.violations.append((statement, missing))

    def attach(self, engine: Engine) -> None:
        event.listen(engine, "before_cursor_execute", self)

    def detach(self, engine: Engine) -> None:
        event.remove(engine, "before_cursor_execute", self)

    def report(self) -> str:
        lines = [f"{len(self.violations)} statement(s) read a region-placed table without policy.visible:"]
        for sql, tables in self.violations[:10]:
            flat = " ".join(sql.split())
            lines.append(f"- {', '.join(sorted(tables))}: {flat[:80]} … {flat[-240:]}")
        return "\n".join(lines)
