"""无事不扰 models: inspection filings (凡检必报) and the enterprises each covers."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, utcnow
from tickets.models import Department, Enterprise, Official


class InspectionFiling(Base):
    """涉企行政执法备案: filed before the inspection, approved by someone else, shown at the door."""

    __tablename__ = "inspection_filings"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)  # the short verification code (扫码入企)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    filed_by_id: Mapped[int] = mapped_column(ForeignKey("officials.id"))
    approver_id: Mapped[int | None] = mapped_column(ForeignKey("officials.id"))
    kind: Mapped[str] = mapped_column(String(16))  # random | special | complaint | assigned
    matters: Mapped[str] = mapped_column(Text)
    legal_basis: Mapped[str] = mapped_column(Text)
    inspectors: Mapped[str] = mapped_column(String(300))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|approved|rejected
    reason: Mapped[str | None] = mapped_column(Text)  # why an A-tier enterprise is inspected routinely
    warnings: Mapped[list[Any]] = mapped_column(JSON, default=list)  # joint-inspection and yearly-cap flags
    decision_note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]

    department: Mapped[Department] = relationship()
    filed_by: Mapped[Official] = relationship(foreign_keys=[filed_by_id])
    approver: Mapped[Official | None] = relationship(foreign_keys=[approver_id])
    targets: Mapped[list[InspectionTarget]] = relationship(back_populates="filing", order_by="InspectionTarget.id")


class InspectionTarget(Base):
    """One enterprise of a filing, and what happened at its door (scan, rating)."""

    __tablename__ = "inspection_targets"

    id: Mapped[int] = mapped_column(primary_key=True)
    filing_id: Mapped[int] = mapped_column(ForeignKey("inspection_filings.id"), index=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    scanned_at: Mapped[datetime | None]
    rating: Mapped[int | None]  # anonymous: stored here without who rated

    filing: Mapped[InspectionFiling] = relationship(back_populates="targets")
    enterprise: Mapped[Enterprise] = relationship()
    __table_args__ = (UniqueConstraint("filing_id", "enterprise_id"),)
