"""The subgraph SDL is checked in as ``schema.graphql``: a schema change shows up in review, and rover and
routers can compose from the file. The SDL is public (ADR 0002): ``_service`` answers without a token.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import pytest

from schema.app import schema

SDL_FILE = Path(__file__).resolve().parents[2] / "schema.graphql"
REGENERATE = ".venv/bin/jamsos schema print > schema.graphql"


def test_checked_in_sdl_matches_the_code() -> None:
    expected = schema.as_str() + "\n"
    actual = SDL_FILE.read_text(encoding="utf-8") if SDL_FILE.exists() else ""
    if actual != expected:
        diff = difflib.unified_diff(
            actual.splitlines(), expected.splitlines(), "schema.graphql", "the code's SDL", lineterm="", n=1
        )
        shown = "\n".join(list(diff)[:60])
        pytest.fail(f"schema.graphql is not the code's SDL. Regenerate it with `{REGENERATE}` and review:\n{shown}")


async def test_service_sdl_needs_no_token(gql: Any) -> None:
    body = await gql("{ _service { sdl } }")
    assert "errors" not in body, body
    assert body["data"]["_service"]["sdl"] + "\n" == SDL_FILE.read_text(encoding="utf-8")
