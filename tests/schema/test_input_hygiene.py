"""NUL and other control characters are refused on every string argument, in one place, before any SQL.

PostgreSQL cannot store NUL (asyncpg refused to bind it and the request ended as INTERNAL_SERVER_ERROR);
these run on both databases (the suite's ``backend`` parameter) and expect BAD_USER_INPUT.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from domain.audit.models import AuditEvent
from domain.participants.models import Participant
from schema.core.input_text import control_character
from tests.conftest import GQL, Caller

LOOKUPS = [
    ("participant", "query($v: String!) { participant(membershipNumber: $v) { id } }", {}),
    ("claim", "query($v: String!) { claim(claimNumber: $v) { id } }", {}),
    ("nameContains", "query($v: String!) { participants(filter: {nameContains: $v}) { totalCount } }", {}),
    ("auditEvents", "query($v: String!) { auditEvents(filter: {actorSubject: $v}) { totalCount } }", {}),
    ("region", "query($v: String!) { region(code: $v) { name } }", {}),
]


@pytest.mark.parametrize("bad", ["abc\x00def", "abc\x07", "\x1b[31mred", "x\x85y"], ids=["nul", "bell", "escape", "c1"])
@pytest.mark.parametrize(("name", "query", "extra"), LOOKUPS, ids=[n for n, _, _ in LOOKUPS])
async def test_variables_with_control_characters_are_bad_input(
    gql: GQL, callers: dict[str, Caller], name: str, query: str, extra: dict[str, Any], bad: str
) -> None:
    body = await gql(query, {"v": bad, **extra}, caller=callers["admin"])
    assert body["data"] is None
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert error["extensions"]["field"] == "variables.v"
    assert "U+00" in error["message"]


@pytest.mark.parametrize(
    "query",
    [
        '{ participant(membershipNumber: "ab\\u0000c") { id } }',
        '{ claim(claimNumber: "\\u0000") { id } }',
        '{ participants(filter: {nameContains: "Bud\\u0000i"}) { totalCount } }',
        '{ auditEvents(filter: {action: "claim.\\u0000"}) { totalCount } }',
    ],
)
async def test_literals_with_nul_are_bad_input(gql: GQL, callers: dict[str, Caller], query: str) -> None:
    body = await gql(query, caller=callers["admin"])
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"]


async def test_strings_inside_input_objects_and_lists_are_checked(gql: GQL, callers: dict[str, Caller]) -> None:
    query = "mutation($input: RegisterParticipantInput!) { registerParticipant(input: $input) { errors { code } } }"
    body = await gql(query, {"input": {"fullName": "Budi", "programs": ["JKK\x00"]}}, caller=callers["admin"])
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == "variables.input.programs[0]"


async def test_a_registration_with_nul_writes_nothing(writes: Any, staff: dict[str, Any]) -> None:
    async def counts() -> tuple[int, int]:
        async with writes.engine.connect() as conn:
            participants = (await conn.execute(select(func.count()).select_from(Participant))).scalar_one()
            events = (await conn.execute(select(func.count()).select_from(AuditEvent))).scalar_one()
        return participants, events

    before = await counts()
    query = "mutation($input: RegisterParticipantInput!) { registerParticipant(input: $input) { errors { code } } }"
    body = await writes.gql(query, {"input": {"fullName": "Budi\x00"}}, staff["verifier"])
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"]
    assert await counts() == before


def test_tabs_and_newlines_are_text() -> None:
    assert control_character("line one\nline two\twith a tab\r\n") is None
    assert control_character("Budi Santoso") is None
    assert control_character("a\x00") == "\x00"
