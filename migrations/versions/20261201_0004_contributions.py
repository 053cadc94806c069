"""contributions: the contribution ledger; participants' recent months and date of death

Revision ID: 20261201_0004
Revises: 0003
Create Date: 2026-12-01 13:25:47.677406

Participants registered before the ledger existed keep their figures: each one with paid months gets one
opening-balance row (amount 0, reference ``OPENING-<id>``) covering its ``contribution_months`` months up to
its ``paid_through``, so that a recount from the ledger gives the same figures as before.
"""

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import domain.db

revision: str = "20261201_0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 5000


def upgrade() -> None:
    op.create_table(
        "contributions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("first_month", sa.Integer(), nullable=False),
        sa.Column("last_month", sa.Integer(), nullable=False),
        sa.Column("months", sa.Integer(), nullable=False),
        sa.Column("period_from", sa.Date(), nullable=False),
        sa.Column("period_to", sa.Date(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=16, scale=2), nullable=False),
        sa.Column("programs", sa.String(length=30), nullable=False),
        sa.Column(
            "payer",
            sa.Enum("SELF", "EMPLOYER", "APBD", "APBN", "CSR", name="fundingsource", native_enum=False, length=10),
            nullable=False,
        ),
        sa.Column("payer_region_code", sa.String(length=13), nullable=True),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("received_at", domain.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", domain.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("price_rule", sa.String(length=40), nullable=True),
        sa.CheckConstraint(
            "payer <> 'APBD' OR payer_region_code IS NOT NULL", name=op.f("ck_contributions_apbd_has_region")
        ),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_contributions_amount_non_negative")),
        sa.CheckConstraint("last_month - first_month + 1 = months", name=op.f("ck_contributions_months_consistent")),
        sa.CheckConstraint("months > 0", name=op.f("ck_contributions_months_positive")),
        sa.CheckConstraint("period_from <= period_to", name=op.f("ck_contributions_period_ordered")),
        sa.ForeignKeyConstraint(
            ["participant_id"], ["participants.id"], name=op.f("fk_contributions_participant_id_participants")
        ),
        sa.ForeignKeyConstraint(
            ["payer_region_code"], ["regions.code"], name=op.f("fk_contributions_payer_region_code_regions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contributions")),
        sa.UniqueConstraint("reference", name=op.f("uq_contributions_reference")),
    )
    with op.batch_alter_table("contributions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_contributions_participant_id_first_month", ["participant_id", "first_month"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_contributions_payer"), ["payer"], unique=False)
        batch_op.create_index(batch_op.f("ix_contributions_payer_region_code"), ["payer_region_code"], unique=False)

    # Plain ADD COLUMN, not a batch: on SQLite a batch would recreate the participants table, which other tables
    # reference, and fail on a database that holds data.
    op.add_column(
        "participants", sa.Column("recent_contribution_months", sa.Integer(), server_default="0", nullable=False)
    )
    op.add_column("participants", sa.Column("died_on", sa.Date(), nullable=True))
    _opening_balances()


def _month_end(month: int) -> dt.date:
    year, index = divmod(month + 1, 12)
    return dt.date(year, index + 1, 1) - dt.timedelta(days=1)


def _opening_balances() -> None:
    """One ledger row per participant that already has paid months (see the module docstring)."""
    bind = op.get_bind()
    participants = sa.table(
        "participants",
        sa.column("id", sa.Integer),
        sa.column("paid_through", sa.Date),
        sa.column("contribution_months", sa.Integer),
        sa.column("funding_source", sa.String),
        sa.column("regency_code", sa.String),
        sa.column("province_code", sa.String),
    )
    contributions = sa.table(
        "contributions",
        *(sa.column(name, sa.Integer) for name in ("participant_id", "first_month", "last_month", "months")),
        *(sa.column(name, sa.Date) for name in ("period_from", "period_to")),
        sa.column("amount", sa.Numeric(16, 2)),
        *(sa.column(name, sa.String) for name in ("programs", "payer", "payer_region_code", "reference")),
        *(sa.column(name, domain.db.UTCDateTime) for name in ("received_at", "recorded_at")),
        sa.column("recorded_by", sa.String),
    )
    now = dt.datetime.now(dt.UTC)
    last_id = 0
    while True:
        rows = bind.execute(
            sa.select(participants)
            .where(
                participants.c.id > last_id,
                participants.c.paid_through.is_not(None),
                participants.c.contribution_months > 0,
            )
            .order_by(participants.c.id)
            .limit(_BATCH)
        ).all()
        if not rows:
            return
        values = []
        for row in rows:
            paid: dt.date = row.paid_through
            last = paid.year * 12 + paid.month - 1
            first = last - row.contribution_months + 1
            values.append(
                {
                    "participant_id": row.id,
                    "first_month": first,
                    "last_month": last,
                    "months": row.contribution_months,
                    "period_from": dt.date(first // 12, first % 12 + 1, 1),
                    "period_to": _month_end(last),
                    "amount": 0,
                    "programs": "",
                    "payer": row.funding_source,
                    "payer_region_code": (row.regency_code or row.province_code)
                    if row.funding_source == "APBD"
                    else None,
                    "reference": f"OPENING-{row.id}",
                    "received_at": now,
                    "recorded_at": now,
                    "recorded_by": "migration 20261201_0004",
                }
            )
        bind.execute(contributions.insert(), values)
        last_id = rows[-1].id


def downgrade() -> None:
    with op.batch_alter_table("contributions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contributions_payer_region_code"))
        batch_op.drop_index(batch_op.f("ix_contributions_payer"))
        batch_op.drop_index("ix_contributions_participant_id_first_month")
    op.drop_table("contributions")
    # ALTER TABLE ... DROP COLUMN: PostgreSQL, and SQLite since 3.35, without recreating the table.
    op.execute("ALTER TABLE participants DROP COLUMN died_on")
    op.execute("ALTER TABLE participants DROP COLUMN recent_contribution_months")
