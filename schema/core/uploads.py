"""What every list upload answers: its row errors, refusal counts and the row limit of one upload."""

from __future__ import annotations

import strawberry

from schema.core.enums import UserErrorCodeEnum

#: Rows one upload may hold; larger lists go through ``jamsos import`` (same code, no request to time out).
MAX_UPLOAD_ROWS = 200_000


@strawberry.type(description="A problem with one row (or, with row 0, the whole file) of an imported list.")
class ImportRowError:
    row: int = strawberry.field(description="Row in the file as a spreadsheet numbers it (header = 1; 0 = file).")
    column: str | None = strawberry.field(description="The column as the file names it, if one is at fault.")
    value: str | None = strawberry.field(description="The value found (NIKs masked without pii:read).")
    code: UserErrorCodeEnum = strawberry.field(
        description="Stable code, e.g. INVALID_NIK, DUPLICATE_ROW, OUT_OF_REGION."
    )
    message: str = strawberry.field(description="What is wrong and how to fix it in the file.")


@strawberry.type(description="A count of refusals with one reason.")
class RefusalReason:
    code: UserErrorCodeEnum = strawberry.field(description="The refusal code.")
    count: int = strawberry.field(description="How many beneficiaries were refused for it.")
