"""An anonymous complaint's enterprise stays hidden from departments in every view (issue 16, item 1).

The audit's path: the timeline and the API's `events[].actor` showed `enterprise:<openid>`, and
the same id stood on the enterprise's named tickets in the same department's queue. Here one
enterprise has a named ticket and an anonymous complaint in one department; everything that
department can look at is collected and searched for the chat id, the name and the phone.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from tests.conftest import WECOM
from tests.platforms import WeComServer
from tests.test_console import csrf, sign_in
from tickets import service
from tickets.accounts import token_hash
from tickets.lifecycle import SYSTEM, Actor, Lifecycle
from tickets.models import Department, Notification, Official, Ticket, TicketEvent

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
OPENID = "oAnonReporter0042"
NAME, PHONE = "城东明达包装材料有限公司", "13899912345"
COMPLAINT = "有人自称上级交办，一个月上门四次要求填报各类统计材料，影响正常生产"


@pytest.fixture
def world(demo):
    state = demo.extensions["appealbot"]
    state.services.clock = lambda: NOW
    with state.Session() as s, s.begin():
        for login in ("scjg", "yingshang"):
            s.scalars(select(Official).where(Official.login == login)).one().api_token_hash = token_hash(f"tok-{login}")
        service.enterprise_for(s, "wechat", OPENID, name=NAME, phone=PHONE)
        named = service.create_ticket(
            s,
            channel="wechat",
            user_id=OPENID,
            text="商标被仿冒，请求查处山寨产品",
            kind="appeal",
            category="gov_service",
            now=NOW,
        )  # 市场监管局
        secret = service.create_ticket(
            s,
            channel="wechat",
            user_id=OPENID,
            text=COMPLAINT,
            kind="complaint",
            category="paperwork",
            now=NOW,
            anonymous=True,
        )  # 营商办 distributes it
        life = Lifecycle(s, NOW, state.services.config)
        supervisor = Actor.of(s.scalars(select(Official).where(Official.login == "yingshang")).one())
        scjg = s.scalars(select(Department).where(Department.code == "scjg")).one()
        life.assign(secret, supervisor, scjg, note="请核查")
        for ticket in (named, secret):
            life.accept(ticket, SYSTEM)
            life.request_info(ticket, SYSTEM, "请补充时间和人员")
            life.supplement(ticket, Actor("enterprise", OPENID), "上周二下午，两人，未出示证件")
            life.note(ticket, Actor("enterprise", OPENID), "请尽快处理")
        return {"named": named.number, "secret": secret.number}


def leaks(text: str, secret: bool = True) -> list[str]:
    found = [s for s in (OPENID, OPENID[1:9]) if s in text]
    if secret:
        found += [s for s in (NAME, PHONE, PHONE[3:7] + PHONE[7:]) if s in text]
    return found


def section(page: str, number: str) -> str:
    """The lines of a listing that belong to one ticket."""
    return "\n".join(line for line in page.splitlines() if number in line)


def test_no_view_of_a_department_shows_an_anonymous_reporter(demo, world):
    client = demo.test_client()
    sign_in(client, "scjg")
    secret, named = world["secret"], world["named"]

    page = client.get(f"/console/tickets/{secret}").get_data(as_text=True)
    assert "匿名企业" in page and "请尽快处理" in page  # the enterprise's own words, not who wrote them
    assert leaks(page) == [], "console ticket page and timeline"
    page = client.get(f"/console/tickets/{named}").get_data(as_text=True)
    assert NAME in page and leaks(page, secret=False) == [], "the named ticket's timeline shows no chat id"
    queue = client.get("/console/").get_data(as_text=True)
    assert secret in queue and named in queue
    assert leaks(section(queue, secret)) == [] and leaks(queue, secret=False) == []

    api = {"Authorization": "Bearer tok-scjg"}
    detail = client.get(f"/api/v1/tickets/{secret}", headers=api).get_json()
    actors = [e["actor"] for e in detail["events"]]
    assert "enterprise:匿名企业" in actors
    assert leaks(str(detail)) == [], "API events[].actor"
    assert leaks(str(client.get(f"/api/v1/tickets/{named}", headers=api).get_json()), secret=False) == []
    listing = client.get("/api/v1/tickets", headers=api).get_json()
    assert leaks(str([t for t in listing["items"] if t["number"] == secret])) == []

    csv_text = client.get("/console/export.csv").get_data(as_text=True)
    assert leaks(section(csv_text, secret)) == [] and leaks(csv_text, secret=False) == []
    sheet = load_workbook(io.BytesIO(client.get("/console/export.xlsx").data)).active
    rows = [" ".join(str(v) for v in row if v is not None) for row in sheet.iter_rows(values_only=True)]
    assert leaks("\n".join(r for r in rows if secret in r)) == [] and leaks("\n".join(rows), secret=False) == []

    for q in (NAME, OPENID, PHONE, "明达包装"):
        found = client.get("/console/?q=" + q).get_data(as_text=True)
        assert secret not in found, f"console search for {q}"
        assert secret not in str(client.get("/api/v1/tickets?q=" + q, headers=api).get_json()), f"API search {q}"
    assert named in client.get("/console/?q=明达包装").get_data(
        as_text=True
    )  # a named ticket is found by its enterprise

    card = WeComServer(demo.test_client(), **WECOM).say(f"查看 {secret}", user="scjg")
    assert secret in card and "匿名企业" in card and leaks(card) == [], "WeCom 查看"

    with demo.extensions["appealbot"].Session() as s:
        departments = {
            o.wecom_user_id
            for o in s.scalars(
                select(Official).where(
                    Official.department_id == s.scalars(select(Department.id).where(Department.code == "scjg")).one()
                )
            )
        }
        bodies = [f"{n.title} {n.body}" for n in s.scalars(select(Notification)) if n.recipient in departments]
    assert bodies and leaks("\n".join(bodies)) == [], "notices to the department"


def test_a_supervisor_still_sees_who_reported(demo, world):
    client = demo.test_client()
    sign_in(client, "yingshang")
    page = client.get(f"/console/tickets/{world['secret']}").get_data(as_text=True)
    assert NAME in page and PHONE in page and f"enterprise:{OPENID}" in page
    assert world["secret"] in client.get("/console/?q=" + OPENID).get_data(as_text=True)
    detail = client.get(
        f"/api/v1/tickets/{world['secret']}", headers={"Authorization": "Bearer tok-yingshang"}
    ).get_json()
    assert detail["enterprise"]["name"] == NAME and f"enterprise:{OPENID}" in [e["actor"] for e in detail["events"]]


# -- a complaint about a department is not assigned to it unasked ------------------------------------

ABOUT_SCJG = "市场监管局的人一个月来查了四次，每次都没有出示检查备案，还要求我们交检测费"


def test_assigning_a_complaint_to_the_department_it_names_needs_a_supervisors_confirmation(demo, db):
    state = demo.extensions["appealbot"]
    state.services.clock = lambda: NOW
    with state.Session() as s, s.begin():
        s.scalars(select(Official).where(Official.login == "yingshang")).one().api_token_hash = token_hash("tok-ys")
        number = service.create_ticket(
            s,
            channel="wechat",
            user_id="oC1",
            text=ABOUT_SCJG,
            kind="complaint",
            category="random_inspection",
            now=NOW,
            anonymous=True,
        ).number
        scjg_id = s.scalars(select(Department.id).where(Department.code == "scjg")).one()

    client = demo.test_client()
    sign_in(client, "yingshang")
    page = client.get(f"/console/tickets/{number}").get_data(as_text=True)
    assert 'id="named-warning"' in page and "市市场监督管理局" in page
    token = csrf(client, f"/console/tickets/{number}")
    refused = client.post(
        f"/console/tickets/{number}/assign", data={"csrf_token": token, "department": scjg_id}, follow_redirects=True
    ).get_data(as_text=True)
    assert "明确确认" in refused
    api = client.post(
        f"/api/v1/tickets/{number}/actions",
        json={"action": "assign", "department": "scjg"},
        headers={"Authorization": "Bearer tok-ys"},
    )
    assert api.status_code == 409 and "confirm_named" in api.get_json()["error"]
    ticket = db.scalars(select(Ticket).where(Ticket.number == number)).one()
    assert ticket.department_id != scjg_id  # still with 营商办

    client.post(
        f"/console/tickets/{number}/assign",
        data={"csrf_token": token, "department": scjg_id, "confirm_named": "1", "text": "该局自查"},
    )
    db.expire_all()
    ticket = db.scalars(select(Ticket).where(Ticket.number == number)).one()
    assert ticket.department_id == scjg_id and ticket.status == "assigned"
    event = db.scalars(
        select(TicketEvent)
        .where(TicketEvent.ticket_id == ticket.id, TicketEvent.action == "assign")
        .order_by(TicketEvent.id.desc())
    ).first()
    assert event.data["named_in_complaint"] is True and "yingshang" in event.data["confirmed_by"]
    assert "确认分办至被反映部门" in event.note and "该局自查" in event.note


def test_a_routing_rule_never_sends_a_complaint_to_the_department_it_names(demo, db):
    from tickets.models import RoutingRule

    with demo.extensions["appealbot"].Session() as s, s.begin():
        scjg = s.scalars(select(Department).where(Department.code == "scjg")).one()
        s.add(RoutingRule(category="random_inspection", department=scjg, deadline_days=5, keywords="检查", priority=5))
    with demo.extensions["appealbot"].Session() as s, s.begin():
        about = service.create_ticket(
            s, channel="wechat", user_id="oC2", text=ABOUT_SCJG, kind="complaint", category="random_inspection", now=NOW
        )
        other = service.create_ticket(
            s,
            channel="wechat",
            user_id="oC3",
            text="税务局的人来检查，没有备案",
            kind="complaint",
            category="random_inspection",
            now=NOW,
        )
        assert about.department is None and about.status == "submitted"  # 营商办 distributes it
        assert other.department.code == "scjg"  # a complaint about someone else follows the rule


def test_an_escalation_does_not_carry_a_complaint_up_to_the_department_it_names(demo, db):
    # A district bureau that cannot handle a complaint about its parent bureau sends it up: to 营商办.
    state = demo.extensions["appealbot"]
    with state.Session() as s, s.begin():
        ticket = service.create_ticket(
            s,
            channel="wechat",
            user_id="oC4",
            text="市市场监督管理局的人来检查，没有备案",
            kind="complaint",
            category="random_inspection",
            now=NOW,
        )
        district = s.scalars(select(Department).where(Department.code == "cd_scjg")).one()
        supervisor = Actor.of(s.scalars(select(Official).where(Official.login == "yingshang")).one())
        life = Lifecycle(s, NOW, state.services.config)
        life.assign(ticket, supervisor, district, confirm_named=True)  # the district bureau is named too
        life.accept(ticket, SYSTEM)
        life.escalate(ticket, SYSTEM, "涉及市局，本局无法办理")
        assert ticket.department.code == "yingshang"
