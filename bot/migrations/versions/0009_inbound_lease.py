"""inbound_messages: the delivery that owns a message, and until when its claim stands unlocked

Revision ID: 0009_inbound_lease
Revises: 0008_notification_sends
Create Date: 2026-11-24
"""
import sqlalchemy as sa
from alembic import op

import bot.db

revision = "0009_inbound_lease"
down_revision = "0008_notification_sends"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inbound_messages") as batch_op:
        batch_op.add_column(sa.Column("owner", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("lease_until", bot.db.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("inbound_messages") as batch_op:
        batch_op.drop_column("lease_until")
        batch_op.drop_column("owner")
