"""Classifier speed on one core: model load time, single-message latency, batched throughput, memory.

    taskset -c 0 .venv/bin/python benchmarks/classify_bench.py [--model var/model.joblib]

Targets: >= 2,000 messages/s batched (issue 3); p99 < 2 ms single after warm-up and model load < 1 s
(issue 15). The messages are both independent sets (1,635 lines), each predicted once singly.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=str(ROOT / "var" / "model.joblib"))
    parser.add_argument("--batch", type=int, default=256)
    args = parser.parse_args()

    started = time.perf_counter()
    from nlp.tokenizer import warm_up

    warm_up()
    jieba_s = time.perf_counter() - started
    from nlp.classifier import Classifier

    t = time.perf_counter()
    model = Classifier.load(args.model)
    load_s = time.perf_counter() - t
    from nlp.corpus import load_evaluation_sets, load_training

    sets = load_evaluation_sets()
    texts = [e.text for examples in sets.values() for e in examples] or [e.text for e in load_training()]
    for text in texts[:50]:
        model.predict(text)  # warm-up

    single = []
    for text in texts:
        t = time.perf_counter()
        model.predict(text)
        single.append((time.perf_counter() - t) * 1000)
    single.sort()

    rounds = max(1, 4000 // len(texts))
    t = time.perf_counter()
    for _ in range(rounds):
        for i in range(0, len(texts), args.batch):
            model.predict_many(texts[i : i + args.batch])
    batched = rounds * len(texts) / (time.perf_counter() - t)

    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"messages: {len(texts)} ({' + '.join(sets) or 'training corpus'}); model path: "
        f"{'compiled' if model.compiled is not None else 'scikit-learn'}"
    )
    print(
        f"jieba dictionary load: {jieba_s:.2f} s; model load: {load_s:.2f} s ({'ok' if load_s < 1 else 'MISSED'}: < 1 s)"
    )
    p99 = single[int(0.99 * len(single))]
    print(
        f"single message latency ms: p50 {statistics.median(single):.2f}  p95 {single[int(0.95 * len(single))]:.2f}  "
        f"p99 {p99:.2f} ({'ok' if p99 < 2 else 'MISSED'}: < 2 ms)"
    )
    print(f"batched ({args.batch}): {batched:,.0f} messages/s")
    print(f"peak resident memory: {rss_mb:.0f} MB")


if __name__ == "__main__":
    main()
