"""rollup triggers: the extreme-poor family computes its per-NIK rows once per statement on PostgreSQL

Revision ID: 20261207_0014
Revises: 20261207_0013
Create Date: 2026-12-07 16:00:00

The Monev rollup triggers are reinstalled with the definition of ``domain.monev.rollup_sql`` as of this
revision: on PostgreSQL the extreme-poor family's per-NIK rows are a MATERIALIZED CTE, read three times,
instead of the same SELECT three times (a list enrolment's registry link spent most of its time there; bench/
README.md, "List enrolment"). They count exactly what the triggers before counted, so no rollup row changes and
nothing is rebuilt. SQLite's triggers are unchanged (the same SELECT in each place).
"""

from collections.abc import Sequence

from alembic import op

from domain.monev.rollups import install_triggers

revision: str = "20261207_0014"
down_revision: str | None = "20261207_0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    install_triggers(op.get_bind())


def downgrade() -> None:
    # The triggers installed by upgrade() count what the earlier ones counted (only faster): they stay.
    pass
