"""NIK rules: shape, sex from the day, real dates, century inference, consistency, building and masking."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from domain.nik import NIK, InvalidNIK, Sex, build_nik, check_consistency, mask_identifier, parse_nik

TODAY = dt.date(2025, 6, 15)

# 52.71.01 (Ampenan, Kota Mataram), born 12-03-1990, serial 0001.
MALE = "5271011203900001"
FEMALE = "5271015203900001"  # same person's date with day + 40


def nik(district: str = "527101", day: int = 12, month: int = 3, yy: int = 90, serial: str = "0001") -> str:
    return f"{district}{day:02d}{month:02d}{yy:02d}{serial}"


def parse(raw: str) -> NIK:
    return parse_nik(raw, today=TODAY)


# --- valid shape ---------------------------------------------------------------------------------------


def test_parses_every_part_of_a_male_nik() -> None:
    parsed = parse(MALE)
    assert parsed == NIK(
        value=MALE, district_code="52.71.01", birth_date=dt.date(1990, 3, 12), sex=Sex.M, serial="0001"
    )
    assert parsed.province_code == "52"


def test_parses_every_part_of_a_female_nik() -> None:
    parsed = parse(FEMALE)
    assert parsed.sex is Sex.F
    assert parsed.birth_date == dt.date(1990, 3, 12)
    assert parsed.district_code == "52.71.01"
    assert parsed.value == FEMALE


def test_surrounding_whitespace_is_stripped() -> None:
    assert parse(f"  {MALE}\n").value == MALE


@pytest.mark.parametrize("day", range(1, 32))
def test_day_01_to_31_is_a_man(day: int) -> None:
    parsed = parse(nik(day=day, month=1))
    assert parsed.sex is Sex.M
    assert parsed.birth_date == dt.date(1990, 1, day)


@pytest.mark.parametrize("day", range(41, 72))
def test_day_41_to_71_is_a_woman_born_on_day_minus_40(day: int) -> None:
    parsed = parse(nik(day=day, month=1))
    assert parsed.sex is Sex.F
    assert parsed.birth_date == dt.date(1990, 1, day - 40)


@pytest.mark.parametrize("month", range(1, 13))
def test_months_01_to_12_are_valid(month: int) -> None:
    assert parse(nik(day=1, month=month)).birth_date.month == month


@pytest.mark.parametrize("serial", ["0001", "0010", "1234", "9999"])
def test_serials_from_0001_are_valid(serial: str) -> None:
    assert parse(nik(serial=serial)).serial == serial


# --- invalid shape -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "52710112039000O1",  # letter O for zero
        "5271O11203900001",
        "52.71.01.120390.0001",
        "5271-0112-0390-0001",
        "52710112039000 1",  # inner space
        "+527101120390001",
        "-527101120390001",
        "5271011203\uff1900001",  # full-width digit nine
        MALE.translate({ord("0") + i: 0x0660 + i for i in range(10)}),  # 16 Arabic-Indic digits
        "527101120390000\u00b2",  # superscript two: str.isdigit() is True for it
    ],
)
def test_non_digits_are_refused(raw: str) -> None:
    with pytest.raises(InvalidNIK, match="digits only"):
        parse(raw)


def test_non_string_is_refused() -> None:
    with pytest.raises(InvalidNIK, match="digits only"):
        parse_nik(5271011203900001, today=TODAY)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "count"),
    [
        (MALE[:15], 15),
        (MALE + "1", 17),
        (MALE[:1], 1),
        (MALE * 2, 32),
    ],
)
def test_wrong_length_is_refused(raw: str, count: int) -> None:
    with pytest.raises(InvalidNIK, match=f"has {count} digits; a NIK has 16"):
        parse(raw)


@pytest.mark.parametrize("district", ["007101", "520001", "527100", "000000"])
def test_a_00_part_in_the_district_code_is_refused(district: str) -> None:
    with pytest.raises(InvalidNIK, match="not a district code"):
        parse(nik(district=district))


@pytest.mark.parametrize("day", [0, *range(32, 41), *range(72, 100)])
def test_day_00_32_to_40_and_72_up_are_refused(day: int) -> None:
    with pytest.raises(InvalidNIK, match=f"has day {day:02d}"):
        parse(nik(day=day))


@pytest.mark.parametrize("month", [0, 13, 19, 20, 99])
@pytest.mark.parametrize("sex_offset", [0, 40])
def test_month_outside_01_to_12_is_refused(month: int, sex_offset: int) -> None:
    with pytest.raises(InvalidNIK, match=f"has month {month:02d}"):
        parse(nik(day=10 + sex_offset, month=month))


def test_serial_0000_is_refused() -> None:
    with pytest.raises(InvalidNIK, match="serial 0000"):
        parse(nik(serial="0000"))


@pytest.mark.parametrize("sex_offset", [0, 40], ids=["male", "female"])
@pytest.mark.parametrize(
    ("day", "month", "yy"),
    [
        (31, 2, 90),
        (30, 2, 90),
        (29, 2, 90),  # 1990 is not a leap year
        (29, 2, 23),  # 2023 is not a leap year
        (29, 2, 99),
        (31, 4, 90),
        (31, 6, 90),
        (31, 9, 90),
        (31, 11, 90),
    ],
)
def test_impossible_dates_are_refused(day: int, month: int, yy: int, sex_offset: int) -> None:
    with pytest.raises(InvalidNIK, match="which is not a date"):
        parse(nik(day=day + sex_offset, month=month, yy=yy))


@pytest.mark.parametrize("sex_offset", [0, 40], ids=["male", "female"])
@pytest.mark.parametrize(("yy", "year"), [(24, 2024), (0, 2000), (96, 1996), (88, 1988)])
def test_29_february_in_a_leap_year_is_valid(yy: int, year: int, sex_offset: int) -> None:
    assert parse(nik(day=29 + sex_offset, month=2, yy=yy)).birth_date == dt.date(year, 2, 29)


@pytest.mark.parametrize("sex_offset", [0, 40], ids=["male", "female"])
def test_29_february_00_is_refused_when_2000_is_still_in_the_future(sex_offset: int) -> None:
    # Early in 2000 a 29-02-00 birth cannot be 2000 (future) and 1900 was not a leap year.
    with pytest.raises(InvalidNIK, match="which is not a date"):
        parse_nik(nik(day=29 + sex_offset, month=2, yy=0), today=dt.date(2000, 1, 15))


# --- century inference ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "month", "yy", "today", "expected"),
    [
        (15, 6, 25, TODAY, dt.date(2025, 6, 15)),  # born today
        (16, 6, 25, TODAY, dt.date(1925, 6, 16)),  # tomorrow in 2025 is the future: 1925
        (1, 1, 25, TODAY, dt.date(2025, 1, 1)),
        (31, 12, 25, TODAY, dt.date(1925, 12, 31)),
        (1, 1, 26, TODAY, dt.date(1926, 1, 1)),  # 2026 is the future
        (1, 1, 24, TODAY, dt.date(2024, 1, 1)),
        (1, 1, 0, TODAY, dt.date(2000, 1, 1)),
        (1, 1, 99, TODAY, dt.date(1999, 1, 1)),
        (12, 3, 90, TODAY, dt.date(1990, 3, 12)),
        (1, 1, 0, dt.date(1999, 12, 31), dt.date(1900, 1, 1)),
        (31, 12, 99, dt.date(1999, 12, 31), dt.date(1999, 12, 31)),
        (1, 1, 5, dt.date(2004, 12, 31), dt.date(1905, 1, 1)),
        (1, 1, 5, dt.date(2005, 1, 1), dt.date(2005, 1, 1)),
    ],
)
@pytest.mark.parametrize("sex_offset", [0, 40], ids=["male", "female"])
def test_century_is_the_latest_not_in_the_future(
    day: int, month: int, yy: int, today: dt.date, expected: dt.date, sex_offset: int
) -> None:
    parsed = parse_nik(nik(day=day + sex_offset, month=month, yy=yy), today=today)
    assert parsed.birth_date == expected
    assert parsed.birth_date <= today


def test_without_today_the_birth_date_is_never_in_the_future() -> None:
    tomorrow = dt.date.today() + dt.timedelta(days=1)
    raw = nik(day=tomorrow.day, month=tomorrow.month, yy=tomorrow.year % 100)
    assert parse_nik(raw).birth_date == tomorrow.replace(year=tomorrow.year - 100)


# --- consistency with what the person says -------------------------------------------------------------


def test_consistent_sex_and_birth_date_have_no_problems() -> None:
    assert check_consistency(parse(FEMALE), sex=Sex.F, birth_date=dt.date(1990, 3, 12)) == []


def test_nothing_given_has_no_problems() -> None:
    assert check_consistency(parse(MALE)) == []


@pytest.mark.parametrize(("raw", "given"), [(MALE, Sex.F), (FEMALE, Sex.M)])
def test_sex_mismatch_is_reported(raw: str, given: Sex) -> None:
    problems = check_consistency(parse(raw), sex=given)
    assert len(problems) == 1
    assert f"sex {given.value} was given" in problems[0]


@pytest.mark.parametrize(
    "given",
    [dt.date(1990, 3, 13), dt.date(1990, 12, 3), dt.date(2090, 3, 12), dt.date(1890, 3, 12)],
)
def test_birth_date_mismatch_is_reported(given: dt.date) -> None:
    problems = check_consistency(parse(MALE), sex=Sex.M, birth_date=given)
    assert len(problems) == 1
    assert "1990-03-12" in problems[0]
    assert given.isoformat() in problems[0]


def test_both_mismatches_are_reported() -> None:
    problems = check_consistency(parse(MALE), sex=Sex.F, birth_date=dt.date(1991, 3, 12))
    assert len(problems) == 2


# --- building ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("district", "birth", "sex", "serial"),
    [
        ("52.71.01", dt.date(1990, 3, 12), Sex.M, 1),
        ("52.71.01", dt.date(1990, 3, 12), Sex.F, 1),
        ("52.01.05", dt.date(2000, 2, 29), Sex.F, 9999),
        ("52.08.04", dt.date(1999, 12, 31), Sex.M, 42),
        ("11.01.01", dt.date(2025, 6, 15), Sex.F, 1234),
        ("94.71.10", dt.date(1926, 1, 1), Sex.M, 7),
        ("31.74.02", dt.date(1971, 1, 31), Sex.F, 500),
    ],
)
def test_build_nik_round_trips_through_parse_nik(district: str, birth: dt.date, sex: Sex, serial: int) -> None:
    raw = build_nik(district, birth, sex, serial)
    assert len(raw) == 16
    assert raw.isdigit()
    parsed = parse(raw)
    assert parsed.district_code == district
    assert parsed.birth_date == birth
    assert parsed.sex is sex
    assert parsed.serial == f"{serial:04d}"


def test_build_nik_adds_40_to_the_day_for_women() -> None:
    assert build_nik("52.71.01", dt.date(1990, 3, 12), Sex.M, 1) == MALE
    assert build_nik("52.71.01", dt.date(1990, 3, 12), Sex.F, 1) == FEMALE


@pytest.mark.parametrize("serial", [0, -1, 10_000])
def test_build_nik_refuses_a_serial_outside_1_to_9999(serial: int) -> None:
    with pytest.raises(ValueError, match="serial"):
        build_nik("52.71.01", dt.date(1990, 3, 12), Sex.M, serial)


# --- masking -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        (MALE, "5271**********01"),
        (FEMALE, "5271**********01"),
        ("5201054502889937", "5201**********37"),
    ],
)
def test_mask_keeps_the_first_4_and_last_2_digits(value: str, masked: str) -> None:
    assert mask_identifier(value) == masked


@pytest.mark.parametrize("value", [MALE, FEMALE, "5201056902009999", "1101013112991234", "5271011111111111"])
def test_mask_never_reveals_the_district_or_birth_date_digits(value: str) -> None:
    masked = mask_identifier(value)
    assert len(masked) == len(value)
    assert masked[4:14] == "*" * 10  # district (5-6), birth date (7-12) and serial head (13-14)
    assert value[6:12] not in masked
    assert value not in masked


@pytest.mark.parametrize("value", ["", "1", "123456"])
def test_mask_hides_short_values_entirely(value: str) -> None:
    assert mask_identifier(value) == "*" * len(value)


# --- error messages never leak the NIK -----------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        nik(day=32),
        nik(day=0),
        nik(day=72),
        nik(month=13),
        nik(month=0),
        nik(serial="0000"),
        nik(day=31, month=2),
        nik(day=69, month=2, yy=23),
        nik(district="007101"),
        nik(district="527100"),
        MALE + "7",  # 17 digits: contains a whole valid NIK
        MALE[:15],
        MALE + "x",
        "x" + MALE,
        MALE[:8] + "a" + MALE[9:],
        f" {nik(month=13)} ",
    ],
)
def test_error_messages_never_contain_the_full_nik(raw: str) -> None:
    with pytest.raises(InvalidNIK) as caught:
        parse(raw)
    message = str(caught.value)
    digits = re.sub(r"\D", "", raw)
    assert digits[:16] not in message
    assert raw.strip() not in message
    assert not re.search(r"\d{7,}", message), message  # no long run of the NIK's digits at all
