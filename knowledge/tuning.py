"""`appealbot tune-search`: fit the ranking weights and the confidence curve on the tuning questions.

1. Weights: coordinate ascent on the mean reciprocal rank of the answerable tuning questions, over the
   candidates each question draws (features computed once per expansion weight tried).
2. Confidence: a logistic regression on the best hit's features (its score, its margin over the
   next, coverage, the closest attached question, whether the question names the law) predicting
   "the first clause is right"; unanswerable questions count as wrong.
3. Thresholds from the coverage/precision curve of out-of-fold confidences (5 folds), so the curve
   is not read off answers the model has seen: `threshold` for answer() — the lowest confidence at
   which the answered share is right at least PRECISION of the time while at least ABSTAIN of the
   unanswerable questions get nothing — and `search_floor` for search() (the policies page, `appealbot
   search`), which lists candidates rather than answering: the highest confidence below which
   searches keep KEEP_TOP3 of the right clauses in their top three.
The independent question set is never used here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
from sqlalchemy.orm import Session

from knowledge.evaluation import is_right
from knowledge.search import (
    CONFIDENCE_INPUTS,
    DEFAULT_MODEL,
    FEATURES,
    Candidate,
    RankingModel,
    candidates,
    confidence_inputs,
    final_score,
)

PRECISION = 0.85
ABSTAIN = 0.90
KEEP_TOP3 = 0.95
STEPS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0, 24.0, 32.0, 48.0)


@dataclasses.dataclass
class Sample:
    question: dict
    found: list[Candidate]
    right: list[bool]  # per candidate


def collect(session: Session, questions: list[dict], ranking: RankingModel) -> list[Sample]:
    samples = []
    for q in questions:
        idx, found = candidates(session, q["question"], ranking, pool=80)
        right = [
            bool(q.get("source")) and is_right(idx.entries[c.entry].document.source, idx.entries[c.entry].path, q)
            for c in found
        ]
        samples.append(Sample(q, found, right))
    return samples


def _ordered(ranking: RankingModel, sample: Sample) -> list[tuple[float, int]]:
    return sorted(((final_score(ranking, c), n) for n, c in enumerate(sample.found)), key=lambda x: -x[0])


def mrr(ranking: RankingModel, samples: list[Sample]) -> float:
    answerable = [s for s in samples if s.question.get("source")]
    total = 0.0
    for s in answerable:
        for position, (_, n) in enumerate(_ordered(ranking, s), 1):
            if s.right[n]:
                total += 1 / position
                break
    return total / (len(answerable) or 1)


def fit_weights(samples: list[Sample], start: RankingModel, log: Callable[[str], None]) -> RankingModel:
    best, best_value = start, mrr(start, samples)
    for _ in range(3):  # a few sweeps; each weight over a grid, the others fixed
        improved = False
        for name in FEATURES:
            for value in STEPS:
                trial = dataclasses.replace(best, weights={**best.weights, name: value})
                got = mrr(trial, samples)
                if got > best_value + 1e-9:
                    best, best_value, improved = trial, got, True
        log(f"  sweep: MRR {best_value:.4f} weights {best.weights}")
        if not improved:
            break
    return best


def confidence_table(ranking: RankingModel, samples: list[Sample]):
    """Per question: the inputs of the confidence for its best hit, whether that hit is right,
    whether a right clause is in the top three, and whether the question is answerable."""
    rows, labels, top3, answerable = [], [], [], []
    for s in samples:
        ordered = _ordered(ranking, s)
        if ordered:
            score, n = ordered[0]
            margin = score - (ordered[1][0] if len(ordered) > 1 else 0.0)
            rows.append(confidence_inputs(score, margin, s.found[n].features))
            labels.append(s.right[n])
            top3.append(any(s.right[m] for _, m in ordered[:3]))
        else:
            rows.append([0.0] * len(CONFIDENCE_INPUTS))
            labels.append(False)
            top3.append(False)
        answerable.append(bool(s.question.get("source")))
    return np.array(rows), np.array(labels), np.array(top3), np.array(answerable)


def fit_confidence(ranking: RankingModel, samples: list[Sample], log: Callable[[str], None]) -> RankingModel:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    x, y, top3, answerable = confidence_table(ranking, samples)
    make = lambda: LogisticRegression(C=1.0, max_iter=2000)  # noqa: E731
    out_of_fold = np.zeros(len(y))
    for train, test in StratifiedKFold(5, shuffle=True, random_state=20261204).split(x, y):
        out_of_fold[test] = make().fit(x[train], y[train]).predict_proba(x[test])[:, 1]
    fitted = make().fit(x, y)
    threshold, floor = thresholds(out_of_fold, y, top3, answerable)
    log(f"  confidence: threshold {threshold:.3f}, search floor {floor:.3f} (out of fold)")
    return dataclasses.replace(
        ranking,
        confidence_coef=dict(zip(CONFIDENCE_INPUTS, map(float, fitted.coef_[0]), strict=True)),
        confidence_intercept=float(fitted.intercept_[0]),
        threshold=threshold,
        search_floor=floor,
    )


def thresholds(
    confidence: np.ndarray, right: np.ndarray, top3: np.ndarray, answerable: np.ndarray
) -> tuple[float, float]:
    unanswerable = ~answerable
    threshold = 1.0
    for t in sorted(set(np.round(confidence, 4))):
        shown = confidence >= t
        abstained = (~shown[unanswerable]).mean() if unanswerable.any() else 1.0
        precision = right[shown].mean() if shown.any() else 1.0
        if abstained >= ABSTAIN and precision >= PRECISION:
            threshold = float(t)
            break
    everything = (top3 & answerable).sum() or 1
    floor = 0.0
    for t in sorted(set(np.round(confidence, 4))):
        if (top3 & answerable & (confidence >= t)).sum() / everything >= KEEP_TOP3:
            floor = float(t)
    return threshold, min(floor, threshold)


def tune(session: Session, questions: list[dict], log: Callable[[str], None] = print) -> RankingModel:
    best = None
    for expansion in (0.3, 0.5, 0.7, 1.0):
        start = dataclasses.replace(best[1] if best else DEFAULT_MODEL, expansion_weight=expansion)
        samples = collect(session, questions, start)
        fitted = fit_weights(samples, start, log)
        value = mrr(fitted, samples)
        log(f"expansion weight {expansion}: MRR {value:.4f}")
        if best is None or value > best[0]:
            best = (value, fitted, samples)
    assert best is not None  # the loop above runs, and its first round sets it
    _, ranking, samples = best
    ranking = fit_confidence(ranking, samples, log)
    return dataclasses.replace(ranking, fitted_on=f"{len(questions)} tuning questions")
