"""outreach: enterprise profiles and opt-outs, notice kinds for template messages and SMS, evidence
attachments, one-tap rating links, policy pushes

Revision ID: 0012_outreach
Revises: 0011_knowledge_library
Create Date: 2026-12-08
"""
import sqlalchemy as sa
from alembic import op

import core.db

revision = "0012_outreach"
down_revision = "0011_knowledge_library"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("enterprises") as batch:
        batch.add_column(sa.Column("size", sa.String(length=16), nullable=True))
        for flag in ("specialized", "high_tech", "push_opt_out", "sms_opt_out"):
            batch.add_column(sa.Column(flag, sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("notifications") as batch:
        batch.add_column(sa.Column("kind", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("data", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("once_key", sa.String(length=120), nullable=True))
        batch.create_unique_constraint(batch.f("uq_notifications_once_key"), ["once_key"])
    op.create_table(
        "attachments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("media_id", sa.String(length=256), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=True),
        sa.Column("size", sa.Integer(), nullable=True),
        sa.Column("store", sa.String(length=8), nullable=True),
        sa.Column("key", sa.String(length=300), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(length=300), nullable=True),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("fetched_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name=op.f("fk_attachments_ticket_id_tickets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attachments")),
        sa.UniqueConstraint("channel", "media_id", name=op.f("uq_attachments_channel")),
    )
    op.create_index(op.f("ix_attachments_ticket_id"), "attachments", ["ticket_id"], unique=False)
    op.create_index("ix_attachments_owner", "attachments", ["channel", "user_id"], unique=False)
    op.create_table(
        "rating_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("resolved_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("opened_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("used_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name=op.f("fk_rating_links_ticket_id_tickets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rating_links")),
    )
    op.create_index(op.f("ix_rating_links_ticket_id"), "rating_links", ["ticket_id"], unique=False)
    op.create_table(
        "policy_pushes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("criteria", sa.JSON(), nullable=False),
        sa.Column("published_by", sa.String(length=160), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["document_id"], ["policy_documents.id"],
                                name=op.f("fk_policy_pushes_document_id_policy_documents")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_pushes")),
        sa.UniqueConstraint("document_id", name=op.f("uq_policy_pushes_document_id")),
    )
    op.create_table(
        "policy_push_targets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("push_id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("notified", sa.Boolean(), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("opened_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("asked_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["enterprise_id"], ["enterprises.id"],
                                name=op.f("fk_policy_push_targets_enterprise_id_enterprises")),
        sa.ForeignKeyConstraint(["push_id"], ["policy_pushes.id"],
                                name=op.f("fk_policy_push_targets_push_id_policy_pushes")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_push_targets")),
        sa.UniqueConstraint("push_id", "enterprise_id", name=op.f("uq_policy_push_targets_push_id")),
    )
    op.create_index(op.f("ix_policy_push_targets_push_id"), "policy_push_targets", ["push_id"], unique=False)
    op.create_index(op.f("ix_policy_push_targets_enterprise_id"), "policy_push_targets", ["enterprise_id"],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_policy_push_targets_enterprise_id"), table_name="policy_push_targets")
    op.drop_index(op.f("ix_policy_push_targets_push_id"), table_name="policy_push_targets")
    op.drop_table("policy_push_targets")
    op.drop_table("policy_pushes")
    op.drop_index(op.f("ix_rating_links_ticket_id"), table_name="rating_links")
    op.drop_table("rating_links")
    op.drop_index("ix_attachments_owner", table_name="attachments")
    op.drop_index(op.f("ix_attachments_ticket_id"), table_name="attachments")
    op.drop_table("attachments")
    with op.batch_alter_table("notifications") as batch:
        batch.drop_constraint(batch.f("uq_notifications_once_key"), type_="unique")
        batch.drop_column("once_key")
        batch.drop_column("data")
        batch.drop_column("kind")
    with op.batch_alter_table("enterprises") as batch:
        for column in ("sms_opt_out", "push_opt_out", "high_tech", "specialized", "size"):
            batch.drop_column(column)
