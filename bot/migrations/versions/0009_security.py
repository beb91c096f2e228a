"""inbound_messages: the delivery that owns a message, and until when its claim stands unlocked;
console_sessions: signed-in console sessions kept by the server

Revision ID: 0009_security
Revises: 0008_notification_sends
Create Date: 2026-11-24
"""
import sqlalchemy as sa
from alembic import op

import core.db

revision = "0009_security"
down_revision = "0008_notification_sends"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inbound_messages") as batch_op:
        batch_op.add_column(sa.Column("owner", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("lease_until", core.db.UTCDateTime(), nullable=True))
    op.create_table(
        "console_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("official_id", sa.Integer(), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(), nullable=False),
        sa.Column("expires_at", core.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["official_id"], ["officials.id"], name="fk_console_sessions_official_id_officials"),
        sa.PrimaryKeyConstraint("id", name="pk_console_sessions"),
        sa.UniqueConstraint("token_hash", name="uq_console_sessions_token_hash"),
    )
    op.create_index("ix_console_sessions_official_id", "console_sessions", ["official_id"])


def downgrade() -> None:
    op.drop_index("ix_console_sessions_official_id", table_name="console_sessions")
    op.drop_table("console_sessions")
    with op.batch_alter_table("inbound_messages") as batch_op:
        batch_op.drop_column("lease_until")
        batch_op.drop_column("owner")
