"""What the conversation core keeps: every inbound message, and each user's dialogue state."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, utcnow


class InboundMessage(Base):
    """Stored before it is handled, so nothing an enterprise sent is lost if handling fails.

    `dedupe_key` is unique: a platform retry of the same message cannot be stored twice, which is
    what makes processing exactly-once across threads and processes.
    """

    __tablename__ = "inbound_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    user_id: Mapped[str] = mapped_column(String(128))
    msg_type: Mapped[str] = mapped_column(String(32))
    text: Mapped[str | None] = mapped_column(Text)
    raw: Mapped[str] = mapped_column(Text, default="")
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default="received")  # received|handled|failed
    reply: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    handled_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
    # The delivery handling it (handlers/inbox.py): it holds the row's lock while it handles; until
    # `lease_until` its claim stands even before it takes the lock.
    owner: Mapped[str | None] = mapped_column(String(32))
    lease_until: Mapped[datetime | None]

    __table_args__ = (Index("ix_inbound_messages_user", "channel", "user_id", "received_at"),)


class DialogueState(Base):
    """One open multi-turn flow per user (asking for a company name, a rating …), with an expiry."""

    __tablename__ = "dialogue_states"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    flow: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    expires_at: Mapped[datetime]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
