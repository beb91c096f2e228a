"""wecom_groups: 企业微信 group chats of the 智能机器人, bound to departments; notifications.presentation

Revision ID: 0013_wecom_groups
Revises: 0012_outreach
Create Date: 2026-12-05
"""
import sqlalchemy as sa
from alembic import op

import core.db

revision = "0013_wecom_groups"
down_revision = "0012_outreach"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "wecom_groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("chat_id", sa.String(length=128), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("first_seen_at", core.db.UTCDateTime(), nullable=False),
        sa.Column("bound_at", core.db.UTCDateTime(), nullable=True),
        sa.Column("bound_by", sa.String(length=64), nullable=True),
        sa.Column("reply_url", sa.String(length=600), nullable=True),
        sa.Column("reply_url_at", core.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["department_id"], ["departments.id"],
                                name=op.f("fk_wecom_groups_department_id_departments")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wecom_groups")),
        sa.UniqueConstraint("chat_id", name=op.f("uq_wecom_groups_chat_id")),
    )
    with op.batch_alter_table("wecom_groups") as batch:
        batch.create_index(batch.f("ix_wecom_groups_department_id"), ["department_id"], unique=False)
    with op.batch_alter_table("notifications") as batch:
        batch.add_column(sa.Column("presentation", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.drop_column("presentation")
    with op.batch_alter_table("wecom_groups") as batch:
        batch.drop_index(batch.f("ix_wecom_groups_department_id"))
    op.drop_table("wecom_groups")
