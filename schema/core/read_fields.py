"""GraphQL fields from the columns' own declarations (domain.read_fields), on the resolver path.

``column_field(Participant.nik)`` is the Strawberry field of a served column: its name and description as
declared, and, for personal data, the one generic step that notes the read for the access log
(:class:`NotesPersonalRead`). :func:`shown_columns` gives every served column of a row as the principal may
see it (``auth.policy.shown``), so a type's ``from_row`` names no column by hand. The compiled path derives
its leaves from the same declarations (schema.compiled.plan), so both paths serve, mask and log alike.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import strawberry
from sqlalchemy.orm import QueryableAttribute
from strawberry.extensions import FieldExtension

from auth.policy import logged_as, personal_columns, shown
from auth.principal import Principal
from domain.read_fields import read_fields


class NotesPersonalRead(FieldExtension):
    """Notes a personal value the response carries in full for the personal-data access log.

    The rule of both read paths (schema.compiled.run, sql_json.Finish): a personal field is logged when the
    caller holds ``pii:read`` (the object's ``pii_shown``) and the value is not null; masked and withheld
    values are never logged.
    """

    def __init__(self, typename: str, field_name: str) -> None:
        super().__init__()
        self.typename = typename
        self.field_name = field_name

    def resolve(self, next_: Callable[..., Any], source: Any, info: strawberry.Info, **kwargs: Any) -> Any:
        value = next_(source, info, **kwargs)
        if value is not None and source.pii_shown:
            info.context.note_pii_read(self.typename, source.id, self.field_name)
        return value


def column_field(attribute: QueryableAttribute[Any]) -> Any:
    """The Strawberry field of a served column, from its declaration (name, description, personal-data step).

    The object holding the field has the column's value as ``shown`` gives it under the attribute's name
    (:func:`shown_columns`), its row id as ``id`` and ``pii_shown``.
    """
    model, key = attribute.parent.class_, attribute.key
    declared = read_fields(model)[key]
    extensions: list[FieldExtension] = []
    if declared.treatment is not None:
        typename, field_name = logged_as(model, key)
        extensions.append(NotesPersonalRead(typename, field_name))
    return strawberry.field(name=declared.name, description=declared.description, extensions=extensions)


def shown_columns(principal: Principal, row: Any, *, program: str | None = None) -> dict[str, Any]:
    """Every served column of `row` (attribute name → value) as the principal may see it.

    `program` is the row's programme where its amounts reveal a wage on some programmes (a claim's).
    """
    model = type(row)
    personal = personal_columns(model, program)
    return {
        key: shown(principal, model, key, getattr(row, key), program) if key in personal else getattr(row, key)
        for key in read_fields(model)
    }


__all__ = ["NotesPersonalRead", "column_field", "shown_columns"]
