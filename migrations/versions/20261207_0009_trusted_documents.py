"""trusted documents: the registry of operations per OAuth client, and the clients that may run nothing else

Revision ID: 20261207_0009
Revises: 20261207_0008
Create Date: 2026-12-07 12:45:00

``trusted_documents`` holds each registered operation's exact text under its id (``sha256:<hex>``), with who
registered it first and when; ``trusted_document_clients`` links a document to each OAuth client that may run
it by id (deleting a client or a document deletes its links), and whether a shared HTTP cache may keep its
GET responses to that client (``public_cache``, set at push time). ``oauth_clients.trusted_documents_only``: the
client's tokens run only its registered documents; existing clients keep running text (false).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import domain.db

revision: str = "20261207_0009"
down_revision: str | None = "20261207_0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "trusted_documents",
        sa.Column("id", sa.String(length=71), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("operation_name", sa.String(length=200), nullable=True),
        sa.Column("registered_by", sa.String(length=200), nullable=False),
        sa.Column("registered_at", domain.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trusted_documents")),
    )
    op.create_table(
        "trusted_document_clients",
        sa.Column("document_id", sa.String(length=71), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("registered_by", sa.String(length=200), nullable=False),
        sa.Column("registered_at", domain.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("public_cache", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["oauth_clients.client_id"],
            name=op.f("fk_trusted_document_clients_client_id_oauth_clients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["trusted_documents.id"],
            name=op.f("fk_trusted_document_clients_document_id_trusted_documents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("document_id", "client_id", name=op.f("pk_trusted_document_clients")),
    )
    with op.batch_alter_table("trusted_document_clients", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_trusted_document_clients_client_id"), ["client_id"], unique=False)
    with op.batch_alter_table("oauth_clients", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("trusted_documents_only", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("oauth_clients", schema=None) as batch_op:
        batch_op.drop_column("trusted_documents_only")
    with op.batch_alter_table("trusted_document_clients", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_trusted_document_clients_client_id"))
    op.drop_table("trusted_document_clients")
    op.drop_table("trusted_documents")
