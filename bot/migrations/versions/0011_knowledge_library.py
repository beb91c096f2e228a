"""knowledge: versions of a law, stored search terms, questions attached to clauses, the revision

The search moves from per-database full-text tables (FTS5, tsvector) to one in-memory index per
process built from stored terms (knowledge/index.py), so both databases rank alike; the old index
tables are dropped.

Revision ID: 0011_knowledge_library
Revises: 0010_event_responsibility
Create Date: 2026-12-04
"""
import sqlalchemy as sa
from alembic import op

import core.db

revision = "0011_knowledge_library"
down_revision = "0010_event_responsibility"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("policy_documents") as batch:
        batch.add_column(sa.Column("key", sa.String(length=300), nullable=False, server_default=""))
        batch.add_column(sa.Column("version", sa.String(length=10), nullable=False, server_default=""))
        batch.create_index(batch.f("ix_policy_documents_key"), ["key"], unique=False)
    with op.batch_alter_table("policy_clauses") as batch:
        batch.add_column(sa.Column("body_terms", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("heading_terms", sa.Text(), nullable=False, server_default=""))
    op.create_table(
        "clause_questions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_key", sa.String(length=300), nullable=False),
        sa.Column("clause_path", sa.String(length=100), nullable=False),
        sa.Column("text", sa.String(length=300), nullable=False),
        sa.Column("terms", sa.Text(), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clause_questions")),
    )
    op.create_index("ix_clause_questions_clause", "clause_questions", ["document_key", "clause_path"])
    op.create_table(
        "knowledge_revision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.String(length=32), nullable=False),
        sa.Column("terms_version", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_knowledge_revision")),
    )
    op.execute("INSERT INTO knowledge_revision (id, revision, terms_version) VALUES (1, '', '')")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TABLE IF EXISTS fts_clause_vectors")
    else:
        op.execute("DROP TABLE IF EXISTS fts_clauses")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE TABLE fts_clause_vectors (clause_id integer PRIMARY KEY REFERENCES policy_clauses(id) "
                   "ON DELETE CASCADE, doc tsvector NOT NULL)")
        op.execute("CREATE INDEX fts_clause_vectors_doc ON fts_clause_vectors USING gin (doc)")
    else:
        op.execute("CREATE VIRTUAL TABLE fts_clauses USING fts5(title, headings, body, tokenize = 'unicode61')")
    op.drop_table("knowledge_revision")
    op.drop_index("ix_clause_questions_clause", table_name="clause_questions")
    op.drop_table("clause_questions")
    with op.batch_alter_table("policy_clauses") as batch:
        batch.drop_column("heading_terms")
        batch.drop_column("body_terms")
    with op.batch_alter_table("policy_documents") as batch:
        batch.drop_index(batch.f("ix_policy_documents_key"))
        batch.drop_column("version")
        batch.drop_column("key")
