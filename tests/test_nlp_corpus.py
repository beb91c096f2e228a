"""The training corpus: shape, size, no duplicates, not keyword-driven."""

from __future__ import annotations

from collections import Counter

import pytest

from nlp.categories import APPEAL, COMPLAINT, KIND_OF, OTHER
from nlp.corpus import (
    MIN_OTHER_LINES,
    MIN_TICKET_LINES,
    exact_duplicates,
    load_evaluation_sets,
    load_independent,
    load_independent2,
    load_training,
    near_duplicates,
    shortfalls,
    skeleton,
)


@pytest.fixture(scope="module")
def corpus():
    return load_training()


def test_every_category_has_enough_examples(corpus):
    counts = Counter(e.category for e in corpus)
    for code in [*APPEAL, *COMPLAINT]:
        assert counts[code] >= MIN_TICKET_LINES == 400, code  # issue 15
    for code in OTHER:
        assert counts[code] >= MIN_OTHER_LINES == 200, code
    assert shortfalls(corpus) == {}


def test_shortfalls_name_what_is_missing(corpus):
    fewer = [e for e in corpus if e.category != "legal"] + [e for e in corpus if e.category == "legal"][:390]
    assert shortfalls(fewer) == {"legal": 10}


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


@pytest.mark.parametrize("name", ["independent", "independent2"])
def test_the_independent_sets_share_no_text_with_training(corpus, name):
    evaluation = load_evaluation_sets().get(name)
    assert evaluation, f"nlp/data/{name}/ is missing"
    training = {skeleton(e.text) for e in corpus}
    assert not [e.text for e in evaluation if skeleton(e.text) in training]
    # Nor nearly: a training line a few characters away from an evaluation line measures memory.
    mine = set(evaluation)
    crossing = [
        (a.text, b.text)
        for a, b, _ in near_duplicates(corpus + evaluation, threshold=0.75)
        if (a in mine) != (b in mine)
    ]
    assert crossing == [], crossing[:3]


def test_the_second_independent_set_covers_every_category():
    """Issue 15: at least 40 lines per ticket category, and off_topic, in the set the model is chosen on."""
    counts = Counter(e.category for e in load_independent2())
    assert all(counts[code] >= 40 for code in [*APPEAL, *COMPLAINT]), counts
    assert counts["off_topic"] >= 80
    assert len(load_independent()) == 540  # the old set stays as a second measure


def test_the_counts_table_covers_train_and_both_evaluation_sets(capsys):
    from nlp.corpus import print_counts

    assert print_counts() is True  # nothing short of the targets
    out = capsys.readouterr().out
    assert "independent2" in out and "off_topic" in out and "short:" not in out


def test_the_writers_check_reports_a_line_equal_to_one_elsewhere(tmp_path, corpus):
    """A line with the same text and label as a training line is a duplicate, not the writer's own."""
    import json

    from nlp.corpus import _rest, check

    mine = tmp_path / "legal.mine.jsonl"
    taken = next(e for e in corpus if e.category == "legal")
    mine.write_text(
        json.dumps({"text": taken.text, "kind": taken.kind, "category": taken.category}, ensure_ascii=False) + "\n",
        encoding="utf-8",
    )
    assert any(p.startswith("duplicate:") for p in check([mine], _rest([mine])))
