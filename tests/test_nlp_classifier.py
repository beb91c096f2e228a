"""The classifier trained on the real corpus: predictions, bad input, persistence, determinism."""
from __future__ import annotations

import numpy as np
import pytest

from nlp.classifier import Classifier
from nlp.corpus import load_training
from nlp.training import choose_threshold, coverage_curve, evaluate, split, train


@pytest.fixture(scope="session")
def model(tmp_path_factory):
    classifier, _ = train(load_training(), cross_validate=False)
    classifier.threshold = 0.3
    path = tmp_path_factory.mktemp("model") / "model.joblib"
    classifier.save(str(path))
    return Classifier.load(str(path))


@pytest.mark.parametrize("text,category", [
    ("厂里新上了两台设备，变压器带不动，想申请增容", "operations"),
    ("资金周转不开了，银行说抵押物不够不给批", "finance"),
    ("市场监管的人上个月来了三次，这周又来，也不说查什么", "random_inspection"),
    ("协会让我们必须入会，一年会费八千，不交就不给评优", "forced_membership"),
    ("引进的工程师孩子上学的事能帮忙协调一下吗", "livelihood"),
    ("公积金中心电话多少", "contact_lookup"),
    ("我上周反映的那个事有结果了吗", "ticket_status"),
])
def test_clear_messages_land_in_their_category(model, text, category):
    assert model.predict(text).category == category


def test_prediction_carries_kind_confidence_and_alternatives(model):
    p = model.predict("税务局突然停了我们的发票，也没有任何书面通知")
    assert p.kind == "complaint"
    assert 0.0 < p.confidence <= 1.0
    assert len(p.alternatives) == 3
    assert all(a[2] <= p.confidence for a in p.alternatives)


@pytest.mark.parametrize("text", ["", "   ", "😀🙏👍", "长" * 20000, "hello how are you", "I need a bank loan",
                                  "1234567890", "\x00\x01\x02", "<xml>]]></xml>", "\u202e\u200b"])
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


def test_threshold_is_read_off_the_curve():
    import numpy as np

    confidences = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05])
    correct = np.array([1, 1, 1, 1, 1, 1, 1, 1, 0, 0], dtype=bool)
    curve = coverage_curve(confidences, correct)
    threshold = choose_threshold(curve)
    assert 0.06 <= threshold <= 0.2  # the lowest threshold whose accepted answers are all right
    assert curve[0]["coverage"] == 1.0 and curve[0]["accuracy"] == 0.8
