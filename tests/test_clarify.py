"""Below the threshold the bot asks; the user's number routes the appeal; other text is understood afresh."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from nlp.classifier import Prediction
from tests.platforms import web_say


@dataclass
class StubClassifier:
    """Stands in for the trained model: fixed predictions per text."""

    answers: dict = field(default_factory=dict)
    threshold: float = 0.5

    def predict(self, text):
        return self.answers.get(text) or Prediction("other", "chitchat", 1.0, source="rule")


UNSURE = Prediction(
    "appeal",
    "operations",
    0.31,
    [("appeal", "finance", 0.25), ("other", "contact_lookup", 0.2), ("complaint", "arbitrary_charges", 0.1)],
)
SURE = Prediction("appeal", "finance", 0.9, [("appeal", "policy", 0.05)])


@pytest.fixture
def opened(app, demo):
    app.extensions["appealbot"].services.classifier = StubClassifier({"厂里的事一直没人管": UNSURE, "想贷款": SURE})
    return app


def say(client, text, user="clarify-user"):
    return web_say(client, text, user)


def tickets(app):
    from sqlalchemy import select

    from tickets.models import Ticket

    with app.extensions["appealbot"].Session() as s:
        return [(t.text, t.kind, t.category) for t in s.scalars(select(Ticket))]


def test_low_confidence_asks_with_numbered_ticket_categories(client, opened):
    body = say(client, "厂里的事一直没人管")
    assert "1. 生产经营" in body["reply"] and "2. 金融服务" in body["reply"] and "3. 四乱" in body["reply"]
    assert "一叫就到" not in body["reply"]  # non-ticket intents are not offered as categories
    assert body["choices"] == ["生产经营", "金融服务", "四乱", "都不是"]
    assert tickets(opened) == []


def test_picking_a_number_or_a_name_opens_the_form_with_the_original_text(client, opened):
    say(client, "厂里的事一直没人管")
    assert "企业名称" in say(client, "2")["reply"]
    say(client, "伊宁市某某机械有限公司")
    assert "金融服务" in say(client, "13899930001")["reply"]  # the confirmation names the chosen category
    say(client, "确认提交")
    assert tickets(opened) == [("厂里的事一直没人管", "appeal", "finance")]
    say(client, "厂里的事一直没人管", user="by-name")
    assert "企业名称" in say(client, "金融服务", user="by-name")["reply"]


def test_none_of_these_goes_to_a_person(client, opened):
    say(client, "厂里的事一直没人管")
    say(client, "4")  # the last option, as the page's button sends it
    say(client, "伊宁市某某机械有限公司 13899930002")
    say(client, "1")
    assert tickets(opened)[0][2] == "coordination"


def test_other_text_is_handled_and_the_appeal_waits(client, opened):
    say(client, "厂里的事一直没人管")
    body = say(client, "想贷款")  # a confident new appeal: it comes first, the first one waits
    assert "回复序号" not in body["reply"] and "已保留" in body["reply"]
    assert "您回复的“7”是指什么" in say(client, "7")["reply"]  # no menu offers a 7: asked, not guessed
    assert tickets(opened) == []


def test_confident_prediction_does_not_ask(client, opened):
    assert "回复序号" not in say(client, "想贷款")["reply"]
