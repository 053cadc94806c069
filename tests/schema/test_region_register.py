"""A filter by region asks the Kemendagri register whether its code exists once per application, not per request.

``schema.regions.filters.region_filter`` tells a mistyped code (BAD_USER_INPUT) from a region outside the
caller's (no rows) by asking the register (``auth.policy.region_exists``). The application remembers the codes
it found (``Reader.region_in_register``): a repeated filter by the same region reads no register row again, on
every read path. A code not found is asked again on every request and refused every time. The statements that
read the register are recognised by their ``PUBLIC_REGISTER`` execution option, with SQLAlchemy's public
``before_cursor_execute`` event.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event

from auth.policy import PUBLIC_REGISTER
from tests.conftest import Served

pytestmark = pytest.mark.usefixtures("read_path")

PAGE = "query($r: String!) { participants(first: 2, filter: {regionCode: $r}) { totalCount } }"


class RegisterReads:
    """Statements that asked the register whether a code exists."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        compiled = getattr(context, "compiled", None)
        if compiled is not None and compiled.statement.get_execution_options().get(PUBLIC_REGISTER):
            self.count += 1


@pytest.fixture
def register_reads(served: Served) -> Iterator[RegisterReads]:
    reads = RegisterReads()
    event.listen(served.engine.sync_engine, "before_cursor_execute", reads)
    yield reads
    event.remove(served.engine.sync_engine, "before_cursor_execute", reads)


async def _ask(served: Served, caller: Any, code: str) -> dict[str, Any]:
    response = await served.client.post(
        "/graphql", json={"query": PAGE, "variables": {"r": code}}, headers=caller.headers
    )
    body: dict[str, Any] = response.json()
    return body


async def test_a_known_code_is_asked_once_and_an_unknown_one_every_time(
    served: Served, callers: dict[str, Any], register_reads: RegisterReads
) -> None:
    served.app.state.graphql.known_regions.clear()  # what earlier tests of this app found
    officer = callers["officer_5271"]
    first = await _ask(served, officer, "52.71")
    assert register_reads.count == 1
    again = [await _ask(served, officer, "52.71") for _ in range(3)]
    assert register_reads.count == 1, "a code found in the register is not asked again"
    assert all(body == first for body in again)
    assert first["data"]["participants"]["totalCount"] > 0
    # Outside the officer's region: no rows (the code exists), and asked once as well.
    outside = [await _ask(served, officer, "52.03") for _ in range(2)]
    assert register_reads.count == 2
    assert all(body == {"data": {"participants": {"totalCount": 0}}} for body in outside)
    # Well formed but in no register: refused, and asked again on each request (on the compiled paths more than
    # once: a refusal is handed on to the resolvers, which give it in their shape).
    for _ in range(2):
        before = register_reads.count
        refused = await _ask(served, officer, "52.99")
        assert refused["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", refused
        assert "52.99 does not exist" in refused["errors"][0]["message"]
        assert register_reads.count > before
