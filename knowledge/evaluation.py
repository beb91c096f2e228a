"""Recall@1, Recall@3 and MRR of the clause search over a question set written for the project."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

from sqlalchemy.orm import Session

from knowledge.search import search

QUESTIONS = Path(__file__).parent / "eval" / "questions.jsonl"


def load_questions(path: Optional[str] = None) -> list[dict]:
    lines = Path(path or QUESTIONS).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def evaluate(session: Session, questions: list[dict], k: int = 10) -> dict:
    ranks, misses = [], []
    for q in questions:
        hits = search(session, q["question"], k=k)
        keys = [(h.clause.document.source, h.clause.path) for h in hits]
        want = (q["source"], q["clause"])
        # several chunks of one long clause share its path: count the clause once
        distinct = list(dict.fromkeys(keys))
        # a piece of the wanted clause ("二、一是" within "二、") answers it as well
        found = [i for i, (src, path) in enumerate(distinct) if src == want[0] and path.startswith(want[1])]
        rank = found[0] + 1 if found else None
        ranks.append(rank)
        if rank != 1:
            misses.append({"question": q["question"], "want": f"{q['source'][:3]} {q['clause']}",
                           "got": f"{distinct[0][0][:3]} {distinct[0][1]}" if distinct else "—", "rank": rank})
    n = len(questions)
    return {"n": n, "recall@1": sum(r == 1 for r in ranks) / n, "recall@3": sum(r is not None and r <= 3 for r in ranks) / n,
            "mrr": sum(1 / r for r in ranks if r) / n, "misses": misses}
