"""Reaching the enterprise wherever it is, against a fake 公众号 / 企业微信 / Tencent Cloud SMS / S3:
template messages while the 48-hour window is closed (held without one, never failed), SMS as the
last resort (after the delay, once, capped, opt-out), the one-tap rating link (rates once), the
menu from configuration (idempotent), photos as evidence (attached, fetched, checked, shown),
policy push (exactly the matching enterprises, once)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from bot.app import create_app
from bot.demo import load_demo_data
from core.errors import ConfigError
from delivery import deliver as outbound
from delivery import reach
from delivery import sender as senders
from delivery.queue import drain
from handlers.models import InboundMessage
from tests.conftest import WECHAT
from tests.fake_outreach import JPEG, OutreachPlatform
from tests.platforms import WeChatServer, message_xml
from tickets import jobs, service
from tickets.lifecycle import SYSTEM, Lifecycle
from tickets.models import Enterprise, Notification, Official, ServiceOfficer
from tickets.outreach_models import Attachment, PolicyPushTarget, RatingLink

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # a Monday, 10:00 in China
PUBLIC = "https://yqby.example.gov.cn"
TEMPLATES = {
    "accept": {
        "template_id": "TPL-ACCEPT",
        "data": {"character_string1": "{number}", "thing2": "{department}", "time3": "{deadline}"},
    },
    "resolve": {
        "template_id": "TPL-ANSWER",
        "data": {"character_string1": "{number}", "thing2": "{department}", "thing3": "{result}", "time4": "{date}"},
    },
}
SMS_TEMPLATES = {"resolve": {"template_id": "2001", "params": ["{number}", "{link}"]}}


@pytest.fixture
def fake():
    with OutreachPlatform() as platform:
        yield platform


def outreach_config(config, fake, **more):
    return {
        **config,
        "WECOM_SECRET": "wecom-secret",
        "WECOM_AGENT_ID": "1000002",
        "WECHAT_SECRET": "wechat-secret",
        "WECOM_API_BASE": fake.base,
        "WECHAT_API_BASE": fake.base,
        "PUBLIC_URL": PUBLIC,
        "SECRET_KEY": "s" * 64,
        "WECHAT_TEMPLATES": TEMPLATES,
        "SMS_PROVIDER": "tencent",
        "SMS_SECRET_ID": "sms-id",
        "SMS_SECRET_KEY": "sms-key",
        "SMS_APP_ID": "1400000001",
        "SMS_SIGN": "某市营商办",
        "SMS_ENDPOINT": fake.base,
        "SMS_TEMPLATES": SMS_TEMPLATES,
        "SMS_AFTER_HOURS": 48,
        "SMS_DAILY_CAP": 2,
        **more,
    }


class Clock:
    def __init__(self, moment):
        self.moment = moment

    def __call__(self):
        return self.moment


def build(config, **extra):
    app = create_app(config)
    state = app.extensions["appealbot"]
    state.services.clock = Clock(NOW)
    with state.Session() as s, s.begin():
        load_demo_data(s)
    return app


@pytest.fixture
def oapp(config, fake):
    app = build(outreach_config(config, fake))
    yield app
    app.extensions["appealbot"].engine.dispose()


def at(app, moment):
    app.extensions["appealbot"].services.clock.moment = moment


def session(app):
    return app.extensions["appealbot"].Session()


def new_ticket(
    app,
    user="oEnt1",
    channel="wechat",
    phone="13899912345",
    text="变压器带不动，申请增容",
    category="operations",
    now=NOW,
):
    with session(app) as s, s.begin():
        service.enterprise_for(s, channel, user, name="伊宁市某某棉业有限公司", phone=phone)
        return service.create_ticket(
            s, channel=channel, user_id=user, text=text, kind="appeal", category=category, now=now, config=app.config
        ).number


def act(app, number, *steps, now=NOW):
    with session(app) as s, s.begin():
        ticket = service.find(s, number)
        life = Lifecycle(s, now, app.config)
        for step, *args in steps:
            getattr(life, step)(ticket, SYSTEM, *args)


def answered(app, number, now=NOW):
    act(app, number, ("accept",), ("resolve", "已协调供电公司，下周二完成增容。\n请注意停电通知。"), now=now)


def deliver(app):
    return drain(app.extensions["appealbot"].huey)


def notices(app, **where):
    with session(app) as s:
        q = select(Notification)
        for k, v in where.items():
            q = q.where(getattr(Notification, k) == v)
        return s.scalars(q.order_by(Notification.id)).all()


def wrote(app, user, moment, channel="wechat"):
    """The enterprise wrote at `moment` (its 48-hour window opens then)."""
    with session(app) as s, s.begin():
        s.add(
            InboundMessage(
                channel=channel,
                dedupe_key=f"{channel}:id:{user}{moment.timestamp()}",
                user_id=user,
                msg_type="text",
                text="你好",
                received_at=moment,
            )
        )


def sweep(app, moment):
    at(app, moment)
    state = app.extensions["appealbot"]
    done = jobs.sweep(state.Session, app.config, moment)
    outbound.deliver_pending(state.Session, senders.Sender(app.config, state.Session), moment, PUBLIC)
    return done


# -- template messages ------------------------------------------------------------------------------


def test_with_the_window_closed_the_answer_goes_as_a_template_message_with_the_rating_link(oapp, fake):
    number = new_ticket(oapp)
    answered(oapp, number)
    deliver(oapp)
    sent = fake.templates(to="oEnt1")
    assert [m["body"]["template_id"] for m in sent] == ["TPL-ACCEPT", "TPL-ANSWER"]
    answer = sent[1]["body"]
    assert answer["url"].startswith(f"{PUBLIC}/r/")
    fields = {k: v["value"] for k, v in answer["data"].items()}
    assert fields["character_string1"] == number and fields["thing2"] == "国网市供电公司"
    assert len(fields["thing3"]) <= 20 and "\n" not in fields["thing3"]  # the platform shows 20, one line
    assert not [m for m in fake.sent if m["api"] == "message/custom/send"]
    assert {n.status for n in notices(oapp, recipient="oEnt1")} == {"sent"}


def test_inside_the_window_a_customer_service_message_goes_instead(oapp, fake):
    number = new_ticket(oapp)
    wrote(oapp, "oEnt1", NOW - timedelta(hours=1))
    answered(oapp, number)
    deliver(oapp)
    assert fake.templates(to="oEnt1") == []
    texts = [m["body"]["text"]["content"] for m in fake.sent if m["api"] == "message/custom/send"]
    assert any("请您评价" in t and f"{PUBLIC}/r/" in t for t in texts)


def test_without_a_template_for_the_kind_the_notice_is_held_and_shown_with_the_next_message(oapp, fake):
    number = new_ticket(oapp)
    act(oapp, number, ("accept",), ("request_info", "请补充营业执照照片"))  # no request_info template
    deliver(oapp)
    (held,) = notices(oapp, recipient="oEnt1", kind="request_info")
    assert held.status == "held" and held.last_error is None
    reply = WeChatServer(oapp.test_client(), **WECHAT).say("你好", user="oEnt1")
    assert "【诉求动态】" in reply and "营业执照" in reply
    assert notices(oapp, recipient="oEnt1", kind="request_info")[0].status == "sent"


def test_without_the_app_secret_notices_are_held_not_failed(config, fake):
    app = build({**outreach_config(config, fake), "WECHAT_SECRET": None})
    number = new_ticket(app)
    answered(app, number)
    deliver(app)
    assert {n.status for n in notices(app, recipient="oEnt1")} == {"held"}
    assert fake.templates() == []
    app.extensions["appealbot"].engine.dispose()


def test_a_user_who_unfollowed_gets_the_notice_held_and_a_busy_platform_is_retried(oapp, fake):
    fake.fail(
        "message/template/send",
        (200, {"errcode": 43004, "errmsg": "require subscribe"}),
        (200, {"errcode": -1, "errmsg": "system error"}),
    )
    number = new_ticket(oapp)
    act(oapp, number, ("accept",))
    deliver(oapp)
    (accept,) = notices(oapp, recipient="oEnt1", kind="accept")
    assert accept.status == "held" and "43004" in accept.last_error
    act(oapp, number, ("resolve", "已办结"))
    state = oapp.extensions["appealbot"]
    sender = senders.Sender(oapp.config, state.Session)
    outbound.deliver_pending(state.Session, sender, NOW)
    (answer,) = notices(oapp, recipient="oEnt1", kind="resolve")
    assert answer.status == "pending" and answer.next_attempt_at == NOW + timedelta(seconds=30)
    outbound.deliver_pending(state.Session, sender, NOW + timedelta(seconds=31))
    assert notices(oapp, recipient="oEnt1", kind="resolve")[0].status == "sent"
    assert len(fake.templates(to="oEnt1")) == 1


def test_template_configuration_is_checked_at_start_up(config):
    with pytest.raises(ConfigError, match="template_id"):
        create_app({**config, "WECHAT_TEMPLATES": '{"resolve": {"data": {}}}'})
    with pytest.raises(ConfigError, match="JSON"):
        create_app({**config, "WECHAT_TEMPLATES": "{not json"})
    with pytest.raises(ConfigError, match="SMS_SECRET_ID"):
        create_app({**config, "SMS_PROVIDER": "tencent"})
    with pytest.raises(ConfigError, match="S3_BUCKET"):
        create_app({**config, "MEDIA_STORE": "s3", "S3_ENDPOINT": "127.0.0.1:9000"})


# -- SMS --------------------------------------------------------------------------------------------


def test_an_unrated_answer_gets_one_sms_after_the_configured_delay_and_never_a_second(oapp, fake):
    number = new_ticket(oapp)
    answered(oapp, number)
    deliver(oapp)
    assert sweep(oapp, NOW + timedelta(hours=47))["sms_written"] == 0
    assert fake.sms == []
    assert sweep(oapp, NOW + timedelta(hours=49))["sms_written"] == 1  # Wednesday 11:00 in China
    (sms,) = fake.sms
    assert sms["PhoneNumberSet"] == ["+8613899912345"] and sms["TemplateId"] == "2001"
    assert sms["SmsSdkAppId"] == "1400000001" and sms["SignName"] == "某市营商办"
    assert sms["TemplateParamSet"][0] == number and sms["TemplateParamSet"][1].startswith(f"{PUBLIC}/r/")
    for hours in (50, 60, 90):
        assert sweep(oapp, NOW + timedelta(hours=hours))["sms_written"] == 0
    assert len(fake.sms) == 1
    (notice,) = notices(oapp, channel="sms")
    assert notice.status == "sent" and notice.once_key.startswith("sms:resolve:")


def test_a_rated_answer_or_an_opted_out_enterprise_gets_no_sms(oapp, fake):
    rated = new_ticket(oapp, user="oRated")
    answered(oapp, rated)
    with session(oapp) as s, s.begin():
        ticket = service.find(s, rated)
        Lifecycle(s, NOW, oapp.config).rate(ticket, SYSTEM, 5)
    quiet = new_ticket(oapp, user="oQuiet", phone="13899912346")
    answered(oapp, quiet)
    reply = WeChatServer(oapp.test_client(), **WECHAT).say("以后不要给我发短信", user="oQuiet")
    assert "不再给您发送短信" in reply
    landline = new_ticket(oapp, user="oLandline", phone="0999-8123456")
    answered(oapp, landline)
    sweep(oapp, NOW + timedelta(hours=49))
    assert fake.sms == [] and notices(oapp, channel="sms") == []


def test_a_number_gets_at_most_the_daily_cap_and_the_rest_the_next_morning(oapp, fake):
    numbers = [new_ticket(oapp, user=f"oMany{i}", text=f"第{i}件：电压不稳") for i in range(3)]  # one phone
    for number in numbers:
        answered(oapp, number)
    sweep(oapp, NOW + timedelta(hours=49))
    assert len(fake.sms) == 2  # SMS_DAILY_CAP
    (waiting,) = notices(oapp, channel="sms", status="pending")
    assert waiting.next_attempt_at == datetime(2026, 11, 26, 0, 0, tzinfo=UTC)  # Thursday 08:00 in China
    sweep(oapp, datetime(2026, 11, 25, 14, 0, tzinfo=UTC))  # 22:00 in China: neither cap nor hour allow
    assert len(fake.sms) == 2
    sweep(oapp, datetime(2026, 11, 26, 1, 0, tzinfo=UTC))
    assert len(fake.sms) == 3 and len(notices(oapp, channel="sms", status="sent")) == 3


def test_a_bad_number_ends_as_failed_and_is_not_retried(oapp, fake):
    fake.sms_failures.append({"Code": "InvalidParameterValue.IncorrectPhoneNumber", "Message": "bad number"})
    number = new_ticket(oapp)
    answered(oapp, number)
    sweep(oapp, NOW + timedelta(hours=49))
    (notice,) = notices(oapp, channel="sms")
    assert notice.status == "failed" and "IncorrectPhoneNumber" in notice.last_error
    sweep(oapp, NOW + timedelta(hours=60))
    assert fake.sms == [] and len(notices(oapp, channel="sms")) == 1


# -- the rating link --------------------------------------------------------------------------------


def rating_path(app, number):
    with session(app) as s:
        notice = s.scalars(
            select(Notification).where(Notification.kind == "resolve", Notification.channel == "wechat")
        ).first()
        link = notice.data["link"]
        assert link in notice.body and number == notice.data["number"]
    return link[len(PUBLIC) :]


def test_the_rating_link_rates_once(oapp):
    number = new_ticket(oapp)
    answered(oapp, number)
    path = rating_path(oapp, number)
    assert len(path) <= 20  # short enough for an SMS
    client = oapp.test_client()
    page = client.get(path)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert number in html and "已协调供电公司" in html and 'name="rating"' in html
    done = client.post(path, data={"rating": "4", "comment": "办得快"})
    assert done.status_code == 200 and "感谢您的评价" in done.get_data(as_text=True)
    with session(oapp) as s:
        ticket = service.find(s, number)
        assert ticket.status == "closed" and ticket.rating == 4
        rate = [e for e in ticket.events if e.action == "rate"]
        assert len(rate) == 1 and rate[0].actor == "enterprise:oEnt1" and rate[0].note == "办得快"
        link = s.scalars(select(RatingLink)).one()
        assert link.opened_at is not None and link.used_at is not None
    again = client.post(path, data={"rating": "1"})
    assert again.status_code == 409 and "已经评价过" in again.get_data(as_text=True)
    assert "已经评价过" in client.get(path).get_data(as_text=True)
    with session(oapp) as s:
        assert service.find(s, number).rating == 4


def test_a_changed_or_expired_link_is_refused_and_an_unhappy_rating_reopens(oapp):
    number = new_ticket(oapp)
    answered(oapp, number)
    path = rating_path(oapp, number)
    client = oapp.test_client()
    tampered = path[:-1] + ("A" if path[-1] != "A" else "B")
    assert client.get(tampered).status_code == 404 and client.post(tampered, data={"rating": "5"}).status_code == 404
    for nonsense in ("/r/zzzzzzzzzzzz.AAAAAAAAAAAA", "/r/..", "/r/%E4%B8%AD.x", "/p/zzzzzzzzzzzz.AAAAAAAAAAAA"):
        assert client.get(nonsense).status_code == 404  # never a row id PostgreSQL would refuse: no 500
    assert client.post(path, data={"rating": "9"}).status_code == 400
    at(oapp, NOW + timedelta(days=16))
    assert client.get(path).status_code == 410
    at(oapp, NOW + timedelta(days=1))
    assert client.post(path, data={"rating": "2"}).status_code == 200
    with session(oapp) as s:
        ticket = service.find(s, number)
        assert ticket.status == "assigned" and ticket.redo_count == 1  # 重办, through the lifecycle


def test_the_menu_rating_page_lists_the_answers_waiting_for_the_user(oapp, fake):
    number = new_ticket(oapp)
    answered(oapp, number)
    client = oapp.test_client()
    start = client.get("/rate")
    assert start.status_code == 302 and "snsapi_base" in start.headers["Location"]
    fake.oauth_codes["CODE1"] = "oEnt1"
    page = client.get("/rate?code=CODE1&state=rate").get_data(as_text=True)
    assert number in page and "/r/" in page
    assert client.get("/rate?code=WRONG").status_code == 403


# -- the menu ---------------------------------------------------------------------------------------


@pytest.fixture
def cli_env(monkeypatch, database_url, tmp_path, fake):
    env = {
        "DATABASE_URL": database_url,
        "VAR_DIR": str(tmp_path),
        "QUEUE": "memory",
        "WECHAT_APPID": WECHAT["appid"],
        "WECHAT_SECRET": "wechat-secret",
        "WECHAT_API_BASE": fake.base,
        "PUBLIC_URL": PUBLIC,
        "MODEL_PATH": str(tmp_path / "none.joblib"),
    }
    for key, value in env.items():
        monkeypatch.setenv(f"APPEALBOT_{key}", value)
    return monkeypatch


def test_the_menu_is_created_from_the_configuration_once(cli_env, fake):
    from bot.cli import main

    runner = CliRunner()
    first = runner.invoke(main, ["wechat", "menu"])
    assert first.exit_code == 0, first.output
    assert "menu created" in first.output and fake.menu_creates == 1
    names = [b["name"] for b in fake.menu["button"]]
    subs = [s["name"] for s in fake.menu["button"][2]["sub_button"]]
    assert names == ["反映诉求", "政策查询", "办事服务"] and subs == ["一叫就到", "我的诉求", "评价办理结果"]
    assert fake.menu["button"][2]["sub_button"][2]["url"] == f"{PUBLIC}/rate"
    again = runner.invoke(main, ["wechat", "menu"])
    assert again.exit_code == 0 and "unchanged" in again.output and fake.menu_creates == 1
    cli_env.setenv("APPEALBOT_WECHAT_MENU", '{"button": [{"type": "click", "name": "我要反映", "key": "APPEAL"}]}')
    changed = runner.invoke(main, ["wechat", "menu"])
    assert changed.exit_code == 0 and fake.menu_creates == 2 and fake.menu["button"][0]["name"] == "我要反映"
    cli_env.setenv("APPEALBOT_WECHAT_MENU", '{"button": [{"type": "click", "name": "抽奖", "key": "LOTTERY"}]}')
    refused = runner.invoke(main, ["wechat", "menu"])
    assert refused.exit_code != 0 and "LOTTERY" in refused.output and fake.menu_creates == 2


def test_menu_clicks_reach_the_conversation(oapp):
    from bot.wechat_menu import default_menu
    from handlers.router import MENU_KEYS

    keys = [b.get("key") for top in default_menu(PUBLIC)["button"] for b in top.get("sub_button") or [top]]
    assert all(k in MENU_KEYS for k in keys if k)


# -- photos as evidence -----------------------------------------------------------------------------


@pytest.fixture
def bot(config, fake, trained_model_path):
    app = build(outreach_config(config, fake, MODEL_PATH=trained_model_path))
    yield app
    app.extensions["appealbot"].engine.dispose()


def send(app, xml):
    server = WeChatServer(app.test_client(), **WECHAT)
    response = server.post(xml)
    assert response.status_code == 200, response.get_data(as_text=True)
    return server.reply_of(response).get("Content", "")


def finish_form(server, user):
    """Answers the form's questions as an enterprise would, until the appeal is accepted."""
    reply = server.say("继续", user=user)
    for _ in range(6):
        last = reply
        if "已受理" in last:
            return last
        if "请确认" in last:
            reply = server.say("确认提交", user=user)
        elif "企业名称" in last:
            reply = server.say("伊宁市某某棉业有限公司", user=user)
        elif "电话" in last:
            reply = server.say("13899912345", user=user)
        else:
            reply = server.say("确认提交", user=user)
    return reply


def sign_in(client, login):
    from bot.demo import demo_password

    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/console/login").get_data(as_text=True)).group(
        1
    )
    return client.post("/console/login", data={"login": login, "password": demo_password(login), "csrf_token": token})


def test_a_photo_sent_while_the_appeal_is_put_together_is_attached_fetched_and_shown(bot, fake):
    fake.media["MEDIA-PHOTO-1"] = (JPEG, "image/jpeg")
    server = WeChatServer(bot.test_client(), **WECHAT)
    user = "oPhoto1"
    first = server.say("我们厂的变压器带不动了，申请增容好几个月没人管", user=user)
    assert "企业名称" in first or "确认" in first, first
    reply = send(bot, message_xml("image", user=user, PicUrl="http://mmbiz.example/x.jpg", MediaId="MEDIA-PHOTO-1"))
    assert "已收到图片" in reply and "共 1 个附件" in reply
    assert "企业名称" in reply or "确认" in reply  # the form's question again
    done = finish_form(server, user)
    assert "已受理" in done, done
    number = re.search(r"YQ-\d{8}-\d{4}", done).group(0)
    with session(bot) as s:
        ticket = service.find(s, number)
        (att,) = s.scalars(select(Attachment)).all()
        assert ticket.extra["attachments"] == [att.id] and att.ticket_id == ticket.id and att.status == "pending"
    deliver(bot)  # the queue downloads it
    with session(bot) as s:
        att = s.scalars(select(Attachment)).one()
        assert att.status == "stored" and att.content_type == "image/jpeg" and att.size == len(JPEG)
        assert att.store == "local" and att.key.endswith(".jpg")
    client = bot.test_client()
    sign_in(client, "yingshang")
    page = client.get(f"/console/tickets/{number}").get_data(as_text=True)
    assert f'src="/console/attachments/{att.id}"' in page
    image = client.get(f"/console/attachments/{att.id}")
    assert image.status_code == 200 and image.mimetype == "image/jpeg" and image.data == JPEG
    officer = bot.test_client()
    sign_in(officer, "scjg")  # another department does not see the ticket, nor its evidence
    assert officer.get(f"/console/attachments/{att.id}").status_code == 404


def test_a_photo_answers_a_request_for_material_and_restarts_the_clock(oapp, fake):
    fake.media["MEDIA-LICENCE"] = (JPEG, "image/jpeg")
    number = new_ticket(oapp, user="oWait")
    act(oapp, number, ("accept",), ("request_info", "请补充营业执照照片"))
    reply = send(oapp, message_xml("image", user="oWait", PicUrl="http://x/y.jpg", MediaId="MEDIA-LICENCE"))
    assert number in reply and "补充材料" in reply
    with session(oapp) as s:
        ticket = service.find(s, number)
        assert ticket.status == "accepted" and ticket.paused_at is None
        assert [e.action for e in ticket.events][-1] == "supplement"
        assert s.scalars(select(Attachment)).one().ticket_id == ticket.id
    assert any(n.title.startswith("企业补充了诉求") for n in notices(oapp, channel="wecom_app"))


def test_a_file_that_is_not_evidence_or_too_large_is_refused_and_said_so(config, fake):
    app = build({**outreach_config(config, fake), "MEDIA_MAX_BYTES": 4096})
    fake.media["MEDIA-HTML"] = (b"<html><script>alert(1)</script></html>", "image/jpeg")  # the claim is not trusted
    fake.media["MEDIA-BIG"] = (JPEG * 3, "image/jpeg")
    number = new_ticket(app, user="oBad")
    for media_id in ("MEDIA-HTML", "MEDIA-BIG"):
        send(app, message_xml("image", user="oBad", PicUrl="http://x/y.jpg", MediaId=media_id))
    deliver(app)
    with session(app) as s:
        rows = s.scalars(select(Attachment).order_by(Attachment.id)).all()
        assert [a.status for a in rows] == ["rejected", "rejected"]
        assert "类型" in rows[0].error and "上限" in rows[1].error
        assert all(a.ticket_id == service.find(s, number).id for a in rows)
    app.extensions["appealbot"].engine.dispose()


def test_a_photo_before_any_words_waits_for_the_appeal_and_voice_without_text_is_kept(oapp, fake):
    reply = send(oapp, message_xml("image", user="oFirst", PicUrl="http://x/y.jpg", MediaId="MEDIA-EARLY"))
    assert "已收到图片" in reply and "文字" in reply
    voice = send(oapp, message_xml("voice", user="oFirst", MediaId="MEDIA-VOICE", Format="amr"))
    assert "已收到语音" in voice
    number = new_ticket(oapp, user="oFirst")  # the appeal that follows takes them
    with session(oapp) as s:
        ticket = service.find(s, number)
        assert [a.kind for a in s.scalars(select(Attachment).where(Attachment.ticket_id == ticket.id))] == [
            "image",
            "voice",
        ]


def test_a_location_fills_the_region_of_the_latest_ticket(oapp):
    number = new_ticket(oapp, user="oWhere")
    reply = send(
        oapp,
        message_xml(
            "location",
            user="oWhere",
            Location_X="43.9",
            Location_Y="81.3",
            Scale="15",
            Label="新疆维吾尔自治区某市城东区解放路88号",
        ),
    )
    assert number in reply and "城东区" in reply
    with session(oapp) as s:
        ticket = service.find(s, number)
        assert ticket.region == "城东区" and ticket.extra["location"]["lat"] == "43.9"
        assert service.find_enterprise(s, "wechat", "oWhere").region == "城东区"


def test_media_can_be_kept_in_an_s3_compatible_store(config, fake):
    app = build(
        {
            **outreach_config(config, fake),
            "MEDIA_STORE": "s3",
            "S3_ENDPOINT": fake.base.split("://")[1],
            "S3_BUCKET": "evidence",
            "S3_ACCESS_KEY": "ak",
            "S3_SECRET_KEY": "sk-secret",
            "S3_SECURE": "0",
        }
    )
    fake.media["MEDIA-S3"] = (JPEG, "image/jpeg")
    number = new_ticket(app, user="oS3")
    send(app, message_xml("image", user="oS3", PicUrl="http://x/y.jpg", MediaId="MEDIA-S3"))
    deliver(app)
    with session(app) as s:
        att = s.scalars(select(Attachment)).one()
        assert att.status == "stored" and att.store == "s3" and fake.objects[f"evidence/{att.key}"] == JPEG
    client = app.test_client()
    sign_in(client, "yingshang")
    assert client.get(f"/console/attachments/{att.id}").data == JPEG
    assert number
    app.extensions["appealbot"].engine.dispose()


# -- policy push ------------------------------------------------------------------------------------

POLICY_DOC = """# 关于支持棉花加工企业技术改造的若干措施

一、对认定为高新技术企业的棉花加工企业，技术改造投资给予补助。
二、申报时间为每年三月。
"""


def enterprise(s, channel, user, **fields):
    ent = Enterprise(channel=channel, user_id=user, **fields)
    s.add(ent)
    s.flush()
    return ent


def test_a_published_policy_reaches_exactly_the_matching_enterprises_once(oapp, fake):
    from knowledge.ingest import ingest_bytes
    from knowledge.models import PolicyDocument
    from tickets import policy_push

    with session(oapp) as s, s.begin():
        match = enterprise(s, "wechat", "oCotton", name="甲棉业", industry="棉花加工", region="城东区", high_tech=True)
        enterprise(s, "wechat", "oFood", name="乙餐饮", industry="餐饮", region="城东区", high_tech=True)
        enterprise(s, "web", "wQuiet", name="丙棉业", industry="棉花加工", high_tech=True, push_opt_out=True)
        enterprise(s, "wechat", "oLowTech", name="丁棉业", industry="棉花加工")
        twin_chat = enterprise(s, "wechat", "oTwin", name="戊棉业", credit_code="91650100MA77TWIN01")
        enterprise(
            s,
            "registry",
            "91650100MA77TWIN01",
            name="戊棉业",
            credit_code="91650100MA77TWIN01",
            industry="棉花加工业",
            high_tech=True,
        )
        listed = enterprise(
            s,
            "registry",
            "91650100MA77LIST02",
            name="己棉业",
            credit_code="91650100MA77LIST02",
            industry="棉花加工",
            high_tech=True,
        )
        officer = s.scalars(select(Official).where(Official.login == "scjg")).one()
        s.add(ServiceOfficer(enterprise_id=listed.id, official_id=officer.id))
        s.add(ServiceOfficer(enterprise_id=match.id, official_id=officer.id))
        ingest_bytes(s, "棉花加工技改措施.md", POLICY_DOC.encode())
    client = oapp.test_client()
    sign_in(client, "yingshang")
    page = client.get("/console/pushes").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    with session(oapp) as s:
        doc = s.scalars(select(PolicyDocument).where(PolicyDocument.source == "棉花加工技改措施.md")).one()
    form = {
        "csrf_token": token,
        "document": str(doc.id),
        "summary": "高新技术棉花加工企业技改投资可获补助，每年三月申报。",
        "industries": "棉花",
        "high_tech": "1",
    }
    assert client.post("/console/pushes", data=form).status_code == 302
    with session(oapp) as s:
        targets = s.scalars(select(PolicyPushTarget).order_by(PolicyPushTarget.id)).all()
        assert sorted((t.enterprise.name, t.notified) for t in targets) == [
            ("己棉业", False),
            ("戊棉业", True),
            ("甲棉业", True),
        ]
        pushed = s.scalars(select(Notification).where(Notification.kind == "policy")).all()
        assert sorted(n.recipient for n in pushed) == ["oCotton", "oTwin"]
        assert all("棉花加工" in n.body and "/p/" in n.body and "不要再推送" in n.body for n in pushed)
        (card,) = s.scalars(
            select(Notification).where(Notification.channel == "wecom_app", Notification.title.like("政策推送%"))
        ).all()
        assert card.recipient == "scjg" and "甲棉业" in card.body and "己棉业" in card.body
    assert twin_chat
    # once: publishing the same document again is refused, and nothing more is written
    again = client.post("/console/pushes", data=form, follow_redirects=True).get_data(as_text=True)
    assert "只推送一次" in again
    assert len(notices(oapp, kind="policy")) == 2
    # delivered: no window and no policy template: held, then shown with the next message
    deliver(oapp)
    assert {n.status for n in notices(oapp, kind="policy")} == {"held"}
    reply = WeChatServer(oapp.test_client(), **WECHAT).say("你好", user="oCotton")
    assert "政策推送" in reply and "关于支持棉花加工企业技术改造" in reply
    link = re.search(r"https://yqby\.example\.gov\.cn(/p/\S+)", reply).group(1)
    opened = oapp.test_client().get(link)
    assert opened.status_code == 302 and opened.headers["Location"].endswith(f"/policies/{doc.id}")
    at(oapp, NOW + timedelta(minutes=5))
    WeChatServer(oapp.test_client(), **WECHAT).say(
        "关于支持棉花加工企业技术改造的若干措施 我们能申请吗", user="oCotton"
    )
    with session(oapp) as s, s.begin():
        push = s.scalars(select(policy_push.PolicyPush)).one()
        figures = reach.figures(s, push, NOW + timedelta(minutes=6))
    assert figures == {"matched": 3, "notified": 2, "reached": 1, "waiting": 1, "opened": 1, "asked": 1}
    table = client.get("/console/pushes").get_data(as_text=True)
    assert "关于支持棉花加工企业技术改造" in table and "仅" not in table.split("推送记录")[1][:20]


def test_an_enterprise_that_says_stop_is_not_pushed_and_profiles_come_from_the_chat(oapp):
    from tickets import policy_push

    server = WeChatServer(oapp.test_client(), **WECHAT)
    server.say("我们是高新技术企业吗", user="oAsk")  # a question tells nothing
    with session(oapp) as s:
        asked = service.find_enterprise(s, "wechat", "oAsk")
        assert asked is None or not asked.high_tech
    said = server.say("我们公司是做棉花加工的", user="oTalk")
    assert "已记下" in said and "棉花加工" in said
    assert "已记下" in server.say("我们是高新技术企业", user="oTalk")
    with session(oapp) as s:
        ent = service.find_enterprise(s, "wechat", "oTalk")
        assert ent.industry == "棉花加工" and ent.high_tech
        criteria = policy_push.criteria_from("棉花", high_tech=True)
        assert [e.user_id for e, _ in policy_push.matching(s, criteria)] == ["oTalk"]
    assert "不再向您推送" in server.say("不要再推送了", user="oTalk")
    with session(oapp) as s:
        assert policy_push.matching(s, criteria) == []
    assert "已恢复" in server.say("恢复推送", user="oTalk")


def test_the_enterprise_list_is_imported_from_csv(oapp):
    client = oapp.test_client()
    sign_in(client, "yingshang")
    token = re.search(
        r'name="csrf_token" value="([^"]+)"', client.get("/console/enterprises").get_data(as_text=True)
    ).group(1)
    import io

    csv_text = (
        "企业名称,统一社会信用代码,行业,地区,规模,专精特新,高新技术企业,联系电话\n"
        "庚机械有限公司,,机械制造,城东区,小型,是,否,13899912377\n"
    )
    answer = client.post(
        "/console/enterprises/import",
        data={"csrf_token": token, "file": (io.BytesIO(csv_text.encode()), "名录.csv")},
        content_type="multipart/form-data",
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "新增 1 家" in answer
    with session(oapp) as s:
        ent = s.scalars(select(Enterprise).where(Enterprise.name == "庚机械有限公司")).one()
        assert (ent.channel, ent.industry, ent.size, ent.specialized, ent.high_tech) == (
            "registry",
            "机械制造",
            "小型",
            True,
            False,
        )
    bad = "企业名称,统一社会信用代码,行业,地区,规模,专精特新,高新技术企业,联系电话\n辛公司,123,,,巨型,,,\n"
    refused = client.post(
        "/console/enterprises/import",
        data={"csrf_token": token, "file": (io.BytesIO(bad.encode()), "x.csv")},
        content_type="multipart/form-data",
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "校验不通过" in refused
