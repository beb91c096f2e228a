"""How well the library answers: ranking (Recall@1, Recall@3, MRR) on answerable questions, and
abstention (how many unanswerable questions get no clause, how many answerable ones still get the
right one) at the threshold answer() uses.

A question set is JSON lines: {"question", "source", "clause"[, "also": [[source, clause], …]]} for
an answerable question, {"question", "source": null, …} for one the library does not answer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from knowledge.search import RankingModel, model, rank

EVAL = Path(__file__).parent / "eval"
SETS = {
    "tune": [
        EVAL / "questions.jsonl",
        EVAL / "questions_more.jsonl",
        EVAL / "unanswerable_more.jsonl",
        EVAL / "questions_third.jsonl",
    ],
    "independent": [EVAL / "questions_independent.jsonl", EVAL / "independent_more.jsonl"],
}
QUESTIONS = SETS["tune"][0]


def load_questions(path: str | None = None) -> list[dict]:
    """One file, or a named set ("tune", "independent": all of its files that exist)."""
    paths = SETS.get(path or "tune") or [Path(path)]  # type: ignore[arg-type]
    questions = []
    for p in paths:
        if p.exists():
            questions += [json.loads(line) for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]
    return questions


def wanted(q: dict) -> list[tuple[str, str]]:
    return [(q["source"], q["clause"])] + [tuple(x) for x in q.get("also", [])]


def is_right(source: str, path: str, q: dict) -> bool:
    # a piece of the wanted clause ("二、一是" within "二、") answers it as well; an article's path
    # ("第十条") is never the start of another's ("第十一条", "第一百条")
    return any(source == s and path.startswith(c) for s, c in wanted(q))


@dataclass
class Outcome:
    question: dict
    rank: int | None  # of the first right clause, None if not in the top 10 (or unanswerable)
    top: tuple[str, str] | None
    confidence: float  # of the first hit, 0 when none


def run(session: Session, questions: list[dict], ranking: RankingModel | None = None) -> list[Outcome]:
    outcomes = []
    for q in questions:
        hits = rank(session, q["question"], k=10, ranking=ranking)
        distinct = list(dict.fromkeys((h.clause.document.source, h.clause.path) for h in hits))
        right = [i for i, (s, c) in enumerate(distinct) if q.get("source") and is_right(s, c, q)]
        outcomes.append(
            Outcome(
                q,
                right[0] + 1 if right else None,
                distinct[0] if distinct else None,
                hits[0].confidence if hits else 0.0,
            )
        )
    return outcomes


def figures(outcomes: list[Outcome], threshold: float | None = None) -> dict:
    threshold = model().threshold if threshold is None else threshold
    floor = min(model().search_floor, threshold)
    answerable = [o for o in outcomes if o.question.get("source")]
    unanswerable = [o for o in outcomes if not o.question.get("source")]
    n = len(answerable) or 1
    shown = [o for o in outcomes if o.top is not None and o.confidence >= threshold]
    right_shown = [o for o in shown if o.rank == 1]
    return {
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "recall@1": sum(o.rank == 1 for o in answerable) / n,
        "recall@3": sum(o.rank is not None and o.rank <= 3 for o in answerable) / n,
        "mrr": sum(1 / o.rank for o in answerable if o.rank) / n,
        "threshold": threshold,
        # answer(): of the unanswerable, the share that got no clause; of the answerable, the share
        # answered with the right clause first; of everything answered, the share that was right.
        "unanswerable_abstained": (
            sum(o.confidence < threshold or o.top is None for o in unanswerable) / (len(unanswerable) or 1)
        ),
        "answered_right": sum(o.confidence >= threshold and o.rank == 1 for o in answerable) / n,
        "precision": len(right_shown) / (len(shown) or 1),
        # search() (`appealbot search`, the policies page) lists nothing below its floor
        "search_floor": floor,
        "search_recall@1": sum(o.rank == 1 and o.confidence >= floor for o in answerable) / n,
        "search_recall@3": sum(o.rank is not None and o.rank <= 3 and o.confidence >= floor for o in answerable) / n,
        "search_abstained": (
            sum(o.confidence < floor or o.top is None for o in unanswerable) / (len(unanswerable) or 1)
        ),
        "misses": [
            {
                "question": o.question["question"],
                "want": f"{o.question['source']} {o.question['clause']}",
                "got": " ".join(o.top) if o.top else "—",
                "rank": o.rank,
                "confidence": round(o.confidence, 3),
            }
            for o in answerable
            if o.rank != 1
        ],
        "false_answers": [
            {
                "question": o.question["question"],
                "got": " ".join(o.top) if o.top else "—",
                "confidence": round(o.confidence, 3),
            }
            for o in unanswerable
            if o.top is not None and o.confidence >= threshold
        ],
    }


def evaluate(session: Session, questions: list[dict], k: int = 10) -> dict:
    return figures(run(session, questions))
