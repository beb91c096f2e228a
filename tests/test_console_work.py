"""Officials' work in the console: search as an enterprise calls, Chinese history and error pages,
the SLA clock and marks, extensions waiting, administration edits, inspections, typed exports."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from tests.test_console import csrf, sign_in
from tickets import service
from tickets.lifecycle import Actor, Lifecycle
from tickets.models import Official, RoutingRule

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # Wednesday 10:00 in China


@pytest.fixture
def desk(demo):
    state = demo.extensions["appealbot"]
    state.services.clock = lambda: NOW
    with state.Session() as s, s.begin():
        ent = service.enterprise_for(s, "web", "e1")
        ent.name, ent.phone, ent.credit_code = "城东精工机械有限公司", "138 9991 2345", "91350100M000100Y43"
        other = service.enterprise_for(s, "web", "e2")
        other.name, other.phone = "西郊食品厂", "13899916789"

        def made(user, text, cat, kind="appeal", when=NOW - timedelta(days=1), **kw):
            return service.create_ticket(
                s, channel="web", user_id=user, text=text, kind=kind, category=cat, now=when, **kw
            ).number

        numbers = {
            "named": made("e1", '=HYPERLINK("x") 商标被仿冒', "gov_service"),
            "late": made("e2", "申请增容用电", "operations", when=NOW - timedelta(days=8)),
            "anonymous": made("e1", "执法队一个月来查了四次", "random_inspection", "complaint", anonymous=True),
        }
        people = {o.wecom_user_id: Actor.of(o) for o in s.scalars(select(Official))}
        t = service.find(s, numbers["named"])
        life = Lifecycle(s, NOW - timedelta(hours=20), {})
        life.accept(t, people["scjg"])
        life.resolve(t, people["scjg"], "已立案调查")
        life.rate(t, Actor("enterprise", "e1"), 1)  # 重办: reopened
        late = service.find(s, numbers["late"])
        Lifecycle(s, NOW - timedelta(days=7), {}).accept(late, people["gdgs"])
        Lifecycle(s, NOW - timedelta(days=7), {}).request_extension(late, people["gdgs"], 3, "需采购变压器")
    return numbers


def queue_numbers(client, query):
    return set(re.findall(r"YQ-\d{8}-\d{4}", client.get(f"/console/?q={query}").get_data(as_text=True)))


def test_search_by_company_name_phone_credit_code_and_number(client, desk):
    sign_in(client, "yingshang")
    assert queue_numbers(client, "城东精工") == {desk["named"], desk["anonymous"]}  # 营商办 sees who reported
    assert queue_numbers(client, "1389991 2345") == {desk["named"], desk["anonymous"]}  # spaces as people type
    assert queue_numbers(client, "2345") == {desk["named"], desk["anonymous"]}  # last digits of the phone
    assert queue_numbers(client, "91350100m000100y43") == {desk["named"], desk["anonymous"]}
    assert queue_numbers(client, desk["late"].lower().replace("-", "")) == {desk["late"]}
    assert queue_numbers(client, "西郊食品") == {desk["late"]}


def test_searching_by_name_does_not_tell_a_department_who_complained(client, desk):
    sign_in(client, "admin")  # 营商办 department, administrator: sees all
    with client.application.extensions["appealbot"].Session() as s, s.begin():
        t = service.find(s, desk["anonymous"])
        t.department_id = s.scalars(select(Official).where(Official.login == "scjg")).one().department_id
    client.post("/console/logout", data={"csrf_token": csrf(client, "/console/")})
    sign_in(client, "scjg")
    assert desk["anonymous"] not in queue_numbers(client, "城东精工")
    assert desk["anonymous"] in queue_numbers(client, "查了四次")  # the text itself is the department's to read


def test_the_history_is_in_chinese_with_named_people(client, desk):
    sign_in(client, "scjg")
    page = client.get(f"/console/tickets/{desk['named']}").get_data(as_text=True)
    history = page.split('id="timeline"')[1].split("</ol>")[0]
    for words in (
        "企业提交诉求",
        "分办至市市场监督管理局",
        "签收",
        "答复办结",
        "企业评价：非常不满意，退回重办",
        "市场监管局经办人（市市场监督管理局）",
        "企业（城东精工机械有限公司）",
        "系统",
    ):
        assert words in history, words
    assert not re.search(r"\b(submit|assign|accept|resolve|rate)\b|system:|official:|enterprise:", history)
    assert 'id="mark-redo"' in page and "原答复（企业不满意，重办中）" in page


def test_error_pages_are_chinese(client, desk):
    sign_in(client, "scjg")
    missing = client.get("/console/tickets/YQ-20990101-0001")
    assert missing.status_code == 404 and "页面不存在" in missing.get_data(as_text=True)
    assert "Not Found" not in missing.get_data(as_text=True)
    forbidden = client.get("/console/admin")
    assert forbidden.status_code == 403 and "无权访问" in forbidden.get_data(as_text=True)
    stale = client.post(f"/console/tickets/{desk['named']}/note", data={"csrf_token": "forged", "text": "x"})
    assert stale.status_code == 400 and "刷新" in stale.get_data(as_text=True)
    assert "月份" in client.get("/console/summary.csv?month=11-2026").get_data(as_text=True)
    assert client.get("/api/v1/tickets").get_json()["error"]  # the API keeps answering JSON


def test_the_sla_clock_counts_working_time_and_marks_late_tickets(client, desk):
    sign_in(client, "yingshang")
    page = client.get(f"/console/tickets/{desk['late']}").get_data(as_text=True)
    assert re.search(r'id="sla">办结已超期 \d+ 天', page)
    page = client.get(f"/console/tickets/{desk['named']}").get_data(as_text=True)
    assert "距签收期限还有" in page and "工作时间" in page
    queue = client.get("/console/?mark=redo").get_data(as_text=True)
    assert desk["named"] in queue and desk["late"] not in queue and 'class="tag redo"' in queue


def test_supervisors_see_the_extensions_waiting_and_decide_there(client, desk, db):
    sign_in(client, "yingshang")
    page = client.get("/console/extensions").get_data(as_text=True)
    assert desk["late"] in page and "需采购变压器" in page and desk["named"] not in page
    r = client.post(
        f"/console/tickets/{desk['late']}/approve_extension",
        data={"csrf_token": csrf(client, "/console/extensions"), "back": "extensions"},
    )
    assert r.headers["Location"].endswith("/console/extensions")
    assert desk["late"] not in client.get("/console/extensions").get_data(as_text=True)


def test_wecom_todo_marks_late_redo_and_supervised_tickets(client, desk, wecom):
    reply = wecom.say("待办", user="scjg")
    assert f"【重办】{desk['named']}" in reply
    assert f"【超期】{desk['late']}" in wecom.say("待办", user="gdgs")


def test_exports_are_typed_and_name_their_period(client, desk):
    sign_in(client, "yingshang")
    r = client.get("/console/export.xlsx?since=2026-11-01&until=2026-11-30")
    assert (
        "filename*=UTF-8''%E9%97%AE%E9%A2%98%E6%B8%85%E5%8D%95_2026-11-01%E8%87%B32026-11-30.xlsx"
        in r.headers["Content-Disposition"]
    )
    sheet = load_workbook(io.BytesIO(r.data))["问题清单"]
    header = [c.value for c in sheet[1]]
    rows = {row[0]: dict(zip(header, row, strict=True)) for row in sheet.iter_rows(min_row=2, values_only=True)}
    named = rows[desk["named"]]
    assert named["内容"].startswith("=HYPERLINK")  # stored as text, without the CSV apostrophe
    assert sheet.cell(row=2, column=header.index("内容") + 1).data_type == "s"
    assert isinstance(named["提交时间"], datetime) and named["重办次数"] == 1
    assert named["答复"] is None and named["办结时间"] is None  # reopened: its old answer is not its result
    assert sheet.freeze_panes == "A2" and sheet.column_dimensions["P"].width == 60
    csv_body = client.get("/console/export.csv").get_data(as_text=True)
    assert "'=HYPERLINK" in csv_body  # CSV has no types: the apostrophe stays there
    summary = client.get("/console/summary.xlsx?month=2026-11")
    assert "%E6%9C%88%E5%BA%A6%E6%B1%87%E6%80%BB_2026-11.xlsx" in summary.headers["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(summary.data)).active
    assert sheet.title == "2026-11月度汇总"
    rate = next(row for row in sheet.iter_rows(min_row=2) if row[1].value == "市市场监督管理局")[9]
    assert rate.value == 0.0 and rate.number_format == "0.0%"  # 满意率 as a number shown as a percentage
    assert client.get("/console/summary.csv?month=2026-11").get_data(as_text=True).startswith("\ufeff月份")


def test_administrators_edit_rules_officials_and_cards_and_confirm_deletes(client, desk, db):
    from contacts.models import ContactCard

    sign_in(client, "admin")
    rule = db.scalars(select(RoutingRule).where(RoutingRule.keywords.contains("公积金"))).one()
    token = csrf(client, f"/console/admin/rules/{rule.id}")
    client.post(
        f"/console/admin/rules/{rule.id}",
        data={
            "csrf_token": token,
            "category": rule.category,
            "department": rule.department_id,
            "days": 7,
            "keywords": "公积金 提取",
        },
    )
    db.expire_all()
    assert (db.get(RoutingRule, rule.id).deadline_days, db.get(RoutingRule, rule.id).keywords) == (7, "公积金 提取")
    confirm = client.get(f"/console/admin/rules/{rule.id}/delete").get_data(as_text=True)
    assert "确定删除分办规则" in confirm and db.get(RoutingRule, rule.id) is not None  # asking deletes nothing
    rule_id = rule.id
    client.post(f"/console/admin/rules/{rule_id}/delete", data={"csrf_token": token})
    db.expunge_all()
    assert db.get(RoutingRule, rule_id) is None

    person = db.scalars(select(Official).where(Official.login == "scjg")).one()
    client.post(
        f"/console/admin/officials/{person.id}",
        data={
            "csrf_token": token,
            "name": "李某",
            "department": person.department_id,
            "role": "official",
            "login": "scjg",
            "wecom_user_id": "LiMou",
        },
    )
    db.expire_all()
    assert (db.get(Official, person.id).name, db.get(Official, person.id).wecom_user_id) == ("李某", "LiMou")

    card = db.scalars(select(ContactCard)).first()
    assert "确定删除" in client.get(f"/console/admin/contacts/{card.id}/delete").get_data(as_text=True)
    client.post(
        f"/console/admin/contacts/{card.id}",
        data={
            "csrf_token": token,
            "department": card.department_id,
            "person": card.person,
            "title": "科长",
            "phone": "0571-8800-2000",
            "matters": card.matters,
            "hours": card.hours,
            "promise_minutes": 45,
        },
    )
    db.expire_all()
    assert (db.get(ContactCard, card.id).phone, db.get(ContactCard, card.id).promise_minutes) == ("0571-8800-2000", 45)


def test_re_importing_cards_updates_them_instead_of_duplicating(client, desk, db):
    from bot.console.field import CARD_COLUMNS
    from contacts.models import ContactCard

    sign_in(client, "admin")
    token = csrf(client, "/console/admin/contacts")
    header = ",".join(CARD_COLUMNS)
    for phone, minutes in (("0571-1234", 60), ("0571-9999", 30)):
        body = f"{header}\n市税务局,社保费缴纳,钱某,科员,{phone},,工作日,{minutes}\n".encode()
        r = client.post(
            "/console/admin/contacts/import",
            data={"csrf_token": token, "file": (io.BytesIO(body), "c.csv")},
            content_type="multipart/form-data",
            follow_redirects=True,
        )
    assert "更新 1 张" in r.get_data(as_text=True)
    cards = db.scalars(select(ContactCard).where(ContactCard.person == "钱某")).all()
    assert len(cards) == 1 and (cards[0].phone, cards[0].promise_minutes) == ("0571-9999", 30)


def test_service_officers_are_chosen_by_name(client, desk, db):
    from tickets.models import ServiceOfficer

    sign_in(client, "admin")
    page = client.get("/console/admin/contacts").get_data(as_text=True)
    person = db.scalars(select(Official).where(Official.login == "scjg_head")).one()
    assert f'<option value="{person.id}">市场监管局科长（市市场监督管理局）</option>' in page
    assert '<option value="城东精工机械有限公司">' in page
    client.post(
        "/console/admin/officers",
        data={
            "csrf_token": csrf(client, "/console/admin/contacts"),
            "enterprise": "城东精工机械有限公司",
            "official": person.id,
        },
    )
    assert db.scalars(select(ServiceOfficer)).one().official_id == person.id


def test_inspections_for_an_unknown_enterprise_a_reasoned_rejection_and_ratings(client, desk, db):
    from inspections.models import InspectionFiling, InspectionTarget

    sign_in(client, "scjg")
    form = {
        "kind": "special",
        "start": "2026-11-26",
        "end": "2026-11-26",
        "inspectors": "执法证 3301",
        "matters": "计量器具检查",
        "legal_basis": "《计量法》第十八条",
    }
    r = client.post(
        "/console/inspections",
        data={
            **form,
            "csrf_token": csrf(client, "/console/inspections"),
            "enterprises": "新开的某某科技有限公司 91350100M000100Y44",
        },
        follow_redirects=True,
    )
    assert "校验位不正确" in r.get_data(as_text=True)
    r = client.post(
        "/console/inspections",
        data={
            **form,
            "csrf_token": csrf(client, "/console/inspections"),
            "enterprises": "新开的某某科技有限公司 91110000600037341L",
        },
        follow_redirects=True,
    )
    assert "已提交备案" in r.get_data(as_text=True)
    filing = db.scalars(select(InspectionFiling)).one()
    assert filing.targets[0].enterprise.name == "新开的某某科技有限公司"
    client.post("/console/logout", data={"csrf_token": csrf(client, "/console/")})
    sign_in(client, "scjg_head")
    page = client.get("/console/inspections").get_data(as_text=True)
    assert "计量器具检查" in page and "《计量法》第十八条" in page and "执法证 3301" in page  # what the approver judges
    assert f"/verify/{filing.code}/qr.svg" in page
    token = csrf(client, "/console/inspections")
    r = client.post(f"/console/inspections/{filing.code}/reject", data={"csrf_token": token}, follow_redirects=True)
    assert "须写明理由" in r.get_data(as_text=True)
    client.post(f"/console/inspections/{filing.code}/approve", data={"csrf_token": token})
    target = db.scalars(select(InspectionTarget)).one()
    target.rating, target.scanned_at = 2, NOW
    db.commit()
    ratings = client.get("/console/inspections").get_data(as_text=True).split('id="inspection-ratings"')[1]
    assert "市市场监督管理局" in ratings and "2.0" in ratings


def test_a_filing_made_by_credit_code_covers_the_enterprise_when_it_writes_in(demo, db):
    from datetime import date

    from inspections import filings

    officials = {o.login: o for o in db.scalars(select(Official).where(Official.login.in_(("scjg", "scjg_head"))))}
    filing = filings.file_inspection(
        db,
        officials["scjg"],
        enterprises=["91110000600037341L"],
        kind="special",
        matters="计量器具检查",
        legal_basis="《计量法》",
        inspectors="执法证 3301",
        start=date(2026, 11, 26),
        end=date(2026, 11, 26),
        today=date(2026, 11, 25),
    )
    filings.decide(db, filing, officials["scjg_head"], True, NOW)
    chat = service.enterprise_for(db, "wechat", "oNew0001", name="某某科技有限公司", credit_code="91110000600037341L")
    db.flush()
    assert filings.covering(db, chat, date(2026, 11, 26)) == [filing]
    assert filings.covering(db, chat, date(2026, 11, 27)) == []
