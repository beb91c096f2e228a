"""Knowledge models (SQLAlchemy 2.0 typed mappings): policy documents, their clauses, the questions
attached to clauses, and the library's revision.

Each clause keeps its search terms (jieba tokens, written at ingest), so that a process builds its
in-memory index (knowledge/index.py) from rows without segmenting the library again; the revision
tells every process when the library changed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, utcnow


class PolicyDocument(Base):
    __tablename__ = "policy_documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(300), unique=True)  # the ingested file's name
    # One law in all its versions shares a key ("劳动合同法"); `version` is the date of the text
    # (from a file name such as 劳动合同法(2012-12-28).md). Ingesting a newer version retires the older.
    key: Mapped[str] = mapped_column(String(300), default="", index=True)
    version: Mapped[str] = mapped_column(String(10), default="")
    title: Mapped[str] = mapped_column(String(300))
    issuer: Mapped[str] = mapped_column(String(200), default="")
    doc_number: Mapped[str] = mapped_column(String(100), default="")  # 文号, e.g. 国办发〔2024〕54号
    issued: Mapped[str] = mapped_column(String(20), default="")  # as printed: 2025年5月27日
    region: Mapped[str] = mapped_column(String(60), default="")
    content_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | retired
    ingested_at: Mapped[datetime] = mapped_column(default=utcnow)

    clauses: Mapped[list[Clause]] = relationship(
        back_populates="document", order_by="Clause.seq", cascade="all, delete-orphan"
    )

    @property
    def cite(self) -> str:
        """How a citation names the document: title, then the version, 文号 or the issuing body."""
        extra = f"{self.version} 版" if self.version else self.doc_number or self.issuer
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
    # Search terms written at ingest (knowledge/index.py: TERMS_VERSION says how they were made).
    body_terms: Mapped[str] = mapped_column(Text, default="")
    heading_terms: Mapped[str] = mapped_column(Text, default="")

    document: Mapped[PolicyDocument] = relationship(back_populates="clauses")

    @property
    def anchor(self) -> str:
        return f"c{self.seq}"

    @property
    def citation(self) -> str:
        """《劳动合同法》第十九条, or 《…机制》二、(一) 1."""
        return f"《{self.document.title}》{self.path}"


class ClauseQuestion(Base):
    """A question a clause answers, in the words enterprises use ("试用期最多多久").

    Attached by the law's key and the clause's path, not by row id: clauses are rewritten when a
    document is ingested again, and a new version of a law keeps its articles' questions. Bundled
    ones ship in knowledge/corpus/questions/; administrators add and edit them in the console, and
    an official who answers a policy ticket by citing a clause adds the enterprise's question.
    """

    __tablename__ = "clause_questions"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_key: Mapped[str] = mapped_column(String(300))
    clause_path: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(String(300))
    terms: Mapped[str] = mapped_column(Text, default="")
    origin: Mapped[str] = mapped_column(String(16), default="bundled")  # bundled | console | ticket
    created_by: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_clause_questions_clause", "document_key", "clause_path"),)


class KnowledgeRevision(Base):
    """One row: a new random token in the transaction of every change to the library, so each process
    knows when its in-memory index is stale."""

    __tablename__ = "knowledge_revision"

    id: Mapped[int] = mapped_column(primary_key=True)
    revision: Mapped[str] = mapped_column(String(32), default="")
    terms_version: Mapped[str] = mapped_column(String(40), default="")
