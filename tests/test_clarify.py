"""Below the threshold the bot asks; the user's number routes the appeal; other text is understood afresh."""
from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from handlers.messages import Reply
from nlp.classifier import Prediction
from tests.platforms import web_say


@dataclass
class StubClassifier:
    """Stands in for the trained model: fixed predictions per text."""

    answers: dict = field(default_factory=dict)
    threshold: float = 0.5

    def predict(self, text):
        return self.answers.get(text) or Prediction("other", "chitchat", 1.0, source="rule")


UNSURE = Prediction("appeal", "operations", 0.31, [("appeal", "finance", 0.25), ("other", "contact_lookup", 0.2),
                                                   ("complaint", "arbitrary_charges", 0.1)])
SURE = Prediction("appeal", "finance", 0.9, [("appeal", "policy", 0.05)])


@pytest.fixture
def opened(app, monkeypatch):
    stub = StubClassifier({"厂里的事一直没人管": UNSURE, "想贷款": SURE})
    app.extensions["appealbot"].services.classifier = stub
    calls = []

    def start_appeal(ctx, *, text, kind, category, confidence, confirmed=True, **_):
        if confirmed:  # the classifier's own guesses are confirmed later, in the appeal flow
            calls.append((text, kind, category, confidence))
        return Reply(f"已受理：{category}")

    import handlers.appeal

    monkeypatch.setattr(handlers.appeal, "start_appeal", start_appeal, raising=False)
    return calls


def say(client, text, user="clarify-user"):
    return web_say(client, text, user)


def test_low_confidence_asks_with_numbered_ticket_categories(client, opened):
    body = say(client, "厂里的事一直没人管")
    assert "1. 生产经营" in body["reply"] and "2. 金融服务" in body["reply"] and "3. 四乱" in body["reply"]
    assert "一叫就到" not in body["reply"]  # non-ticket intents are not offered as categories
    assert body["choices"] == ["生产经营", "金融服务", "四乱", "都不是"]
    assert opened == []


def test_picking_a_number_opens_the_appeal_with_the_original_text(client, opened):
    say(client, "厂里的事一直没人管")
    body = say(client, "2")
    assert body["reply"] == "已受理：finance"
    assert opened == [("厂里的事一直没人管", "appeal", "finance", 0.31)]


def test_none_of_these_goes_to_a_person(client, opened):
    say(client, "厂里的事一直没人管")
    say(client, "0")
    assert opened[0][2] == "coordination"


def test_other_text_is_understood_afresh(client, opened):
    say(client, "厂里的事一直没人管")
    body = say(client, "想贷款")
    assert "回复序号" not in body["reply"]
    say(client, "2")  # the question is no longer open: "2" picks nothing
    assert opened == []


def test_confident_prediction_does_not_ask(client, opened):
    assert "回复序号" not in say(client, "想贷款")["reply"]
