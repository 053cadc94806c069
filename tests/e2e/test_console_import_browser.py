"""The list upload in a real browser: an officer uploads a file with bad rows, reads the report on the page,
finds nothing written, then imports the good rows only."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Service
from tests.e2e.test_console_browser import sign_in, sign_out
from tests.imports.conftest import csv_text, person

pytestmark = pytest.mark.e2e


def test_upload_with_bad_rows_then_skip_them(service: Service, chromium: Any, shots: Any, tmp_path: Path) -> None:
    good = [person(), person(nama="Lalu Ahmad Fauzi")]
    bad_decile = person(desil="9")
    elsewhere = person(district="52.71.01", village="52.71.01.1004")
    mangled = person()
    mangled["nik"] = "5.20301E+15"
    file = tmp_path / "p3ke-lotim-2026q3.csv"
    file.write_text(csv_text([good[0], bad_decile, elsewhere, good[1], mangled]), encoding="utf-8")
    [(before,)] = service.query("SELECT count(*) FROM poverty_beneficiaries")
    dialogs: list[str] = []
    page = chromium.new_page(viewport={"width": 1440, "height": 900})
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

    sign_in(page, service, "officer.lotim")
    page.click("#navbar-menu >> text=Poverty beneficiaries")
    page.wait_for_url(re.compile(r"/admin/poverty-beneficiary/list"))
    page.click("#upload-list")
    page.wait_for_selector("#import-form")
    shots(page, "upload-form")

    page.set_input_files("#import-file", str(file))
    page.click("#import-submit")
    page.wait_for_selector("#import-result")
    assert page.locator("#import-verdict").inner_text() == "nothing written"
    assert page.locator("#count-rejected").inner_text() == "3"
    rows = [r.inner_text() for r in page.locator("#import-errors tbody tr").all()]
    assert len(rows) == 3
    assert rows[0].startswith("3")
    assert "OUT_OF_RANGE" in rows[0]
    assert rows[1].startswith("4")
    assert "OUT_OF_REGION" in rows[1]
    assert rows[2].startswith("6")
    assert "NIK_STORED_AS_NUMBER" in rows[2]
    shots(page, "report-nothing-written")
    assert service.query("SELECT count(*) FROM poverty_beneficiaries") == [(before,)]

    page.set_input_files("#import-file", str(file))
    page.check("#import-skip-invalid")
    page.click("#import-submit")
    page.wait_for_selector("#import-result")
    assert page.locator("#import-verdict").inner_text() == "imported"
    assert page.locator("#count-imported").inner_text() == "2"
    shots(page, "good-rows-imported")
    assert service.query("SELECT count(*) FROM poverty_beneficiaries") == [(before + 2,)]
    names = {
        n
        for (n,) in service.query(
            "SELECT full_name FROM poverty_beneficiaries WHERE nik IN (?, ?)", good[0]["nik"], good[1]["nik"]
        )
    }
    assert names == {"Baiq Rahmawati", "Lalu Ahmad Fauzi"}
    [(action, file_name)] = service.query(
        "SELECT action, json_extract(changes, '$.file.after') FROM audit_events "
        "WHERE action = 'beneficiary.import' ORDER BY seq DESC LIMIT 1"
    )
    assert (action, file_name) == ("beneficiary.import", "p3ke-lotim-2026q3.csv")
    assert dialogs == []
    sign_out(page)
