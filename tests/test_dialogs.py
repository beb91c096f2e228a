"""The conversation, driven without HTTP (tests/dialogs/runner.py): the project's own scripted
conversations, each turn checked against what the bot replied and stored."""

from __future__ import annotations

import pytest

from tests.dialogs import runner


def test_every_scripted_conversation_goes_as_written(assistant):
    scenarios = runner.load("own.jsonl")
    assert len(scenarios) >= 60
    failed = [runner.run(assistant, s) for s in scenarios]
    failed = [o for o in failed if not o.passed]
    report = "\n\n".join(
        f"{o.scenario['id']}: {o.problems}\n" + "\n".join(f"  > {a}\n    {b}" for a, b in o.transcript) for o in failed
    )
    assert not failed, report


def test_a_question_at_the_name_prompt_is_answered_and_never_stored(assistant):
    d = runner.Dialog(assistant)
    d.say("新厂区的天然气报装三个月了还没通")
    reply = d.say("等一下，办环评找谁？")
    assert reply.data["cards"][0]["department"] == "市生态环境局" and "继续" in reply.text
    assert d.enterprise() is None or d.enterprise().name is None
    assert d.asking() is None
    assert "企业名称" in d.say("继续").text


def test_the_reply_always_lists_the_clauses_it_shows(assistant):
    d = runner.Dialog(assistant)
    shown = d.say("试用期最长能定多久")
    assert shown.data["citations"] and all(set(c) == {"source", "clause", "title"} for c in shown.data["citations"])
    assert d.say("你好").data["citations"] == []


@pytest.mark.parametrize("text", ["确认提交", "好的提交吧", "提交", "1"])
def test_the_confirmation_takes_the_number_and_the_words(assistant, text):
    d = runner.Dialog(assistant)
    d.say("我们是奎屯市某某轧花厂 电话13899930101 厂里的变压器容量不够 申请增容两个月了供电公司还没批")
    d.say(text)
    assert len(d.new_tickets) == 1 and d.new_tickets[0].category == "operations"
