"""Clause search speed: index build time and query latency p50/p95, on the bundled corpus and on a
synthetic corpus of 10,000+ clauses (sentences of the bundled documents recombined), SQLite or the
database named by --url.

    .venv/bin/python benchmarks/search_bench.py [--clauses 10000] [--url postgresql+psycopg://...]
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.db import make_engine, make_sessionmaker, upgrade  # noqa: E402
from knowledge.bundled import CORPUS, ingest_bundled  # noqa: E402
from knowledge.evaluation import load_questions  # noqa: E402
from knowledge.ingest import ingest_bytes  # noqa: E402
from knowledge.search import search  # noqa: E402
from nlp.tokenizer import warm_up  # noqa: E402


def latency(Session, questions, rounds=3):
    times = []
    with Session() as s:
        for _ in range(rounds):
            for q in questions:
                start = time.perf_counter()
                search(s, q, k=3)
                times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1]


def synthetic_documents(n_clauses: int, seed: int = 7):
    sentences = []
    for path in sorted(CORPUS.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        sentences += [s + "。" for s in text.replace("\n", "").split("。") if len(s) > 15]
    rng = random.Random(seed)
    per_doc, docs = 100, []
    for d in range(n_clauses // per_doc):
        lines = [f"合成测试文件第{d}号关于优化营商环境的措施"]
        for c in range(per_doc):
            lines.append(f"{c + 1}." + "".join(rng.sample(sentences, 2)))
        docs.append((f"synthetic_{d:04d}.txt", "\n".join(lines).encode("utf-8")))
    return docs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clauses", type=int, default=11_000)
    parser.add_argument("--url", default=None)
    args = parser.parse_args()
    warm_up()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.url or f"sqlite:///{tmp}/bench.db"
        upgrade(url)
        engine = make_engine(url)
        Session = make_sessionmaker(engine)
        questions = [q["question"] for q in load_questions()]
        start = time.perf_counter()
        with Session() as s, s.begin():
            ingest_bundled(s)
        print(f"bundled corpus: index build {time.perf_counter() - start:.2f} s")
        p50, p95 = latency(Session, questions)
        print(f"bundled corpus: {len(questions)} questions  p50 {p50:.2f} ms  p95 {p95:.2f} ms")
        docs = synthetic_documents(args.clauses)
        start = time.perf_counter()
        with Session() as s:
            for name, data in docs:
                ingest_bytes(s, name, data)
            s.commit()
        build = time.perf_counter() - start
        with Session() as s:
            from sqlalchemy import func, select

            from knowledge.models import Clause

            total = s.scalar(select(func.count()).select_from(Clause))
        p50, p95 = latency(Session, questions)
        print(f"{total} clauses: index build {build:.1f} s ({total / build:.0f} clauses/s)  p50 {p50:.2f} ms  p95 {p95:.2f} ms")
        engine.dispose()


if __name__ == "__main__":
    main()
