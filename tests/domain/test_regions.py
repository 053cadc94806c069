"""Region codes: parsing, level, ancestry, kota/kabupaten, containment and the placement columns."""

from __future__ import annotations

import pytest

from domain.regions.rules import InvalidRegionCode, RegionCode, RegionLevel, placement, placement_column_for

PROVINCE, REGENCY, DISTRICT, VILLAGE = "52", "52.71", "52.71.01", "52.71.01.1001"


@pytest.mark.parametrize(
    ("code", "level"),
    [
        (PROVINCE, RegionLevel.PROVINCE),
        ("11", RegionLevel.PROVINCE),
        (REGENCY, RegionLevel.REGENCY),
        ("52.01", RegionLevel.REGENCY),
        (DISTRICT, RegionLevel.DISTRICT),
        ("52.04.12", RegionLevel.DISTRICT),
        (VILLAGE, RegionLevel.VILLAGE),
        ("52.01.05.2003", RegionLevel.VILLAGE),
    ],
)
def test_parse_accepts_every_level(code: str, level: RegionLevel) -> None:
    rc = RegionCode.parse(code)
    assert rc.code == code
    assert rc.level is level


def test_parse_strips_surrounding_whitespace() -> None:
    assert RegionCode.parse("  52.71 \n").code == "52.71"


@pytest.mark.parametrize(
    "raw",
    [
        "",
        " ",
        "5",
        "521",
        "52.7",
        "52.711",
        "52.71.1",
        "52.71.001",
        "52.71.01.100",
        "52.71.01.10010",
        "52.71.01.1001.01",
        "52.",
        "52.71.",
        "52.71.01.",
        "52.71.01.1001.",
        ".52",
        "52..71",
        "5271",
        "52-71",
        "52 71",
        "52.7l",
        "NT",
        "ab.cd",
        "52.71.O1",
        "\u0665\u0662",  # Arabic-Indic "52"
        "52.\uff17\uff11",  # full-width "71"
        "52.71\n01",
    ],
)
def test_parse_refuses_what_is_not_a_code(raw: str) -> None:
    with pytest.raises(InvalidRegionCode, match="not a region code"):
        RegionCode.parse(raw)


@pytest.mark.parametrize(
    ("code", "parent"),
    [(PROVINCE, None), (REGENCY, PROVINCE), (DISTRICT, REGENCY), (VILLAGE, DISTRICT)],
)
def test_parent(code: str, parent: str | None) -> None:
    assert RegionCode.parse(code).parent == parent


@pytest.mark.parametrize(
    ("code", "ancestors"),
    [
        (PROVINCE, []),
        (REGENCY, [PROVINCE]),
        (DISTRICT, [PROVINCE, REGENCY]),
        (VILLAGE, [PROVINCE, REGENCY, DISTRICT]),
    ],
)
def test_ancestors_province_first(code: str, ancestors: list[str]) -> None:
    assert RegionCode.parse(code).ancestors == ancestors


@pytest.mark.parametrize(
    ("code", "province", "regency", "district"),
    [
        (PROVINCE, "52", None, None),
        (REGENCY, "52", REGENCY, None),
        (DISTRICT, "52", REGENCY, DISTRICT),
        (VILLAGE, "52", REGENCY, DISTRICT),
        ("11.01.02.2005", "11", "11.01", "11.01.02"),
    ],
)
def test_province_regency_district_properties(
    code: str, province: str, regency: str | None, district: str | None
) -> None:
    rc = RegionCode.parse(code)
    assert (rc.province, rc.regency, rc.district) == (province, regency, district)


@pytest.mark.parametrize(
    ("code", "digits"), [(PROVINCE, "52"), (REGENCY, "5271"), (DISTRICT, "527101"), (VILLAGE, "5271011001")]
)
def test_digits(code: str, digits: str) -> None:
    assert RegionCode.parse(code).digits == digits


@pytest.mark.parametrize("regency", ["52.71", "52.72", "52.80", "52.99", "31.74"])
def test_regency_part_71_to_99_is_a_kota(regency: str) -> None:
    assert RegionCode.parse(regency).is_city is True


@pytest.mark.parametrize(
    "regency", ["52.01", "52.02", "52.03", "52.04", "52.05", "52.06", "52.07", "52.08", "52.10", "52.69"]
)
def test_regency_part_01_to_69_is_a_kabupaten(regency: str) -> None:
    assert RegionCode.parse(regency).is_city is False


@pytest.mark.parametrize(
    ("code", "is_city"),
    [
        ("52.71.01", True),
        ("52.72.01.1001", True),
        ("52.01.01", False),
        ("52.01.01.2001", False),
    ],
)
def test_districts_and_villages_take_is_city_from_their_regency(code: str, is_city: bool) -> None:
    assert RegionCode.parse(code).is_city is is_city


def test_a_province_is_not_a_city() -> None:
    assert RegionCode.parse("52").is_city is False


@pytest.mark.parametrize(
    ("outer", "inner"),
    [
        (PROVINCE, PROVINCE),
        (PROVINCE, REGENCY),
        (PROVINCE, DISTRICT),
        (PROVINCE, VILLAGE),
        (REGENCY, REGENCY),
        (REGENCY, DISTRICT),
        (REGENCY, VILLAGE),
        (DISTRICT, DISTRICT),
        (DISTRICT, VILLAGE),
        (VILLAGE, VILLAGE),
    ],
)
def test_contains_itself_and_what_lies_below(outer: str, inner: str) -> None:
    assert RegionCode.parse(outer).contains(inner) is True


@pytest.mark.parametrize(
    ("outer", "other"),
    [
        (REGENCY, PROVINCE),  # above, not below
        (DISTRICT, REGENCY),
        (VILLAGE, DISTRICT),
        (PROVINCE, "53"),
        (PROVINCE, "53.71"),
        (PROVINCE, "5"),
        (REGENCY, "52.72"),
        (REGENCY, "52.72.01"),
        (REGENCY, "52.710"),  # shares a prefix, not an ancestor
        (REGENCY, "52.7"),
        (DISTRICT, "52.71.02.1001"),
        (DISTRICT, "52.71.011"),
        (VILLAGE, "52.71.01.1002"),
        ("52.01", "52.0"),
    ],
)
def test_does_not_contain_siblings_parents_or_prefix_lookalikes(outer: str, other: str) -> None:
    assert RegionCode.parse(outer).contains(other) is False


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (
            PROVINCE,
            {"region_code": "52", "province_code": "52", "regency_code": None, "district_code": None},
        ),
        (
            REGENCY,
            {"region_code": "52.71", "province_code": "52", "regency_code": "52.71", "district_code": None},
        ),
        (
            DISTRICT,
            {
                "region_code": "52.71.01",
                "province_code": "52",
                "regency_code": "52.71",
                "district_code": "52.71.01",
            },
        ),
        (
            VILLAGE,
            {
                "region_code": "52.71.01.1001",
                "province_code": "52",
                "regency_code": "52.71",
                "district_code": "52.71.01",
            },
        ),
    ],
)
def test_placement_fills_the_code_and_its_ancestors(code: str, expected: dict[str, str | None]) -> None:
    assert placement(code) == expected


def test_placement_normalises_whitespace() -> None:
    assert placement(" 52.71 ")["region_code"] == "52.71"


@pytest.mark.parametrize("raw", ["", "52.7", "52.71.", "Mataram"])
def test_placement_refuses_an_invalid_code(raw: str) -> None:
    with pytest.raises(InvalidRegionCode):
        placement(raw)


@pytest.mark.parametrize(
    ("level", "column"),
    [
        (RegionLevel.PROVINCE, "province_code"),
        (RegionLevel.REGENCY, "regency_code"),
        (RegionLevel.DISTRICT, "district_code"),
        (RegionLevel.VILLAGE, "region_code"),
    ],
)
def test_placement_column_for_each_level(level: RegionLevel, column: str) -> None:
    assert placement_column_for(level) == column


@pytest.mark.parametrize(
    "scope",
    [PROVINCE, REGENCY, DISTRICT, VILLAGE],
)
@pytest.mark.parametrize(
    "row",
    [PROVINCE, REGENCY, DISTRICT, VILLAGE, "52.71.02", "52.72.01.1001", "52.01", "53.71.01"],
)
def test_scoping_by_placement_column_agrees_with_contains(scope: str, row: str) -> None:
    """A row is in scope exactly when its placement column for the scope's level equals the scope's code."""
    rc = RegionCode.parse(scope)
    column = placement_column_for(rc.level)
    assert (placement(row)[column] == scope) is rc.contains(row)
