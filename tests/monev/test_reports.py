"""The Inpres reports from the command line: sheets, rows, Indonesian formats, scoping and suppression."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from openpyxl import load_workbook

from api.cli import main
from api.settings import get_settings
from auth.scopes import Role, Scope
from tests.conftest import AUDIENCE, ISSUER

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def jamsos(
    seeded_url: str,
    key_path: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsysbinary: pytest.CaptureFixture[bytes],
) -> Iterator[Run]:
    for name, value in {
        "JAMSOS_DATABASE_URL": seeded_url,
        "JAMSOS_DATA_DIR": str(tmp_path),
        "JAMSOS_ENV": "test",
        "JAMSOS_SIGNING_KEY_PATH": str(key_path),
        "JAMSOS_ISSUER": ISSUER,
        "JAMSOS_AUDIENCE": AUDIENCE,
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out, err = capsysbinary.readouterr()
        return code, out.decode("utf-8-sig"), err.decode()

    yield run
    get_settings.cache_clear()


def test_inpres_2_2021_workbook(jamsos: Run, tmp_path: Path) -> None:
    target = tmp_path / "report.xlsx"
    code, _, err = jamsos("report", "inpres-2-2021", "--region", "52", "--semester", "2025-2", "--output", str(target))
    assert code == 0, err
    book = load_workbook(target)
    assert book.sheetnames == ["Keterangan", "Ringkasan", "Kabupaten-Kota", "Kecamatan"]
    notes = {row[0].value: row[1].value for row in book["Keterangan"].iter_rows()}
    assert notes["Periode"] == "2025 semester 2: 2025-07 s.d. 2025-12"
    header = [c.value for c in book["Kabupaten-Kota"][1]]
    regencies = list(book["Kabupaten-Kota"].iter_rows(min_row=2, values_only=True))
    assert [r[0] for r in regencies] == [
        "52.01",
        "52.02",
        "52.03",
        "52.04",
        "52.05",
        "52.06",
        "52.07",
        "52.08",
        "52.71",
        "52.72",
    ]
    summary = next(book["Ringkasan"].iter_rows(min_row=2, values_only=True))
    registered = header.index("Peserta terdaftar")
    assert summary[registered] == sum(r[registered] for r in regencies)
    districts = list(book["Kecamatan"].iter_rows(min_row=2, values_only=True))
    assert len(districts) == 117  # every district of NTB, with or without participants
    assert sum(r[registered] for r in districts) == summary[registered]
    ucj = book["Kabupaten-Kota"].cell(row=2, column=header.index("UCJ (aktif / bekerja)") + 1)
    assert ucj.number_format == "0.0%"
    assert 0 < ucj.value < 1


def test_inpres_4_2022_csv_for_a_ministry_withholds_small_counts(jamsos: Run, mint: Callable[..., str]) -> None:
    token = mint(Role.ANALYST, None, frozenset({Scope.STATS_READ}), subject="kemensos")
    args = ("report", "inpres-4-2022", "--region", "52", "--quarter", "2025-Q4", "--format", "csv", "--output", "-")
    code, out, err = jamsos(*args, "--token", token)
    assert code == 0, err
    rows = list(csv.reader(io.StringIO(out), delimiter=";"))
    header = rows[0]
    data = [r for r in rows if r[0] != "Lembar"]
    assert {r[0] for r in data} == {"Ringkasan", "Kabupaten-Kota", "Kecamatan"}
    counts = [header.index(h) for h in ("Miskin ekstrem (registri)", "Terdaftar peserta", "Peserta aktif")]
    values = [r[i] for r in data for i in counts]
    assert "*" in values  # small counts withheld
    assert all(v == "*" or int(v.replace(".", "")) >= 5 for v in values)
    full_code, full, _ = jamsos(*args)
    assert full_code == 0
    assert "*" not in [r[i] for r in csv.reader(io.StringIO(full), delimiter=";") for i in counts if r[0] != "Lembar"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("inpres-2-2021", "--region", "52", "--semester", "2026-3"), "not a semester"),
        (("inpres-2-2021", "--region", "52", "--semester", "2014-1"), "before 2015"),
        (("inpres-4-2022", "--region", "52", "--quarter", f"{dt.date.today().year + 1}-Q1"), "future"),
        (("inpres-4-2022", "--region", "52.71.01.1004", "--quarter", "2025-Q1"), "village"),
        (("inpres-4-2022", "--region", "5 2", "--quarter", "2025-Q1"), "not a region code"),
    ],
)
def test_bad_requests_are_refused(jamsos: Run, args: tuple[str, ...], message: str) -> None:
    code, _, err = jamsos("report", *args)
    assert code == 2
    assert message in err


def test_a_token_outside_the_region_gets_nothing(jamsos: Run, mint: Callable[..., str]) -> None:
    token = mint(Role.ANALYST, "52.03", frozenset({Scope.STATS_READ}))
    code, _, err = jamsos("report", "inpres-4-2022", "--region", "52", "--quarter", "2025-Q4", "--token", token)
    assert code == 2
    assert "not entirely within your region" in err
