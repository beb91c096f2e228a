"""nlp: officials' category corrections

Revision ID: 0004_nlp
Revises: 0001_core
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op

import core.db

revision = "0004_nlp"
down_revision = "0001_core"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "category_corrections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("predicted", sa.String(length=32), nullable=True),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("ticket_number", sa.String(length=32), nullable=True),
        sa.Column("corrected_by", sa.String(length=128), nullable=True),
        sa.Column("created_at", core.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_category_corrections")),
    )


def downgrade() -> None:
    op.drop_table("category_corrections")
