"""derived status: the status filter's index on (status, paid_through)

Revision ID: 20261207_0008
Revises: 20261207_0007
Create Date: 2026-12-07 09:00:00

ACTIVE and INACTIVE are derived on every read from ``paid_through`` and today's date
(domain.participants.status); ``participants.status`` keeps the lifecycle. The filter
``status: ACTIVE`` is ``status IN ('ACTIVE', 'INACTIVE') AND paid_through >= <last day of this month>``,
served by an index on (status, paid_through), which also serves ``status = 'DECEASED'`` as its prefix:
the index on ``status`` alone goes. No row changes.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "20261207_0008"
down_revision: str | None = "20261207_0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("participants", schema=None) as batch_op:
        batch_op.create_index("ix_participants_status_paid_through", ["status", "paid_through"], unique=False)
        batch_op.drop_index(batch_op.f("ix_participants_status"))


def downgrade() -> None:
    with op.batch_alter_table("participants", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_participants_status"), ["status"], unique=False)
        batch_op.drop_index("ix_participants_status_paid_through")
