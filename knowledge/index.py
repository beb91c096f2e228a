"""The policy library's search index: one in-memory copy per process, built from stored terms.

Why in memory: the library is small (1,500 articles here, 10,000 in the benchmark) and read far more
often than it changes; holding it in the process lets every question be scored with the same
features on SQLite and PostgreSQL (BM25 per field, the questions attached to each clause, the
law's name, the chapter), in a millisecond or two, without a round trip per candidate.

Freshness: every change to the library bumps `knowledge_revision` in its own transaction; a process
looks at the revision at most every `CHECK_EVERY` seconds (at once after a change it made itself)
and rebuilds when it moved. Building reads stored terms, so it does not segment the library again.
"""

from __future__ import annotations

import itertools
import math
import threading
import time
import uuid
from dataclasses import dataclass
from typing import cast

import numpy as np
from scipy.sparse import csc_matrix, csr_matrix
from sqlalchemy import select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from knowledge.models import Clause, ClauseQuestion, KnowledgeRevision, PolicyDocument
from nlp.tokenizer import cut_for_search

# Bump when the way terms are made changes (tokenizer, dictionary, what is indexed): `refresh_terms`
# then rewrites every stored term string once.
TERMS_VERSION = "3"
CHECK_EVERY = 5.0  # seconds between looks at the revision
K1, B = 1.2, 0.75


def terms_of(value: str) -> str:
    """Index terms: jieba's search cut (long words and the words inside them), content only."""
    return " ".join(t for t in cut_for_search(value) if _content(t))


def _content(token: str) -> bool:
    token = token.strip()
    return bool(token) and any(ch.isalnum() for ch in token) and not (token.isdigit() and len(token) < 3)


def char_grams(value: str) -> list[str]:
    """Character unigrams and bigrams of the Chinese/alphanumeric characters: robust where the
    segmenter cuts a colloquial question differently from the text it should match."""
    chars = [ch for ch in value if ch.isalnum()]
    return chars + [a + b for a, b in itertools.pairwise(chars)]


# -- the stored side: terms and the revision -------------------------------------------------------


def index_terms(clause: Clause) -> None:
    clause.body_terms = terms_of(clause.text)
    clause.heading_terms = terms_of(" ".join(filter(None, [clause.context, clause.heading])))


def bump(session: Session) -> None:
    """Call in the transaction of any change to documents, clauses or questions."""
    token = uuid.uuid4().hex
    done = session.execute(update(KnowledgeRevision).where(KnowledgeRevision.id == 1).values(revision=token))
    if cast(CursorResult, done).rowcount == 0:
        session.add(KnowledgeRevision(id=1, revision=token, terms_version=""))
    _changed.set()


def refresh_terms(session: Session) -> int:
    """Rewrite stored terms made by an older TERMS_VERSION (a new dictionary, say). Returns how many."""
    row = session.get(KnowledgeRevision, 1)
    if row is not None and row.terms_version == TERMS_VERSION:
        return 0
    n = 0
    for clause in session.scalars(select(Clause)):
        index_terms(clause)
        n += 1
    for question in session.scalars(select(ClauseQuestion)):
        question.terms = terms_of(question.text)
        n += 1
    bump(session)
    session.flush()
    stored = session.get(KnowledgeRevision, 1)
    assert stored is not None  # bump() above wrote it if it was missing
    stored.terms_version = TERMS_VERSION
    return n


def current_revision(session: Session) -> str:
    return session.scalar(select(KnowledgeRevision.revision).where(KnowledgeRevision.id == 1)) or ""


# -- the in-memory side ------------------------------------------------------------------------


@dataclass(frozen=True)
class DocumentInfo:
    """A document as search results show it (the same names as PolicyDocument's)."""

    id: int
    source: str
    key: str
    title: str
    version: str
    issuer: str
    doc_number: str
    region: str

    @property
    def cite(self) -> str:
        extra = f"{self.version} 版" if self.version else self.doc_number or self.issuer
        return f"《{self.title}》" + (f"（{extra}）" if extra else "")


@dataclass(frozen=True)
class Entry:
    """One clause as the index holds it: enough to show and cite it without another query."""

    id: int
    seq: int
    path: str
    heading: str
    context: str
    text: str
    document: DocumentInfo

    @property
    def clause_id(self) -> int:
        return self.id

    @property
    def document_id(self) -> int:
        return self.document.id

    @property
    def region(self) -> str:
        return self.document.region

    @property
    def anchor(self) -> str:
        return f"c{self.seq}"

    @property
    def citation(self) -> str:
        return f"《{self.document.title}》{self.path}"


class Field:
    """BM25 weights of one field (docs × terms), column-sliced per query."""

    def __init__(self, rows: list[list[str]], vocabulary: dict[str, int]):
        df = np.zeros(len(vocabulary))
        indptr, indices, values = [0], [], []
        lengths = np.array([len(r) for r in rows], dtype=float)
        average = lengths.mean() if len(rows) and lengths.mean() > 0 else 1.0
        for terms, length in zip(rows, lengths, strict=True):
            counts: dict[int, int] = {}
            for t in terms:
                j = vocabulary.get(t)
                if j is not None:
                    counts[j] = counts.get(j, 0) + 1
            for j, tf in counts.items():
                df[j] += 1
                indices.append(j)
                values.append(tf * (K1 + 1) / (tf + K1 * (1 - B + B * length / average)))
            indptr.append(len(indices))
        n = max(len(rows), 1)
        self.idf = np.log(1 + (n - df + 0.5) / (df + 0.5))
        tf = csr_matrix((values, indices, indptr), shape=(len(rows), len(vocabulary)))
        self.weights = csc_matrix(tf.multiply(self.idf.reshape(1, -1)))
        self.present = csc_matrix((tf > 0).astype(np.float32))

    def score(self, columns: np.ndarray, weights: np.ndarray) -> np.ndarray:
        if not len(columns):
            return np.zeros(self.weights.shape[0])
        return np.asarray(self.weights[:, columns] @ weights).ravel()


class LibraryIndex:
    """All active clauses of one revision, with their fields and attached questions."""

    def __init__(
        self,
        revision: str,
        entries: list[Entry],
        body: list[list[str]],
        heading: list[list[str]],
        questions: list[list[str]],
        question_texts: list[list[str]],
        titles: dict[int, list[str]],
    ):
        self.revision = revision
        self.entries = entries
        vocabulary: dict[str, int] = {}
        for rows in (body, heading, questions):
            for terms in rows:
                for t in terms:
                    vocabulary.setdefault(t, len(vocabulary))
        self.vocabulary = vocabulary
        self.body = Field(body, vocabulary)
        self.heading = Field(heading, vocabulary)
        self.questions = Field(questions, vocabulary)
        self.question_texts = question_texts
        self.titles = titles  # document id -> names a question may use for it ("劳动合同法", "劳动合同")
        self.grams = _GramIndex(question_texts, [e.text for e in entries])
        # The same over each clause's own text: a colloquial question still shares characters with it.
        self.text_grams = _GramIndex([[f"{e.document.title} {e.context} {e.heading} {e.text}"] for e in entries])
        # Terms of each clause in any field, for coverage (which of the question's words it holds).
        self.any_field = (self.body.present + self.heading.present + self.questions.present).tocsc()

    def __len__(self) -> int:
        return len(self.entries)


class _GramIndex:
    """Character-gram TF-IDF over the attached questions: the best match of a user's question among a
    clause's questions, whatever the segmenter made of either."""

    def __init__(self, question_texts: list[list[str]], own_texts: list[str] | None = None):
        owner, vectors = [], []
        vocabulary: dict[str, int] = {}
        df: dict[int, int] = {}
        for i, texts in enumerate(question_texts):
            for text in texts:
                counts: dict[int, int] = {}
                for g in char_grams(text):
                    j = vocabulary.setdefault(g, len(vocabulary))
                    counts[j] = counts.get(j, 0) + 1
                for j in counts:
                    df[j] = df.get(j, 0) + 1
                vectors.append(counts)
                owner.append(i)
        n = max(len(vectors), 1)
        self.vocabulary = vocabulary
        self.idf = np.array([math.log((1 + n) / (1 + df.get(j, 0))) + 1 for j in range(len(vocabulary))])
        indptr, indices, values = [0], [], []
        for counts in vectors:
            cols = np.fromiter(counts.keys(), dtype=np.intp, count=len(counts))
            w = (1 + np.log(np.fromiter(counts.values(), dtype=float, count=len(counts)))) * self.idf[cols]
            w /= np.sqrt(w @ w) or 1.0
            indices.extend(cols.tolist())
            values.extend(w.tolist())
            indptr.append(len(indices))
        self.matrix = csr_matrix((values, indices, indptr), shape=(len(vectors), len(vocabulary)))
        self.owner = np.array(owner, dtype=np.intp)
        self.count = len(question_texts)
        self.centroids = self._centroids(own_texts) if own_texts is not None else None
        # Queries take a few columns of every row: column-major makes that slice a copy of a few runs.
        self.matrix = csc_matrix(self.matrix)

    def _vector(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """The text's grams that the index knows (columns) and their unit-length tf-idf weights."""
        counts: dict[int, int] = {}
        for g in char_grams(text):
            j = self.vocabulary.get(g)
            if j is not None:
                counts[j] = counts.get(j, 0) + 1
        cols = np.fromiter(counts.keys(), dtype=np.intp, count=len(counts))
        w = (1 + np.log(np.fromiter(counts.values(), dtype=float, count=len(counts)))) * self.idf[cols]
        return cols, w / (np.sqrt(w @ w) or 1.0)

    def _centroids(self, own_texts: list[str]) -> csc_matrix:
        """Per clause: the direction of all its attached questions together and of its own text, each
        at unit length. Measured on both question sets, the nearest centroid generalises to another
        writer's wording better than the nearest single question: what many questions share counts,
        one question's accidental words do not."""
        n = len(self.owner)
        members = csr_matrix((np.ones(n), (self.owner, np.arange(n))), shape=(self.count, n)) @ self.matrix
        questions = csr_matrix(members.multiply(1 / np.maximum(_row_norms(members), 1e-12)[:, None]))
        indptr, indices, values = [0], [], []
        for text in own_texts:
            cols, w = self._vector(text)
            indices.extend(cols.tolist())
            values.extend(w.tolist())
            indptr.append(len(indices))
        own = csr_matrix((values, indices, indptr), shape=(self.count, len(self.vocabulary)))
        both = questions + own
        return csc_matrix(both.multiply(1 / np.maximum(_row_norms(both), 1e-12)[:, None]))

    def best(self, question: str) -> np.ndarray:
        """Per clause: the cosine of the question with its closest attached question (0 if none)."""
        return self.match(question)[0]

    def match(self, question: str) -> tuple[np.ndarray, np.ndarray]:
        """Per clause: the closest attached question's cosine, and the votes of the nearest ones."""
        result = np.zeros(self.count)
        counts: dict[int, int] = {}
        for g in char_grams(question):
            j = self.vocabulary.get(g)
            if j is not None:
                counts[j] = counts.get(j, 0) + 1
        if not counts or not len(self.owner):
            return result, np.zeros(self.count)
        cols = np.fromiter(counts.keys(), dtype=np.intp, count=len(counts))
        w = (1 + np.log(np.fromiter(counts.values(), dtype=float, count=len(counts)))) * self.idf[cols]
        # The question's own norm counts grams no attached question has: a long question that shares
        # little with any of them scores low.
        norm = math.sqrt(float(w @ w) + sum(1.0 for g in set(char_grams(question)) if g not in self.vocabulary))
        sims = np.asarray(self.matrix[:, cols] @ w).ravel() / (norm or 1.0)
        np.maximum.at(result, self.owner, sims)
        return result, self._votes(sims)

    def centroid(self, question: str) -> np.ndarray:
        """Per clause: the cosine of the question with the clause's centroid (0 without centroids)."""
        if self.centroids is None:
            return np.zeros(self.count)
        cols, w = self._vector(question)
        if not len(cols):
            return np.zeros(self.count)
        return np.asarray(self.centroids[:, cols] @ w).ravel()

    def _votes(self, sims: np.ndarray, k: int = 20) -> np.ndarray:
        """Per clause: the squared similarities of the question's k nearest attached questions that
        belong to it — several close questions agreeing outweigh one lucky match."""
        votes = np.zeros(self.count)
        if len(sims) == 0:
            return votes
        nearest = np.argpartition(-sims, min(k, len(sims) - 1))[:k]
        np.add.at(votes, self.owner[nearest], sims[nearest] ** 2)
        return votes


def _row_norms(m: csr_matrix) -> np.ndarray:
    return np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())


def build(session: Session) -> LibraryIndex:
    revision = current_revision(session)
    documents = {
        d.id: DocumentInfo(d.id, d.source, d.key, d.title, d.version, d.issuer, d.doc_number, d.region)
        for d in session.execute(
            select(
                PolicyDocument.id,
                PolicyDocument.source,
                PolicyDocument.key,
                PolicyDocument.title,
                PolicyDocument.version,
                PolicyDocument.issuer,
                PolicyDocument.doc_number,
                PolicyDocument.region,
            ).where(PolicyDocument.status == "active")
        )
    }
    rows = (
        session.execute(
            select(
                Clause.id,
                Clause.seq,
                Clause.path,
                Clause.heading,
                Clause.context,
                Clause.text,
                Clause.body_terms,
                Clause.heading_terms,
                Clause.document_id,
            )
            .where(Clause.document_id.in_(list(documents)))
            .order_by(Clause.id)
        ).all()
        if documents
        else []
    )
    attached: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for key, path, text, terms in session.execute(
        select(ClauseQuestion.document_key, ClauseQuestion.clause_path, ClauseQuestion.text, ClauseQuestion.terms)
    ):
        attached.setdefault((key, path), []).append((text, terms))
    entries, body, heading, questions, question_texts = [], [], [], [], []
    titles: dict[int, list[str]] = {}
    for cid, seq, path, heading_, context, text, body_terms, heading_terms, doc_id in rows:
        doc = documents[doc_id]
        entries.append(Entry(cid, seq, path, heading_, context, text, doc))
        body.append(body_terms.split())
        heading.append(heading_terms.split())
        mine = attached.get((doc.key, path), [])
        questions.append([t for _, terms in mine for t in terms.split()])
        question_texts.append([q for q, _ in mine])
        if doc_id not in titles:
            titles[doc_id] = names_of(doc.title)
    return LibraryIndex(revision, entries, body, heading, questions, question_texts, titles)


def names_of(title: str) -> list[str]:
    """How a question may name a document: 劳动合同法 → 劳动合同法, 劳动合同; 工伤保险条例 → 工伤保险条例, 工伤条例."""
    short = title.removeprefix("中华人民共和国")
    names = {short}
    for suffix in ("法", "条例"):
        if short.endswith(suffix) and len(short) - len(suffix) >= 4:
            names.add(short[: -len(suffix)] + ("条例" if suffix == "条例" else "法"))
    return sorted((n for n in names if len(n) >= 4), key=len, reverse=True)


_lock = threading.Lock()
_cache: dict[str, tuple[float, LibraryIndex]] = {}  # database url -> (when checked, index)
_changed = threading.Event()  # this process changed the library: look at the revision now


def current(session: Session) -> LibraryIndex:
    """This process's index of the session's database, rebuilt when the library changed.

    The revision is a random token, never a counter: an index built inside a transaction that was
    then rolled back is cached under a token no committed change will ever carry again."""
    key = str(session.get_bind().engine.url)
    now = time.monotonic()
    cached = _cache.get(key)
    if cached is not None and now - cached[0] < CHECK_EVERY and not _changed.is_set():
        return cached[1]
    _changed.clear()
    revision = current_revision(session)
    if cached is None or cached[1].revision != revision:
        with _lock:
            cached = (now, build(session))
    _cache[key] = (now, cached[1])
    return cached[1]


def warm_up(Session) -> None:
    """Build this process's index now (before gunicorn forks, or before `run` serves), not on the
    first question."""
    with Session() as session:
        current(session)


def forget() -> None:
    """Drop every cached index (tests)."""
    _cache.clear()


def lookup_terms(index: LibraryIndex, terms: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
    columns, weights = [], []
    for t, w in terms.items():
        j = index.vocabulary.get(t)
        if j is not None:
            columns.append(j)
            weights.append(w)
    return np.array(columns, dtype=np.intp), np.array(weights, dtype=float)
