"""The console's participant and contribution upload page: the same imports as importParticipants and
importContributions.

The form posts the file (multipart, with the CSRF token), which kind of file it is and whether to dry-run. Up
to a page of rows the import runs in the request and the page shows the counts and the first problems with
their row numbers; over a page the file is staged and the import runs as a job, and the browser goes to the
job's page in the Jobs view (progress bar, report, cancel). The good rows are written, the bad ones reported.
Uploads are bounded by the console's request-size limit (the CSRF check reads at most that much).
"""

from __future__ import annotations

from typing import IO, Any, cast

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from admin.writes import caller_of
from domain.participants.bulk_jobs import CONTRIBUTION_IMPORT_KIND, IMPORT_KINDS, PARTICIPANT_IMPORT_KIND, start_import
from domain.participants.imports import RowImportOptions, import_contributions, import_participants, survey

TEMPLATE = "jamsos/row_import.html"
#: Rows imported in the request; over this (a page, as in the API) the import is a job.
SYNCHRONOUS_ROWS = 100
#: Rows one console upload may hold (the request-size limit is usually reached first).
MAX_CONSOLE_ROWS = 200_000
#: The form's choice -> the job kind.
_KINDS = {"participants": PARTICIPANT_IMPORT_KIND, "contributions": CONTRIBUTION_IMPORT_KIND}


async def _page(view: Any, request: Request, context: dict[str, Any], status: int = 200) -> Response:
    response: Response = await view.templates.TemplateResponse(request, TEMPLATE, context, status_code=status)
    return response


async def row_upload_page(request: Request, view: Any) -> Response:
    context: dict[str, Any] = {"model_view": view, "result": None, "error": None, "kind": "participants"}
    if request.method == "GET":
        return await _page(view, request, context)
    form = await request.form(max_files=1, max_fields=10)
    try:
        upload = form.get("file")
        chosen = str(form.get("kind") or "")
        if chosen not in _KINDS:
            context["error"] = "Choose whether the file holds participants or contributions."
            return await _page(view, request, context, 400)
        context["kind"] = chosen
        if not isinstance(upload, UploadFile) or not upload.filename:
            context["error"] = "Choose a .csv or .xlsx file to import."
            return await _page(view, request, context, 400)
        kind, dry_run, filename = _KINDS[chosen], form.get("dry_run") == "on", upload.filename
        stream = cast(IO[bytes], upload.file)
        found = survey(stream, filename, IMPORT_KINDS[kind], max_rows=MAX_CONSOLE_ROWS)
        if found.errors:
            context["problems"], context["filename"] = found.errors, filename
            return await _page(view, request, context, 422)
        if found.rows > SYNCHRONOUS_ROWS:
            if view.job_queue is None or view.job_files is None:
                context["error"] = f"The file has more than {SYNCHRONOUS_ROWS} rows and this server runs no jobs."
                return await _page(view, request, context, 503)
            job = await start_import(
                view.write_sessions, view.job_queue, caller_of(request), stream, filename, kind, view.job_files,
                rows=found.rows, dry_run=dry_run,
            )  # fmt: skip
            return RedirectResponse(str(request.url_for("admin:details", identity="job", pk=str(job.id))), 303)
        run = import_participants if kind == PARTICIPANT_IMPORT_KIND else import_contributions
        options = RowImportOptions(dry_run=dry_run, skip_invalid=True, max_rows=SYNCHRONOUS_ROWS)
        async with view.write_sessions() as session:
            result = await run(session, caller_of(request), stream, filename, options)
            if result.written:
                await session.commit()
            else:
                await session.rollback()
    finally:
        await form.close()
    context["result"], context["filename"] = result, filename
    return await _page(view, request, context, 422 if result.error_count else 200)
