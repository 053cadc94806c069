"""CSV export of a console list: the rows the user sees, as the user sees them, streamed.

SQLAdmin's built-in export loads every row into memory, ignores the list's search and filters, and writes
raw column values (unmasked). This one runs the list's own statement (region scope, search, filters,
sorting; no page limit) over a server-side cursor in batches of ``BATCH`` rows, formats every cell with the
list's formatters (so masking is the list's masking), and sends each batch as soon as it is written: memory
stays at one batch whatever the row count.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.responses import StreamingResponse

BATCH = 500
_FORMULA = re.compile(r"^[=+\-@\t\r]")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def cell(value: Any) -> str:
    """A CSV cell. Text that a spreadsheet would run as a formula (``=HYPERLINK(…)``) is prefixed with '."""
    if value is None:
        return ""
    text = str(value)
    if _FORMULA.match(text) and not _NUMBER.match(text):
        return "'" + text
    return text


async def csv_rows(
    sessions: async_sessionmaker[AsyncSession],
    stmt: Select[Any],
    headers: Sequence[str],
    row_values: Callable[[Any], Sequence[Any]],
) -> AsyncIterator[str]:
    """The header line, then one chunk of CSV text per batch of rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(headers)
    yield buffer.getvalue()
    async with sessions() as session:
        result = await session.stream_scalars(stmt.execution_options(yield_per=BATCH))
        async for batch in result.partitions(BATCH):
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            writer.writerows([cell(v) for v in row_values(obj)] for obj in batch)
            del batch  # the identity map holds rows weakly: a written batch can go
            yield buffer.getvalue()


def csv_response(name: str, chunks: AsyncIterator[str]) -> StreamingResponse:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    filename = re.sub(r"[^A-Za-z0-9_-]", "_", name) + f"-{stamp}.csv"
    return StreamingResponse(
        chunks,
        media_type="text/csv",  # Starlette adds "; charset=utf-8"
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )
