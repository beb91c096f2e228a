"""The classifier: rule layer, then word (jieba) + character n-gram TF-IDF into a calibrated linear model.

One flat model over the 16 ticket categories and the 4 non-ticket intents; `kind` follows from the
category. The confidence thresholds below which the bot asks instead of guessing (one for the ticket
categories, one per non-ticket intent) are chosen at training time from out-of-fold coverage/accuracy
curves and stored with the model.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import joblib
import numpy as np
from sklearn import config_context

from nlp import rules
from nlp.categories import KIND_OF, TICKET_CATEGORIES
from nlp.tokenizer import cut, cut_for_search

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
        return {
            "kind": self.kind,
            "category": self.category,
            "confidence": round(self.confidence, 4),
            "alternatives": [{"kind": k, "category": c, "confidence": round(p, 4)} for k, c, p in self.alternatives],
        }


def word_tokens(text: str) -> list[str]:
    """Analyzer for the word TF-IDF: jieba tokens without whitespace and punctuation."""
    return [t for t in cut(text) if t.strip() and any(ch.isalnum() for ch in t)]


class Words:
    """Word analyzer with options (picklable, so a saved model carries its own): jieba's precise or
    search-mode cut, and optionally adjacent word pairs as well."""

    def __init__(self, search: bool = False, pairs: bool = False):
        self.search = search
        self.pairs = pairs

    def __call__(self, text: str) -> list[str]:
        words = [
            t
            for t in (cut_for_search(text) if self.search else cut(text))
            if t.strip() and any(ch.isalnum() for ch in t)
        ]
        if self.pairs:
            precise = (
                words if not self.search else [t for t in cut(text) if t.strip() and any(ch.isalnum() for ch in t)]
            )
            words = words + [f"{a} {b}" for a, b in itertools.pairwise(precise)]
        return words


def prepare(text: str) -> str:
    return rules.normalise(text)[:MAX_CHARS]


# The pipeline's shape. Model selection (nlp/selection.py, issue 15) compared these on the second
# independent set; the defaults are what measured best there (README, "Understanding").
DEFAULT_OPTIONS: dict[str, Any] = {
    "cut": "precise",  # jieba cut for the word features: "precise" | "search"
    "word_pairs": False,  # adjacent word pairs as features as well
    "char_analyzer": "char_wb",
    "char_ngrams": (1, 3),
    "char_min_df": 2,
    "C": 0.5,
    # off_topic lines count three times: citizens' affairs look like the 16 categories (a parking fine,
    # a worker's wages), and an off_topic guess the bot does not act on sends them into the appeal form.
    # On independent2 this halved the off-topic lines that start a ticket at no cost in macro-F1.
    "class_weight": {"off_topic": 3.0},  # None | "balanced" | {code: weight} (as sample weights: fit_params)
    "blend": None,  # None | "lr" | "cnb": a second model whose probabilities are averaged in
    "blend_weight": 0.5,  # the SVM's share of the average
}


def build_pipeline(seed: int = 0, options: dict[str, Any] | None = None):
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import VotingClassifier
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion, Pipeline
    from sklearn.svm import LinearSVC

    o = {**DEFAULT_OPTIONS, **(options or {})}
    class_weight = o["class_weight"] if isinstance(o["class_weight"], str) else None
    words = (
        word_tokens
        if (o["cut"], o["word_pairs"]) == ("precise", False)
        else Words(search=o["cut"] == "search", pairs=o["word_pairs"])
    )
    features = FeatureUnion(
        [
            ("words", TfidfVectorizer(analyzer=words, sublinear_tf=True, min_df=1)),
            (
                "chars",
                TfidfVectorizer(
                    analyzer=o["char_analyzer"],
                    ngram_range=tuple(o["char_ngrams"]),
                    sublinear_tf=True,
                    min_df=o["char_min_df"],
                ),
            ),
        ]
    )
    # LinearSVC ranks well on sparse text; sigmoid calibration, fitted on 5-fold out-of-fold margins,
    # turns its margins into probabilities. ensemble=False keeps one SVC at prediction time (not five),
    # which is what keeps a single message well under the latency budget.
    svm = CalibratedClassifierCV(
        LinearSVC(C=o["C"], class_weight=class_weight, random_state=seed), method="sigmoid", cv=5, ensemble=False
    )
    if o["blend"] is None:
        model = svm
    else:
        if o["blend"] == "lr":
            from sklearn.linear_model import LogisticRegression

            second = LogisticRegression(C=10.0, class_weight=class_weight, max_iter=2000, random_state=seed)
        elif o["blend"] == "cnb":
            from sklearn.naive_bayes import ComplementNB

            # Naive Bayes probabilities are far too sure of themselves: calibrated like the SVM's margins.
            second = CalibratedClassifierCV(ComplementNB(alpha=0.3), method="sigmoid", cv=5, ensemble=False)
        else:
            raise ValueError(f"unknown blend {o['blend']!r}")
        model = VotingClassifier(
            [("svm", svm), (o["blend"], second)], voting="soft", weights=[o["blend_weight"], 1 - o["blend_weight"]]
        )
    return Pipeline([("features", features), ("model", model)])


def fit_params(options: dict[str, Any] | None, labels: list[str]) -> dict[str, Any]:
    """What the pipeline's fit needs besides texts and labels: per-class weights given by code become
    sample weights (the calibrator encodes the labels as numbers before its inner fits, so a
    class_weight keyed by code would not reach the SVM)."""
    weights = {**DEFAULT_OPTIONS, **(options or {})}["class_weight"]
    if not isinstance(weights, dict):
        return {}
    return {"model__sample_weight": np.array([float(weights.get(label, 1.0)) for label in labels])}


def _scorer(estimator):
    """texts' features -> class probabilities, for the estimators build_pipeline() makes."""
    from scipy.special import expit, softmax
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import ComplementNB

    if isinstance(estimator, CalibratedClassifierCV):
        (fitted,) = estimator.calibrated_classifiers_  # ensemble=False: one model, one calibrator per class
        if fitted.method != "sigmoid" or list(fitted.estimator.classes_) != list(estimator.classes_):
            raise ValueError("not a sigmoid calibration over every class")
        inner = fitted.estimator
        a = np.array([c.a_ for c in fitted.calibrators])
        b = np.array([c.b_ for c in fitted.calibrators])
        if isinstance(inner, ComplementNB):
            log_prob = np.ascontiguousarray(inner.feature_log_prob_.T)

            def raw(x):
                jll = x @ log_prob
                return softmax(jll, axis=1)  # ComplementNB.predict_proba (normalised exp of jll)
        elif hasattr(inner, "coef_") and not isinstance(inner, LogisticRegression):
            coef, intercept = np.ascontiguousarray(inner.coef_.T), inner.intercept_

            def raw(x):
                return x @ coef + intercept  # LinearSVC.decision_function
        else:
            raise ValueError(f"no compiled form for {type(inner).__name__}")

        def score(x):
            p = expit(-(raw(x) * a + b))  # sklearn's _SigmoidCalibration, per class
            total = p.sum(axis=1, keepdims=True)
            return np.divide(p, total, out=np.full_like(p, 1 / p.shape[1]), where=total != 0)

        return score
    if isinstance(estimator, LogisticRegression) and len(estimator.classes_) > 2:
        coef, intercept = np.ascontiguousarray(estimator.coef_.T), estimator.intercept_
        return lambda x: softmax(x @ coef + intercept, axis=1)
    raise ValueError(f"no compiled form for {type(estimator).__name__}")


class CompiledModel:
    """The fitted pipeline's arithmetic, without scikit-learn's per-call machinery.

    For one short message, input validation, the FeatureUnion's joblib dispatch and the calibrator's
    bookkeeping cost more than the sums themselves (about a fifth of a webhook's CPU under load).
    Same vocabularies, idf weights, margins, sigmoids (and, for a blend, the second model's sums and
    the weighted average): the result equals `pipeline.predict_proba` (tested); a pipeline of another
    shape is refused here and predicted through scikit-learn.
    """

    def __init__(self, pipeline):
        from sklearn.ensemble import VotingClassifier

        union, model = pipeline.named_steps["features"], pipeline.named_steps["model"]
        vectorizers = [t for _, t in union.transformer_list]
        if union.transformer_weights or any(v.norm != "l2" or not v.use_idf or v.binary for v in vectorizers):
            raise ValueError("not the pipeline build_pipeline() makes")
        if isinstance(model, VotingClassifier):
            if model.voting != "soft":
                raise ValueError("not a soft vote")
            weights = np.asarray(
                model.weights if model.weights is not None else [1.0] * len(model.estimators_), dtype=np.float64
            )
            self.scorers = [_scorer(e) for e in model.estimators_]
            self.weights = weights / weights.sum()  # np.average's normalisation
        else:
            self.scorers = [_scorer(model)]
            self.weights = np.ones(1)
        # Per block: analyzer, vocabulary, idf, sublinear tf, and where its columns start.
        self.blocks, offset = [], 0
        for v in vectorizers:
            self.blocks.append((v.build_analyzer(), v.vocabulary_, v.idf_, v.sublinear_tf, offset))
            offset += len(v.vocabulary_)
        self.width = offset

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
        x = self.features(texts)
        if len(self.scorers) == 1:
            return self.scorers[0](x)
        return sum(w * score(x) for w, score in zip(self.weights, self.scorers, strict=True))


class Classifier:
    def __init__(self, pipeline, threshold: float, metadata: dict[str, Any]):
        self.pipeline = pipeline
        self.threshold = threshold
        self.metadata = metadata
        # Below this a non-ticket intent is not acted on (handlers/understanding.py: "unsure"), unless
        # the intent has a threshold of its own (read off its own out-of-fold curve).
        self.intent_threshold: float = metadata.get("intent_threshold", threshold)
        self.intent_thresholds: dict[str, float] = dict(metadata.get("intent_thresholds") or {})
        self.labels: list[str] = list(pipeline.classes_)
        try:
            self.compiled: CompiledModel | None = CompiledModel(pipeline)
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
        results: list[Prediction | None] = [self._rule(t) for t in texts]
        todo = [i for i, r in enumerate(results) if r is None]
        if todo:
            probabilities = self.predict_proba([texts[i] for i in todo])
            for i, row in zip(todo, probabilities, strict=True):
                results[i] = self._from_probabilities(row)
        return results  # type: ignore[return-value]

    @staticmethod
    def _rule(text: str) -> Prediction | None:
        intent = rules.match(text)
        if intent is None:
            return None
        return Prediction(kind=_RULE_KINDS.get(intent, "other"), category=intent, confidence=1.0, source="rule")

    def _from_probabilities(self, row: np.ndarray) -> Prediction:
        order = np.argsort(row)[::-1]
        best = self.labels[order[0]]
        alternatives = [(KIND_OF[self.labels[j]], self.labels[j], float(row[j])) for j in order[1:4]]
        return Prediction(kind=KIND_OF[best], category=best, confidence=float(row[order[0]]), alternatives=alternatives)

    def intent_threshold_for(self, code: str) -> float:
        """The confidence a non-ticket intent needs to be acted on."""
        return self.intent_thresholds.get(code, self.intent_threshold)

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
    def load(cls, path: str) -> Classifier:
        data = joblib.load(path)
        return cls(data["pipeline"], data["threshold"], data["metadata"])


_cache: dict[tuple[str, float], Classifier] = {}
_cache_lock = threading.Lock()


def load_if_present(path: str) -> Classifier | None:
    """The model at `path`, loaded once per process (and again only when the file changes)."""
    if not path or not os.path.exists(path):
        return None
    key = (os.path.abspath(path), os.path.getmtime(path))
    with _cache_lock:
        if key not in _cache:
            _cache.clear()
            _cache[key] = Classifier.load(path)
        return _cache[key]
