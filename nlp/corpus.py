"""The training corpus (nlp/data/*.jsonl): loading, validation, hashing and near-duplicate checks."""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from nlp.categories import KIND_OF

DATA = Path(__file__).parent / "data"
TRAINING_DIR = "train"  # one file per category, so writers never collide
INDEPENDENT_DIR = "independent"  # written separately; evaluation only, never trained on
# Written later by two other writers who read neither train/ nor independent/, only DESIGN.md and
# LABELING.md: the set the model is chosen on (issue 15). Evaluation only, never trained on.
INDEPENDENT2_DIR = "independent2"
EVALUATION_DIRS = {"independent": INDEPENDENT_DIR, "independent2": INDEPENDENT2_DIR}
# What the corpus must hold (issue 15): lines per ticket category and per non-ticket intent.
MIN_TICKET_LINES = 400
MIN_OTHER_LINES = 200


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


def load_independent2(data_dir: Path = DATA) -> list[Example]:
    return _load_dir(data_dir / INDEPENDENT2_DIR)


def load_evaluation_sets(data_dir: Path = DATA) -> dict[str, list[Example]]:
    """The sets written apart from train/, by name (the names the reports use), empty ones left out."""
    sets = {name: _load_dir(data_dir / directory) for name, directory in EVALUATION_DIRS.items()}
    return {name: examples for name, examples in sets.items() if examples}


def shortfalls(examples: Iterable[Example]) -> dict[str, int]:
    """Lines still missing per category to reach MIN_TICKET_LINES / MIN_OTHER_LINES."""
    have = counts(examples)
    need = {code: (MIN_OTHER_LINES if kind == "other" else MIN_TICKET_LINES) for code, kind in KIND_OF.items()}
    return {code: n - have.get(code, 0) for code, n in need.items() if have.get(code, 0) < n}


def corpus_hash(examples: Iterable[Example]) -> str:
    digest = hashlib.sha256()
    for e in examples:
        digest.update(f"{e.kind}\t{e.category}\t{e.text}\n".encode())
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
    return frozenset(s[i : i + 3] for i in range(max(1, len(s) - 2)))


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
    """Problems in the given files, within themselves and against `against`, the rest of the corpus
    (for writers; see `_rest`).

    Lines are told apart by position, not by value: a line equal to one elsewhere (same text, same
    label) is a duplicate to report, not taken for the writer's own line.
    """
    from nlp.categories import LABELS

    problems = []
    mine = [e for p in paths for e in read_jsonl(p)]
    for code, n in sorted(counts(mine).items()):
        named = sum(LABELS[code] in e.text for e in mine if e.category == code)
        print(f"{code}: {n} lines, {named} name the category ({LABELS[code]})")
    others = list(against)
    everything = mine + others
    is_mine = [True] * len(mine) + [False] * len(others)
    position = {id(e): i for i, e in enumerate(everything)}
    for a, b in _exact_pairs(everything):
        if is_mine[a] or is_mine[b]:
            problems.append(f"duplicate: {everything[a].text} | {everything[b].text}")
    for x, y, sim in near_duplicates(everything, threshold=0.75):
        if is_mine[position[id(x)]] or is_mine[position[id(y)]]:
            problems.append(f"near-duplicate {sim}: {x.text} | {y.text}")
    return problems


def _rest(paths: list[Path]) -> list[Example]:
    """Every line of train/ and the evaluation sets outside the given files."""
    own = {p.resolve() for p in paths}
    folders = [DATA / TRAINING_DIR] + [DATA / d for d in EVALUATION_DIRS.values()]
    return [
        e for folder in folders for f in sorted(folder.glob("*.jsonl")) if f.resolve() not in own for e in read_jsonl(f)
    ]


def _exact_pairs(examples: list[Example]) -> list[tuple[int, int]]:
    seen: dict[str, int] = {}
    pairs = []
    for i, e in enumerate(examples):
        key = skeleton(e.text)
        if key in seen:
            pairs.append((seen[key], i))
        else:
            seen[key] = i
    return pairs


def print_counts() -> bool:
    """The counts table of nlp/data/README.md (train and the two evaluation sets); False when short."""
    from nlp.categories import LABELS

    training = load_training()
    sets = load_evaluation_sets()
    have = counts(training)
    columns = {name: counts(examples) for name, examples in sets.items()}
    print(f"{'code':20} {'kind':9} {'train':>6} " + " ".join(f"{name:>12}" for name in columns))
    for code, kind in KIND_OF.items():
        print(
            f"{code:20} {kind:9} {have.get(code, 0):6} "
            + " ".join(f"{c.get(code, 0):12}" for c in columns.values())
            + f"  {LABELS[code]}"
        )
    print(f"{'total':30} {len(training):6} " + " ".join(f"{len(e):12}" for e in sets.values()))
    short = shortfalls(training)
    for code, n in short.items():
        print(f"short: {code} needs {n} more lines")
    if not short:
        print(f"every ticket category has >= {MIN_TICKET_LINES} lines, every other intent >= {MIN_OTHER_LINES}")
    return not short


if __name__ == "__main__":
    # python -m nlp.corpus              : the counts against the targets
    # python -m nlp.corpus check FILE…  : what a corpus writer runs on their own file
    import sys

    if sys.argv[1:2] == ["check"]:
        files = [Path(a) for a in sys.argv[2:]]
        found = check(files, _rest(files))
        print("\n".join(found) or "no duplicates")
        sys.exit(1 if found else 0)
    sys.exit(0 if print_counts() else 1)


__all__ = [
    "Example",
    "CorpusError",
    "load_training",
    "load_independent",
    "load_independent2",
    "load_evaluation_sets",
    "shortfalls",
    "corpus_hash",
    "counts",
    "near_duplicates",
    "exact_duplicates",
    "skeleton",
]
