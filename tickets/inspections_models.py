"""一叫就到 and 无事不扰 models: contact cards, service officers, call-outs, inspection filings."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any, Optional

from sqlalchemy import JSON, Date, ForeignKey, Integer, String, Text, UniqueConstraint
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
    wecom_user_id: Mapped[Optional[str]] = mapped_column(String(64))
    hours: Mapped[str] = mapped_column(String(64), default="工作日 9:00-12:00, 13:30-17:30")
    promise_minutes: Mapped[int] = mapped_column(Integer, default=120)  # call-out: answered within

    department: Mapped[Department] = relationship()


class ServiceOfficer(Base):
    """包联干部 / 首席服务员: officers assigned to an enterprise (多包一)."""

    __tablename__ = "service_officers"

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    official_id: Mapped[int] = mapped_column(ForeignKey("officials.id"))
    role: Mapped[str] = mapped_column(String(32), default="包联干部")

    enterprise: Mapped[Enterprise] = relationship()
    official: Mapped[Official] = relationship()
    __table_args__ = (UniqueConstraint("enterprise_id", "official_id"),)


class CallOut(Base):
    """"请联系我": tracked like a ticket, from request to the enterprise confirming the contact."""

    __tablename__ = "call_outs"

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    official_id: Mapped[int] = mapped_column(ForeignKey("officials.id"), index=True)
    text: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="requested")  # requested|responded|confirmed
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_at: Mapped[datetime]
    responded_at: Mapped[Optional[datetime]]
    confirmed_at: Mapped[Optional[datetime]]
    reminded_at: Mapped[Optional[datetime]]

    enterprise: Mapped[Enterprise] = relationship()
    official: Mapped[Official] = relationship()


class InspectionFiling(Base):
    """涉企行政执法备案: filed before the inspection, approved by someone else, shown at the door."""

    __tablename__ = "inspection_filings"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)  # the short verification code (扫码入企)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    filed_by_id: Mapped[int] = mapped_column(ForeignKey("officials.id"))
    approver_id: Mapped[Optional[int]] = mapped_column(ForeignKey("officials.id"))
    kind: Mapped[str] = mapped_column(String(16))  # random | special | complaint | assigned
    matters: Mapped[str] = mapped_column(Text)
    legal_basis: Mapped[str] = mapped_column(Text)
    inspectors: Mapped[str] = mapped_column(String(300))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|approved|rejected
    reason: Mapped[Optional[str]] = mapped_column(Text)  # why an A-tier enterprise is inspected routinely
    warnings: Mapped[list[Any]] = mapped_column(JSON, default=list)  # joint-inspection and yearly-cap flags
    decision_note: Mapped[Optional[str]] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[Optional[datetime]]

    department: Mapped[Department] = relationship()
    filed_by: Mapped[Official] = relationship(foreign_keys=[filed_by_id])
    approver: Mapped[Optional[Official]] = relationship(foreign_keys=[approver_id])
    targets: Mapped[list["InspectionTarget"]] = relationship(back_populates="filing", order_by="InspectionTarget.id")


class InspectionTarget(Base):
    """One enterprise of a filing, and what happened at its door (scan, rating)."""

    __tablename__ = "inspection_targets"

    id: Mapped[int] = mapped_column(primary_key=True)
    filing_id: Mapped[int] = mapped_column(ForeignKey("inspection_filings.id"), index=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    scanned_at: Mapped[Optional[datetime]]
    rating: Mapped[Optional[int]]  # anonymous: stored here without who rated

    filing: Mapped[InspectionFiling] = relationship(back_populates="targets")
    enterprise: Mapped[Enterprise] = relationship()
    __table_args__ = (UniqueConstraint("filing_id", "enterprise_id"),)
