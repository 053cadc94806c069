"""``jamsos import`` as a separate process: exit status, the printed report and the report CSV beside the file."""

from __future__ import annotations

import csv
from pathlib import Path

from tests.imports.conftest import ImportDB, csv_text, person
from tests.live import jamsos, service_env


def test_cli_reports_bad_rows_and_writes_the_report_beside_the_file(imports_db: ImportDB, tmp_path: Path) -> None:
    env = service_env(imports_db.url, tmp_path)
    good, bad = person(), person(desil="8")
    messy = tmp_path / "p3ke.csv"
    messy.write_text(csv_text([good, bad]))
    done = jamsos(env, "import", "beneficiaries", str(messy), "--region", "52.03", "--dry-run")
    assert done.returncode == 1, done.stderr
    assert "dry run: nothing written" in done.stdout
    assert "row 3 [desil] '8': OUT_OF_RANGE" in done.stdout
    with (tmp_path / "p3ke.report.csv").open(newline="") as f:
        report = list(csv.DictReader(f))
    assert [(r["row"], r["column"], r["value"], r["code"]) for r in report] == [("3", "desil", "8", "OUT_OF_RANGE")]
    assert "read 2 rows" not in done.stderr  # the plain progress line only comes every few seconds

    clean = tmp_path / "clean.csv"
    clean.write_text(csv_text([good]))
    done = jamsos(env, "import", "beneficiaries", str(clean), "--region", "52.03")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "new 1" in done.stdout
    assert not (tmp_path / "clean.report.csv").exists()


def test_cli_usage_errors(imports_db: ImportDB, tmp_path: Path) -> None:
    env = service_env(imports_db.url, tmp_path)
    missing = jamsos(env, "import", "beneficiaries", str(tmp_path / "nope.csv"))
    assert missing.returncode == 2
    assert "is not a file" in missing.stderr
    some = tmp_path / "x.csv"
    some.write_text("nik\n")
    bad_region = jamsos(env, "import", "beneficiaries", str(some), "--region", "Lombok")
    assert bad_region.returncode == 2
    assert "bad option" in bad_region.stderr
