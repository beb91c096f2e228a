"""Not an enterprise matter (issue 15): off-topic messages do not start tickets, appeals are not lost to
off_topic. The whole bot with the trained classifier, measured as benchmarks/off_topic_eval.py does, on
the second independent set (written apart from the corpus); the bounds are looser than the issue's
targets (0.10 and 0.02) so that a small corpus change does not fail the suite, but a model or a handler
that sends citizens into the appeal form again does."""

from __future__ import annotations

import pytest

from benchmarks.off_topic_eval import TICKET_SLOTS, measure, outcome
from nlp.corpus import load_independent2


@pytest.fixture(scope="module")
def examples():
    return load_independent2()


def test_off_topic_lines_rarely_start_a_ticket_and_appeals_are_not_lost(assistant, examples):
    figures = measure(assistant, examples)
    assert figures["off_topic_lines"] >= 80 and figures["ticket_lines"] >= 800
    assert figures["started_share"] <= 0.15, figures["off_topic_outcomes"]
    assert figures["lost_share"] <= 0.02, figures["ticket_outcomes"]
    # Appeals still go where appeals go: the form or the category menu, for nearly all of them.
    started = sum(n for k, n in figures["ticket_outcomes"].items() if k.startswith("ticket:"))
    assert started / figures["ticket_lines"] >= 0.85, figures["ticket_outcomes"]


def test_the_measure_tells_a_ticket_start_from_the_off_topic_answer(assistant):
    assert outcome(assistant, "我家楼上邻居天天半夜装修，吵得孩子睡不着，物业也不管") == "off_topic"
    started = outcome(assistant, "我们厂的变压器容量不够，新设备上不了，想申请增容，供电所一直拖着")
    assert started.startswith("ticket:") and started.split(":")[1] in TICKET_SLOTS | {"created"}
