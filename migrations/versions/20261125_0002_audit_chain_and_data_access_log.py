"""audit chain and data access log

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 15:56:33.753562
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import domain.db

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=True),
        sa.CheckConstraint("id = 1", name=op.f("ck_audit_chain_head_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_chain_head")),
    )
    op.create_table(
        "data_access_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("occurred_at", domain.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor_subject", sa.String(length=200), nullable=False),
        sa.Column("actor_kind", sa.String(length=10), nullable=False),
        sa.Column("client_id", sa.String(length=100), nullable=True),
        sa.Column("entity_type", sa.String(length=60), nullable=False),
        sa.Column(
            "entity_ids", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column(
            "fields", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("source_ip", sa.String(length=45), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_access_events")),
    )
    with op.batch_alter_table("data_access_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_data_access_events_actor_subject"), ["actor_subject"], unique=False)
        batch_op.create_index(batch_op.f("ix_data_access_events_occurred_at"), ["occurred_at"], unique=False)

    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seq", sa.BigInteger(), nullable=False))
        batch_op.add_column(sa.Column("reason_code", sa.String(length=40), nullable=True))
        batch_op.alter_column("hash", existing_type=sa.VARCHAR(length=64), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_audit_events_seq"), ["seq"])

    # Append-only in the database itself, not only in the ORM.
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
            END $$
            """
        )
        op.execute(
            "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events "
            "FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()"
        )
        op.execute(
            "CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()"
        )
    else:
        for operation in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_events_no_{operation.lower()} BEFORE {operation} ON audit_events "
                f"BEGIN SELECT RAISE(ABORT, 'audit_events is append-only: {operation} refused'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_truncate ON audit_events")
        op.execute("DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events")
        op.execute("DROP FUNCTION IF EXISTS audit_events_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_delete")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_audit_events_seq"), type_="unique")
        batch_op.alter_column("hash", existing_type=sa.VARCHAR(length=64), nullable=True)
        batch_op.drop_column("reason_code")
        batch_op.drop_column("seq")

    with op.batch_alter_table("data_access_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_data_access_events_occurred_at"))
        batch_op.drop_index(batch_op.f("ix_data_access_events_actor_subject"))

    op.drop_table("data_access_events")
    op.drop_table("audit_chain_head")
