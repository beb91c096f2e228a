"""The library's speed: answer() latency p50/p95 (the call the conversation makes), the in-memory
index's build time and size, on the bundled library and with 10,000 synthetic articles added
(laws made of the bundled laws' sentences recombined), on SQLite or the database named by --url.

    .venv/bin/python benchmarks/search_bench.py [--articles 10000] [--url postgresql+psycopg://...]
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

from bot.schema import upgrade
from core.db import make_engine, make_sessionmaker
from knowledge import index as library
from knowledge.answer import answer
from knowledge.bundled import CORPUS, ingest_bundled
from knowledge.evaluation import load_questions
from knowledge.ingest import (
    _chinese,
    ingest_bytes,
)
from nlp.tokenizer import warm_up


def latency(Session, questions, rounds=3):
    times = []
    with Session() as s:
        library.current(s)  # built once per process; measured separately
        for _ in range(rounds):
            for q in questions:
                start = time.perf_counter()
                answer(s, q)
                times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1]


def build_time(Session) -> tuple[float, int]:
    library.forget()
    with Session() as s:
        start = time.perf_counter()
        idx = library.current(s)
        return time.perf_counter() - start, len(idx)


def article_number(n: int) -> str:
    if n < 100:
        return _chinese(n)
    hundreds, rest = divmod(n, 100)
    return _chinese(hundreds) + "百" + ("" if rest == 0 else ("零" + _chinese(rest) if rest < 10 else _chinese(rest)))


def synthetic_documents(n_articles: int, seed: int = 7):
    sentences = []
    for path in sorted(CORPUS.glob("*.md")):
        text = path.read_text(encoding="utf-8").split("<!-- INFO END -->")[-1]
        sentences += [s + "。" for s in text.replace("\n", "").split("。") if len(s) > 15 and not s.startswith("#")]
    rng = random.Random(seed)
    per_doc, docs = 100, []
    for d in range(n_articles // per_doc):
        lines = [f"# 合成测试条例第{d}号", "<!-- INFO END -->", "## 第一章 总则"]
        for c in range(1, per_doc + 1):
            lines.append(f"第{article_number(c)}条 " + "".join(rng.sample(sentences, 2)))
        docs.append((f"合成测试条例{d:04d}(2026-01-01).md", "\n".join(lines).encode("utf-8")))
    return docs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--url", default=None)
    args = parser.parse_args()
    warm_up()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.url or f"sqlite:///{tmp}/bench.db"
        upgrade(url)
        engine = make_engine(url)
        Session = make_sessionmaker(engine)
        questions = [q["question"] for q in load_questions("tune") + load_questions("independent")]
        start = time.perf_counter()
        with Session() as s, s.begin():
            ingest_bundled(s)
        print(f"bundled library: ingest {time.perf_counter() - start:.1f} s")
        built, size = build_time(Session)
        p50, p95 = latency(Session, questions)
        print(
            f"bundled library ({size} clauses): index build {built:.2f} s; answer() over {len(questions)} questions "
            f"p50 {p50:.2f} ms  p95 {p95:.2f} ms"
        )
        docs = synthetic_documents(args.articles)
        start = time.perf_counter()
        with Session() as s:
            for name, data in docs:
                ingest_bytes(s, name, data)
            s.commit()
        ingest = time.perf_counter() - start
        built, size = build_time(Session)
        p50, p95 = latency(Session, questions)
        print(
            f"with {len(docs) * 100} synthetic articles ({size} clauses): ingest {ingest:.1f} s, index build {built:.2f} s; "
            f"answer() p50 {p50:.2f} ms  p95 {p95:.2f} ms"
        )
        engine.dispose()


if __name__ == "__main__":
    main()
