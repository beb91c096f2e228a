"""Model selection by generalisation (issue 15): pipeline shapes compared on the second independent set.

    python -m nlp.selection                 # every candidate below
    python -m nlp.selection current blend-lr  # some of them

Each candidate is trained exactly as `appealbot train` trains (the same 85 % split, the same seed)
and measured on `nlp/data/independent2/` only, the set written by writers who never saw train/ nor
the old independent set: macro-F1 over the 16 ticket categories, the worst category's F1, accuracy,
and two off-topic figures at argmax (the share of off_topic lines taken for something else, the
share of ticket lines taken for off_topic). The old independent set is printed beside it for
reference but decides nothing. Single-message latency is measured per candidate on the compiled
path (p99 over the set), because a shape that generalises better but misses 2 ms is not kept.
"""

from __future__ import annotations

import statistics
import sys
import time
from typing import Any

import numpy as np

from nlp.categories import KIND_OF, TICKET_CATEGORIES
from nlp.classifier import DEFAULT_OPTIONS, Classifier, build_pipeline, fit_params, prepare
from nlp.corpus import Example, load_independent, load_independent2, load_training
from nlp.training import SEED, score, split

# name -> options over DEFAULT_OPTIONS. "current" is the pipeline as it was before issue 15.
BEFORE = {
    "cut": "precise",
    "word_pairs": False,
    "char_analyzer": "char_wb",
    "char_ngrams": (1, 3),
    "char_min_df": 2,
    "C": 0.5,
    "class_weight": None,
    "blend": None,
}
CANDIDATES: dict[str, dict[str, Any]] = {
    "current": BEFORE,
    "chars 1-2": {**BEFORE, "char_ngrams": (1, 2)},
    "chars 1-4": {**BEFORE, "char_ngrams": (1, 4)},
    "chars 2-4": {**BEFORE, "char_ngrams": (2, 4)},
    "chars 1-5": {**BEFORE, "char_ngrams": (1, 5)},
    "chars (not wb) 1-3": {**BEFORE, "char_analyzer": "char"},
    "chars min_df 1": {**BEFORE, "char_min_df": 1},
    "word pairs": {**BEFORE, "word_pairs": True},
    "search cut": {**BEFORE, "cut": "search"},
    "C 0.25": {**BEFORE, "C": 0.25},
    "C 1": {**BEFORE, "C": 1.0},
    "balanced": {**BEFORE, "class_weight": "balanced"},
    "blend lr": {**BEFORE, "blend": "lr"},
    "blend cnb": {**BEFORE, "blend": "cnb"},
    "off_topic x2": {**BEFORE, "class_weight": {"off_topic": 2.0}},
    "off_topic x3": {**BEFORE, "class_weight": {"off_topic": 3.0}},
    "off_topic x4": {**BEFORE, "class_weight": {"off_topic": 4.0}},
    "off_topic x3, search cut": {**BEFORE, "class_weight": {"off_topic": 3.0}, "cut": "search"},
    "off_topic x3, chars 1-4": {**BEFORE, "class_weight": {"off_topic": 3.0}, "char_ngrams": (1, 4)},
}


def fit(options: dict[str, Any], examples: list[Example], seed: int = SEED) -> Classifier:
    train_part, _ = split(examples, seed)
    labels = [e.category for e in train_part]
    pipeline = build_pipeline(seed, options).fit(
        [prepare(e.text) for e in train_part], labels, **fit_params(options, labels)
    )
    return Classifier(pipeline, 0.5, {"options": {**DEFAULT_OPTIONS, **options}})


def measure(classifier: Classifier, examples: list[Example]) -> dict[str, Any]:
    predicted = [p.category for p in classifier.predict_many([e.text for e in examples])]
    truth = [e.category for e in examples]
    s = score(truth, predicted)
    per = {c: s.report[c]["f1-score"] for c in TICKET_CATEGORIES if c in s.report}
    worst = min(per, key=per.__getitem__)
    off = [p for t, p in zip(truth, predicted, strict=True) if t == "off_topic"]
    tickets = [p for t, p in zip(truth, predicted, strict=True) if KIND_OF[t] != "other"]
    return {
        "macro_f1": s.macro_f1,
        "accuracy": s.accuracy,
        "worst": worst,
        "worst_f1": per[worst],
        "per_category": per,
        "off_topic_missed": sum(p != "off_topic" for p in off) / len(off) if off else None,
        "tickets_to_off_topic": sum(p == "off_topic" for p in tickets) / len(tickets) if tickets else None,
        "predicted": predicted,
    }


def _macro_f1(truth: np.ndarray, predicted: np.ndarray, n_labels: int, ticket: np.ndarray) -> float:
    both = np.bincount(truth[truth == predicted], minlength=n_labels)
    true_n = np.bincount(truth, minlength=n_labels)
    pred_n = np.bincount(predicted, minlength=n_labels)
    denominator = true_n + pred_n
    f1 = np.divide(2 * both, denominator, out=np.zeros(n_labels), where=denominator > 0)
    return float(f1[ticket].mean())


def paired_bootstrap(
    truth: list[str], first: list[str], second: list[str], rounds: int = 2000, seed: int = SEED
) -> dict[str, float]:
    """How sure the set is that `second` beats `first`: macro-F1 (16 categories) over resamples of its
    lines, the same resample for both. With ~55 lines a category, one line moves macro-F1 by ~0.002."""
    codes = sorted(set(truth) | set(first) | set(second) | set(TICKET_CATEGORIES))
    index = {c: i for i, c in enumerate(codes)}
    t, a, b = (np.array([index[c] for c in xs]) for xs in (truth, first, second))
    ticket = np.array([index[c] for c in TICKET_CATEGORIES])
    rng = np.random.default_rng(seed)
    differences = []
    for _ in range(rounds):
        pick = rng.integers(0, len(t), len(t))
        differences.append(
            _macro_f1(t[pick], b[pick], len(codes), ticket) - _macro_f1(t[pick], a[pick], len(codes), ticket)
        )
    d = np.array(differences)
    return {
        "mean": float(d.mean()),
        "low": float(np.quantile(d, 0.05)),
        "high": float(np.quantile(d, 0.95)),
        "better_share": float((d > 0).mean()),
    }


def latency_p99(classifier: Classifier, texts: list[str]) -> float:
    for t in texts[:50]:
        classifier.predict(t)
    times = []
    for t in texts:
        started = time.perf_counter()
        classifier.predict(t)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return times[int(0.99 * len(times))]


def compare(names: list[str]) -> list[dict[str, Any]]:
    examples = load_training()
    new, old = load_independent2(), load_independent()
    rows = []
    truth = [e.category for e in new]
    reference = None
    for name in names:
        started = time.perf_counter()
        classifier = fit(CANDIDATES[name], examples)
        seconds = time.perf_counter() - started
        row = {"name": name, "fit_s": seconds, **measure(classifier, new)}
        predicted = row.pop("predicted")
        if reference is None:  # the others are compared with the first, line by line
            reference = predicted
        row["versus_first"] = paired_bootstrap(truth, reference, predicted)
        row |= {
            "old_macro_f1": measure(classifier, old)["macro_f1"] if old else None,
            "p99_ms": latency_p99(classifier, [e.text for e in new]),
            "compiled": classifier.compiled is not None,
        }
        rows.append(row)
        print(format_row(row), flush=True)
    return rows


def format_row(r: dict[str, Any]) -> str:
    return (
        f"{r['name']:22} ind2 macro-F1 {r['macro_f1']:.4f} acc {r['accuracy']:.4f} "
        f"worst {r['worst']} {r['worst_f1']:.3f} | off_topic missed {r['off_topic_missed']:.3f} "
        f"tickets->off_topic {r['tickets_to_off_topic']:.3f} | old set {r['old_macro_f1']:.4f} | "
        f"p99 {r['p99_ms']:.2f} ms{'' if r['compiled'] else ' (sklearn)'} | fit {r['fit_s']:.0f} s | "
        f"vs first {r['versus_first']['mean']:+.4f} [{r['versus_first']['low']:+.4f}, {r['versus_first']['high']:+.4f}] "
        f"better in {r['versus_first']['better_share']:.0%}"
    )


def main(argv: list[str]) -> None:
    names = argv or list(CANDIDATES)
    unknown = [n for n in names if n not in CANDIDATES]
    if unknown:
        sys.exit(f"unknown candidates: {unknown}; known: {list(CANDIDATES)}")
    rows = compare(names)
    if len(rows) > 1:
        best = max(rows, key=lambda r: (round(r["macro_f1"], 3), r["worst_f1"]))
        print(
            f"best on independent2: {best['name']} ({best['macro_f1']:.4f}); "
            f"median macro-F1 {statistics.median(r['macro_f1'] for r in rows):.4f}"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
