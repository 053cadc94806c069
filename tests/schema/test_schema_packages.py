"""The schema's package layout (docs/adr/0019-schema-packages.md): no import circle at import time, one
vocabulary of module names.

import-linter's layers contract (pyproject.toml) orders the families; the few fields that return an upper
family's type import it in the resolver. This test checks what the contract cannot: that no schema module,
schema.compiled included, imports another that imports it back while Python loads them (imports under
``if TYPE_CHECKING:`` and inside functions are not run then, so they are left out).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "schema"

#: The file names a family package may hold, beyond these: the participants' bulk mutations and ledger.
VOCABULARY = {"__init__.py", "types.py", "queries.py", "mutations.py", "filters.py", "read_model.py"}
EXTRA = {"participants": {"bulk_mutations.py", "contributions.py"}}
NOT_FAMILIES = {"core", "compiled"}


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    return "TYPE_CHECKING" in ast.unparse(node.test)


def _load_time_imports(tree: ast.Module) -> list[str]:
    """Modules imported when the module runs: its top-level statements, not functions or TYPE_CHECKING."""
    found: list[str] = []

    def visit(statements: list[ast.stmt]) -> None:
        for node in statements:
            if isinstance(node, ast.Import):
                found.extend(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.append(node.module)
                found.extend(f"{node.module}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.If):
                if not _is_type_checking(node):
                    visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
                for handler in node.handlers:
                    visit(handler.body)
                visit(node.orelse)
                visit(node.finalbody)
            elif isinstance(node, ast.ClassDef):
                visit(node.body)  # a class body runs at import time

    visit(tree.body)
    return found


def _graph() -> dict[str, set[str]]:
    modules = {_module(p): p for p in SCHEMA.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        imported = _load_time_imports(ast.parse(path.read_text(encoding="utf-8")))
        graph[name] = {m for m in imported if m in modules and m != name}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def test_the_reader_sees_the_schema_modules_imports() -> None:
    graph = _graph()
    assert "schema.core.context" in graph["schema.participants.types"]
    # Imported in the resolver (and under TYPE_CHECKING): not at import time.
    assert "schema.claims.queries" not in graph["schema.participants.types"]
    assert "schema.claims.types" not in graph["schema.participants.types"]


def test_a_circle_is_found() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_no_schema_module_imports_itself_back_at_import_time() -> None:
    found = _cycle(_graph())
    assert found is None, "import circle: " + " -> ".join(found or [])


def test_every_family_package_uses_the_one_vocabulary() -> None:
    families = [p for p in SCHEMA.iterdir() if (p / "__init__.py").exists() and p.name not in NOT_FAMILIES]
    assert {p.name for p in families} >= {"participants", "claims", "beneficiaries", "regions", "jobs", "stats"}
    for family in families:
        names = {p.name for p in family.glob("*.py")}
        unexpected = names - VOCABULARY - EXTRA.get(family.name, set())
        assert not unexpected, f"schema/{family.name}: {sorted(unexpected)} outside the vocabulary (ADR 0019)"
        assert "types.py" in names or "queries.py" in names, family.name
