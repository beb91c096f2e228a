"""一叫就到 models: the contact cards enterprises are shown, and the call-outs they ask for."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, utcnow
from tickets.models import Department, Enterprise, Official


class ContactCard(Base):
    """One department's card for a set of matters: whom to call, when, and how fast they come."""

    __tablename__ = "contact_cards"

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    matters: Mapped[str] = mapped_column(Text)  # 营业执照、排污许可 … separated by 、 or commas
    person: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(64), default="")
    phone: Mapped[str] = mapped_column(String(32))
    wecom_user_id: Mapped[str | None] = mapped_column(String(64))
    hours: Mapped[str] = mapped_column(String(64), default="工作日 9:00-12:00, 13:30-17:30")
    promise_minutes: Mapped[int] = mapped_column(Integer, default=120)  # call-out: answered within

    department: Mapped[Department] = relationship()


class CallOut(Base):
    """ "请联系我": tracked like a ticket, from request to the enterprise confirming the contact."""

    __tablename__ = "call_outs"

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    official_id: Mapped[int] = mapped_column(ForeignKey("officials.id"), index=True)
    text: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="requested")  # requested|responded|confirmed
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_at: Mapped[datetime]
    responded_at: Mapped[datetime | None]
    confirmed_at: Mapped[datetime | None]
    reminded_at: Mapped[datetime | None]

    enterprise: Mapped[Enterprise] = relationship()
    official: Mapped[Official] = relationship()
