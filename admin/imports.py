"""The console's list-upload page: the same import as ``jamsos import`` and ``importBeneficiaries``.

The form posts the file (multipart, with the CSRF token) and the two choices (dry run, skip bad rows); the
page shows the counts and the first problems with their row numbers and columns. Uploads are bounded by the
console's request-size limit (the CSRF check reads at most that much); larger lists go through the API or
the command line.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from admin.writes import caller_of
from domain.beneficiaries.imports import ImportOptions, import_beneficiaries
from domain.imports.report import ImportResult

TEMPLATE = "jamsos/import.html"
#: Rows one console upload may hold (the request-size limit is usually reached first).
MAX_CONSOLE_ROWS = 100_000


async def _page(view: Any, request: Request, context: dict[str, Any], status: int = 200) -> Response:
    response: Response = await view.templates.TemplateResponse(request, TEMPLATE, context, status_code=status)
    return response


async def upload_page(request: Request, view: Any) -> Response:
    context: dict[str, Any] = {"model_view": view, "result": None, "error": None}
    if request.method == "GET":
        return await _page(view, request, context)
    form = await request.form(max_files=1, max_fields=10)
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            context["error"] = "Choose a .csv or .xlsx file to import."
            return await _page(view, request, context, 400)
        options = ImportOptions(
            dry_run=form.get("dry_run") == "on",
            skip_invalid=form.get("skip_invalid") == "on",
            max_rows=MAX_CONSOLE_ROWS,
        )
        result = await _run(view, request, upload, options)
    finally:
        await form.close()
    context["result"] = result
    context["filename"] = upload.filename
    return await _page(view, request, context, 422 if result.error_count else 200)


async def _run(view: Any, request: Request, upload: UploadFile, options: ImportOptions) -> ImportResult:
    async with view.write_sessions() as session:
        result = await import_beneficiaries(session, caller_of(request), upload.file, upload.filename or "", options)
        if result.written:
            await session.commit()
        else:
            await session.rollback()
    return result
