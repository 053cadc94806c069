"""rollup triggers: a participants UPDATE counts, per family, only the rows whose counted columns changed

Revision ID: 20261207_0012
Revises: 20261207_0011
Create Date: 2026-12-07 14:05:00

The Monev rollup triggers are reinstalled with the definition of ``domain.monev.rollup_sql`` as of this
revision (docs/adr/0018-set-based-writes.md, "Speed"): the ledger's recount of a payment no longer places the
budget family, the extreme-poor family counts only participants with a linked beneficiary row, and PostgreSQL
computes each family's changed rows once per statement. They count exactly what the triggers before counted,
so no rollup row changes and nothing is rebuilt.
"""

from collections.abc import Sequence

from alembic import op

from domain.monev.rollups import install_triggers

revision: str = "20261207_0012"
down_revision: str | None = "20261207_0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    install_triggers(op.get_bind())


def downgrade() -> None:
    # The triggers installed by upgrade() count what the earlier ones counted (only faster): they stay.
    pass
