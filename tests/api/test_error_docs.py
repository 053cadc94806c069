"""docs/api.md's error-code section is what ``jamsos schema codes`` writes from the catalogues: a code added,
described differently or removed shows up in review, and the page cannot drift from the code."""

from __future__ import annotations

import difflib
import io
from pathlib import Path

import pytest

from api.cli import main
from api.error_docs import BEGIN, END, NoSection, section, with_section
from domain.codes import ErrorCode
from domain.error_catalogue import user_error_codes

API_MD = Path(__file__).resolve().parents[2] / "docs" / "api.md"
REGENERATE = ".venv/bin/jamsos schema codes --write docs/api.md"


def test_docs_api_md_holds_the_generated_section() -> None:
    actual = API_MD.read_text(encoding="utf-8")
    expected = with_section(actual)
    if actual != expected:
        diff = difflib.unified_diff(actual.splitlines(), expected.splitlines(), "docs/api.md", "generated", lineterm="")
        pytest.fail(
            f"docs/api.md's error codes are stale. Regenerate with `{REGENERATE}`:\n" + "\n".join(list(diff)[:60])
        )


def test_the_section_lists_every_code_with_its_description() -> None:
    text = section()
    for code in [*ErrorCode, *user_error_codes()]:
        assert f"| `{code.value}` | {code.description} |" in text


def test_writing_replaces_only_the_section(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    page = tmp_path / "api.md"
    page.write_text(f"# Before\n\n{BEGIN}\nstale\n{END}\n\n## After\n", encoding="utf-8")
    assert main(["schema", "codes", "--write", str(page)]) == 0
    assert page.read_text(encoding="utf-8") == f"# Before\n\n{section()}\n## After\n"
    out = io.StringIO()
    monkeypatch.setattr("sys.stdout", out)
    assert main(["schema", "codes"]) == 0
    assert out.getvalue() == section()


def test_a_page_without_markers_is_refused_and_left_alone(tmp_path: Path) -> None:
    page = tmp_path / "api.md"
    page.write_text(f"# No markers\n{END}\n{BEGIN}\n", encoding="utf-8")  # in the wrong order
    with pytest.raises(NoSection):
        with_section(page.read_text(encoding="utf-8"))
    assert main(["schema", "codes", "--write", str(page)]) == 1
    assert page.read_text(encoding="utf-8") == f"# No markers\n{END}\n{BEGIN}\n"
