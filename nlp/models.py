"""Officials' corrections of a ticket's category: kept, and used by `train --include-corrections`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, utcnow


class Correction(Base):
    __tablename__ = "category_corrections"

    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    predicted: Mapped[str | None] = mapped_column(String(32))
    category: Mapped[str] = mapped_column(String(32))
    ticket_number: Mapped[str | None] = mapped_column(String(32))
    corrected_by: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def record_correction(
    session,
    *,
    text: str,
    category: str,
    predicted: str | None = None,
    ticket_number: str | None = None,
    corrected_by: str | None = None,
) -> Correction:
    """Called when an official corrects a category; the caller owns the transaction."""
    from nlp.categories import TICKET_CATEGORIES

    if category not in TICKET_CATEGORIES:
        raise ValueError(f"unknown category {category!r}")
    row = Correction(
        text=text, category=category, predicted=predicted, ticket_number=ticket_number, corrected_by=corrected_by
    )
    session.add(row)
    return row
