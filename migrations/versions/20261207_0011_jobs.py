"""jobs: bulk writes as jobs with state, progress, a report and a cursor (ADR 0015)

Revision ID: 20261207_0011
Revises: 20261207_0010
Create Date: 2026-12-07 13:00:00

One table, ``jobs``. The queue library's own tables (Procrastinate, on PostgreSQL) are not Alembic's:
``jamsos migrate`` creates them with the library's schema (domain.jobs.queue.ensure_queue_schema).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "20261207_0011"
down_revision: str | None = "20261207_0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=60), nullable=False),
        sa.Column(
            "state",
            sa.Enum("QUEUED", "RUNNING", "DONE", "FAILED", "CANCELLED", name="jobstate", native_enum=False, length=10),
            nullable=False,
        ),
        sa.Column("params", _JSON, nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("processed", sa.Integer(), nullable=False),
        sa.Column("counts", _JSON, nullable=False),
        sa.Column("refusals", _JSON, nullable=False),
        sa.Column("costs", _JSON, nullable=False),
        sa.Column("report", sa.Text(), nullable=False),
        sa.Column("cursor", sa.String(length=100), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("actor_kind", sa.String(length=10), nullable=False),
        sa.Column("client_id", sa.String(length=100), nullable=True),
        sa.Column("region_code", sa.String(length=20), nullable=True),
        sa.Column("sees_personal_data", sa.Boolean(), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("payer_region_code", sa.String(length=20), nullable=True),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index("ix_jobs_state", ["state"], unique=False)
        batch_op.create_index(batch_op.f("ix_jobs_region_code"), ["region_code"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_jobs_region_code"))
        batch_op.drop_index("ix_jobs_state")
    op.drop_table("jobs")
