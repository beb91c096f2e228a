"""一叫就到 and 无事不扰 through /api/messages, the real /wecom callback, the API and the verify page."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from contacts.models import CallOut
from inspections.models import InspectionFiling
from nlp.classifier import Prediction
from tests.platforms import web_say
from tests.stubs import StubClassifier
from tickets import service
from tickets.accounts import token_hash
from tickets.models import Enterprise, Official, ServiceOfficer, Ticket

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Monday 23 November, 10:00 in China


@pytest.fixture
def bot(demo):
    state = demo.extensions["appealbot"]
    state.services.clock = lambda: NOW
    state.services.classifier = StubClassifier(
        answers={"乱罚款": Prediction("complaint", "arbitrary_charges", 0.9, [])},
        default=Prediction("other", "contact_lookup", 0.9, []),
    )
    with state.Session() as s, s.begin():
        ent = service.enterprise_for(s, "web", "ent-1")
        ent.name, ent.phone, ent.credit_code = "城东精工机械有限公司", "13812345678", "91350100M000100Y43"
        star = service.enterprise_for(s, "web", "ent-a")
        star.name, star.credit_tier = "星级信用科技有限公司", "A"
        for login in ("scjg", "scjg_head", "yingshang"):
            s.scalars(select(Official).where(Official.login == login)).one().api_token_hash = token_hash(f"tok-{login}")
    return demo


def say(client, text, user="ent-1"):
    return web_say(client, text, user)["reply"]


def api(client, method, path, who="scjg", **kw):
    return getattr(client, method)(path, headers={"Authorization": f"Bearer tok-{who}"}, **kw)


def filing(client, **overrides):
    body = {
        "enterprises": ["城东精工机械有限公司"],
        "kind": "random",
        "matters": "产品质量抽检",
        "legal_basis": "《产品质量法》第十五条",
        "inspectors": "执法证 3301001、3301002",
        "start": "2026-11-23",
        "end": "2026-11-25",
        **overrides,
    }
    return api(client, "post", "/api/v1/inspections", json=body)


# -- contact cards ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "question,department",
    [("办环评找谁", "市生态环境局"), ("公积金中心电话多少", "市住房公积金中心"), ("税务局谁管发票", "市税务局")],
)
def test_a_question_gets_the_right_card(bot, client, question, department):
    reply = say(client, question)
    assert reply.startswith(f"【{department}】") and "电话：" in reply


def test_no_match_says_so_instead_of_a_wrong_number(bot, client):
    reply = say(client, "消防验收找哪个部门")  # 验收 alone must not find the card for 环保验收
    assert "没有找到办理" in reply and "市生态环境局" not in reply and "营商办" in reply


def test_a_call_out_without_an_officer_goes_to_the_office_within_service_hours(bot, client, db):
    from datetime import datetime

    from tickets.workdays import CHINA

    friday_night = datetime(2026, 12, 4, 23, 7, tzinfo=CHINA)
    bot.extensions["appealbot"].services.clock = lambda: friday_night
    reply = say(client, "请联系我")
    assert "营商办" in reply and "12月07日" in reply and "01:07" not in reply
    item = db.scalars(select(CallOut)).one()
    assert item.official.department.is_office and item.due_at.astimezone(CHINA).weekday() == 0


def test_call_out_to_the_service_officer_is_tracked_until_confirmed(bot, client, wecom, db):
    with bot.extensions["appealbot"].Session() as s, s.begin():
        ent = s.scalars(select(Enterprise).where(Enterprise.user_id == "ent-1")).one()
        s.add(
            ServiceOfficer(enterprise=ent, official=s.scalars(select(Official).where(Official.login == "scjg")).one())
        )
    assert "市场监管局经办人" in say(client, "我的联系人")
    assert "已通知您的包联干部" in say(client, "请联系我，新厂房验收的事想当面请教")
    say(client, "请联系我，新厂房验收的事想当面请教")  # asking twice makes one call-out
    assert "已记录" in wecom.say("已联系", user="scjg")
    assert "请回复“已联系上”" in say(client, "你好")  # the enterprise is told, with its next message
    assert "已记录" in say(client, "已联系上")
    item = db.scalars(select(CallOut)).one()
    assert item.status == "confirmed" and item.responded_at is not None


# -- inspection filings -------------------------------------------------------------------------------


def test_file_approve_and_verify_in_chat(bot, client):
    r = filing(client)
    assert r.status_code == 201
    code = r.get_json()["code"]
    assert re.fullmatch(r"[A-Z]{3}[2-9]{3}", code)
    assert "没有查到" in say(client, "市场监管局的人来检查了，有备案吗")  # pending is not approved
    assert api(client, "post", f"/api/v1/inspections/{code}/decision", json={"approve": True}).status_code == 400  # own
    assert (
        api(client, "post", f"/api/v1/inspections/{code}/decision", who="scjg_head", json={"approve": True}).status_code
        == 200
    )
    reply = say(client, "市场监管局的人来检查了，有备案吗")
    assert code in reply and "产品质量抽检" in reply
    assert "备案有效" in say(client, code)
    assert "不存在或未获批准" in say(client, "备案码 ZZZ999")


def test_no_filing_offers_a_prefilled_complaint(bot, client, db):
    reply = say(client, "应急局的人突然来查消防，有没有报备啊")
    assert "没有查到市应急管理局今天对贵企业的检查备案" in reply
    assert "匿名反映" in say(client, "1")  # the offer taken: anonymity comes first
    assert "请确认" in say(client, "实名")
    assert "已受理" in say(client, "确认提交")
    ticket = db.scalars(select(Ticket)).one()
    assert ticket.category == "random_inspection" and "未查到检查备案" in ticket.text


def test_the_verify_page_and_its_qr_code(bot, client, db):
    code = filing(client).get_json()["code"]
    api(client, "post", f"/api/v1/inspections/{code}/decision", who="scjg_head", json={"approve": True})
    page = client.get(f"/verify/{code}").get_data(as_text=True)
    assert "检查已备案并获批准" in page and "产品质量抽检" in page
    qr = client.get(f"/verify/{code}/qr.svg")
    assert qr.mimetype == "image/svg+xml" and b"<svg" in qr.data
    assert client.post(f"/verify/{code}", data={"enterprise": "别的公司"}).status_code == 400
    assert "已确认" in client.post(
        f"/verify/{code}", data={"enterprise": "城东精工机械有限公司", "rating": "4"}
    ).get_data(as_text=True)
    target = db.scalars(select(InspectionFiling)).one().targets[0]
    assert target.scanned_at is not None and target.rating == 4
    assert "未查到备案" in client.get("/verify/NOPE42").get_data(as_text=True)


@pytest.mark.parametrize(
    "overrides,message",
    [
        ({"enterprises": ["不存在的公司"]}, "找不到企业"),
        ({"start": "2026-11-01", "end": "2026-11-02"}, "不能早于今天"),
        ({"enterprises": ["星级信用科技有限公司"]}, "A 级信用企业"),
        ({"legal_basis": ""}, "执法依据"),
    ],
)
def test_bad_filings_are_refused_and_nothing_is_stored(bot, client, db, overrides, message):
    r = filing(client, **overrides)
    assert r.status_code == 400 and message in r.get_json()["error"]
    assert db.scalars(select(InspectionFiling)).all() == []


def test_a_tier_with_a_reason_or_an_exempt_field_is_allowed(bot, client):
    assert filing(client, enterprises=["星级信用科技有限公司"], reason="群众投诉线索核查").status_code == 201
    assert filing(client, enterprises=["星级信用科技有限公司"], matters="特种设备安全检查").status_code == 201


def test_a_second_filing_is_flagged_for_a_joint_inspection_and_the_yearly_cap_warns(bot, client):
    assert filing(client).get_json()["warnings"] == []
    second = filing(client, start="2026-11-30", end="2026-11-30").get_json()["warnings"]
    assert [w["type"] for w in second] == ["joint"]
    third = filing(client, start="2026-12-07", end="2026-12-07").get_json()["warnings"]
    assert {w["type"] for w in third} == {"joint", "yearly_cap"}


# -- anonymous complaints ------------------------------------------------------------------------------


def test_an_anonymous_complaint_hides_the_enterprise_from_departments(bot, client, wecom, db):
    say(client, "执法大队以罚代管，乱罚款还不给票据")
    say(client, "2")  # anonymous
    assert "匿名" in say(client, "1")
    ticket = db.scalars(select(Ticket)).one()
    assert ticket.anonymous and ticket.department.code == "jjz"
    with bot.extensions["appealbot"].Session() as s, s.begin():  # someone at the department complained about
        t = s.get(Ticket, ticket.id)
        t.department = s.scalars(select(Official).where(Official.login == "scjg")).one().department
    # chat card, API, console page and queue, export: no name, no phone for the department
    card = wecom.say(f"查看 {ticket.number}", user="scjg")
    assert "城东精工" not in card and "13812345678" not in card and "匿名企业" in card
    body = api(client, "get", f"/api/v1/tickets/{ticket.number}").get_data(as_text=True)
    assert "城东精工" not in body and "13812345678" not in body
    from tests.test_console import sign_in

    sign_in(client, "scjg")
    for path in (f"/console/tickets/{ticket.number}", "/console/", "/console/export.csv"):
        page = client.get(path).get_data(as_text=True)
        assert "城东精工" not in page and "13812345678" not in page, path
    # 营商办 sees who reported
    assert "城东精工" in api(client, "get", f"/api/v1/tickets/{ticket.number}", who="yingshang").get_data(as_text=True)


def test_an_inspections_rating_cannot_be_overwritten(bot, client, db):
    # The audit: anyone with the code (the inspectors have it too) could replace the enterprise's rating.
    code = filing(client).get_json()["code"]
    api(client, "post", f"/api/v1/inspections/{code}/decision", who="scjg_head", json={"approve": True})
    assert client.post(f"/verify/{code}", data={"enterprise": "城东精工机械有限公司", "rating": "1"}).status_code == 200
    second = client.post(f"/verify/{code}", data={"enterprise": "城东精工机械有限公司", "rating": "5"})
    assert second.status_code == 409 and "不能修改" in second.get_data(as_text=True)
    assert db.scalars(select(InspectionFiling)).one().targets[0].rating == 1


def test_the_inspections_api_stores_no_none_for_a_missing_or_null_field(bot, client, db):
    # The audit: {"reason": null} and other nulls were stored as the text "None".
    response = filing(client, reason=None)
    assert response.status_code == 201
    assert db.scalars(select(InspectionFiling)).one().reason is None
    for field in ("matters", "legal_basis", "inspectors", "kind"):
        refused = filing(client, **{field: None})
        assert refused.status_code == 400, field
    assert all(
        "None" not in (f.matters, f.legal_basis, f.inspectors, f.kind) for f in db.scalars(select(InspectionFiling))
    )
    assert len(db.scalars(select(InspectionFiling)).all()) == 1
