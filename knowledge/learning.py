"""The library learns the words enterprises use: a policy question an official answered by citing a
clause ("依据《劳动合同法》第十九条…") is attached to that clause, so the next enterprise asking it
that way finds the clause at once. Administrators see and edit these in the console."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from knowledge import index as library
from knowledge.models import Clause, ClauseQuestion, PolicyDocument

CITATION = re.compile(r"《([^》]{2,40})》\s*(第[一二三四五六七八九十百零]+条)")


def clause_for(session: Session, title: str, path: str):
    """The active clause a citation names: the document by its title or key (中华人民共和国… too)."""
    title = title.removeprefix("中华人民共和国")
    return session.scalars(
        select(Clause)
        .join(PolicyDocument)
        .where(
            PolicyDocument.status == "active",
            Clause.path == path,
            (PolicyDocument.title == title) | (PolicyDocument.key == title),
        )
        .limit(1)
    ).first()


def attach(session: Session, clause: Clause, question: str, origin: str, by: str = "") -> ClauseQuestion | None:
    """Attach a question to a clause, once; None when it is already there or empty."""
    text = " ".join(question.split())[:300]
    if len(text) < 4:
        return None
    key = clause.document.key
    exists = session.scalars(
        select(ClauseQuestion.id).where(
            ClauseQuestion.document_key == key, ClauseQuestion.clause_path == clause.path, ClauseQuestion.text == text
        )
    ).first()
    if exists is not None:
        return None
    row = ClauseQuestion(
        document_key=key,
        clause_path=clause.path,
        text=text,
        terms=library.terms_of(text),
        origin=origin,
        created_by=by[:100],
    )
    session.add(row)
    library.bump(session)
    return row


def learn_from_answer(session: Session, question: str, answer: str, by: str = "") -> list[ClauseQuestion]:
    """The clauses an official's answer cites get the enterprise's question attached."""
    learned = []
    for title, path in dict.fromkeys(CITATION.findall(answer or "")):
        clause = clause_for(session, title, path)
        if clause is not None:
            row = attach(session, clause, question, "ticket", by)
            if row is not None:
                learned.append(row)
    return learned
