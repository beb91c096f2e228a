"""The console through the test client: sign-in and lockout, roles, CSRF, actions, dashboard, exports."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from bot.demo import demo_password
from tickets import service
from tickets.models import Ticket

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


@pytest.fixture
def tickets(demo):
    state = demo.extensions["appealbot"]
    state.services.clock = lambda: NOW
    with state.Session() as s, s.begin():
        ent = service.enterprise_for(s, "web", "e1")
        ent.name, ent.phone = "城东精工机械有限公司", "13812345678"
        return [
            service.create_ticket(s, channel="web", user_id="e1", text=text, kind=kind, category=cat, now=NOW).number
            for text, kind, cat in (
                ('=HYPERLINK("x") 商标被仿冒', "appeal", "gov_service"),
                ("执法队一个月来查了四次", "complaint", "random_inspection"),
            )
        ]


def csrf(client, path="/console/login"):
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)


def sign_in(client, login, password=None):
    return client.post(
        "/console/login",
        data={"login": login, "password": password or demo_password(login), "csrf_token": csrf(client)},
    )


def test_sign_in_and_out(client, tickets):
    assert client.get("/console/").status_code == 302
    assert sign_in(client, "scjg", "wrong-password").status_code == 401
    assert sign_in(client, "scjg").status_code == 302
    assert "市场监管局经办人" in client.get("/console/").get_data(as_text=True)
    client.post("/console/logout", data={"csrf_token": csrf(client, "/console/")})
    assert client.get("/console/").status_code == 302


def test_repeated_failures_lock_the_account(client, tickets):
    for _ in range(5):
        assert sign_in(client, "scjg", "guess-guess").status_code == 401
    assert sign_in(client, "scjg").status_code == 429  # even the right password, for 15 minutes


def test_a_form_without_a_valid_csrf_token_is_refused(client, tickets):
    assert client.post("/console/login", data={"login": "scjg", "password": demo_password("scjg")}).status_code == 400
    sign_in(client, "scjg")
    assert (
        client.post(f"/console/tickets/{tickets[0]}/note", data={"text": "x", "csrf_token": "forged"}).status_code
        == 400
    )


def test_a_department_sees_its_tickets_and_another_departments_is_404(client, tickets):
    sign_in(client, "scjg")  # 市场监管局: gov_service with 商标 goes there; the inspection complaint goes to 司法局
    page = client.get("/console/").get_data(as_text=True)
    assert tickets[0] in page and tickets[1] not in page
    assert client.get(f"/console/tickets/{tickets[1]}").status_code == 404
    assert client.get("/console/admin").status_code == 403


def test_supervisor_sees_everything_and_filters(client, tickets):
    sign_in(client, "yingshang")
    assert all(n in client.get("/console/").get_data(as_text=True) for n in tickets)
    page = client.get("/console/?kind=complaint").get_data(as_text=True)
    assert tickets[1] in page and tickets[0] not in page
    assert tickets[1] in client.get("/console/?q=查了四次").get_data(as_text=True)


def test_accept_answer_and_the_history_names_the_user(client, tickets, db):
    sign_in(client, "scjg")
    token = csrf(client, f"/console/tickets/{tickets[0]}")
    client.post(f"/console/tickets/{tickets[0]}/accept", data={"csrf_token": token})
    r = client.post(
        f"/console/tickets/{tickets[0]}/resolve", data={"csrf_token": token, "text": ""}, follow_redirects=True
    )
    assert "必须写明原因" in r.get_data(as_text=True)
    r = client.post(
        f"/console/tickets/{tickets[0]}/resolve",
        data={"csrf_token": token, "text": "已立案调查仿冒商标"},
        follow_redirects=True,
    )
    assert "已答复待评价" in r.get_data(as_text=True)
    t = db.scalars(select(Ticket).where(Ticket.number == tickets[0])).one()
    assert [e.action for e in t.events][-2:] == ["accept", "resolve"]
    assert all("市场监管局经办人" in e.actor for e in t.events[-2:])


def test_an_action_the_status_does_not_allow_is_refused(client, tickets):
    sign_in(client, "scjg")
    token = csrf(client, f"/console/tickets/{tickets[0]}")
    r = client.post(
        f"/console/tickets/{tickets[0]}/resolve", data={"csrf_token": token, "text": "x"}, follow_redirects=True
    )
    assert "不允许此操作" in r.get_data(as_text=True)


def test_correcting_the_category_feeds_the_classifiers_corrections(client, tickets, db):
    from nlp.models import Correction

    sign_in(client, "scjg")
    client.post(
        f"/console/tickets/{tickets[0]}/correct_category",
        data={"csrf_token": csrf(client, f"/console/tickets/{tickets[0]}"), "category": "legal"},
    )
    assert db.scalars(select(Correction)).one().category == "legal"


def test_dashboard_shows_the_figures(client, tickets):
    sign_in(client, "yingshang")
    page = client.get("/console/dashboard").get_data(as_text=True)
    assert 'id="fig-total">2<' in page and "vendor/chart.umd.min.js" in page
    response = client.get("/static/vendor/chart.umd.min.js")
    assert response.status_code == 200 and b"Chart.js" in response.data  # served locally
    response.close()


def test_exports_csv_and_excel_with_the_queue_filters(client, tickets):
    sign_in(client, "yingshang")
    body = client.get("/console/export.csv?kind=appeal").get_data(as_text=True)
    assert body.startswith("\ufeff编号") and tickets[0] in body and tickets[1] not in body
    assert "'=HYPERLINK" in body  # a formula from an enterprise's text is defused
    sheet = load_workbook(io.BytesIO(client.get("/console/export.xlsx").data)).active
    assert sheet["A1"].value == "编号" and {sheet["A2"].value, sheet["A3"].value} == set(tickets)
    summary = load_workbook(io.BytesIO(client.get("/console/summary.xlsx?month=2026-11").data)).active
    assert summary["B1"].value == "承办部门" and summary.max_row >= 3


def test_admin_adds_a_routing_rule(client, tickets, db):
    from tickets.models import RoutingRule

    sign_in(client, "admin")
    before = len(db.scalars(select(RoutingRule)).all())
    client.post(
        "/console/admin/rules",
        data={
            "csrf_token": csrf(client, "/console/admin"),
            "category": "finance",
            "department": 1,
            "days": 7,
            "keywords": "上市",
        },
    )
    assert len(db.scalars(select(RoutingRule)).all()) == before + 1


def test_file_and_approve_an_inspection_in_the_console(client, tickets, db):
    from inspections.models import InspectionFiling

    sign_in(client, "scjg")
    r = client.post(
        "/console/inspections",
        data={
            "csrf_token": csrf(client, "/console/inspections"),
            "kind": "special",
            "start": "2026-11-24",
            "end": "2026-11-24",
            "inspectors": "执法证 3301",
            "enterprises": "城东精工机械有限公司",
            "matters": "计量器具检查",
            "legal_basis": "《计量法》第十八条",
        },
        follow_redirects=True,
    )
    assert "已提交备案" in r.get_data(as_text=True)
    code = db.scalars(select(InspectionFiling)).one().code
    client.post("/console/logout", data={"csrf_token": csrf(client, "/console/")})
    sign_in(client, "scjg_head")
    r = client.post(
        f"/console/inspections/{code}/approve",
        data={"csrf_token": csrf(client, "/console/inspections")},
        follow_redirects=True,
    )
    assert "已批准" in r.get_data(as_text=True)


def test_contact_cards_import_all_or_nothing(client, tickets, db):
    from bot.console.field import CARD_COLUMNS
    from contacts.models import ContactCard

    sign_in(client, "admin")
    before = len(db.scalars(select(ContactCard)).all())
    header = ",".join(CARD_COLUMNS)
    good = f"{header}\n市税务局,社保费缴纳,钱多多,科员,0571-1234,,工作日,60\n".encode("gb18030")  # Excel's Chinese CSV
    bad = f"{header}\n市税务局,发票,张三,科员,0571-1,,,60\n不存在的局,发票,李四,科员,0571-2,,,60\n".encode()
    token = csrf(client, "/console/admin/contacts")
    r = client.post(
        "/console/admin/contacts/import",
        data={"csrf_token": token, "file": (io.BytesIO(bad), "cards.csv")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert "第 3 行" in r.get_data(as_text=True) and len(db.scalars(select(ContactCard)).all()) == before
    r = client.post(
        "/console/admin/contacts/import",
        data={"csrf_token": token, "file": (io.BytesIO(good), "cards.csv")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert "已导入 1 张" in r.get_data(as_text=True)
    assert db.scalars(select(ContactCard).where(ContactCard.person == "钱多多")).one().promise_minutes == 60


def test_administrators_upload_and_retire_policy_documents(client, tickets, db):
    from knowledge.models import PolicyDocument

    sign_in(client, "admin")
    token = csrf(client, "/console/admin/documents")
    good = "关于支持小微企业的若干措施\n一、对首次贷款的小微企业给予贴息。\n二、设立应急转贷资金。".encode("gbk")
    r = client.post(
        "/console/admin/documents",
        data={
            "csrf_token": token,
            "files": [(io.BytesIO(good), "measures.txt"), (io.BytesIO(b"%PDF-1.4 broken"), "broken.pdf")],
        },
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    page = r.get_data(as_text=True)
    assert "measures.txt：已导入" in page and "broken.pdf：PDF 文件已损坏" in page
    doc = db.scalars(select(PolicyDocument)).one()
    client.post(f"/console/admin/documents/{doc.id}/retire", data={"csrf_token": token})
    db.expire_all()
    assert db.get(PolicyDocument, doc.id).status == "retired"


def test_supervisors_set_credit_tiers_that_filings_respect(client, tickets, db):
    from tickets.models import Enterprise

    sign_in(client, "yingshang")
    client.post(
        "/console/admin/credit-tier",
        data={"csrf_token": csrf(client, "/console/inspections"), "enterprise": "城东精工机械有限公司", "tier": "a"},
    )
    assert db.scalars(select(Enterprise).where(Enterprise.name == "城东精工机械有限公司")).one().credit_tier == "A"


def test_failed_notifications_are_listed_and_can_be_sent_again(client, tickets, db):
    from tickets.models import Notification

    n = db.scalars(select(Notification)).first()
    n.status, n.attempts, n.last_error = "failed", 8, "WeChatClientException: 60020 not allow to access from your ip"
    db.commit()
    sign_in(client, "yingshang")
    page = client.get("/console/notifications").get_data(as_text=True)
    assert "60020" in page
    client.post(f"/console/notifications/{n.id}/retry", data={"csrf_token": csrf(client, "/console/notifications")})
    db.expire_all()
    assert db.get(Notification, n.id).status == "pending" and db.get(Notification, n.id).attempts == 0
