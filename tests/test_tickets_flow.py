"""End to end: a message on the chat page becomes a routed ticket with a working-day deadline; an
official accepts and resolves it through the real encrypted /wecom callback; the enterprise rates it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from nlp.classifier import Prediction
from tests.platforms import web_say
from tests.stubs import StubClassifier
from tickets.models import Enterprise, Notification, Ticket

MONDAY = datetime(2026, 9, 28, 2, 0, tzinfo=UTC)  # 10:00 in China; National Day week follows


@pytest.fixture
def bot(demo):
    state = demo.extensions["appealbot"]
    state.services.classifier = StubClassifier(
        {
            "增容": Prediction("appeal", "operations", 0.93, [("appeal", "gov_service", 0.04)]),
            "协会": Prediction("complaint", "forced_membership", 0.88, []),
            "说不清": Prediction("appeal", "coordination", 0.91, []),
        }
    )
    state.services.clock = lambda: MONDAY
    return demo


def say(client, text, user="ent-1"):
    return web_say(client, text, user)["reply"]


def submit(client, text="厂里新上两台设备，变压器带不动，申请增容一个月没消息", user="ent-1"):
    assert "企业名称" in say(client, text, user)
    assert "联系电话" in say(client, "城东精工机械有限公司", user)
    assert "确认提交" in say(client, "13812345678", user)
    reply = say(client, "1", user)
    assert "已受理" in reply, reply
    return reply


def test_an_appeal_becomes_a_routed_ticket_with_a_working_day_deadline(bot, client, db):
    reply = submit(client)
    ticket = db.scalars(select(Ticket)).one()
    assert ticket.number == "YQ-20260928-0001" and ticket.number in reply
    assert ticket.status == "assigned" and ticket.department.name == "国网市供电公司"  # keyword rule: 用电
    # three working days from Monday 28 September: 29, 30 September, then 8 October after the holiday
    assert ticket.deadline == datetime(2026, 10, 8, 15, 59, 59, tzinfo=UTC)
    assert "2026年10月08日" in reply
    ent = db.scalars(select(Enterprise)).one()
    assert (ent.name, ent.phone) == ("城东精工机械有限公司", "13812345678")
    assert [e.action for e in ticket.events] == ["submit", "assign"]
    assert db.scalars(select(Notification).where(Notification.recipient == "gdgs")).one().status == "pending"


def test_name_and_phone_are_asked_once(bot, client, db):
    submit(client)
    assert "匿名反映" in say(client, "隔壁商会的人天天来说不入协会就别想评优")  # a complaint: anonymity first
    assert "确认提交" in say(client, "1")
    assert "已受理" in say(client, "1")
    assert [t.category for t in db.scalars(select(Ticket).order_by(Ticket.id))] == ["operations", "forced_membership"]


def test_cancel_stores_no_ticket(bot, client, db):
    say(client, "申请增容一个月没消息")
    say(client, "城东精工机械有限公司")
    say(client, "13812345678")
    assert "已取消" in say(client, "3")  # the third option, as typed or sent by the page's button
    assert db.scalars(select(Ticket)).all() == []
    assert "没有待提交" in say(client, "继续")


def test_the_option_words_and_their_variants_answer_the_menu(bot, client, db):
    say(client, "申请增容一个月没消息")
    say(client, "城东精工机械有限公司")
    assert "将以 城东精工机械有限公司、138****5678 提交" in say(client, "13812345678")
    assert "已受理" in say(client, "好的提交吧")
    assert db.scalars(select(Ticket)).one().category == "operations"


def test_wrong_category_can_be_chosen_again(bot, client, db):
    submit_until_confirm = ["申请增容一个月没消息", "某某有限公司", "0571-88886666"]
    for text in submit_until_confirm:
        reply = say(client, text)
    assert "确认提交" in reply
    reply = say(client, "不是这一类")
    assert "1. 政务服务" in reply and "生产经营" not in reply
    assert "请确认" in say(client, "1")
    assert "已受理" in say(client, "确认提交")
    ticket = db.scalars(select(Ticket)).one()
    assert ticket.category == "gov_service" and ticket.department.name == "市行政审批服务局"


def test_a_bad_credit_code_is_refused_and_a_good_one_kept(bot, client, db):
    say(client, "申请增容一个月没消息")
    assert "校验不通过" in say(client, "91350100M000100Y44")
    assert "联系电话" in say(client, "城东精工机械有限公司 91350100M000100Y43")
    say(client, "13812345678")
    say(client, "确认提交")  # what the enterprise typed is stored with the ticket it confirmed
    assert db.scalars(select(Enterprise)).one().credit_code == "91350100M000100Y43"


def test_official_accepts_and_resolves_in_wecom_then_the_enterprise_rates(bot, client, wecom, db):
    submit(client)
    number = db.scalars(select(Ticket)).one().number
    assert "没有找到本部门的工单" in wecom.say(f"签收 {number}", user="scjg")  # another department's ticket
    assert "办理中" in wecom.say(f"签收 {number}", user="gdgs")
    assert "必须写明原因" in wecom.say(f"办结 {number}", user="gdgs")
    assert "已答复待评价" in wecom.say(f"办结 {number} 已现场勘查，周五前完成增容", user="gdgs")
    # the enterprise sees the answer with its next message (web chat has no push) and rates it
    reply = say(client, "你好")
    assert "周五前完成增容" in reply and "非常满意" in reply
    assert "感谢您的评价" in say(client, "5")
    db.expire_all()
    ticket = db.scalars(select(Ticket)).one()
    assert (ticket.status, ticket.rating) == ("closed", 5)
    assert [e.action for e in ticket.events] == ["submit", "assign", "accept", "resolve", "rate"]
    assert ticket.events[2].actor.startswith("official:gdgs(")


def test_commands_without_a_number_apply_to_the_only_candidate(bot, client, wecom, db):
    submit(client)
    assert "办理中" in wecom.say("签收", user="gdgs")
    assert "本部门没有可签收的工单" in wecom.say("签收", user="gdgs")
    assert "待办（1 件）" in wecom.say("待办", user="gdgs")


def test_an_unsatisfied_rating_sends_the_ticket_back_once_then_to_supervision(bot, client, wecom, db):
    submit(client)
    number = db.scalars(select(Ticket)).one().number
    for round_ in range(2):
        wecom.say(f"签收 {number}", user="gdgs")
        wecom.say(f"办结 {number} 第{round_ + 1}次答复", user="gdgs")
        say(client, "查一下")
        say(client, "1")
    db.expire_all()
    ticket = db.scalars(select(Ticket)).one()
    assert ticket.redo_count == 1 and ticket.supervised
    assert ticket.department.name == "市营商环境建设局" and ticket.status == "assigned"


def test_an_enterprise_sees_only_its_own_tickets(bot, client, db):
    submit(client, user="ent-1")
    number = db.scalars(select(Ticket)).one().number
    assert number in say(client, "我的诉求", user="ent-1")
    assert "没有找到您提交的诉求" in say(client, f"查询 {number}", user="ent-2")
    assert "还没有提交过诉求" in say(client, "我的诉求", user="ent-2")


def test_timeline_by_number_and_by_list_position(bot, client, db):
    submit(client)
    number = db.scalars(select(Ticket)).one().number
    assert f"1. {number} 生产经营 · 待签收" in say(client, "我的诉求")
    timeline = say(client, "1")
    assert "提交诉求" in timeline and "转办至国网市供电公司" in timeline
    assert timeline == say(client, f"查询 {number}")


def test_enterprise_supplements_a_waiting_ticket_and_the_clock_resumes(bot, client, wecom, db):
    submit(client)
    number = db.scalars(select(Ticket)).one().number
    wecom.say(f"签收 {number}", user="gdgs")
    assert "待补充材料" in wecom.say(f"补充材料 {number} 请提供用电户号", user="gdgs")
    assert "请提供用电户号" in say(client, "在吗")
    assert "已将补充内容转给承办部门" in say(client, f"补充 {number} 户号 3300123456")
    db.expire_all()
    assert db.scalars(select(Ticket)).one().status == "accepted"
