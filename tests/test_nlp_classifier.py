"""The classifier trained on the real corpus: predictions, bad input, persistence, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from nlp.categories import TICKET_CATEGORIES
from nlp.classifier import Classifier
from nlp.corpus import load_independent2, load_training
from nlp.training import choose_loss_threshold, choose_threshold, coverage_curve, evaluate, loss_curve, split, train


@pytest.fixture(scope="session")
def model(tmp_path_factory):
    classifier, _ = train(load_training(), cross_validate=False)
    classifier.threshold = 0.3
    path = tmp_path_factory.mktemp("model") / "model.joblib"
    classifier.save(str(path))
    return Classifier.load(str(path))


@pytest.mark.parametrize(
    "text,category",
    [
        ("厂里新上了两台设备，变压器带不动，想申请增容", "operations"),
        ("资金周转不开了，银行说抵押物不够不给批", "finance"),
        ("市场监管的人上个月来了三次，这周又来，也不说查什么", "random_inspection"),
        ("协会让我们必须入会，一年会费八千，不交就不给评优", "forced_membership"),
        ("引进的工程师孩子上学的事能帮忙协调一下吗", "livelihood"),
        ("公积金中心电话多少", "contact_lookup"),
        ("我上周反映的那个事有结果了吗", "ticket_status"),
    ],
)
def test_clear_messages_land_in_their_category(model, text, category):
    assert model.predict(text).category == category


def test_prediction_carries_kind_confidence_and_alternatives(model):
    p = model.predict("税务局突然停了我们的发票，也没有任何书面通知")
    assert p.kind == "complaint"
    assert 0.0 < p.confidence <= 1.0
    assert len(p.alternatives) == 3
    assert all(a[2] <= p.confidence for a in p.alternatives)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "😀🙏👍",
        "长" * 20000,
        "hello how are you",
        "I need a bank loan",
        "1234567890",
        "\x00\x01\x02",
        "<xml>]]></xml>",
        "\u202e\u200b",
    ],
)
def test_bad_input_gets_an_answer_not_an_exception(model, text):
    p = model.predict(text)
    assert p.kind in ("appeal", "complaint", "other")
    assert 0.0 <= p.confidence <= 1.0


def test_empty_and_meaningless_input_is_chitchat(model):
    for text in ("", "  ", "😀😀", "123"):
        assert (model.predict(text).kind, model.predict(text).category) == ("other", "chitchat")


def test_batch_and_single_predictions_agree(model):
    texts = ["想贷款", "被罚款了也不给票据", "谢谢", "办环评找谁"]
    assert [p.category for p in model.predict_many(texts)] == [model.predict(t).category for t in texts]


def test_compiled_scorer_equals_scikit_learn(model):
    from sklearn import config_context

    from nlp.classifier import prepare
    from nlp.corpus import load_independent

    texts = [prepare(e.text) for e in load_independent()] + ["", "😀", "a" * 3000]
    assert model.compiled is not None
    with config_context(assume_finite=True):
        expected = model.pipeline.predict_proba(texts)
    assert np.allclose(model.compiled.predict_proba(texts), expected, rtol=0, atol=1e-12)
    assert np.allclose(expected.sum(axis=1), 1)


@pytest.mark.parametrize(
    "options",
    [
        {"blend": "lr"},
        {"blend": "cnb", "blend_weight": 0.7},
        {"cut": "search", "word_pairs": True, "char_ngrams": (1, 4)},
        {"class_weight": {"off_topic": 3.0}, "char_analyzer": "char"},
    ],
)
def test_compiled_scorer_equals_scikit_learn_for_every_shape_selection_tried(options):
    """Whatever shape model selection keeps, the fast path computes what scikit-learn computes."""
    from sklearn import config_context

    from nlp.classifier import build_pipeline, fit_params, prepare

    sample = load_training()[::6]  # every category, a sixth of the corpus: seconds, not half a minute
    texts, labels = [prepare(e.text) for e in sample], [e.category for e in sample]
    pipeline = build_pipeline(7, options).fit(texts, labels, **fit_params(options, labels))
    classifier = Classifier(pipeline, 0.5, {})
    assert classifier.compiled is not None
    probe = [prepare(e.text) for e in load_independent2()[::5]] + ["", "😀", "a" * 3000]
    with config_context(assume_finite=True):
        expected = pipeline.predict_proba(probe)
    assert np.allclose(classifier.compiled.predict_proba(probe), expected, rtol=0, atol=1e-12)


def test_class_weights_by_code_reach_the_svm_as_sample_weights():
    from nlp.classifier import fit_params

    labels = ["off_topic", "legal", "off_topic"]
    assert fit_params({"class_weight": {"off_topic": 3.0}}, labels)["model__sample_weight"].tolist() == [3.0, 1.0, 3.0]
    assert fit_params({"class_weight": "balanced"}, labels) == {}
    assert fit_params({"class_weight": None}, labels) == {}
    assert fit_params(None, labels)["model__sample_weight"].tolist() == [3.0, 1.0, 3.0]  # the default


def test_training_is_deterministic(model):
    again, _ = train(load_training(), cross_validate=False)
    texts = ["用电报装太慢", "评比排名太多了", "社保断缴怎么办"]
    first = [round(p.confidence, 6) for p in model.predict_many(texts)]
    assert first == [round(p.confidence, 6) for p in again.predict_many(texts)]


def test_metadata_records_labels_hash_versions_and_scores(model):
    meta = model.metadata
    assert len(meta["labels"]) == 20
    assert len(meta["corpus_hash"]) == 16
    assert {"scikit-learn", "jieba", "python"} <= set(meta["versions"])
    assert "heldout" in meta["scores"]


def test_heldout_quality_floor(model):
    _, heldout = split(load_training())
    assert evaluate(model, heldout).macro_f1 >= 0.85


def test_second_independent_set_meets_the_issue_targets(model):
    """Issue 15: macro-F1 >= 0.93 over the 16 categories on the set written apart, none below 0.85."""
    scores = evaluate(model, load_independent2())
    per_category = {c: scores.report[c]["f1-score"] for c in TICKET_CATEGORIES}
    assert scores.macro_f1 >= 0.93
    assert min(per_category.values()) >= 0.85, per_category


def test_model_records_a_threshold_per_intent_and_its_options(model):
    from nlp.training import stored_options

    assert model.metadata["options"] == stored_options()
    assert model.intent_threshold_for("nonexistent") == model.intent_threshold


def test_trained_thresholds_come_from_the_out_of_fold_curves():
    sample = load_training()[::3]
    classifier, report = train(sample)
    assert set(classifier.intent_thresholds) == set(report["intent_curves"]) | {"off_topic"}
    assert classifier.intent_thresholds["off_topic"] == choose_loss_threshold(report["off_topic_curve"])
    assert classifier.threshold == choose_threshold(report["curve"])
    assert {"cross_validation", "heldout", "independent", "independent2"} <= set(classifier.metadata["scores"])


def test_off_topic_threshold_is_the_lowest_that_keeps_ticket_losses_small():
    confidences = np.array([0.9, 0.5, 0.3, 0.1, 0.9, 0.2])
    predicted = ["off_topic", "off_topic", "off_topic", "off_topic", "legal", "off_topic"]
    labels = ["off_topic", "off_topic", "legal", "finance", "legal", "off_topic"]
    curve = loss_curve(confidences, predicted, labels, "off_topic")
    # Tickets: legal (0.3), finance (0.1), legal (predicted legal). Below 0.1 both are lost (2/3), from
    # 0.12 one (1/3), from 0.32 none; off_topic lines kept: 3/3 up to 0.2, 2/3 from 0.22.
    assert curve[0]["tickets_lost"] == pytest.approx(2 / 3) and curve[0]["recall"] == 1.0
    assert choose_loss_threshold(curve, max_lost=0.4) == 0.12
    assert choose_loss_threshold(curve, max_lost=0.0) == 0.32
    assert next(p for p in curve if p["threshold"] == 0.32)["recall"] == pytest.approx(2 / 3)


def test_understanding_uses_an_intents_own_threshold():
    """A confident-enough off_topic guess is acted on though it is below the shared intent threshold;
    chitchat at the same confidence is not."""
    from dataclasses import dataclass, field

    from handlers.understanding import understand
    from nlp.classifier import Prediction

    @dataclass
    class Stub:
        category: str
        threshold: float = 0.6
        intent_threshold: float = 0.7
        intent_thresholds: dict = field(default_factory=lambda: {"off_topic": 0.2})

        def predict(self, text):
            return Prediction("other", self.category, 0.3, [("appeal", "legal", 0.25)])

    assert understand("我家楼上天天半夜装修吵得睡不着", Stub("off_topic")).intent == "off_topic"
    assert understand("我家楼上天天半夜装修吵得睡不着", Stub("chitchat")).intent == "unsure"
    no_own = Stub("off_topic", intent_thresholds={})
    assert understand("我家楼上天天半夜装修吵得睡不着", no_own).intent == "unsure"


def test_threshold_is_read_off_the_curve():
    import numpy as np

    confidences = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05])
    correct = np.array([1, 1, 1, 1, 1, 1, 1, 1, 0, 0], dtype=bool)
    curve = coverage_curve(confidences, correct)
    threshold = choose_threshold(curve)
    assert 0.06 <= threshold <= 0.2  # the lowest threshold whose accepted answers are all right
    assert curve[0]["coverage"] == 1.0 and curve[0]["accuracy"] == 0.8


def test_evaluate_reports_all_four_splits(monkeypatch):
    """`appealbot evaluate` prints cross-validation, held-out and both independent sets (on a quarter of
    the corpus here, to keep it quick)."""
    from click.testing import CliRunner

    from bot.cli import classifier as cli
    from nlp import training

    real = training.train
    monkeypatch.setattr(training, "train", lambda examples, **kw: real(examples[::4], **kw))
    result = CliRunner().invoke(cli.evaluate, [])
    assert result.exit_code == 0, result.output
    for name in ("cross_validation", "heldout", "independent:", "independent2:"):
        assert f"== {name}" in result.output
    assert "off_topic" in result.output and "macro-F1 (16 categories)" in result.output
