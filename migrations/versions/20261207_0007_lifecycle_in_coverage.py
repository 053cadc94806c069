"""lifecycle in coverage: participants.retired_on; the Monev rollups recounted with the dead and retired out

Revision ID: 20261207_0007
Revises: 20261201_0006
Create Date: 2026-12-07 08:40:00

"Active" in every Monev figure is now paid through the month *and* alive and not retired at its end
(docs/adr/0011-regulations-exactly.md §1). A RETIRED participant gets the date of the retirement (``retired_on``); those retired
before this revision have none recorded, so they get the last day of their last paid month (or their
registration day when nothing was paid): the month they stopped paying is taken as the month they retired,
the nearest date the rows hold. Then the rollup triggers are installed with the new definition and every
stored rollup is recounted from the base tables (the same recount as ``jamsos monev rebuild-rollups``).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from domain.monev.rollups import drop_triggers, install_triggers, rebuild, set_unmaintained

revision: str = "20261207_0007"
down_revision: str | None = "20261201_0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    bind = op.get_bind()
    drop_triggers(bind)
    op.add_column("participants", sa.Column("retired_on", sa.Date(), nullable=True))
    registered = "CAST(registered_at AS DATE)" if bind.dialect.name == "postgresql" else "date(registered_at)"
    op.execute(
        f"UPDATE participants SET retired_on = COALESCE(paid_through, {registered})"  # noqa: S608  (constant SQL)
        " WHERE status = 'RETIRED' AND retired_on IS NULL"
    )
    install_triggers(bind)
    rebuild(bind)


def downgrade() -> None:
    bind = op.get_bind()
    # The triggers of the code this goes back to are not this revision's to recreate: the rollups are left
    # unmaintained (read from the base tables) until `jamsos monev rebuild-rollups` with that code.
    drop_triggers(bind)
    set_unmaintained(bind)
    # ALTER TABLE ... DROP COLUMN without recreating the table (others reference it), as in 20261201_0004.
    op.execute("ALTER TABLE participants DROP COLUMN retired_on")
