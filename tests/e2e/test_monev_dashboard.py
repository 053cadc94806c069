"""The Monev dashboard in a real browser: an analyst signs in (Monev only), sees the charts of their own
region with Indonesian formats, cannot chart another region or open record views, and downloads a report."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from tests.e2e.conftest import PASSWORD, Service

pytestmark = pytest.mark.e2e


def test_an_analyst_sees_monev_for_their_region_only(service: Service, chromium: Any, shots: Any) -> None:
    page = chromium.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{service.base_url}/admin/login")
    page.fill("#username", "analyst.lotim")
    page.fill("#password", PASSWORD)
    page.click("#sign-in")
    page.wait_for_url(re.compile(r"/admin/monev"))
    page.wait_for_selector("#monev-kpis")
    shots(page, "dashboard")

    assert page.locator("svg.monev-chart").count() == 6
    kpis = page.locator("#monev-kpis").inner_text()
    assert re.search(r"\d+,\d%", kpis), kpis  # 32,5% style
    options = page.locator("#monev-region option").all_inner_texts()
    assert options
    assert all(o.startswith("52.03") for o in options), options
    [(registered,)] = service.query("SELECT count(*) FROM participants WHERE regency_code = '52.03'")
    assert f"dari {registered:,}".replace(",", ".") in kpis
    # the menu offers Monev and nothing else
    assert page.locator("#navbar-menu a").all_inner_texts() == ["Monev"]

    page.goto(f"{service.base_url}/admin/monev?region=52.71")
    assert "not one you can chart here" in page.locator(".alert-warning").inner_text()
    assert page.locator("#monev-region option:checked").inner_text().startswith("52.03")

    page.select_option("#monev-region", index=1)
    page.click("#monev-pickers button[type=submit]")
    page.wait_for_url(re.compile(r"region=52\.03\.\d\d"))
    shots(page, "district")

    for path in ("/admin/participant/list", "/admin/claim/list"):
        assert page.goto(f"{service.base_url}{path}").status == 403

    page.goto(f"{service.base_url}/admin/monev")
    with page.expect_download() as info:
        page.click("text=XLSX >> nth=0")
    book = load_workbook(io.BytesIO(Path(info.value.path()).read_bytes()))
    assert book.sheetnames[:3] == ["Keterangan", "Ringkasan", "Kecamatan"]
    page.close()
