"""The SDL's ``enum UserErrorCode`` is the catalogue: every code, each with its description, and the fields that
carry a code are typed with it (a generated client can switch on them)."""

from __future__ import annotations

from graphql import EnumTypeDefinitionNode, ObjectTypeDefinitionNode, parse, print_ast

from domain.error_catalogue import user_error_codes
from schema.app import schema

CODE_FIELDS = {"UserError", "ImportRowError", "EnrolmentRefusal", "RefusalReason"}


def _definitions() -> dict[str, object]:
    document = parse(schema.as_str())
    return {
        d.name.value: d
        for d in document.definitions
        if isinstance(d, EnumTypeDefinitionNode | ObjectTypeDefinitionNode)
    }


def test_the_enum_holds_every_catalogue_code_with_its_description() -> None:
    enum = _definitions()["UserErrorCode"]
    assert isinstance(enum, EnumTypeDefinitionNode)
    described = {v.name.value: v.description.value if v.description else "" for v in enum.values}
    assert described == {c.value: c.description for c in user_error_codes()}


def test_every_field_that_carries_a_code_is_typed_with_the_enum() -> None:
    definitions = _definitions()
    for name in CODE_FIELDS:
        node = definitions[name]
        assert isinstance(node, ObjectTypeDefinitionNode)
        code = next(f for f in node.fields if f.name.value == "code")
        assert print_ast(code.type) == "UserErrorCode!", name
