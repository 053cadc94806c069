"""Every error code the service raises is a member of a catalogue (ADR 0014).

mypy refuses a free string where a code is typed; these tests close the rest: the catalogue's own rules, a scan
of the source for literals where a code goes (as a call's code argument, as an ``extensions`` code, compared with
a ``.code``), and the
runtime refusal of a string where a code is stored.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import domain
from domain.beneficiaries.batch_enrolment import Refusal
from domain.beneficiaries.imports import _RowChecker
from domain.codes import Code, ErrorCode, UserErrorCode
from domain.error_catalogue import FAMILIES, UnknownCode, gather, user_error_code, user_error_codes
from domain.imports.cells import CellProblem, identifier
from domain.imports.codes import ImportCode
from domain.imports.reading import FileRefused
from domain.imports.report import RowError
from domain.writes.codes import WriteCode
from domain.writes.errors import Problem, invalid
from schema.beneficiaries.mutations import EnrolmentRefusal
from schema.core.uploads import ImportRowError, RefusalReason
from schema.core.writes import UserError

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("domain", "schema", "admin", "api", "auth")

#: Everything that takes an error code: the scan checks the argument that lands in their ``code`` parameter.
CODE_TAKERS: tuple[Callable[..., Any], ...] = (
    Problem,
    invalid,
    CellProblem,
    FileRefused,
    RowError,
    Refusal,
    _RowChecker._problem,
    UserError,
    ImportRowError,
    EnrolmentRefusal,
    RefusalReason,
)


def _code_position(taker: Callable[..., Any]) -> int:
    names = list(inspect.signature(taker).parameters)
    if names[0] == "self":  # a method: called as self._problem(...), without self
        names = names[1:]
    return names.index("code")


_CODE = re.compile(r"^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$")
CODE_SLOTS = {t.__name__: _code_position(t) for t in CODE_TAKERS}


def _literal_in(node: ast.AST) -> bool:
    """Whether `node` builds a string of its own: a literal, an f-string, a concatenation, a choice of them."""
    return any(
        isinstance(n, ast.JoinedStr) or (isinstance(n, ast.Constant) and isinstance(n.value, str))
        for n in ast.walk(node)
    )


def _code_like(node: ast.AST) -> bool:
    """A literal that reads like a code (``"REQUIRED"``, or a tuple of such), unlike a region code ``"52.71"``."""
    items = node.elts if isinstance(node, ast.Tuple | ast.List | ast.Set) else [node]
    return any(isinstance(i, ast.Constant) and isinstance(i.value, str) and _CODE.match(i.value) for i in items)


def _callee(call: ast.Call) -> str | None:
    f = call.func
    return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None


def _code_of_dict(node: ast.AST) -> ast.AST | None:
    if isinstance(node, ast.Dict):
        for key, value in zip(node.keys, node.values, strict=True):
            if isinstance(key, ast.Constant) and key.value == "code":
                return value
    return None


def _extensions(tree: ast.AST) -> Iterator[ast.AST]:
    """Every dict given as a GraphQL error's extensions: assigned to ``extensions``, passed as ``extensions=``,
    or under an ``"extensions"`` key of a response body."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = [
                t.id if isinstance(t, ast.Name) else t.attr if isinstance(t, ast.Attribute) else "" for t in targets
            ]
            if "extensions" in names and node.value is not None:
                yield node.value
        elif isinstance(node, ast.keyword) and node.arg == "extensions":
            yield node.value
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "extensions":
                    yield value


def free_codes(source: str, filename: str = "<source>") -> list[str]:
    """Where `source` writes an error code as a string instead of a catalogue member ("file:line what")."""
    tree = ast.parse(source, filename)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and (name := _callee(node)) in CODE_SLOTS:
            position = CODE_SLOTS[name]
            slot = node.args[position] if len(node.args) > position else None
            slot = next((k.value for k in node.keywords if k.arg == "code"), slot)
            if slot is not None and _literal_in(slot):
                found.append(f"{filename}:{node.lineno} {name}(…) gets the code {ast.unparse(slot)}")
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if any(isinstance(x, ast.Attribute) and x.attr == "code" for x in sides) and any(map(_code_like, sides)):
                found.append(f"{filename}:{node.lineno} compares a code with a string: {ast.unparse(node)}")
    for value in _extensions(tree):
        code = _code_of_dict(value)
        if code is not None and _literal_in(code):
            found.append(f"{filename}:{value.lineno} extensions code {ast.unparse(code)}")
    return found


def _sources() -> Iterator[Path]:
    for package in SCANNED:
        yield from sorted((ROOT / package).rglob("*.py"))


def test_no_code_is_written_as_a_string_anywhere() -> None:
    found = [
        f for path in _sources() for f in free_codes(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    ]
    assert not found, "codes must be catalogue members (domain/error_catalogue.py, domain/codes.py):\n" + "\n".join(
        found
    )


@pytest.mark.parametrize(
    "snippet",
    [
        'Problem("nik", "INVALID_NIK", "bad")',
        'Problem("nik", code="INVALID_NIK", message="bad")',
        'raise invalid(None, "NO_CHANGE", "nothing")',
        'CellProblem("INVALID_" + label, "bad")',
        'raise FileRefused(f"{kind}_TOO_LARGE", "big")',
        'RowError(2, "nik", "", "REQUIRED" if x else "INVALID", "m")',
        'self._problem(row, "nik", raw, "INVALID_NIK", "m")',
        'UserError(field=None, code="X", message="m")',
        'class E(Exception):\n    extensions = {"code": "FORBIDDEN"}',
        'self.extensions: dict[str, Any] = {"code": "BAD_USER_INPUT"}',
        'GraphQLError("m", extensions={"code": "QUERY_TOO_COMPLEX", "limit": "tokens"})',
        'body = {"errors": [{"message": m, "extensions": {"code": "UNAUTHENTICATED"}}]}',
        'kept = [p for p in problems if p.code != "REQUIRED"]',
        'if exc.code in ("EMPTY_FILE", "NO_ROWS"): pass',
    ],
)
def test_the_scan_finds_a_string_code(snippet: str) -> None:
    assert len(free_codes(snippet)) == 1, snippet


@pytest.mark.parametrize(
    "snippet",
    [
        'Problem("nik", WriteCode.INVALID_NIK, f"NIK {nik} is bad")',
        "RowError(exc.row, None, None, exc.code, str(exc))",
        'extensions = {"code": ErrorCode.FORBIDDEN.value, "limit": "tokens"}',
        '{"Region": {"id": "code", "code": "code"}}',  # a column map, not an error
        "kept = [p for p in problems if p.code is not WriteCode.REQUIRED]",
        'inside = region.code == "52.71"',  # a region's code, not an error code
    ],
)
def test_the_scan_passes_members_and_other_dicts(snippet: str) -> None:
    assert free_codes(snippet) == []


def test_every_family_in_the_domain_is_gathered() -> None:
    for module in pkgutil.walk_packages(domain.__path__, "domain."):
        importlib.import_module(module.name)

    def leaves(base: type[Code]) -> set[type[Code]]:
        subs = set(base.__subclasses__())
        return subs | {leaf for sub in subs for leaf in leaves(sub)}

    declared = {family for family in leaves(UserErrorCode) if family.__module__.startswith("domain.")}
    assert declared == set(FAMILIES), "list every family in domain.error_catalogue.FAMILIES"


def test_a_code_is_its_own_name_has_a_description_and_one_family() -> None:
    for code in [*user_error_codes(), *ErrorCode]:
        assert code.value == code.name
        assert code.description.strip().endswith("."), code
    assert len(user_error_codes()) == sum(len(f) for f in FAMILIES)


def test_a_code_declared_by_two_families_is_refused() -> None:
    class Again(UserErrorCode):
        REQUIRED = "REQUIRED", "Declared a second time."

    with pytest.raises(ValueError, match="REQUIRED is declared by WriteCode and Again"):
        gather((WriteCode, Again))


def test_a_member_whose_string_is_not_its_name_is_refused() -> None:
    class Renamed(UserErrorCode):
        NEW_NAME = "OLD_NAME", "The string clients know, under another name."

    with pytest.raises(ValueError, match="a code is its own name"):
        gather((Renamed,))


def test_strings_from_outside_are_looked_up_in_the_catalogue() -> None:
    assert user_error_code("INVALID_NIK") is WriteCode.INVALID_NIK
    assert user_error_code("NIK_STORED_AS_NUMBER") is ImportCode.NIK_STORED_AS_NUMBER
    for unknown in ("invalid_nik", "NOT_A_CODE", "", "FORBIDDEN", "INVALID_NIK "):
        with pytest.raises(UnknownCode):
            user_error_code(unknown)


def test_a_problem_or_a_report_row_refuses_a_string_code() -> None:
    with pytest.raises(TypeError, match="not a UserErrorCode member"):
        Problem("nik", "INVALID_NIK", "a string, not a member")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not a UserErrorCode member"):
        RowError(2, "nik", "", "REQUIRED", "a string, not a member")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not a UserErrorCode member"):
        Problem(None, ErrorCode.FORBIDDEN, "a request's code is no user error")  # type: ignore[arg-type]


def test_codes_are_the_same_strings_in_every_output() -> None:
    """CSV reports, JSON and templates write a member as the bare string clients always got."""
    import csv
    import io
    import json

    out = io.StringIO()
    csv.writer(out).writerow([ImportCode.INVALID_DATE])
    assert out.getvalue().strip() == "INVALID_DATE"
    assert json.dumps({"code": WriteCode.REQUIRED}) == '{"code": "REQUIRED"}'
    assert f"{WriteCode.REQUIRED}" == str(WriteCode.REQUIRED) == "REQUIRED"


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (5271011705900123, ImportCode.NIK_STORED_AS_NUMBER),
        ("52710117059", WriteCode.INVALID_NIK),
        (True, WriteCode.INVALID_NIK),
    ],
)
def test_an_identifier_cell_names_the_codes_it_was_given(value: object, code: UserErrorCode) -> None:
    with pytest.raises(CellProblem) as refused:
        identifier(value, "NIK", 16, invalid=WriteCode.INVALID_NIK, as_number=ImportCode.NIK_STORED_AS_NUMBER)
    assert refused.value.code is code
