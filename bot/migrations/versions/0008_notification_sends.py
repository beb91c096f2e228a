"""notifications: index for the per-recipient send limits

Revision ID: 0008_notification_sends
Revises: 0007_knowledge
Create Date: 2026-11-23
"""
from alembic import op

revision = "0008_notification_sends"
down_revision = "0007_knowledge"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_notifications_recipient_sent", "notifications", ["channel", "recipient", "sent_at"])


def downgrade() -> None:
    op.drop_index("ix_notifications_recipient_sent", table_name="notifications")
