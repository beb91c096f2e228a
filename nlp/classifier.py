"""The classifier: rule layer, then word (jieba) + character n-gram TF-IDF into a calibrated linear model.

One flat model over the 16 ticket categories and the 3 non-ticket intents; `kind` follows from the
category. The confidence threshold below which the bot asks instead of guessing is chosen at
training time from a coverage/accuracy curve and stored with the model.
"""
from __future__ import annotations

import logging
import os
import threading
from collections import Counter
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


class CompiledModel:
    """The fitted pipeline's arithmetic, without scikit-learn's per-call machinery.

    For one short message, input validation, the FeatureUnion's joblib dispatch and the calibrator's
    bookkeeping cost more than the sums themselves (about a fifth of a webhook's CPU under load).
    Same vocabularies, idf weights, margins and sigmoids: the result equals `pipeline.predict_proba`
    (tested); a pipeline of another shape is refused here and predicted through scikit-learn.
    """

    def __init__(self, pipeline):
        union, calibrated = pipeline.named_steps["features"], pipeline.named_steps["model"]
        (fitted,) = calibrated.calibrated_classifiers_  # ensemble=False: one SVC, one calibrator per class
        vectorizers = [t for _, t in union.transformer_list]
        if (fitted.method != "sigmoid" or union.transformer_weights
                or list(fitted.estimator.classes_) != list(calibrated.classes_)
                or any(v.norm != "l2" or not v.use_idf or v.binary for v in vectorizers)):
            raise ValueError("not the pipeline build_pipeline() makes")
        # Per block: analyzer, vocabulary, idf, sublinear tf, and where its columns start.
        self.blocks, offset = [], 0
        for v in vectorizers:
            self.blocks.append((v.build_analyzer(), v.vocabulary_, v.idf_, v.sublinear_tf, offset))
            offset += len(v.vocabulary_)
        self.width = offset
        self.coef = np.ascontiguousarray(fitted.estimator.coef_.T)
        self.intercept = fitted.estimator.intercept_
        self.a = np.array([c.a_ for c in fitted.calibrators])
        self.b = np.array([c.b_ for c in fitted.calibrators])

    def features(self, texts: list[str]):
        from scipy.sparse import csr_matrix

        indices: list[int] = []
        data: list[float] = []
        indptr = [0]
        for text in texts:
            for analyze, vocabulary, idf, sublinear, offset in self.blocks:
                counts = Counter(j for j in map(vocabulary.get, analyze(text)) if j is not None)
                if not counts:
                    continue
                columns = np.fromiter(counts.keys(), dtype=np.intp, count=len(counts))
                tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
                weights = (1.0 + np.log(tf) if sublinear else tf) * idf[columns]
                weights /= np.sqrt(weights @ weights)  # l2, per block as each vectorizer does
                indices.extend((columns + offset).tolist())
                data.extend(weights.tolist())
            indptr.append(len(indices))
        return csr_matrix((data, indices, indptr), shape=(len(texts), self.width))

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        from scipy.special import expit

        margins = self.features(texts) @ self.coef + self.intercept
        p = expit(-(margins * self.a + self.b))  # sklearn's _SigmoidCalibration, per class
        total = p.sum(axis=1, keepdims=True)
        return np.divide(p, total, out=np.full_like(p, 1 / p.shape[1]), where=total != 0)


class Classifier:
    def __init__(self, pipeline, threshold: float, metadata: dict[str, Any]):
        self.pipeline = pipeline
        self.threshold = threshold
        self.metadata = metadata
        # Below this a non-ticket intent is not acted on (handlers/understanding.py: "unsure").
        self.intent_threshold: float = metadata.get("intent_threshold", threshold)
        self.labels: list[str] = list(pipeline.classes_)
        try:
            self.compiled: Optional[CompiledModel] = CompiledModel(pipeline)
        except (AttributeError, KeyError, ValueError):
            log.warning("model has an unexpected shape: predicting through scikit-learn")
            self.compiled = None

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        prepared = [prepare(t) for t in texts]
        if self.compiled is not None and len(prepared) <= 16:  # large batches vectorise better in sklearn
            return self.compiled.predict_proba(prepared)
        with config_context(assume_finite=True):  # our own sparse features: skip per-call validation
            return self.pipeline.predict_proba(prepared)

    # -- prediction ------------------------------------------------------------------------------
    def predict(self, text: str) -> Prediction:
        return self.predict_many([text])[0]

    def predict_many(self, texts: list[str]) -> list[Prediction]:
        results: list[Optional[Prediction]] = [self._rule(t) for t in texts]
        todo = [i for i, r in enumerate(results) if r is None]
        if todo:
            probabilities = self.predict_proba([texts[i] for i in todo])
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
