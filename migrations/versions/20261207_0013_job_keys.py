"""job_keys: the keys earlier chunks of a job used, for rules over the job's whole input (ADR 0015)

Revision ID: 20261207_0013
Revises: 20261207_0012
Create Date: 2026-12-07 15:50:00

A payment reference used twice in one contribution file is refused at its second use (``DUPLICATE_REFERENCE``)
whichever chunks of the import job the two rows fall in: each chunk looks its references up here and adds the
ones it used first, in its own transaction (domain.jobs.keys).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261207_0013"
down_revision: str | None = "20261207_0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "job_keys",
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("first_use", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], name=op.f("fk_job_keys_job_id_jobs"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("job_id", "digest", name=op.f("pk_job_keys")),
    )


def downgrade() -> None:
    op.drop_table("job_keys")
