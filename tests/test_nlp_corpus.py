"""The training corpus: shape, size, no duplicates, not keyword-driven."""
from __future__ import annotations

from collections import Counter

import pytest

from nlp.categories import APPEAL, COMPLAINT, KIND_OF, OTHER
from nlp.corpus import exact_duplicates, load_independent, load_training, near_duplicates, skeleton


@pytest.fixture(scope="module")
def corpus():
    return load_training()


def test_every_category_has_enough_examples(corpus):
    counts = Counter(e.category for e in corpus)
    for code in [*APPEAL, *COMPLAINT]:
        assert counts[code] >= 150, code
    for code in OTHER:
        assert counts[code] >= 60, code


def test_labels_are_consistent(corpus):
    assert all(KIND_OF[e.category] == e.kind for e in corpus)


def test_no_exact_or_near_duplicates(corpus):
    assert exact_duplicates(corpus) == []
    pairs = near_duplicates(corpus, threshold=0.75)
    assert pairs == [], pairs[:5]


def test_most_lines_do_not_name_their_category(corpus):
    for code, name in {**APPEAL, **COMPLAINT}.items():
        lines = [e.text for e in corpus if e.category == code]
        named = sum(name in t for t in lines)
        assert named / len(lines) < 0.2, (code, named)


def test_lengths_vary_from_a_few_characters_to_paragraphs(corpus):
    lengths = [len(skeleton(e.text)) for e in corpus if e.kind != "other"]
    assert sum(n <= 12 for n in lengths) / len(lengths) > 0.1
    assert sum(n >= 60 for n in lengths) / len(lengths) > 0.1


def test_the_independent_set_shares_no_text_with_training(corpus):
    independent = load_independent()
    training = {skeleton(e.text) for e in corpus}
    assert independent, "nlp/data/independent.jsonl is missing"
    assert not [e.text for e in independent if skeleton(e.text) in training]
