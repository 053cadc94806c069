"""participants.phone_number: a mobile number in E.164, personal data (UU PDP)

Revision ID: 20261207_0010
Revises: 20261207_0009
Create Date: 2026-12-07 13:10:00

A nullable column (existing participants have no number yet) holding ``+628…`` as parsed by
``domain.participants.phone``; a check constraint keeps anything else out. No row changes.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "20261207_0010"
down_revision: str | None = "20261207_0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


#: The column with its check constraint, in one ALTER both databases accept: SQLite cannot add a constraint
#: to an existing table, and a batch copy of ``participants`` would break the triggers that name it.
_ADD = (
    "ALTER TABLE participants ADD COLUMN phone_number VARCHAR(16) "
    "CONSTRAINT ck_participants_phone_number_e164 CHECK (phone_number IS NULL OR phone_number LIKE '+628%')"
)


def upgrade() -> None:
    op.execute(_ADD)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(op.f("ck_participants_phone_number_e164"), "participants", type_="check")
    op.drop_column("participants", "phone_number")
