"""name search: a trigram index for participants' names on PostgreSQL

Revision ID: 20261201_0005
Revises: 20261201_0004

``participants(filter: {nameContains: ...})`` runs ``full_name ILIKE '%text%'``. A B-tree cannot serve a
pattern with a leading wildcard, so on PostgreSQL this adds a GIN index with ``gin_trgm_ops`` (extension
``pg_trgm``), which serves ILIKE for patterns of three characters or more (the API refuses shorter ones).
Creating the extension needs a role allowed to (a superuser, or the database owner on PostgreSQL 13+
where pg_trgm is a trusted extension); README "Production" says what to do otherwise. SQLite has no
equivalent, so there the migration does nothing and the search scans the region-scoped rows (the model
declares the index with ``ddl_if(dialect="postgresql")``).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "20261201_0005"
down_revision: str | None = "20261201_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_index(
        "ix_participants_full_name_search",
        "participants",
        ["full_name"],
        postgresql_using="gin",
        postgresql_ops={"full_name": "gin_trgm_ops"},
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index("ix_participants_full_name_search", table_name="participants")
    # The extension stays: other objects of the database may use it.
