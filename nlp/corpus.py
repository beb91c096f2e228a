"""The training corpus (nlp/data/*.jsonl): loading, validation, hashing and near-duplicate checks."""
from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from nlp.categories import KIND_OF

DATA = Path(__file__).parent / "data"
TRAINING_DIR = "train"  # one file per category, so writers never collide
INDEPENDENT_DIR = "independent"  # written separately; evaluation only, never trained on


@dataclass(frozen=True)
class Example:
    text: str
    kind: str
    category: str


class CorpusError(ValueError):
    pass


def read_jsonl(path: Path) -> list[Example]:
    examples = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            example = Example(str(row["text"]), str(row["kind"]), str(row["category"]))
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise CorpusError(f"{path.name}:{number}: not a {{text, kind, category}} object ({exc})") from None
        if KIND_OF.get(example.category) != example.kind:
            raise CorpusError(f"{path.name}:{number}: unknown category/kind {example.category}/{example.kind}")
        if not example.text.strip():
            raise CorpusError(f"{path.name}:{number}: empty text")
        examples.append(example)
    return examples


def _load_dir(path: Path) -> list[Example]:
    examples: list[Example] = []
    for file in sorted(path.glob("*.jsonl")):
        examples.extend(read_jsonl(file))
    return examples


def load_training(data_dir: Path = DATA) -> list[Example]:
    examples = _load_dir(data_dir / TRAINING_DIR)
    if not examples:
        raise CorpusError(f"no training data in {data_dir / TRAINING_DIR}")
    return examples


def load_independent(data_dir: Path = DATA) -> list[Example]:
    return _load_dir(data_dir / INDEPENDENT_DIR)


def corpus_hash(examples: Iterable[Example]) -> str:
    digest = hashlib.sha256()
    for e in examples:
        digest.update(f"{e.kind}\t{e.category}\t{e.text}\n".encode("utf-8"))
    return digest.hexdigest()[:16]


def counts(examples: Iterable[Example]) -> dict[str, int]:
    result: dict[str, int] = defaultdict(int)
    for e in examples:
        result[e.category] += 1
    return dict(result)


_NOT_CONTENT = re.compile(r"[\W_]+", re.UNICODE)


def skeleton(text: str) -> str:
    """Text with punctuation, emoji, spaces and case removed: equal skeletons are duplicates."""
    text = unicodedata.normalize("NFKC", text).lower()
    return _NOT_CONTENT.sub("", "".join(ch for ch in text if unicodedata.category(ch) != "So"))


def _trigrams(text: str) -> frozenset[str]:
    s = skeleton(text)
    return frozenset(s[i:i + 3] for i in range(max(1, len(s) - 2)))


def near_duplicates(examples: list[Example], threshold: float = 0.6) -> list[tuple[Example, Example, float]]:
    """Pairs whose character-trigram Jaccard similarity is at least `threshold` (or equal skeletons).

    An inverted index on trigrams keeps this far below all-pairs cost on a few thousand lines.
    """
    grams = [_trigrams(e.text) for e in examples]
    index: dict[str, list[int]] = defaultdict(list)
    for i, g in enumerate(grams):
        for t in g:
            index[t].append(i)
    pairs = []
    for i, g in enumerate(grams):
        shared: dict[int, int] = defaultdict(int)
        for t in g:
            for j in index[t]:
                if j > i:
                    shared[j] += 1
        for j, n in shared.items():
            union = len(g) + len(grams[j]) - n
            similarity = n / union if union else 1.0
            if similarity >= threshold:
                pairs.append((examples[i], examples[j], round(similarity, 3)))
    return pairs


def exact_duplicates(examples: list[Example]) -> list[tuple[Example, Example]]:
    seen: dict[str, Example] = {}
    dups = []
    for e in examples:
        key = skeleton(e.text)
        if key in seen:
            dups.append((seen[key], e))
        else:
            seen[key] = e
    return dups


def check(paths: list[Path], against: list[Example]) -> list[str]:
    """Problems in the given files, alone and against the rest of the corpus (for writers)."""
    from nlp.categories import LABELS

    problems = []
    mine = [e for p in paths for e in read_jsonl(p)]
    for code, n in sorted(counts(mine).items()):
        named = sum(LABELS[code] in e.text for e in mine if e.category == code)
        print(f"{code}: {n} lines, {named} name the category ({LABELS[code]})")
    others = [e for e in against if e not in set(mine)]
    for a, b in exact_duplicates(mine + others):
        if a in mine or b in mine:
            problems.append(f"duplicate: {a.text} | {b.text}")
    for a, b, sim in near_duplicates(mine + others, threshold=0.75):
        if a in mine or b in mine:
            problems.append(f"near-duplicate {sim}: {a.text} | {b.text}")
    return problems


if __name__ == "__main__":  # python -m nlp.corpus check FILE... : what a corpus writer runs
    import sys

    files = [Path(a) for a in sys.argv[2:]]
    rest = _load_dir(DATA / TRAINING_DIR) + _load_dir(DATA / INDEPENDENT_DIR)
    found = check(files, rest)
    print("\n".join(found) or "no duplicates")
    sys.exit(1 if found else 0)


__all__ = ["Example", "CorpusError", "load_training", "load_independent", "corpus_hash", "counts",
           "near_duplicates", "exact_duplicates", "skeleton"]
