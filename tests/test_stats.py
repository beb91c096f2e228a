"""The figures on a scripted history: each overdue, return, rating and 重办 is charged to the
department responsible at that moment, pending tickets past due count as late, a reopened ticket is
not 办结, and the filters choose the tickets for every figure and the 红黑榜 alike.

The script (China time; Monday 23 November 2026 is the first day, the figures are taken on
Thursday 3 December 10:00):
- T1 供电公司 accepts and lets it run past Thursday's deadline; 督办 on Friday, escalated to 营商办
  after the grace days; 营商办 answers at once; rated 非常满意.
- T2 供电公司 answers on time, rated 非常不满意 → 重办; answers again on time, rated 不满意 → 营商办,
  which has not acted since (past its 签收 and 办结 deadlines).
- T3 市场监管局 returns it; 营商办 assigns it to 行政审批局, which answers on time; rated 满意.
- T4 供电公司 never accepts it (pending, past both deadlines).
- T5 城东区 enterprise: 城东区行政审批局 answers on time.
- T6 submitted Tuesday 1 December to 供电公司, past its 签收 deadline only.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from tests.test_console import sign_in
from tickets import service, stats
from tickets.lifecycle import Actor, Lifecycle
from tickets.models import Department, Official

CHINA = timezone(timedelta(hours=8))
NOW = datetime(2026, 12, 3, 10, tzinfo=CHINA)
CONFIG = {"ACCEPT_DAYS": 1, "ESCALATE_GRACE_DAYS": 2}


def at(day: int, hour: int = 10, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=CHINA)


@pytest.fixture
def history(demo):
    state = demo.extensions["appealbot"]
    state.services.clock = lambda: NOW.astimezone(UTC)
    with state.Session() as s, s.begin():
        people = {o.wecom_user_id: Actor.of(o) for o in s.scalars(select(Official))}

        def life(when):
            return Lifecycle(s, when.astimezone(UTC), CONFIG)

        def new(text, category, user="e1", when=None):
            when = when or at(23, 9)
            return service.create_ticket(
                s,
                channel="web",
                user_id=user,
                text=text,
                kind="appeal",
                category=category,
                now=when.astimezone(UTC),
                config=CONFIG,
            )

        def enterprise(user):
            return Actor("enterprise", user)

        t1 = new("厂里停电三次了", "operations", "e1")
        life(at(23)).accept(t1, people["gdgs"])
        life(at(27)).mark_overdue(t1)  # the sweep on Friday
        life(at(2, month=12)).auto_escalate(t1)  # and after the grace days
        assert t1.department.is_office
        life(at(2, 10, 12)).accept(t1, people["yingshang"])
        life(at(2, 11, 12)).resolve(t1, people["yingshang"], "已协调供电公司抢修")
        life(at(2, 12, 12)).rate(t1, enterprise("e1"), 5)

        t2 = new("车间总是跳闸", "operations", "e2")
        life(at(23)).accept(t2, people["gdgs"])
        life(at(24)).resolve(t2, people["gdgs"], "已检修")
        life(at(24, 12)).rate(t2, enterprise("e2"), 1)  # 重办, back to 供电公司
        life(at(24, 13)).accept(t2, people["gdgs"])
        life(at(25)).resolve(t2, people["gdgs"], "已更换开关")
        life(at(25, 12)).rate(t2, enterprise("e2"), 2)  # then 营商办 supervision
        assert t2.department.is_office and t2.status == "assigned"

        t3 = new("商标被人仿冒", "gov_service", "e3")
        assert t3.department.code == "scjg"
        life(at(23, 11)).return_(t3, people["scjg"], "属于审批局事项")
        shenpi = s.scalars(select(Department).where(Department.code == "shenpi")).one()
        life(at(23, 12)).assign(t3, people["yingshang"], shenpi)
        life(at(24)).accept(t3, people["shenpi"])
        life(at(25)).resolve(t3, people["shenpi"], "已办理")
        life(at(25, 12)).rate(t3, enterprise("e3"), 4)

        new("电压不稳", "operations", "e4")  # T4: never accepted

        east = service.enterprise_for(s, "web", "e5")
        east.region = "城东区"
        t5 = new("营业执照变更地址", "gov_service", "e5")
        assert t5.department.code == "cd_shenpi"
        life(at(23, 11)).accept(t5, people["cd_shenpi"])
        life(at(24)).resolve(t5, people["cd_shenpi"], "已变更")

        new("停电没有通知", "operations", "e6", when=at(1, 9, 12))  # T6
    return state


def ranking_of(report) -> dict[str, dict]:
    return {r["department"]: r for r in report["ranking"]}


def test_each_figure_is_charged_to_the_department_responsible_at_the_time(history):
    with history.Session() as s:
        report = stats.report(s, NOW, since=at(1))
    rows = ranking_of(report)
    power, office = rows["国网市供电公司"], rows["市营商环境建设局"]
    # T1 was escalated to 营商办 after running late: it stays in 供电公司's 超期, with the pending T4.
    assert power["overdue"] == 2 and power["overdue_open"] == 1
    assert power["on_time_rate"] == 0.5  # T2 twice on time; T1 handed on late, T4 pending late
    assert power["on_time_acceptance_rate"] == 0.6  # T1, T2 ×2 on time; T4 and T6 past their 签收 deadline
    # Both 不满意 ratings were of 供电公司's answers, although T2 is 营商办's now.
    assert power["satisfaction"] == 0.0 and power["redo_rate"] == 0.5 and power["resolved"] == 0
    assert office["satisfaction"] == 1.0 and office["overdue"] == 1  # T2: taken over, not acted on
    assert office["resolved"] == 1 and office["on_time_rate"] == 0.5
    # The department that returned a ticket is charged with it.
    assert rows["市市场监督管理局"]["return_rate"] == 1.0 and rows["市市场监督管理局"]["on_time_rate"] is None
    assert rows["市行政审批服务局"]["on_time_rate"] == 1.0 and rows["市行政审批服务局"]["satisfaction"] == 1.0
    assert [r["department"] for r in report["ranking"]] == [
        "市行政审批服务局",
        "城东区行政审批局",
        "市营商环境建设局",
        "国网市供电公司",
        "市市场监督管理局",
    ]


def test_the_whole_picture_counts_pending_late_tickets_and_not_reopened_ones(history):
    with history.Session() as s:
        f = stats.report(s, NOW, since=at(1))["figures"]
    assert f["total"] == 6 and f["open"] == 3  # T2 (reopened), T4, T6
    assert f["resolution_rate"] == 0.5  # T1, T3, T5: T2 was answered twice but is open again
    assert f["overdue"] == 3 and f["overdue_open"] == 2  # T1 (charged), T2 and T4 (open past due)
    assert f["on_time_rate"] == 0.625 and f["on_time_acceptance_rate"] == 0.6667
    assert f["satisfaction_rate"] == 0.5 and f["return_rate"] == 0.1 and f["redo_rate"] == 0.2
    assert f["supervised"] == 1


def test_filters_choose_the_tickets_for_every_figure_and_the_ranking(history):
    with history.Session() as s:
        until = stats.report(s, NOW, since=at(1), until=at(1, 0, 12))  # T6 submitted after
        east = stats.report(s, NOW, since=at(1), region="城东区")
        gdgs = s.scalars(select(Department).where(Department.code == "gdgs")).one().id
        mine = stats.report(s, NOW, since=at(1), department_id=gdgs)
    assert ranking_of(until)["国网市供电公司"]["on_time_acceptance_rate"] == 0.75
    assert [r["department"] for r in east["ranking"]] == ["城东区行政审批局"] and east["figures"]["total"] == 1
    # A department's own view: only what is charged to it, on the tickets it has held.
    assert mine["figures"]["total"] == 4 and mine["figures"]["overdue"] == 2 and mine["figures"]["on_time_rate"] == 0.5
    assert [r["department"] for r in mine["ranking"]] == ["国网市供电公司"]


def test_the_dashboard_follows_its_filters(history, client):
    sign_in(client, "yingshang")
    page = client.get("/console/dashboard?since=2026-11-01").get_data(as_text=True)
    assert 'id="fig-total">6<' in page and 'id="fig-overdue">3<' in page
    ranking = page.split('id="ranking"')[1].split("</table>")[0]
    assert ranking.index("市行政审批服务局") < ranking.index("市营商环境建设局") < ranking.index("国网市供电公司")
    east = client.get("/console/dashboard?since=2026-11-01&region=城东区").get_data(as_text=True)
    assert 'id="fig-total">1<' in east and "国网市供电公司" not in east.split('id="ranking"')[1].split("</table>")[0]
    early = client.get("/console/dashboard?since=2026-11-01&until=2026-11-30").get_data(as_text=True)
    assert 'id="fig-total">5<' in early


def test_the_monthly_summary_uses_the_same_charges(history, client):
    sign_in(client, "yingshang")
    body = client.get("/console/summary.csv?month=2026-11").get_data(as_text=True)
    line = next(row for row in body.splitlines() if "国网市供电公司" in row)
    assert line.split(",")[2:5] == ["3", "0", "2"]  # 受理 T1 T2 T4, 办结 none, 超期 T1 and T4
