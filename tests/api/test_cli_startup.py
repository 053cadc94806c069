"""The ``jamsos`` command line starts without the GraphQL libraries: most commands (users, imports, jobs,
reports) never build the schema, and every test and operator pays the start-up on each call."""

from __future__ import annotations

import subprocess
import sys

from tests.live import ROOT

_PROBE = (
    "import sys; import api.cli; api.cli.build_parser(); "
    "print(','.join(m for m in ('strawberry', 'graphql') if m in sys.modules))"
)


def test_the_parser_and_the_settings_load_without_strawberry_or_graphql_core() -> None:
    done = subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
        [sys.executable, "-c", _PROBE], cwd=ROOT, capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "", f"imported at start-up: {done.stdout.strip()}"
