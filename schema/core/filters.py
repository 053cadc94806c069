"""Filter helpers shared by the list fields: conditions applied to a statement, name searches."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select

from schema.core.errors import BadInput


def apply(stmt: Select[Any], *clauses: ColumnElement[bool] | None) -> Select[Any]:
    for clause in clauses:
        if clause is not None:
            stmt = stmt.where(clause)
    return stmt


def name_search(column: Any, text: str | None, field: str) -> ColumnElement[bool] | None:
    """Case-insensitive substring match on a name; at least 3 characters so it stays selective."""
    if text is None:
        return None
    needle = text.strip()
    if len(needle) < 3:
        raise BadInput("a name search needs at least 3 characters", field=field)
    if len(needle) > 100:
        raise BadInput("a name search is at most 100 characters", field=field)
    escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    result: ColumnElement[bool] = column.ilike(f"%{escaped}%", escape="\\")
    return result
