"""The 企业微信 智能机器人 channel (`/wecom/bot`): callbacks encrypted as WeCom does (wechatpy's crypto,
an empty receive id), officials working from their groups, ticket cards and taps, against the fake
WeCom API."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select
from wechatpy.enterprise.crypto import PrpCrypto

from bot.app import create_app
from bot.demo import load_demo_data
from delivery.queue import drain
from handlers.models import InboundMessage
from tests.conftest import WECOM_BOT
from tests.fake_platform import FakePlatform
from tests.platforms import WeComBotServer, WeComServer, fresh_rate_window, wecom_signature
from tickets import service
from tickets.models import Department, Notification, Official, Ticket, TicketEvent, WecomGroup

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # a Monday, 10:00 in China
GROUP = "wrGdgsWorkGroup01"
PUBLIC = "https://yqby.example.gov.cn"


@pytest.fixture
def platform():
    with FakePlatform() as fake:
        yield fake


@pytest.fixture
def bapp(config, platform):
    app = create_app(
        {
            **config,
            "WECOM_SECRET": "wecom-secret",
            "WECOM_AGENT_ID": "1000002",
            "WECOM_API_BASE": platform.base,
            "PUBLIC_URL": PUBLIC,
        }
    )
    state = app.extensions["appealbot"]
    state.services.clock = lambda: NOW
    with state.Session() as s, s.begin():
        load_demo_data(s)
        gdgs = s.scalars(select(Department).where(Department.code == "gdgs")).one()
        s.add(Official(name="李某", wecom_user_id="gdgs2", department=gdgs, role="official"))
    yield app
    state.engine.dispose()


@pytest.fixture
def bot(bapp, platform):
    return WeComBotServer(bapp.test_client(), WECOM_BOT["token"], WECOM_BOT["aes_key"], response_base=platform.base)


def bind(app, chat_id=GROUP, code="gdgs"):
    from tickets import groups

    with app.extensions["appealbot"].Session() as s, s.begin():
        dept = s.scalars(select(Department).where(Department.code == code)).one()
        groups.bind(s, groups.seen(s, chat_id, NOW), dept, f"{dept.name}工作群", "admin", NOW)


def new_ticket(
    app, text="变压器带不动，申请增容", category="operations", anonymous=False, kind="appeal", name="恒达机械厂"
):
    with app.extensions["appealbot"].Session() as s, s.begin():
        service.enterprise_for(s, "wechat", "oEnt1", name=name)
        t = service.create_ticket(
            s, channel="wechat", user_id="oEnt1", text=text, kind=kind, category=category, now=NOW, anonymous=anonymous
        )
        return t.number


def deliver(app):
    return drain(app.extensions["appealbot"].huey)


def ticket(app, number):
    with app.extensions["appealbot"].Session() as s:
        t = s.scalars(select(Ticket).where(Ticket.number == number)).one()
        return t.status, [e.action for e in t.events]


def posted(platform, api="aibot/response"):
    return [m for m in platform.sent if m["api"] == api]


def buttons(card):
    return {b["text"]: b for b in card.get("button_list", [])}


# -- the door -----------------------------------------------------------------------------------------


def test_url_verification_decrypts_echostr_with_an_empty_receive_id(client):
    key = base64.b64decode(WECOM_BOT["aes_key"] + "=")
    echostr = PrpCrypto(key).encrypt("8475923458349534", "").decode()
    query = {
        "msg_signature": wecom_signature(WECOM_BOT["token"], "1409659589", "263014780", echostr),
        "timestamp": "1409659589",
        "nonce": "263014780",
        "echostr": echostr,
    }
    response = client.get("/wecom/bot?" + urlencode(query))
    assert response.status_code == 200 and response.get_data(as_text=True) == "8475923458349534"
    bad = client.get("/wecom/bot?" + urlencode({**query, "msg_signature": "0" * 40}))
    assert bad.status_code == 403


def test_an_echostr_for_a_corp_receive_id_is_refused(client):
    # The app's callbacks carry the CorpID inside; the bot's carry none. One must not pass for the other.
    key = base64.b64decode(WECOM_BOT["aes_key"] + "=")
    echostr = PrpCrypto(key).encrypt("8475923458349534", "wx5823bf96d3bd56c7").decode()
    query = {
        "msg_signature": wecom_signature(WECOM_BOT["token"], "1409659589", "1", echostr),
        "timestamp": "1409659589",
        "nonce": "1",
        "echostr": echostr,
    }
    assert client.get("/wecom/bot?" + urlencode(query)).status_code == 400


def test_without_its_token_the_channel_is_404(config):
    app = create_app({**config, "WECOM_BOT_TOKEN": None, "WECOM_BOT_AES_KEY": None})
    assert app.test_client().get("/wecom/bot?msg_signature=a&timestamp=1&nonce=1&echostr=x").status_code == 404
    assert app.test_client().post("/wecom/bot", json={"encrypt": "x"}).status_code == 404
    app.extensions["appealbot"].engine.dispose()


def test_a_wrong_signature_is_403_and_nothing_is_stored(bot, bapp):
    response = bot.post(bot.message("待办"), signature="f" * 40)
    assert response.status_code == 403
    with bapp.extensions["appealbot"].Session() as s:
        assert s.scalar(select(func.count()).select_from(InboundMessage)) == 0


def test_a_replayed_callback_is_refused_after_the_signature(bot):
    assert bot.post(bot.message("待办"), timestamp=1_400_000_000).status_code == 403


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"encrypt": 5}', b"{}"])
def test_malformed_envelopes_are_400(bot, body):
    response = bot.client.post(
        "/wecom/bot?msg_signature=a&timestamp=1&nonce=1", data=body, content_type="application/json"
    )
    assert response.status_code == 400


def test_a_retried_callback_is_handled_once_and_answered_the_same(bot, bapp):
    payload = bot.message("待办", user="gdgs")
    first, second = bot.answer_of(bot.post(payload)), bot.answer_of(bot.post(payload))
    assert first == second and first["msgtype"] == "stream"
    with bapp.extensions["appealbot"].Session() as s:
        rows = s.scalars(select(InboundMessage)).all()
    assert (
        len(rows) == 1 and rows[0].channel == "wecom_bot" and rows[0].dedupe_key == f"wecom_bot:id:{payload['msgid']}"
    )


def test_over_the_rate_limit_a_message_is_neither_stored_nor_handled(config, platform):
    app = create_app({**config, "RATE_LIMIT_USER": 2})
    bot = WeComBotServer(app.test_client(), WECOM_BOT["token"], WECOM_BOT["aes_key"])
    fresh_rate_window()
    answers = [bot.say("帮助", user="gdgs") for _ in range(3)]
    assert "过于频繁" in answers[2]["stream"]["content"]
    with app.extensions["appealbot"].Session() as s:
        assert s.scalar(select(func.count()).select_from(InboundMessage)) == 2
    app.extensions["appealbot"].engine.dispose()


# -- who may use it -------------------------------------------------------------------------------------


def test_a_group_member_who_is_not_a_bound_official_is_told_so(bot, bapp):
    bind(bapp)
    answer = bot.say("待办", user="zhangsan", chat=GROUP)
    assert "还没有绑定为办事人员" in answer["stream"]["content"] and "zhangsan" in answer["stream"]["content"]


def test_an_unbound_group_is_recorded_and_shows_no_tickets(bot, bapp):
    new_ticket(bapp)
    answer = bot.say("待办", user="gdgs", chat="wrNewGroup")
    text = answer["stream"]["content"]
    assert "还没有绑定部门" in text and "wrNewGroup" in text and "YQ-" not in text
    with bapp.extensions["appealbot"].Session() as s:
        group = s.scalars(select(WecomGroup).where(WecomGroup.chat_id == "wrNewGroup")).one()
        assert group.department_id is None


def test_in_another_departments_group_an_official_is_sent_to_their_own(bot, bapp):
    bind(bapp, chat_id="wrWaterGroup", code="swgs")
    new_ticket(bapp)
    text = bot.say("待办", user="gdgs", chat="wrWaterGroup")["stream"]["content"]
    assert "市水务集团的工作群" in text and "YQ-" not in text


# -- working from the group -----------------------------------------------------------------------------


def test_todo_lists_the_departments_tickets_with_a_card_to_tap(bot, bapp):
    bind(bapp)
    number = new_ticket(bapp)
    new_ticket(bapp, text="办事大厅排队太久", category="gov_service")  # 行政审批局's, not shown here
    answer = bot.say("待办", user="gdgs", chat=GROUP)
    assert answer["msgtype"] == "template_card"
    card = answer["template_card"]
    assert card["card_type"] == "button_interaction" and "待办 1 件" in card["main_title"]["title"]
    assert [row["keyname"] for row in card["horizontal_content_list"]] == [number[-4:]]
    (button,) = card["button_list"]
    assert button["text"] == f"签收{number[-4:]}" and button["key"] == f"yq|accept|{number}|list"


def test_commands_act_as_in_the_app_and_mention_and_quote_are_understood(bot, bapp):
    bind(bapp)
    number = new_ticket(bapp)
    text = bot.say(f"签收 {number}", user="gdgs", chat=GROUP)["stream"]["content"]
    assert f"工单 {number} 已签收" in text and "办理中" in text
    # 办结 without a number, quoting the card's message that names the ticket
    text = bot.say("办结 已协调施工队，周五前完成增容", user="gdgs", chat=GROUP, quote=f"待签收 {number}")["stream"][
        "content"
    ]
    assert "已办结" in text
    assert ticket(bapp, number)[0] == "resolved"


def test_overdue_and_weekly_figures(bot, bapp, platform):
    bind(bapp)
    number = new_ticket(bapp)
    state = bapp.extensions["appealbot"]
    state.services.clock = lambda: NOW + timedelta(days=10)
    text = bot.say("本部门超期", user="gdgs", chat=GROUP)["stream"]["content"]
    assert number in text and "已超" in text
    payload = bot.message("本周统计", user="gdgs", chat=GROUP, code="STATS1")
    answer = bot.answer_of(bot.post(payload))
    assert "稍后" in answer["stream"]["content"]  # answered at once; the figures come through response_url
    deliver(bapp)
    (stats,) = [m for m in posted(platform) if m["to"] == "STATS1"]
    assert stats["body"]["msgtype"] == "markdown" and "国网市供电公司本周统计" in stats["body"]["markdown"]["content"]


def test_an_image_gets_a_note_and_mixed_and_voice_text_is_read(bot, bapp):
    bind(bapp)
    number = new_ticket(bapp)
    assert "只读文字" in bot.say("", user="gdgs", msgtype="image")["stream"]["content"]
    card = bot.say("待办", user="gdgs", chat=GROUP, msgtype="mixed")["template_card"]
    assert "待办 1 件" in card["main_title"]["title"]
    assert f"工单 {number} 已签收" in bot.say(f"签收 {number}", user="gdgs", msgtype="voice")["stream"]["content"]


def test_a_stream_refresh_is_answered_as_finished(bot, bapp):
    payload = {
        "msgid": "REFRESH1",
        "aibotid": "AIBOTTEST",
        "chattype": "single",
        "from": {"userid": "gdgs"},
        "msgtype": "stream",
        "stream": {"id": "STREAMID1"},
    }
    answer = bot.answer_of(bot.post(payload))
    assert answer == {"msgtype": "stream", "stream": {"id": "STREAMID1", "finish": True, "content": ""}}
    with bapp.extensions["appealbot"].Session() as s:
        assert s.scalar(select(func.count()).select_from(InboundMessage)) == 0


def test_other_events_get_an_empty_answer(bot):
    response = bot.post(bot.event("feedback_event", user="gdgs", id="FEEDBACKID", type=1))
    assert response.status_code == 200 and response.get_data() == b""


def test_entering_a_1to1_chat_is_welcomed(bot):
    answer = bot.answer_of(bot.post(bot.event("enter_chat", user="gdgs")))
    assert answer["msgtype"] == "text" and "待办" in answer["text"]["content"]


# -- new tickets are posted as cards, and a tap moves them on ---------------------------------------------


def test_a_new_ticket_is_posted_to_its_departments_group_and_accepted_with_one_tap(bot, bapp, platform):
    bind(bapp)
    bot.say("帮助", user="gdgs", chat=GROUP, code="SLOT1")  # a message in the group: the bot may answer later once
    number = new_ticket(bapp)
    deliver(bapp)
    (post,) = [m for m in posted(platform) if m["to"] == "SLOT1"]
    card = post["body"]["template_card"]
    assert post["body"]["msgtype"] == "template_card" and card["main_title"]["title"] == f"待签收 {number}"
    rows = {r["keyname"]: r["value"] for r in card["horizontal_content_list"]}
    assert rows["企业"] == "恒达机械厂" and "前签收" in rows["期限"] and "生产经营" in card["main_title"]["desc"]
    assert set(buttons(card)) == {"签收", "退回", "查看"}
    assert buttons(card)["查看"]["url"] == f"{PUBLIC}/console/tickets/{number}"
    answer = bot.tap(buttons(card)["签收"]["key"], card["task_id"], user="gdgs", chat=GROUP)
    assert answer["response_type"] == "update_template_card" and "userids" not in answer  # everyone sees it
    updated = answer["template_card"]
    assert updated["task_id"] == card["task_id"] and updated["main_title"]["title"] == f"办理中 {number}"
    assert "已签收" in updated["quote_area"]["quote_text"]
    assert (
        "国网市供电公司经办人（国网市供电公司）签收"
        in {r["keyname"]: r["value"] for r in updated["horizontal_content_list"]}["经办"]
    )
    assert set(buttons(updated)) == {"办结", "退回", "查看"}
    assert ticket(bapp, number) == ("accepted", ["submit", "assign", "accept"])


def test_without_an_answer_address_the_card_waits_for_the_groups_next_message(bot, bapp, platform):
    bind(bapp)
    number = new_ticket(bapp)
    deliver(bapp)
    assert posted(platform) == []
    with bapp.extensions["appealbot"].Session() as s:
        (held,) = s.scalars(select(Notification).where(Notification.channel == "wecom_group")).all()
        assert held.status == "held" and held.presentation == "ticket"
    bot.say("帮助", user="gdgs2", chat=GROUP, code="SLOT2")
    deliver(bapp)
    (post,) = posted(platform)
    assert post["to"] == "SLOT2" and number in post["body"]["template_card"]["main_title"]["title"]


def test_a_ticket_is_never_posted_to_another_departments_group(bot, bapp, platform):
    bind(bapp)
    bind(bapp, chat_id="wrWaterGroup", code="swgs")
    bot.say("帮助", user="gdgs", chat=GROUP, code="SLOTG")
    bot.say("帮助", user="swgs", chat="wrWaterGroup", code="SLOTW")
    number = new_ticket(bapp)  # 供电公司's
    deliver(bapp)
    assert [m["to"] for m in posted(platform)] == ["SLOTG"]
    with bapp.extensions["appealbot"].Session() as s:
        assert s.scalars(select(Notification.recipient).where(Notification.channel == "wecom_group")).all() == [GROUP]
    # and 查看 of it from the water group's side finds nothing
    assert "没有找到" in bot.say(f"查看 {number}", user="swgs", chat="wrWaterGroup")["stream"]["content"]


def test_a_card_for_an_anonymous_report_shows_no_enterprise_even_in_the_office_group(bot, bapp, platform):
    bind(bapp, chat_id="wrOfficeGroup", code="yingshang")
    bot.say("帮助", user="yingshang", chat="wrOfficeGroup", code="SLOTO")
    number = new_ticket(
        bapp, text="检查人员没出示任何文件就进厂检查", category="random_inspection", kind="complaint", anonymous=True
    )
    deliver(bapp)
    (post,) = posted(platform)
    rendered = json.dumps(post["body"], ensure_ascii=False)
    assert number in rendered and "恒达机械厂" not in rendered and "匿名企业" in rendered
    # a supervisor asking for it in the group still gets the group's card, without the enterprise
    card = bot.say(f"查看 {number}", user="yingshang", chat="wrOfficeGroup")["template_card"]
    assert "恒达机械厂" not in json.dumps(card, ensure_ascii=False)
    # 1:1 with the bot the supervisor sees it, as the access rules say
    card = bot.say(f"查看 {number}", user="yingshang")["template_card"]
    assert "恒达机械厂" in json.dumps(card, ensure_ascii=False)


def test_the_office_group_may_look_at_any_ticket(bot, bapp):
    bind(bapp, chat_id="wrOfficeGroup", code="yingshang")
    number = new_ticket(bapp)  # 供电公司's
    card = bot.say(f"查看 {number}", user="yingshang", chat="wrOfficeGroup")["template_card"]
    assert card["main_title"]["title"] == f"待签收 {number}"


def test_return_asks_for_the_reason_in_the_next_message(bot, bapp):
    bind(bapp)
    number = new_ticket(bapp)
    answer = bot.tap(f"yq|return|{number}", "yq-g1", user="gdgs", chat=GROUP)
    assert answer["userids"] == ["gdgs"] and "退回原因" in answer["template_card"]["quote_area"]["quote_text"]
    assert ticket(bapp, number)[0] == "assigned"
    # another official's message in the group is not taken as the reason
    assert "已退回" not in bot.say("这个我来看看", user="gdgs2", chat=GROUP)["stream"]["content"]
    text = bot.say("供电线路改造属住建局职责，请改派", user="gdgs", chat=GROUP)["stream"]["content"]
    assert f"工单 {number} 已退回" in text
    status, actions = ticket(bapp, number)
    assert status == "submitted" and actions[-1] == "return"
    with bapp.extensions["appealbot"].Session() as s:
        note = s.scalars(select(TicketEvent.note).where(TicketEvent.action == "return")).one()
    assert note == "供电线路改造属住建局职责，请改派"


def test_resolve_asks_for_the_answer_and_cancel_drops_it(bot, bapp):
    bind(bapp)
    number = new_ticket(bapp)
    bot.say(f"签收 {number}", user="gdgs", chat=GROUP)
    bot.tap(f"yq|resolve|{number}", "yq-g2", user="gdgs", chat=GROUP)
    assert "不办结了" in bot.say("取消", user="gdgs", chat=GROUP)["stream"]["content"]
    assert ticket(bapp, number)[0] == "accepted"
    bot.tap(f"yq|resolve|{number}", "yq-g2", user="gdgs", chat=GROUP)
    text = bot.say("已协调施工队，11月27日前完成增容", user="gdgs", chat=GROUP)["stream"]["content"]
    assert "已办结" in text and ticket(bapp, number)[0] == "resolved"


def test_a_tap_by_someone_who_is_not_an_official_changes_nothing(bot, bapp):
    bind(bapp)
    number = new_ticket(bapp)
    answer = bot.tap(f"yq|accept|{number}", "yq-g3", user="visitor01", chat=GROUP)
    assert (
        answer["userids"] == ["visitor01"]
        and "还没有绑定为办事人员" in answer["template_card"]["quote_area"]["quote_text"]
    )
    assert ticket(bapp, number)[0] == "assigned"


def test_a_tap_on_a_card_whose_ticket_left_the_department_says_only_that(bot, bapp):
    bind(bapp)
    number = new_ticket(bapp)
    bot.say(f"退回 {number} 不是我们的事", user="gdgs", chat=GROUP)
    answer = bot.tap(f"yq|accept|{number}", "yq-g4", user="gdgs2", chat=GROUP)
    card = answer["template_card"]
    assert "已不由本部门办理" in json.dumps(card, ensure_ascii=False) and "变压器" not in json.dumps(
        card, ensure_ascii=False
    )


def test_a_forged_button_key_is_ignored(bot, bapp):
    bind(bapp)
    assert bot.tap("yq|delete|YQ-20261123-0001", "yq-g5", user="gdgs", chat=GROUP) == {}
    assert bot.tap("something else", "yq-g5", user="gdgs", chat=GROUP) == {}


# -- the app's own 1:1 cards --------------------------------------------------------------------------------


def test_a_new_ticket_reaches_each_official_as_a_card_and_a_tap_updates_it(bapp, platform):
    number = new_ticket(bapp)
    deliver(bapp)
    cards = [m for m in platform.sent if m["api"] == "message/send" and m["to"] in ("gdgs", "gdgs2")]
    assert len(cards) == 2 and all(m["body"]["msgtype"] == "template_card" for m in cards)
    card = cards[0]["body"]["template_card"]
    assert card["card_action"]["url"] == f"{PUBLIC}/console/tickets/{number}" and "签收" in buttons(card)
    app_side = WeComServer(
        bapp.test_client(),
        **{
            "token": bapp.config["WECOM_TOKEN"],
            "corp_id": bapp.config["WECOM_CORP_ID"],
            "aes_key": bapp.config["WECOM_AES_KEY"],
        },
    )
    text = app_side.tap(buttons(card)["签收"]["key"], user="gdgs2", task_id=card["task_id"], response_code="RC2")
    assert "李某已签收" in text
    deliver(bapp)
    (update,) = [m for m in platform.sent if m["api"] == "message/update_template_card"]
    assert update["to"] == "gdgs2" and update["body"]["response_code"] == "RC2"
    assert update["body"]["template_card"]["main_title"]["title"] == f"办理中 {number}"
    # the other official's card, tapped later, says who accepted
    text = app_side.tap(buttons(card)["签收"]["key"], user="gdgs", task_id=card["task_id"], response_code="RC1")
    assert "已由李某（国网市供电公司）签收" in text
    assert ticket(bapp, number)[1].count("accept") == 1


def test_a_tapped_app_return_takes_the_next_1to1_message_as_the_reason(bapp):
    number = new_ticket(bapp)
    app_side = WeComServer(
        bapp.test_client(),
        token=bapp.config["WECOM_TOKEN"],
        corp_id=bapp.config["WECOM_CORP_ID"],
        aes_key=bapp.config["WECOM_AES_KEY"],
    )
    assert "退回原因" in app_side.tap(f"yq|return|{number}", user="gdgs", task_id="yq-n9", response_code="RC9")
    assert "已退回" in app_side.say("应由市住建局办理", user="gdgs")
    assert ticket(bapp, number)[0] == "submitted"


# -- two officials tapping 签收 at once ---------------------------------------------------------------------


def test_two_officials_tapping_accept_at_once_make_one_transition(bapp, platform, monkeypatch):
    import threading
    import time

    from tickets.lifecycle import Lifecycle

    bind(bapp)
    slow_accept = Lifecycle.accept

    def accept(self, ticket, actor):  # the first tap is still working when the second arrives
        time.sleep(0.3)
        return slow_accept(self, ticket, actor)

    monkeypatch.setattr(Lifecycle, "accept", accept)
    for round_ in range(3):
        number = new_ticket(bapp)
        start, answers = threading.Barrier(2), {}

        def tap(user, start, answers, number, round_):
            server = WeComBotServer(bapp.test_client(), WECOM_BOT["token"], WECOM_BOT["aes_key"], platform.base)
            start.wait()
            answers[user] = server.tap(f"yq|accept|{number}", f"yq-g{round_}", user=user, chat=GROUP)

        threads = [
            threading.Thread(target=tap, args=(user, start, answers, number, round_)) for user in ("gdgs", "gdgs2")
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        notes = sorted(a["template_card"]["quote_area"]["quote_text"] for a in answers.values())
        winner = [n for n in notes if n.endswith("前办结。")]
        loser = [n for n in notes if "已由" in n]
        assert len(winner) == 1 and len(loser) == 1, notes
        name = winner[0].split("已签收")[0]
        assert f"已由{name}（国网市供电公司）签收" in loser[0]
        assert all(a["template_card"]["main_title"]["title"] == f"办理中 {number}" for a in answers.values())
        status, actions = ticket(bapp, number)
        assert status == "accepted" and actions.count("accept") == 1
        with bapp.extensions["appealbot"].Session() as s:
            failed = s.scalar(
                select(func.count()).select_from(InboundMessage).where(InboundMessage.status != "handled")
            )
        assert failed == 0


# -- the console binds a group to a department ----------------------------------------------------------------


def test_an_administrator_binds_the_group_the_bot_met_and_its_tickets_show_there(bot, bapp):
    from tests.test_console import csrf, sign_in

    number = new_ticket(bapp)
    assert "还没有绑定部门" in bot.say("待办", user="gdgs", chat="wrMetFirst")["stream"]["content"]
    console = bapp.test_client()
    sign_in(console, "admin")
    page = console.get("/console/admin").get_data(as_text=True)
    assert "wrMetFirst" in page and "未绑定" in page
    with bapp.extensions["appealbot"].Session() as s:
        gdgs = s.scalars(select(Department.id).where(Department.code == "gdgs")).one()
    response = console.post(
        "/console/admin/groups",
        data={
            "chat_id": "wrMetFirst",
            "name": "供电公司诉求群",
            "department": gdgs,
            "csrf_token": csrf(console, "/console/admin"),
        },
    )
    assert response.status_code == 302
    assert "国网市供电公司" in console.get("/console/admin").get_data(as_text=True)
    assert (
        bot.say("待办", user="gdgs", chat="wrMetFirst")["template_card"]["horizontal_content_list"][0]["keyname"]
        == number[-4:]
    )
    # an official of the department may not bind groups
    official = bapp.test_client()
    sign_in(official, "scjg")
    assert (
        official.post(
            "/console/admin/groups",
            data={"chat_id": "wrX", "department": gdgs, "csrf_token": csrf(official, "/console/")},
        ).status_code
        == 403
    )
    # unbinding: the group shows nothing again
    console.post(
        "/console/admin/groups",
        data={"chat_id": "wrMetFirst", "department": 0, "csrf_token": csrf(console, "/console/admin")},
    )
    assert "还没有绑定部门" in bot.say("待办", user="gdgs", chat="wrMetFirst")["stream"]["content"]
