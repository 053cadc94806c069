"""One list of per-request steps (schema.core.pipeline) for every read path.

A check added to ``STEPS`` in that one place runs on every operation: through Strawberry's pipeline and on
the cached path that answers a repeated compiled read (api.fast_reads), where it sees the same variables
and cost, and where its refusal is answered exactly as the pipeline answers it.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette

from schema.core import pipeline
from schema.core.errors import BadInput
from schema.core.pipeline import Operation

pytestmark = pytest.mark.usefixtures("compiled_path_on")

ROOT = Path(__file__).parents[2]

LOOKUP = """query Lookup($m: String!) {
  participant(membershipNumber: $m) { membershipNumber fullName region { name }
    claims(first: 10) { edges { node { claimNumber status } } } }
}"""


class DummyCheck:
    """A new per-request check, as a later change would add one: it records what it saw, refuses on demand."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, Any], int]] = []
        self.refuse = False

    async def before(self, operation: Operation) -> None:
        self.seen.append(("before", operation.variables, operation.cost))
        if self.refuse:
            raise BadInput("the dummy check refuses this request", field="variables.m")

    async def after(self, operation: Operation) -> None:
        self.seen.append(("after", operation.variables, operation.cost))


@pytest.fixture
def dummy(monkeypatch: pytest.MonkeyPatch) -> DummyCheck:
    check = DummyCheck()
    monkeypatch.setattr(pipeline, "STEPS", [*pipeline.STEPS, check])
    return check


async def _readied(gql: Any, app: Starlette, caller: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Variables for LOOKUP and the full pipeline's answer to them, which readies the cached path."""
    body = await gql("{ participants(first: 1) { edges { node { membershipNumber } } } }", None, caller)
    variables = {"m": body["data"]["participants"]["edges"][0]["node"]["membershipNumber"]}
    app.state.graphql.ready.clear()
    return variables, await gql(LOOKUP, variables, caller)


async def test_a_new_step_runs_on_a_repeated_compiled_read(
    gql: Any, app: Starlette, callers: dict[str, Any], dummy: DummyCheck
) -> None:
    caller, graphql_app = callers["admin"], app.state.graphql
    variables, first = await _readied(gql, app, caller)
    dummy.seen.clear()
    answered = graphql_app.counters.fast_answered
    repeat = await gql(LOOKUP, variables, caller)
    assert graphql_app.counters.fast_answered == answered + 1, "the cached path answered the repeat"
    assert repeat == first
    assert [when for when, _, _ in dummy.seen] == ["before", "after"]
    assert all(seen == variables and cost > 0 for _, seen, cost in dummy.seen)


async def test_a_new_steps_refusal_is_the_same_on_both_paths(
    gql: Any, app: Starlette, callers: dict[str, Any], dummy: DummyCheck
) -> None:
    caller, graphql_app = callers["admin"], app.state.graphql
    variables, _ = await _readied(gql, app, caller)
    dummy.refuse, handed_on = True, graphql_app.counters.fast_handed_on
    dummy.seen.clear()
    cached = await gql(LOOKUP, variables, caller, status=200)
    assert graphql_app.counters.fast_handed_on == handed_on, "the cached path answered the refusal itself"
    graphql_app.ready.clear()
    full = await gql(LOOKUP, variables, caller, status=200)
    assert cached == full
    assert full["data"] is None
    assert full["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert [when for when, _, _ in dummy.seen] == ["before", "before"]  # once per request; nothing executed


def _called_names(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            func = node.func
            names.add(func.id if isinstance(func, ast.Name) else getattr(func, "attr", ""))
    return names


def test_the_per_request_checks_live_in_the_pipeline_only() -> None:
    """Nothing re-implements a step by hand: its function is called from schema/core/pipeline.py (and a
    subscription's events write the access log per event, schema/core/subscriptions.py), nowhere else."""
    allowed = {
        "check_variables": {"schema/core/pipeline.py"},
        "write_access_log": {"schema/core/pipeline.py", "schema/core/subscriptions.py"},
        "RateLimited": {"schema/core/pipeline.py"},
    }
    found: dict[str, set[str]] = {name: set() for name in allowed}
    for package in ("api", "schema", "auth", "domain"):
        for path in (ROOT / package).rglob("*.py"):
            called = _called_names(path)
            for name in allowed:
                if name in called:
                    found[name].add(str(path.relative_to(ROOT)))
    assert found == allowed
