"""`answer(question)`: the clauses that answer a question, or None when the library does not.

The conversation asks this for every question it meets. None is decided by the calibrated
confidence of the best clause against a threshold read off a coverage/precision curve on the
project's own answerable and unanswerable questions (`appealbot tune-search`), never by a raw
score: a question about office hours or this year's 社保 base gets no unrelated article.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from knowledge.index import Entry
from knowledge.search import Hit, Query, model, parse_query, rank

SECOND_WITHIN = 0.75  # a second clause is shown when it is nearly as likely to answer as the first
SENTENCE = re.compile(r"(?<=[。；;！？!?\n])")


@dataclass
class Shown:
    """One clause as the reply shows it: from the sentence that answers, within the room given."""

    clause: Entry  # as the search index holds it (knowledge/index.py), not the stored row
    excerpt: str
    confidence: float

    @property
    def citation(self) -> dict[str, str]:
        doc = self.clause.document
        return {"source": doc.source, "clause": self.clause.path, "title": doc.title}


@dataclass
class Answer:
    question: str
    shown: list[Shown]
    confidence: float  # of the first clause
    matched: list[str] = field(default_factory=list)

    @property
    def citations(self) -> list[dict[str, str]]:
        return [s.citation for s in self.shown]


def answer(session: Session, question: str, room: int = 420, region: str | None = None) -> Answer | None:
    """`room`: characters the excerpts may take together (the reply must stay one WeChat message)."""
    threshold = model().threshold
    hits = [h for h in rank(session, question, k=3, region=region) if h.confidence >= threshold]
    if not hits:
        return None
    chosen = [hits[0]] + [
        h for h in hits[1:2] if h.confidence >= hits[0].confidence * SECOND_WITHIN and h.clause.id != hits[0].clause.id
    ]
    query = parse_query(question)
    each = room // len(chosen)
    shown = [Shown(h.clause, excerpt(h.clause.text, query, each), h.confidence) for h in chosen]
    return Answer(question, shown, hits[0].confidence, hits[0].matched)


def excerpt(text: str, query: Query, room: int) -> str:
    """The clause from the sentence that answers: the sentence holding most of the question's terms
    leads, with the sentences after it as room allows (and the ones before, if room is left)."""
    body = text.strip()
    if len(body) <= room:
        return body
    sentences = [s for s in SENTENCE.split(body) if s.strip()]
    terms = query.terms
    scores = [sum(w for t, w in terms.items() if t in s) for s in sentences]
    best = max(range(len(sentences)), key=lambda i: (scores[i], -i))
    label = re.match(r"^第[一二三四五六七八九十百零]+条\s*", body)
    start, end = best, best + 1
    used = len(sentences[best])
    while end < len(sentences) and used + len(sentences[end]) <= room - 2:
        used += len(sentences[end])
        end += 1
    while start > 0 and used + len(sentences[start - 1]) <= room - 2:
        start -= 1
        used += len(sentences[start])
    piece = "".join(sentences[start:end]).strip()
    if len(piece) > room:
        piece = piece[: room - 1] + "…"
    prefix = ""
    if start > 0:
        prefix = (label.group(0).strip() + " ") if label else ""
        prefix += "…"
    suffix = "…" if end < len(sentences) and not piece.endswith("…") else ""
    return f"{prefix}{piece}{suffix}".replace("\n", "")


def hits_for(session: Session, question: str, k: int = 3) -> list[Hit]:
    """The ranked hits with their confidence (for the CLI's --json and the evaluation)."""
    return rank(session, question, k=k)
