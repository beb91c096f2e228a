"""Knowledge models (SQLAlchemy 2.0 typed mappings): policy documents and their clauses.

The search index lives beside these tables in `fts_*` tables that each database builds its own
way (an FTS5 virtual table on SQLite, a tsvector with a GIN index on PostgreSQL); see search.py.
"""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.db import Base, utcnow


class PolicyDocument(Base):
    __tablename__ = "policy_documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(300), unique=True)  # the ingested file's name
    title: Mapped[str] = mapped_column(String(300))
    issuer: Mapped[str] = mapped_column(String(200), default="")
    doc_number: Mapped[str] = mapped_column(String(100), default="")  # 文号, e.g. 国办发〔2024〕54号
    issued: Mapped[str] = mapped_column(String(20), default="")  # as printed: 2025年5月27日
    region: Mapped[str] = mapped_column(String(60), default="")
    content_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | retired
    ingested_at: Mapped[datetime] = mapped_column(default=utcnow)

    clauses: Mapped[list["Clause"]] = relationship(back_populates="document", order_by="Clause.seq",
                                                   cascade="all, delete-orphan")

    @property
    def cite(self) -> str:
        """How a citation names the document: title, then 文号 or the issuing body."""
        extra = self.doc_number or self.issuer
        return f"《{self.title}》" + (f"（{extra}）" if extra else "")


class Clause(Base):
    """One retrievable piece: a numbered clause (or a chunk of a long one) with its heading path."""

    __tablename__ = "policy_clauses"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("policy_documents.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    path: Mapped[str] = mapped_column(String(100), default="")  # 三、(一) 2.
    heading: Mapped[str] = mapped_column(Text, default="")  # this clause's own heading, when it has one
    context: Mapped[str] = mapped_column(Text, default="")  # the parent headings, outermost first
    text: Mapped[str] = mapped_column(Text)

    document: Mapped[PolicyDocument] = relationship(back_populates="clauses")

    @property
    def anchor(self) -> str:
        return f"c{self.seq}"
