"""Every string a caller sends as an argument is checked here, once, before any resolver or SQL sees it.

:class:`RefuseControlCharacters` looks at every string literal of the parsed document (per document), and the
pipeline's first per-request step (schema.core.pipeline) at every string in its variables (inside lists and
input objects too); both refuse NUL and the other C0/C1 control characters
(tab, line feed and carriage return excepted: notes and reasons have lines) with ``BAD_USER_INPUT`` naming
the character and where it was. PostgreSQL text cannot hold NUL at all (asyncpg refuses to bind it),
SQLite would store it silently, and an invisible character in a number or a name makes a different value
that matches nothing. (graphql-core refuses to redefine the ``String`` scalar, so this is a document check
rather than a scalar.)
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from typing import Any

from graphql import DocumentNode, Node, StringValueNode
from strawberry.extensions import SchemaExtension

from schema.core.errors import BadInput

_ALLOWED_CONTROLS = frozenset("\t\n\r")


def control_character(value: str) -> str | None:
    """The first control character of `value` that is not allowed, or None."""
    if value.isprintable():
        return None
    for character in value:
        if character not in _ALLOWED_CONTROLS and unicodedata.category(character) == "Cc":
            return character
    return None


def _refuse(character: str, where: str) -> BadInput:
    return BadInput(f"{where} contains the control character U+{ord(character):04X}; remove it", field=where)


def check_document(document: DocumentNode) -> None:
    """BadInput for the first string literal in `document` holding a control character (iterative walk)."""
    stack: list[Any] = [document]
    while stack:
        node = stack.pop()
        if isinstance(node, StringValueNode):
            if (character := control_character(node.value)) is not None:
                line = node.loc.start_token.line if node.loc else "?"
                raise _refuse(character, f"the string on line {line}")
            continue
        for key in getattr(node, "keys", ()):
            value = getattr(node, key, None)
            if isinstance(value, Node):
                stack.append(value)
            elif isinstance(value, tuple | list):
                stack.extend(v for v in value if isinstance(v, Node))


def check_variables(variables: Any) -> None:
    """BadInput for the first string in `variables` (any depth) holding a control character."""
    stack: list[tuple[Any, str]] = [(variables, "variables")]
    while stack:
        value, where = stack.pop()
        if isinstance(value, str):
            if (character := control_character(value)) is not None:
                raise _refuse(character, where)
        elif isinstance(value, dict):
            stack.extend((v, f"{where}.{k}") for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, f"{where}[{i}]") for i, v in enumerate(value))


class RefuseControlCharacters(SchemaExtension):
    """Runs :func:`check_document` right after parsing; :func:`check_variables` is a per-request step
    (schema.core.pipeline), so that the cached path for a repeated read runs it too."""

    def on_parse(self) -> Iterator[None]:
        yield
        document = self.execution_context.graphql_document
        if document is not None:
            check_document(document)


__all__ = ["RefuseControlCharacters", "check_document", "check_variables", "control_character"]
