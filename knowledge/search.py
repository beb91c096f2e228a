"""Clause search: jieba tokens, BM25 in the database, a few boosts, the matched terms.

One interface, a backend per database, both over the same jieba-segmented text:
- SQLite: an FTS5 table (`fts_clauses`, unicode61 over space-separated tokens; a trigram tokenizer
  would never match the one- and two-character words that make up half of Chinese queries),
  ranked by column-weighted bm25();
- PostgreSQL: a `tsvector` (`simple` configuration, weights A/B/C for title, headings, body) with a
  GIN index, ranked by ts_rank.
Indexing uses cut_for_search (上海交通大学 also yields 上海/交通/大学); queries use the precise cut
with OR semantics and a stop list. Synonyms are folded by the tokenizer on both sides.
"""
from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Optional

from sqlalchemy import text
from sqlalchemy.orm import Session, selectinload

from knowledge.models import Clause, PolicyDocument
from nlp.tokenizer import cut, cut_for_search

MAX_QUERY_CHARS = 200  # a pasted page is cut to its beginning: questions are short
TITLE_WEIGHT, HEADING_WEIGHT, BODY_WEIGHT = 4.0, 2.0, 1.0
STOP = set("""的 了 和 与 及 或 是 在 有 吗 呢 啊 吧 呀 么 什么 怎么 怎么办 怎样 如何 哪些 哪个 哪里 哪 能 能不能 可以 可不可以
是否 会 要 想 请问 请 问 一下 我 我们 我司 你 你们 他们 公司 企业 这个 那个 这 那 就 都 也 还 又 给 对 把 被 让 从 到
为 为了 以 之 其 等 个 没有 没 不 吗？ 多少 多久 哪儿 一个 有没有 谁 咋 咋办 啥""".split())
CLAUSE_NUMBER = re.compile(r"第[一二三四五六七八九十百零]+条|[一二三四五六七八九十]+、|[(（][一二三四五六七八九十]+[)）]")


@dataclass
class Hit:
    clause: Clause
    score: float
    matched: list[str] = field(default_factory=list)
    coverage: float = 0.0  # share of the query's content words found in the clause

    def to_dict(self) -> dict:
        doc = self.clause.document
        return {"text": self.clause.text, "doc_title": doc.title, "source": doc.source, "clause": self.clause.path,
                "score": round(self.score, 4), "matched": self.matched, "coverage": round(self.coverage, 3),
                "doc_number": doc.doc_number, "issuer": doc.issuer, "region": doc.region, "heading": self.clause.heading,
                "document_id": doc.id, "anchor": self.clause.anchor}


def index_tokens(value: str) -> str:
    return " ".join(t for t in cut_for_search(value) if _content(t))


def query_terms(question: str) -> list[str]:
    words = [t for t in cut(question[:MAX_QUERY_CHARS]) if _content(t) and t not in STOP]
    return list(dict.fromkeys(words))


def _content(token: str) -> bool:
    token = token.strip()
    return bool(token) and any(ch.isalnum() for ch in token) and not (token.isdigit() and len(token) < 3)


def _quote(term: str) -> str:
    return '"' + term.replace('"', "") + '"'


@lru_cache(maxsize=20_000)
def _folded(value: str) -> frozenset[str]:
    """A clause's tokens after synonym folding, so 公积金 in a question matches 住房公积金 in a clause."""
    return frozenset(cut_for_search(value))


# -- indexing -----------------------------------------------------------------------------------

def index_clauses(session: Session, document: PolicyDocument) -> None:
    """(Re)writes the index rows of one document's clauses; called inside the ingest transaction."""
    _DF.clear()  # frequencies change with the corpus
    dialect = session.bind.dialect.name
    for clause in document.clauses:
        title = index_tokens(document.title)
        headings = index_tokens(" ".join(filter(None, [clause.context, clause.heading])))
        body = index_tokens(clause.text)
        if dialect == "postgresql":
            session.execute(text(
                "INSERT INTO fts_clause_vectors (clause_id, doc) VALUES (:id, "
                "setweight(to_tsvector('simple', :t), 'A') || setweight(to_tsvector('simple', :h), 'B') || "
                "setweight(to_tsvector('simple', :b), 'C')) "
                "ON CONFLICT (clause_id) DO UPDATE SET doc = EXCLUDED.doc"), {"id": clause.id, "t": title, "h": headings, "b": body})
        else:
            session.execute(text("INSERT OR REPLACE INTO fts_clauses (rowid, title, headings, body) VALUES (:id, :t, :h, :b)"),
                            {"id": clause.id, "t": title, "h": headings, "b": body})


def unindex(session: Session, clause_ids: list[int]) -> None:
    if not clause_ids:
        return
    if session.bind.dialect.name == "postgresql":
        session.execute(text("DELETE FROM fts_clause_vectors WHERE clause_id = ANY(:ids)"), {"ids": clause_ids})
    else:
        for cid in clause_ids:
            session.execute(text("DELETE FROM fts_clauses WHERE rowid = :id"), {"id": cid})


# -- searching ----------------------------------------------------------------------------------

def search(session: Session, question: str, k: int = 3, region: Optional[str] = None) -> list[Hit]:
    terms = query_terms(question or "")
    if not terms:
        return []
    k = max(1, min(int(k), 50))
    pool = max(k * 5, 20)  # re-rank a few more than asked, with the boosts below
    postgres = session.bind.dialect.name == "postgresql"
    if postgres:
        # ts_rank only chooses the candidates; they are scored with BM25 below, as FTS5 does on SQLite,
        # so that both databases rank alike.
        pool = max(pool, 50)
        query = " | ".join("'" + t.replace("'", "") + "'" for t in terms)
        rows = session.execute(text(
            "SELECT v.clause_id, ts_rank(v.doc, to_tsquery('simple', :q), 1) * 10 AS rank FROM fts_clause_vectors v "
            "JOIN policy_clauses c ON c.id = v.clause_id JOIN policy_documents d ON d.id = c.document_id "
            "WHERE v.doc @@ to_tsquery('simple', :q) AND d.status = 'active' AND (CAST(:region AS text) IS NULL OR d.region = :region) "
            "ORDER BY rank DESC LIMIT :n"), {"q": query, "n": pool, "region": region}).all()
    else:
        match = " OR ".join(_quote(t) for t in terms)
        rows = session.execute(text(
            f"SELECT f.rowid, -bm25(fts_clauses, {TITLE_WEIGHT}, {HEADING_WEIGHT}, {BODY_WEIGHT}) AS rank "
            "FROM fts_clauses f JOIN policy_clauses c ON c.id = f.rowid JOIN policy_documents d ON d.id = c.document_id "
            "WHERE fts_clauses MATCH :m AND d.status = 'active' AND (:region IS NULL OR d.region = :region) "
            "ORDER BY rank DESC LIMIT :n"), {"m": match, "n": pool, "region": region}).all()
    if not rows:
        return []
    clauses = {c.id: c for c in session.query(Clause).options(selectinload(Clause.document))
               .filter(Clause.id.in_([r[0] for r in rows]))}
    if postgres:
        rows = _bm25(session, terms, clauses, rows)
    phrase = re.sub(r"\s+", "", question or "")[:MAX_QUERY_CHARS]
    numbers = set(CLAUSE_NUMBER.findall(question or ""))
    hits = []
    for clause_id, rank in rows:
        clause = clauses.get(clause_id)
        if clause is None:
            continue
        whole = clause.heading + clause.context + clause.text
        matched = [t for t in terms if t in whole or t in _folded(whole)]
        score = float(rank)
        heading = clause.heading + " " + clause.context
        score *= 1 + 0.15 * sum(1 for t in terms if t in heading)  # the question names the clause's subject
        if len(phrase) >= 4 and phrase in re.sub(r"\s+", "", clause.text):
            score *= 1.5  # an exact phrase
        if numbers and any(n in clause.path.replace("(", "（").replace(")", "）") or n in clause.path for n in numbers):
            score *= 1.3  # "第五条", "（三）"
        coverage = len(matched) / len(terms)
        score *= 0.5 + coverage  # a clause that answers most of the question beats one that repeats a word
        hits.append(Hit(clause, score, matched, coverage))
    hits.sort(key=lambda h: (-h.score, h.clause.id))
    return hits[:k]


_DF: dict[tuple[str, str], tuple[float, int]] = {}  # (database, term) -> (when counted, clauses with it)
DF_TTL = 300.0  # seconds: document frequencies move only when documents are ingested


def _df(session: Session, term: str) -> int:
    key, now = (str(session.bind.url), term), time.monotonic()
    cached = _DF.get(key)
    if cached is None or now - cached[0] > DF_TTL:
        n = session.execute(text("SELECT count(*) FROM fts_clause_vectors WHERE doc @@ to_tsquery('simple', :q)"),
                            {"q": "'" + term.replace("'", "") + "'"}).scalar()
        cached = _DF[key] = (now, int(n))
    return cached[1]


def _total(session: Session) -> int:
    key, now = (str(session.bind.url), "\x00total"), time.monotonic()
    cached = _DF.get(key)
    if cached is None or now - cached[0] > DF_TTL:
        cached = _DF[key] = (now, int(session.execute(text("SELECT count(*) FROM fts_clause_vectors")).scalar() or 1))
    return cached[1]


def _bm25(session: Session, terms: list[str], clauses: dict, rows, k1: float = 1.2, b: float = 0.75):
    """BM25 over the candidates; document frequencies come from the GIN index, cached for a while."""
    total = _total(session)
    idf = {t: math.log(1 + (total - _df(session, t) + 0.5) / (_df(session, t) + 0.5)) for t in terms}
    texts = {cid: c.document.title * 2 + (c.heading + c.context) * 2 + c.text for cid, c in clauses.items()}
    average = sum(map(len, texts.values())) / max(len(texts), 1)
    scored = []
    for clause_id, _ in rows:
        body = texts.get(clause_id, "")
        score = 0.0
        for t in terms:
            tf = body.count(t)
            if tf:
                score += idf[t] * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len(body) / average))
        scored.append((clause_id, score))
    return scored


def answerable(hit: Hit, terms: int) -> bool:
    """Good enough to show as an answer: most of the question's words, or several of them."""
    if terms <= 2:
        return hit.coverage >= 0.5 and len(hit.matched) >= 1 and max(map(len, hit.matched)) >= 2
    return hit.coverage >= 0.5 or (len(hit.matched) >= 3 and hit.coverage >= 0.34)
