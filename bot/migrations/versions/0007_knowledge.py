"""knowledge: policy documents, clauses and the per-database search index

Revision ID: 0007_knowledge
Revises: 0006_contacts_inspections
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op

import core.db

revision = "0007_knowledge"
down_revision = "0006_contacts_inspections"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "policy_documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("issuer", sa.String(length=200), nullable=False),
        sa.Column("doc_number", sa.String(length=100), nullable=False),
        sa.Column("issued", sa.String(length=20), nullable=False),
        sa.Column("region", sa.String(length=60), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("ingested_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_documents")),
        sa.UniqueConstraint("source", name=op.f("uq_policy_documents_source")),
    )
    op.create_table(
        "policy_clauses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=100), nullable=False),
        sa.Column("heading", sa.Text(), nullable=False),
        sa.Column("context", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["document_id"], ["policy_documents.id"], name=op.f("fk_policy_clauses_document_id_policy_documents"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_clauses")),
    )
    op.create_index(op.f("ix_policy_clauses_document_id"), "policy_clauses", ["document_id"], unique=False)
    # The search index: built the way each database searches best (see knowledge/search.py).
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE TABLE fts_clause_vectors (clause_id integer PRIMARY KEY REFERENCES policy_clauses(id) "
                   "ON DELETE CASCADE, doc tsvector NOT NULL)")
        op.execute("CREATE INDEX fts_clause_vectors_doc ON fts_clause_vectors USING gin (doc)")
    else:
        op.execute("CREATE VIRTUAL TABLE fts_clauses USING fts5(title, headings, body, tokenize = 'unicode61')")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TABLE fts_clause_vectors")
    else:
        op.execute("DROP TABLE fts_clauses")
    op.drop_index(op.f("ix_policy_clauses_document_id"), table_name="policy_clauses")
    op.drop_table("policy_clauses")
    op.drop_table("policy_documents")
