"""rollup triggers: a participant's insert counts only the participant family

Revision ID: 20261208_0015
Revises: 20261207_0014
Create Date: 2026-12-08 04:00:00

The Monev rollup triggers are reinstalled with the definition of ``domain.monev.rollup_sql`` as of this
revision: the trigger on an INSERT into ``participants`` no longer counts the programme and budget families of
the new rows. Their programmes and payments cannot exist yet (``participant_programs`` and ``contributions``
name a participant by a foreign key checked as each row is written), so those statements joined the new rows
to nothing — a tenth of the participant import's database time went there (bench/README.md, "Set-based
writes"). They count exactly what the triggers before counted, so no rollup row changes and nothing is rebuilt.
"""

from collections.abc import Sequence

from alembic import op

from domain.monev.rollups import install_triggers

revision: str = "20261208_0015"
down_revision: str | None = "20261207_0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    install_triggers(op.get_bind())


def downgrade() -> None:
    # The triggers installed by upgrade() count what the earlier ones counted (only faster): they stay.
    pass
