"""Which segment may hold which programme: the table, program_problems and the generated SQL check."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text

from domain.participants.rules import (
    SEGMENT_PROGRAMS,
    SEGMENT_REQUIRED,
    Program,
    Segment,
    program_problems,
    segment_program_check_sql,
)

JKK, JKM, JHT, JP, JKP = Program.JKK, Program.JKM, Program.JHT, Program.JP, Program.JKP

#: docs/domain.md, "Participants": PU JKK, JKM, JHT, JP, JKP; BPU JKK, JKM (JHT optional);
#: PMI JKK, JKM (JHT optional); JAKON JKK, JKM.
EXPECTED = {
    Segment.PU: {JKK, JKM, JHT, JP, JKP},
    Segment.BPU: {JKK, JKM, JHT},
    Segment.PMI: {JKK, JKM, JHT},
    Segment.JAKON: {JKK, JKM},
}

ALL_PAIRS = list(itertools.product(Segment, Program))


def test_segment_programs_match_the_domain() -> None:
    assert SEGMENT_PROGRAMS == EXPECTED


def test_every_segment_has_rules() -> None:
    assert set(SEGMENT_PROGRAMS) == set(Segment)
    assert set(SEGMENT_REQUIRED) == set(Segment)


@pytest.mark.parametrize("segment", list(Segment))
def test_required_programmes_are_allowed_ones(segment: Segment) -> None:
    assert SEGMENT_REQUIRED[segment] <= SEGMENT_PROGRAMS[segment]
    assert {JKK, JKM} <= SEGMENT_REQUIRED[segment]


@pytest.mark.parametrize(("program"), [JP, JKP])
def test_pension_and_job_loss_are_pu_only(program: Program) -> None:
    assert [s for s in Segment if program in SEGMENT_PROGRAMS[s]] == [Segment.PU]


@pytest.mark.parametrize(
    ("segment", "programs"),
    [
        (Segment.PU, {JKK, JKM}),
        (Segment.PU, {JKK, JKM, JHT}),
        (Segment.PU, {JKK, JKM, JHT, JP}),
        (Segment.PU, {JKK, JKM, JHT, JP, JKP}),
        (Segment.BPU, {JKK, JKM}),
        (Segment.BPU, {JKK, JKM, JHT}),
        (Segment.PMI, {JKK, JKM}),
        (Segment.PMI, {JKK, JKM, JHT}),
        (Segment.JAKON, {JKK, JKM}),
    ],
)
def test_allowed_enrolments_have_no_problems(segment: Segment, programs: set[Program]) -> None:
    assert program_problems(segment, programs) == []


@pytest.mark.parametrize(
    ("segment", "programs", "refused"),
    [
        (Segment.BPU, {JKK, JKM, JP}, "JP"),
        (Segment.BPU, {JKK, JKM, JKP}, "JKP"),
        (Segment.BPU, {JKK, JKM, JHT, JP, JKP}, "JKP, JP"),
        (Segment.PMI, {JKK, JKM, JKP}, "JKP"),
        (Segment.PMI, {JKK, JKM, JP}, "JP"),
        (Segment.JAKON, {JKK, JKM, JHT}, "JHT"),
        (Segment.JAKON, {JKK, JKM, JP}, "JP"),
        (Segment.JAKON, {JKK, JKM, JKP}, "JKP"),
        (Segment.JAKON, {JKK, JKM, JHT, JP, JKP}, "JHT, JKP, JP"),
    ],
)
def test_disallowed_programmes_are_refused(segment: Segment, programs: set[Program], refused: str) -> None:
    problems = program_problems(segment, programs)
    assert len(problems) == 1
    assert f"segment {segment.value} cannot hold {refused};" in problems[0]
    assert f"it may hold {', '.join(sorted(EXPECTED[segment]))}" in problems[0]


@pytest.mark.parametrize(
    ("segment", "programs", "missing"),
    [
        (Segment.PU, set(), "JKK, JKM"),
        (Segment.PU, {JHT, JP}, "JKK, JKM"),
        (Segment.PU, {JKK, JHT}, "JKM"),
        (Segment.BPU, {JKK}, "JKM"),
        (Segment.BPU, {JKM, JHT}, "JKK"),
        (Segment.PMI, {JHT}, "JKK, JKM"),
        (Segment.PMI, {JKM}, "JKK"),
        (Segment.JAKON, {JKK}, "JKM"),
        (Segment.JAKON, set(), "JKK, JKM"),
    ],
)
def test_missing_required_are_reported(segment: Segment, programs: set[Program], missing: str) -> None:
    assert program_problems(segment, programs) == [f"segment {segment.value} must hold {missing}"]


@pytest.mark.parametrize(
    ("segment", "programs"),
    [(Segment.JAKON, {JHT}), (Segment.BPU, {JP}), (Segment.PMI, {JKK, JKP})],
)
def test_disallowed_and_missing_are_both_reported(segment: Segment, programs: set[Program]) -> None:
    problems = program_problems(segment, programs)
    assert len(problems) == 2
    assert "cannot hold" in problems[0]
    assert "must hold" in problems[1]


@pytest.mark.parametrize(("segment", "program"), ALL_PAIRS)
def test_program_problems_agree_with_the_table_for_every_pair(segment: Segment, program: Program) -> None:
    refused = any("cannot hold" in p for p in program_problems(segment, {JKK, JKM, program}))
    assert refused is (program not in EXPECTED[segment])


# --- the generated SQL check -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sqlite() -> Iterator[Engine]:
    engine = create_engine("sqlite://")
    yield engine
    engine.dispose()


def allowed_by_sql(engine: Engine, segment: str, program: str) -> int:
    query = text(
        f"SELECT CASE WHEN ({segment_program_check_sql()}) THEN 1 ELSE 0 END "  # noqa: S608 - generated from enums
        "FROM (SELECT :segment AS segment, :program AS program)"
    )
    with engine.connect() as conn:
        return conn.execute(query, {"segment": segment, "program": program}).scalar_one()


@pytest.mark.parametrize(("segment", "program"), ALL_PAIRS)
def test_sql_check_agrees_with_segment_programs(sqlite: Engine, segment: Segment, program: Program) -> None:
    expected = 1 if program in EXPECTED[segment] else 0
    assert allowed_by_sql(sqlite, segment.value, program.value) == expected


@pytest.mark.parametrize(
    ("segment", "program"),
    [("XX", "JKK"), ("PU", "XX"), ("pu", "JKK"), ("PU", "jkk"), ("", ""), ("BPU ", "JKK")],
)
def test_sql_check_refuses_unknown_values(sqlite: Engine, segment: str, program: str) -> None:
    assert allowed_by_sql(sqlite, segment, program) == 0


def test_sql_check_names_every_segment_and_program() -> None:
    sql = segment_program_check_sql()
    for value in [*Segment, *Program]:
        assert f"'{value.value}'" in sql
