"""Training and evaluation: deterministic, seeded; the held-out split is never trained on."""

from __future__ import annotations

import logging
import os
import platform
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from nlp.categories import KIND_OF, TICKET_CATEGORIES
from nlp.classifier import DEFAULT_OPTIONS, Classifier, build_pipeline, fit_params, prepare
from nlp.corpus import Example, corpus_hash, counts, load_evaluation_sets, load_training

log = logging.getLogger(__name__)
SEED = 20261122
HELDOUT_SHARE = 0.15
FOLDS = 5
# Accept the model's answer when, on out-of-fold data, at least this share of accepted answers is right.
TARGET_ACCURACY = 0.95
MIN_COVERAGE = 0.70
# A non-ticket intent gets a threshold of its own only when the out-of-fold curve has this many guesses.
MIN_INTENT_PREDICTIONS = 50
# off_topic ends a conversation without a ticket, so its threshold is set by what it costs: the lowest
# confidence at which, out of fold, at most this share of the ticket lines is taken for it (the issue's
# bound is 2 % on the independent set; half of it here leaves room for phrasing the corpus lacks).
MAX_TICKETS_LOST = 0.01


@dataclass
class Scores:
    macro_f1: float
    accuracy: float
    report: dict[str, Any] = field(default_factory=dict)
    confusion: list[list[int]] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    n: int = 0


def split(examples: list[Example], seed: int = SEED) -> tuple[list[Example], list[Example]]:
    from sklearn.model_selection import train_test_split

    labels = [e.category for e in examples]
    train, heldout = train_test_split(examples, test_size=HELDOUT_SHARE, random_state=seed, stratify=labels)
    return list(train), list(heldout)


def score(y_true: list[str], y_pred: list[str]) -> Scores:
    from sklearn.metrics import accuracy_score, classification_report, confusion_matrix, f1_score

    labels = sorted(set(y_true) | set(y_pred), key=_label_order)
    return Scores(
        macro_f1=float(f1_score(y_true, y_pred, labels=TICKET_CATEGORIES, average="macro", zero_division=0)),
        accuracy=float(accuracy_score(y_true, y_pred)),
        report=classification_report(y_true, y_pred, labels=labels, output_dict=True, zero_division=0),
        confusion=confusion_matrix(y_true, y_pred, labels=labels).tolist(),
        labels=labels,
        n=len(y_true),
    )


def _label_order(code: str) -> int:
    order = list(KIND_OF)
    return order.index(code) if code in order else len(order)


def coverage_curve(confidences: np.ndarray, correct: np.ndarray) -> list[dict[str, float]]:
    curve = []
    for t in np.round(np.arange(0.0, 1.0, 0.02), 2):
        covered = confidences >= t
        n = int(covered.sum())
        curve.append(
            {
                "threshold": float(t),
                "coverage": n / len(correct),
                "accuracy": float(correct[covered].mean()) if n else 1.0,
            }
        )
    return curve


def choose_threshold(curve: list[dict[str, float]]) -> float:
    """The lowest threshold whose accepted answers reach TARGET_ACCURACY, keeping MIN_COVERAGE.

    Calibrated probabilities on a small corpus are under-confident, so the raw number means little:
    the curve says where answers become reliable.
    """
    for point in curve:
        if point["accuracy"] >= TARGET_ACCURACY:
            return point["threshold"] if point["coverage"] >= MIN_COVERAGE else _at_coverage(curve)
    return _at_coverage(curve)


def loss_curve(confidences: np.ndarray, predicted: list[str], labels: list[str], code: str) -> list[dict[str, float]]:
    """Per threshold: the share of ticket lines an intent takes when accepted from there up
    ("tickets_lost"), and the share of its own lines it keeps ("recall")."""
    predicted_code = np.array([p == code for p in predicted])
    ticket = np.array([KIND_OF[c] != "other" for c in labels])
    own = np.array([c == code for c in labels])
    curve = []
    for t in np.round(np.arange(0.0, 1.0, 0.02), 2):
        taken = predicted_code & (confidences >= t)
        curve.append(
            {
                "threshold": float(t),
                "tickets_lost": float((taken & ticket).sum() / max(ticket.sum(), 1)),
                "recall": float((taken & own).sum() / max(own.sum(), 1)),
            }
        )
    return curve


def choose_loss_threshold(curve: list[dict[str, float]], max_lost: float = MAX_TICKETS_LOST) -> float:
    """The lowest threshold at which the intent takes at most `max_lost` of the ticket lines."""
    return next((p["threshold"] for p in curve if p["tickets_lost"] <= max_lost), 1.0)


def _at_coverage(curve: list[dict[str, float]]) -> float:
    feasible = [p for p in curve if p["coverage"] >= MIN_COVERAGE]
    return max(p["threshold"] for p in feasible) if feasible else 0.0


def train(
    examples: list[Example],
    *,
    seed: int = SEED,
    extra: Iterable[Example] = (),
    cross_validate: bool = True,
    options: dict[str, Any] | None = None,
) -> tuple[Classifier, dict[str, Any]]:
    """Fit on the training split (+ corrections), choose the thresholds from out-of-fold predictions,
    and score the held-out split and both independent sets with the whole classifier (rules included)."""
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    options = {**DEFAULT_OPTIONS, **(options or {})}

    train_part, heldout = split(examples, seed)
    train_part = train_part + list(extra)
    texts = [prepare(e.text) for e in train_part]
    labels = [e.category for e in train_part]

    report: dict[str, Any] = {}
    threshold = intent_threshold = 0.0
    intent_thresholds: dict[str, float] = {}
    if cross_validate:
        folds = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=seed)
        proba = cross_val_predict(
            build_pipeline(seed, options),
            texts,
            labels,
            cv=folds,
            method="predict_proba",
            params=fit_params(options, labels),
        )
        classes = sorted(set(labels))
        predicted = [classes[i] for i in proba.argmax(axis=1)]
        correct = np.array(predicted) == np.array(labels)
        curve = coverage_curve(proba.max(axis=1), correct)
        threshold = choose_threshold(curve)
        # The non-ticket intents (contact lookups, status, chitchat, off-topic) get a threshold of their
        # own, read off the same kind of curve over the messages predicted as one of them.
        others = np.array([KIND_OF[c] == "other" for c in predicted])
        if others.any():
            intent_threshold = choose_threshold(coverage_curve(proba.max(axis=1)[others], correct[others]))
            report["intent_curve"] = coverage_curve(proba.max(axis=1)[others], correct[others])
        # And each of them one of its own: they are not equally reliable at a given confidence, nor
        # equally costly when wrong, and one threshold for all sent most off-topic guesses it doubted to
        # "unsure", which asks for a category and so starts a ticket (issue 15).
        report["intent_curves"] = {}
        for code in sorted(c for c in set(predicted) if KIND_OF[c] == "other"):
            mine = np.array([c == code for c in predicted])
            if mine.sum() >= MIN_INTENT_PREDICTIONS:
                report["intent_curves"][code] = coverage_curve(proba.max(axis=1)[mine], correct[mine])
                intent_thresholds[code] = choose_threshold(report["intent_curves"][code])
        if "off_topic" in intent_thresholds:
            report["off_topic_curve"] = loss_curve(proba.max(axis=1), predicted, labels, "off_topic")
            intent_thresholds["off_topic"] = choose_loss_threshold(report["off_topic_curve"])
        report["cross_validation"] = score(labels, predicted).__dict__
        report["curve"] = curve

    pipeline = build_pipeline(seed, options).fit(texts, labels, **fit_params(options, labels))
    metadata = {
        "labels": list(pipeline.classes_),
        "corpus_hash": corpus_hash(examples),
        "corpus_counts": counts(examples),
        "extra_examples": len(list(extra)),
        "seed": seed,
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "versions": _versions(),
        "threshold": threshold,
        "intent_threshold": intent_threshold,
        "intent_thresholds": intent_thresholds,
        "options": stored_options(options),
    }
    classifier = Classifier(pipeline, threshold, metadata)
    report["heldout"] = evaluate(classifier, heldout).__dict__
    for name, evaluation in load_evaluation_sets().items():  # "independent", "independent2"
        report[name] = evaluate(classifier, evaluation).__dict__
    metadata["scores"] = {
        name: {"macro_f1": round(r["macro_f1"], 4), "accuracy": round(r["accuracy"], 4), "n": r["n"]}
        for name, r in report.items()
        if isinstance(r, dict) and "macro_f1" in r
    }
    return classifier, report


def evaluate(classifier: Classifier, examples: list[Example]) -> Scores:
    predictions = classifier.predict_many([e.text for e in examples])
    return score([e.category for e in examples], [p.category for p in predictions])


def _versions() -> dict[str, str]:
    import jieba
    import sklearn

    return {
        "python": platform.python_version(),
        "scikit-learn": sklearn.__version__,
        "jieba": jieba.__version__,
        "numpy": np.__version__,
    }


def stored_options(options: dict[str, Any] | None = None) -> dict[str, Any]:
    """The pipeline's options as the model's metadata keeps them (JSON-like: lists, not tuples)."""
    merged = {**DEFAULT_OPTIONS, **(options or {})}
    return {k: list(v) if isinstance(v, tuple) else v for k, v in merged.items()}


def ensure_model(config: dict[str, Any]) -> str:
    """Train the model when it is missing or was trained on another version of the corpus or pipeline."""
    path = config["MODEL_PATH"]
    examples = load_training()
    current = corpus_hash(examples)
    if os.path.exists(path):
        model = Classifier.load(path)
        if model.metadata.get("corpus_hash") == current and model.metadata.get("options") == stored_options():
            return f"classifier: up to date ({path})"
    classifier, report = train(examples)
    classifier.save(path)
    held = report["heldout"]
    return f"classifier: trained on {len(examples)} examples, held-out macro-F1 {held['macro_f1']:.3f} ({path})"


def load_corrections(session) -> list[Example]:
    from sqlalchemy import select

    from nlp.models import Correction

    rows = session.scalars(select(Correction).order_by(Correction.id)).all()
    return [Example(r.text, KIND_OF[r.category], r.category) for r in rows if r.category in KIND_OF]
