"""Reaching the enterprise outside the chat window: evidence it sends (photos, voice, files), the
one-tap rating links, and policy pushes with what became of each."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, utcnow
from tickets.models import Enterprise, Ticket


class Attachment(Base):
    """A photo, a voice message or a file the enterprise sent as evidence. Stored first as the
    platform's media id; the queue downloads it within the platform's 3-day media lifetime."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[str] = mapped_column(String(128))  # who sent it (owner until a ticket takes it)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # image | voice | video | file
    media_id: Mapped[str] = mapped_column(String(256))
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | stored | rejected | failed
    content_type: Mapped[str | None] = mapped_column(String(100))
    size: Mapped[int | None] = mapped_column(Integer)
    store: Mapped[str | None] = mapped_column(String(8))  # local | s3
    key: Mapped[str | None] = mapped_column(String(300))  # where the store keeps it
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    fetched_at: Mapped[datetime | None]

    ticket: Mapped[Ticket | None] = relationship()

    # The second index serves `attachments.adopt`, asked on every new ticket.
    __table_args__ = (UniqueConstraint("channel", "media_id"), Index("ix_attachments_owner", "channel", "user_id"))


class RatingLink(Base):
    """The one-tap rating link of one answer: signed, expiring, used once (tickets/rating_links.py)."""

    __tablename__ = "rating_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    resolved_at: Mapped[datetime]  # the answer it rates: a reopened and answered-again ticket gets a new one
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    opened_at: Mapped[datetime | None]  # the enterprise saw the answer on the page
    used_at: Mapped[datetime | None]

    ticket: Mapped[Ticket] = relationship()


class PolicyPush(Base):
    """A published policy document pushed to the enterprises its criteria match, once."""

    __tablename__ = "policy_pushes"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("policy_documents.id"), unique=True)
    summary: Mapped[str] = mapped_column(Text)
    criteria: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    published_by: Mapped[str] = mapped_column(String(160), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    targets: Mapped[list[PolicyPushTarget]] = relationship(back_populates="push", order_by="PolicyPushTarget.id")


class PolicyPushTarget(Base):
    """One matched enterprise of a push: notified (or only listed for its 包联干部), opened, asked."""

    __tablename__ = "policy_push_targets"

    id: Mapped[int] = mapped_column(primary_key=True)
    push_id: Mapped[int] = mapped_column(ForeignKey("policy_pushes.id"), index=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    notified: Mapped[bool] = mapped_column(default=False)  # a notice was written (it has a chat to go to)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    opened_at: Mapped[datetime | None]
    asked_at: Mapped[datetime | None]

    push: Mapped[PolicyPush] = relationship(back_populates="targets")
    enterprise: Mapped[Enterprise] = relationship()

    __table_args__ = (UniqueConstraint("push_id", "enterprise_id"),)
