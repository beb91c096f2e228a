"""The bundled policy library (knowledge/corpus/): the five mechanism documents and 21 laws and
regulations enterprises live under, with the questions attached to their articles; ingested by
`make run` (each file skipped when unchanged).

They ship inside the package so that the bot answers policy questions out of the box and the
project never reads ../shared at run time; metadata.json names the mechanism documents (title,
issuer, region); a law's name and version come from its file name (劳动合同法(2012-12-28).md).
"""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from knowledge import index as library
from knowledge.ingest import VERSIONED, ingest_bytes
from knowledge.models import ClauseQuestion

CORPUS = Path(__file__).parent / "corpus"
QUESTIONS = CORPUS / "questions"


def documents() -> list[Path]:
    return sorted(p for p in CORPUS.iterdir() if p.is_file() and p.suffix in (".txt", ".md"))


def ingest_bundled(session: Session) -> str:
    meta = json.loads((CORPUS / "metadata.json").read_text(encoding="utf-8"))
    outcomes = [ingest_bytes(session, p.name, p.read_bytes(), meta.get(p.name)) for p in documents()]
    changed = sum(o.status in ("added", "updated") for o in outcomes)
    errors = [f"{o.source}: {o.message}" for o in outcomes if o.status == "error"]
    clauses = sum(o.clauses for o in outcomes)
    questions = sync_questions(session)
    refreshed = library.refresh_terms(session)
    line = (
        f"policy library: {len(outcomes)} documents, {clauses} clauses ({changed} ingested now), "
        f"{questions} attached questions" + (f", search terms rewritten for {refreshed} rows" if refreshed else "")
    )
    return line + ("; errors: " + "; ".join(errors) if errors else "")


def document_key(source: str) -> str:
    stem = Path(source).stem
    versioned = VERSIONED.match(stem)
    return versioned.group("key") if versioned else stem


def bundled_questions() -> list[tuple[str, str, str]]:
    """(document key, clause path, question) from knowledge/corpus/questions/*.jsonl."""
    found: dict[tuple[str, str, str], None] = {}
    for path in sorted(QUESTIONS.glob("*.jsonl")) if QUESTIONS.exists() else []:
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            item = json.loads(line)
            for question in item["questions"]:
                found[(document_key(item["source"]), item["clause"], question.strip()[:300])] = None
    return list(found)


def sync_questions(session: Session) -> int:
    """Make the bundled questions in the database match the files; questions added in the console or
    from tickets are left alone."""
    wanted = set(bundled_questions())
    rows = session.scalars(select(ClauseQuestion).where(ClauseQuestion.origin == "bundled")).all()
    have = {(r.document_key, r.clause_path, r.text): r for r in rows}
    stale = [r for key, r in have.items() if key not in wanted]
    new = [key for key in wanted if key not in have]
    for row in stale:
        session.delete(row)
    for key, path, text in sorted(new):
        session.add(
            ClauseQuestion(
                document_key=key, clause_path=path, text=text, terms=library.terms_of(text), origin="bundled"
            )
        )
    if stale or new:
        library.bump(session)
    return len(wanted)
