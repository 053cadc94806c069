"""The console in a real browser: a clerk corrects a name with a reason and sees it audited; another region's
officer cannot open the record; a claim is verified with its workflow button."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.e2e.conftest import PASSWORD, Service

pytestmark = pytest.mark.e2e


def sign_in(page: Any, service: Service, username: str) -> None:
    page.goto(f"{service.base_url}/admin/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#sign-in")
    page.wait_for_selector("#signed-in")


def search(page: Any, term: str) -> None:
    """Type into the list's search box and press Enter (its handler is bound once the page has loaded)."""
    page.wait_for_load_state("load")
    page.fill("#search-input", term)
    page.press("#search-input", "Enter")
    page.wait_for_url(re.compile(r"search="))
    page.wait_for_load_state("load")


def sign_out(page: Any) -> None:
    page.click("#sign-out")
    page.wait_for_selector("#sign-in")


def test_correction_is_audited_and_scoped(service: Service, chromium: Any, shots: Any) -> None:
    [(pid, nik, name)] = service.query(
        "SELECT id, nik, full_name FROM participants WHERE regency_code = '52.71' ORDER BY id LIMIT 1"
    )
    corrected = f"{name} Rahmawati"
    dialogs: list[str] = []
    page = chromium.new_page(viewport={"width": 1440, "height": 900})
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

    page.goto(f"{service.base_url}/admin/")
    shots(page, "login")
    sign_in(page, service, "admin.e2e")
    shots(page, "home")

    page.click("#navbar-menu >> text=Participants")
    page.wait_for_url(re.compile(r"/admin/participant/list"))
    search(page, nik)
    rows = page.locator("table.card-table tbody tr")
    assert rows.count() == 1
    assert nik in rows.first.inner_text()
    shots(page, "search-by-nik")

    rows.first.locator("a[href*='/participant/edit/']").click()
    page.wait_for_selector("#full_name")
    page.fill("#full_name", corrected)
    page.select_option("#reason_code", "TYPO")
    page.fill("#reason", "Name checked against the KTP at the counter")
    shots(page, "edit-with-reason")
    page.click("input[name='save'][value='Save']")
    page.wait_for_selector("#recent-changes")
    flash = page.locator(".console-flash").inner_text()
    assert "Changed: full_name" in flash
    latest = page.locator("#recent-changes tbody tr").first
    assert "participant.update" in latest.inner_text()
    assert "TYPO" in latest.inner_text()
    assert latest.locator("td.before").inner_text() == name
    assert latest.locator("td.after").inner_text() == corrected
    shots(page, "saved-with-history")

    page.click("#navbar-menu >> text=Audit events")
    page.wait_for_url(re.compile(r"/admin/audit-event/list"))
    first = page.locator("table.card-table tbody tr").first
    text = first.inner_text()
    assert "participant.update" in text
    assert str(pid) in text
    assert corrected in text
    assert "Name checked" in text
    shots(page, "audit-events")
    [(before, after)] = service.query(
        "SELECT json_extract(changes, '$.full_name.before'), json_extract(changes, '$.full_name.after') "
        "FROM audit_events WHERE action = 'participant.update' AND entity_id = ?",
        str(pid),
    )
    assert (before, after) == (name, corrected)

    page.goto(f"{service.base_url}/admin/participant/edit/{pid}")
    page.fill("#full_name", '<img src=x onerror="alert(document.cookie)">')
    page.select_option("#reason_code", "OTHER")
    page.fill("#reason", "<script>alert('note')</script>")
    page.click("input[name='save'][value='Save']")
    page.wait_for_selector("#recent-changes")
    page.goto(f"{service.base_url}/admin/participant/list")
    assert '<img src=x onerror="alert(document.cookie)">' in page.locator("table.card-table").inner_text()
    page.goto(f"{service.base_url}/admin/audit-event/list")
    assert "<script>alert('note')</script>" in page.locator("table.card-table").inner_text()
    shots(page, "markup-shown-as-text")
    assert dialogs == []
    sign_out(page)

    sign_in(page, service, "officer.lotim")
    response = page.goto(f"{service.base_url}/admin/participant/details/{pid}")
    assert response is not None
    assert response.status == 404
    shots(page, "other-region-404")
    response = page.goto(f"{service.base_url}/admin/participant/edit/{pid}")
    assert response is not None
    assert response.status == 404
    page.goto(f"{service.base_url}/admin/participant/list?search={nik}")
    assert page.locator("table.card-table tbody tr").count() == 0
    sign_out(page)
    page.close()


def test_claim_verified_with_workflow_button(service: Service, chromium: Any, shots: Any) -> None:
    [(cid, number)] = service.query(
        "SELECT id, claim_number FROM claims WHERE regency_code = '52.71' AND status = 'SUBMITTED' ORDER BY id LIMIT 1"
    )
    page = chromium.new_page(viewport={"width": 1440, "height": 900})
    sign_in(page, service, "officer.mataram")
    page.click("#navbar-menu >> text=Claims")
    page.wait_for_url(re.compile(r"/admin/claim/list"))
    search(page, number)
    page.locator("table.card-table tbody tr").first.locator("a[href*='/claim/details/']").click()
    page.wait_for_selector("#action-verify")
    shots(page, "claim-submitted")
    page.fill("#verify-note", "KTP, KK and death certificate complete")
    page.click("#action-verify button[type='submit']")
    page.wait_for_selector(".console-flash")
    assert f"Claim {number} is now VERIFIED" in page.locator(".console-flash").inner_text()
    assert "VERIFIED" in page.locator("table.related").last.inner_text()
    assert page.locator("#action-verify").count() == 0  # a verified claim cannot be verified again
    shots(page, "claim-verified")
    [(status, verified_by)] = service.query("SELECT status, verified_by FROM claims WHERE id = ?", cid)
    assert (status, verified_by) == ("VERIFIED", "user:officer.mataram")
    sign_out(page)
    page.close()
