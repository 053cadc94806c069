"""The read side of a column, declared beside it: its API name, its description, its treatment as personal data.

A column that the API serves carries one :class:`ReadField` in SQLAlchemy's public ``Column.info`` dictionary
(``mapped_column(..., info=read_field(...))``). Everything that reads the column derives from it:
``auth.policy`` its personal-data rules (masked or withheld without ``pii:read``, the access log's field
name), ``schema`` the GraphQL field (name, description, the one generic path that notes a personal read),
and the compiled read path its leaf. Adding a served scalar is then one declaration here, and forgetting a
part of it is impossible rather than silent.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from sqlalchemy import ColumnElement, inspect

from domain.nik import mask_identifier, mask_identifier_sql


class Treatment(enum.StrEnum):
    """What happens to a personal value without ``pii:read``."""

    MASKED = "MASKED"  # identifiers: '5271**********01'; the column's Mask says how
    WITHHELD = "WITHHELD"  # birth dates, wages, wage-derived amounts: null in the API, "(hidden)" in the console


@dataclass(frozen=True, slots=True)
class Mask:
    """How a masked value is shown, in Python and, character for character, in SQL (PostgreSQL's JSON reads)."""

    python: Callable[[str], str]
    sql: Callable[[ColumnElement[str]], ColumnElement[str]]


#: Identity numbers (NIK, family card): the regency part and the last two digits.
IDENTIFIER = Mask(mask_identifier, mask_identifier_sql)


@dataclass(frozen=True, slots=True)
class ReadField:
    """How the API serves one column: its field name, its description, and what happens without ``pii:read``."""

    name: str
    description: str
    treatment: Treatment | None = None
    mask: Mask | None = None


#: The key of the declaration in ``Column.info`` (namespaced, so other users of ``info`` cannot collide).
INFO_KEY = "jamsos.read"


def read_field(name: str, description: str, *, masked: Mask | None = None, withheld: bool = False) -> dict[str, Any]:
    """``Column.info`` for a served column; `masked` or `withheld` when it is personal data (UU PDP)."""
    if masked is not None and withheld:
        raise ValueError(f"{name}: a personal column is either masked or withheld")
    treatment = Treatment.MASKED if masked is not None else Treatment.WITHHELD if withheld else None
    return {INFO_KEY: ReadField(name, description, treatment, masked)}


_DECLARED: dict[type[Any], Mapping[str, ReadField]] = {}


def read_fields(model: type[Any]) -> Mapping[str, ReadField]:
    """The served columns of `model` (attribute name → declaration), in the table's column order."""
    found = _DECLARED.get(model)
    if found is None:  # once per model: the resolvers ask for every row
        columns = inspect(model).columns.items()
        found = _DECLARED[model] = MappingProxyType({k: c.info[INFO_KEY] for k, c in columns if INFO_KEY in c.info})
    return found


__all__ = ["IDENTIFIER", "Mask", "ReadField", "Treatment", "read_field", "read_fields"]
