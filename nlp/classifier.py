"""The classifier: rule layer, then word (jieba) + character n-gram TF-IDF into a calibrated linear model.

One flat model over the 16 ticket categories and the 3 non-ticket intents; `kind` follows from the
category. The confidence threshold below which the bot asks instead of guessing is chosen at
training time from a coverage/accuracy curve and stored with the model.
"""
from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from typing import Any, Optional

import joblib
import numpy as np
from sklearn import config_context

from nlp import rules
from nlp.categories import KIND_OF, TICKET_CATEGORIES
from nlp.tokenizer import cut

log = logging.getLogger(__name__)
MAX_CHARS = 1000  # the first thousand characters say what a message is about; longer costs time only
# Rule-layer intents that are categories of their own kind; the rest are menu commands (kind other).
_RULE_KINDS = {"policy": "appeal"}


@dataclass
class Prediction:
    kind: str
    category: str
    confidence: float
    alternatives: list[tuple[str, str, float]] = field(default_factory=list)
    source: str = "model"  # "rule" | "model"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "category": self.category, "confidence": round(self.confidence, 4),
                "alternatives": [{"kind": k, "category": c, "confidence": round(p, 4)} for k, c, p in self.alternatives]}


def word_tokens(text: str) -> list[str]:
    """Analyzer for the word TF-IDF: jieba tokens without whitespace and punctuation."""
    return [t for t in cut(text) if t.strip() and any(ch.isalnum() for ch in t)]


def prepare(text: str) -> str:
    return rules.normalise(text)[:MAX_CHARS]


def build_pipeline(seed: int = 0):
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion, Pipeline
    from sklearn.svm import LinearSVC

    features = FeatureUnion([
        ("words", TfidfVectorizer(analyzer=word_tokens, sublinear_tf=True, min_df=1)),
        ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True, min_df=2)),
    ])
    # LinearSVC ranks well on sparse text; sigmoid calibration, fitted on 5-fold out-of-fold margins,
    # turns its margins into probabilities. ensemble=False keeps one SVC at prediction time (not five),
    # which is what keeps a single message well under the 5 ms budget.
    model = CalibratedClassifierCV(LinearSVC(C=0.5, random_state=seed), method="sigmoid", cv=5, ensemble=False)
    return Pipeline([("features", features), ("model", model)])


class Classifier:
    def __init__(self, pipeline, threshold: float, metadata: dict[str, Any]):
        self.pipeline = pipeline
        self.threshold = threshold
        self.metadata = metadata
        self.labels: list[str] = list(pipeline.classes_)

    # -- prediction ------------------------------------------------------------------------------
    def predict(self, text: str) -> Prediction:
        return self.predict_many([text])[0]

    def predict_many(self, texts: list[str]) -> list[Prediction]:
        results: list[Optional[Prediction]] = [self._rule(t) for t in texts]
        todo = [i for i, r in enumerate(results) if r is None]
        if todo:
            with config_context(assume_finite=True):  # our own sparse features: skip per-call validation
                probabilities = self.pipeline.predict_proba([prepare(texts[i]) for i in todo])
            for i, row in zip(todo, probabilities):
                results[i] = self._from_probabilities(row)
        return results  # type: ignore[return-value]

    @staticmethod
    def _rule(text: str) -> Optional[Prediction]:
        intent = rules.match(text)
        if intent is None:
            return None
        return Prediction(kind=_RULE_KINDS.get(intent, "other"), category=intent, confidence=1.0, source="rule")

    def _from_probabilities(self, row: np.ndarray) -> Prediction:
        order = np.argsort(row)[::-1]
        best = self.labels[order[0]]
        alternatives = [(KIND_OF[self.labels[j]], self.labels[j], float(row[j])) for j in order[1:4]]
        return Prediction(kind=KIND_OF[best], category=best, confidence=float(row[order[0]]), alternatives=alternatives)

    def ticket_alternatives(self, prediction: Prediction, n: int = 3) -> list[str]:
        """The likeliest ticket categories, for a clarifying question."""
        codes = [prediction.category] + [c for _, c, _ in prediction.alternatives]
        return [c for c in codes if c in TICKET_CATEGORIES][:n]

    # -- persistence -----------------------------------------------------------------------------
    def save(self, path: str) -> None:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        tmp = path + ".tmp"
        joblib.dump({"pipeline": self.pipeline, "threshold": self.threshold, "metadata": self.metadata}, tmp)
        os.replace(tmp, path)  # atomic: a running process never sees half a model

    @classmethod
    def load(cls, path: str) -> "Classifier":
        data = joblib.load(path)
        return cls(data["pipeline"], data["threshold"], data["metadata"])


_cache: dict[tuple[str, float], Classifier] = {}
_cache_lock = threading.Lock()


def load_if_present(path: str) -> Optional[Classifier]:
    """The model at `path`, loaded once per process (and again only when the file changes)."""
    if not path or not os.path.exists(path):
        return None
    key = (os.path.abspath(path), os.path.getmtime(path))
    with _cache_lock:
        if key not in _cache:
            _cache.clear()
            _cache[key] = Classifier.load(path)
        return _cache[key]
