"""The ``jamsos`` command line starts light: building its parser imports no command's implementation.

Every ``jamsos`` call builds the whole parser (``--help`` included) and the suite starts ``jamsos`` dozens of
times; most commands (users, imports, jobs, reports) never build the GraphQL schema, and none needs the libraries
of the others (Procrastinate for jobs, openpyxl for reports, joserfc for keys). ``api.cli_parser`` names each
subcommand's implementation and imports it only when that subcommand runs.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Iterator

from api.cli import build_parser
from api.cli_parser import ROLES, Command
from auth.scopes import Role
from tests.live import ROOT

# Libraries (and the project's heavier packages) that only a command's implementation may import.
_HEAVY = (
    "strawberry",
    "graphql",
    "sqlalchemy",
    "procrastinate",
    "openpyxl",
    "joserfc",
    "rich",
    "uvicorn",
    "starlette",
    "auth",
    "domain.db",
    "api.cli_identity",
    "api.cli_documents",
    "api.cli_import",
    "api.cli_jobs",
    "api.cli_report",
    "api.cli_contributions",
)

_PROBE = (
    "import sys; import api.cli; api.cli.build_parser().format_help(); "
    f"print(','.join(m for m in {_HEAVY!r} if m in sys.modules))"
)


def test_the_parser_imports_no_command_implementation() -> None:
    done = subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
        [sys.executable, "-c", _PROBE], cwd=ROOT, capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "", f"imported at start-up: {done.stdout.strip()}"


def _leaves(parser: argparse.ArgumentParser) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield parser.prog, parser
    for action in subs:
        for child in action.choices.values():
            yield from _leaves(child)


def test_every_subcommand_names_an_implementation_that_exists() -> None:
    """A typo in a (module, function) pair would otherwise show only when someone runs that subcommand."""
    leaves = dict(_leaves(build_parser()))
    assert len(leaves) >= 30
    for prog, parser in leaves.items():
        func = parser.get_default("func")
        assert callable(func), prog
        if isinstance(func, Command):
            assert callable(func.resolve()), prog


def test_the_role_choices_are_the_roles() -> None:
    """``token --role`` and ``users create --role`` list the roles without importing auth.scopes."""
    assert tuple(r.value for r in Role) == ROLES
