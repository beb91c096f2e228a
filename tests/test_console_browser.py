"""The console in a real browser (headless Chromium through Playwright): an official signs in, accepts
and answers a ticket that came in through /api/messages, sees the dashboard change, exports the list;
and on a phone-sized screen (390 px, as officials open ticket links from 企业微信) the queue, a ticket
and the dashboard fit the screen. The phone screenshots are written to var/screenshots/ (or to
$APPEALBOT_TEST_SCREENSHOTS) for people to look at."""

from __future__ import annotations

import os
import shutil
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from bot.demo import demo_password
from nlp.classifier import Prediction
from tests.stubs import StubClassifier

CHROMIUM = os.environ.get("APPEALBOT_TEST_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on this machine (Debian package `chromium`)")


@pytest.fixture
def server(demo):
    demo.extensions["appealbot"].services.classifier = StubClassifier(
        default=Prediction("appeal", "gov_service", 0.9, [])
    )
    httpd = make_server("127.0.0.1", 0, demo, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()


@pytest.fixture
def page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        context = browser.new_context(accept_downloads=True)
        yield context.new_page()
        browser.close()


def submit_appeal(page, server):
    page.goto(server + "/")
    for text in ("营业执照变更地址，窗口说材料不全退回三次了", "城东精工机械有限公司", "13812345678", "1"):
        page.fill("#text", text)
        page.press("#text", "Enter")
        page.wait_for_timeout(300)
    reply = page.locator(".bubble").last.inner_text()
    assert "已受理" in reply
    return reply.split("诉求编号 ")[1].split("，")[0]


def test_an_official_handles_a_ticket_end_to_end(server, page, tmp_path):
    number = submit_appeal(page, server)

    page.goto(server + "/console/")
    page.fill("#login", "yingshang")
    page.fill("#password", demo_password("yingshang"))
    page.click("button[type=submit]")
    page.goto(server + "/console/dashboard")
    assert page.inner_text("#fig-total") == "1"
    assert page.inner_text("#fig-resolution") == "0.0%"
    assert page.evaluate("typeof Chart") == "function"  # the locally served charting library ran

    page.goto(server + "/console/")
    page.click(f"text={number}")
    page.click("#form-accept button")
    assert page.inner_text("#status") == "办理中"
    page.fill("#resolve-text", "已核实，材料齐全，当日办结变更登记")
    page.click("#form-resolve button")
    assert page.inner_text("#status") == "已答复待评价"
    history = page.inner_text("#timeline")
    assert "答复办结" in history and "营商办督办员（市营商环境建设局）" in history  # Chinese, and who did it
    assert "resolve" not in history and "system:" not in history and "official:" not in history

    page.goto(server + "/console/dashboard")
    assert page.inner_text("#fig-resolution") == "100.0%"

    page.goto(server + "/console/")
    page.click("#more-filters summary")
    with page.expect_download() as download:
        page.click("text=导出 CSV")
    path = tmp_path / "list.csv"
    download.value.save_as(path)
    assert number in path.read_text(encoding="utf-8-sig")


def test_a_department_official_cannot_open_another_departments_ticket(server, page):
    number = submit_appeal(page, server)
    page.goto(server + "/console/login")
    page.fill("#login", "scjg")
    page.fill("#password", demo_password("scjg"))
    page.click("button[type=submit]")
    response = page.goto(server + f"/console/tickets/{number}")
    assert response.status == 404


# -- phone width --------------------------------------------------------------------------------

PHONE = {"width": 390, "height": 844}
SCREENSHOTS = Path(
    os.environ.get("APPEALBOT_TEST_SCREENSHOTS") or Path(__file__).resolve().parent.parent / "var" / "screenshots"
)

# Every visible element's box, against the viewport: what sticks out to the right (or the page
# itself being wider than the screen) is what makes a phone scroll sideways.
OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const out = [];
  for (const el of document.querySelectorAll("body *")) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    if (r.right > width + 0.5 || r.left < -0.5)
      out.push(`${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""}.${el.className} ${Math.round(r.left)}..${Math.round(r.right)}`);
  }
  return {width, scrollWidth: document.documentElement.scrollWidth, out: out.slice(0, 10)};
}"""


@pytest.fixture
def phone():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
        yield context.new_page()
        browser.close()


@pytest.fixture
def busy(demo):
    """A queue worth looking at: appeals and complaints of several departments, one overdue, one
    reopened for 重办 and under 督办, one anonymous, one waiting for an extension."""
    from sqlalchemy import select

    from tickets import service
    from tickets.lifecycle import Actor, Lifecycle
    from tickets.models import Official

    state = demo.extensions["appealbot"]
    moment = state.services.clock()
    with state.Session() as s, s.begin():
        people = {o.wecom_user_id: Actor.of(o) for o in s.scalars(select(Official))}
        ent = service.enterprise_for(s, "web", "phone-e1")
        ent.name, ent.phone = "城东精工机械股份有限公司（新乡高新技术产业开发区分公司）", "13899912345"
        texts = [
            ("厂里新上两条生产线，变压器容量不够，申请增容报装一个多月了还没批下来，影响投产", "operations", "appeal"),
            ("营业执照变更地址，窗口说材料不全退回三次了", "gov_service", "appeal"),
            ("公积金缴存比例想下调，需要什么材料", "social_security", "appeal"),
            ("执法队一个月来查了四次，每次都说是例行检查", "random_inspection", "complaint"),
        ]
        numbers = []
        for i, (text, category, kind) in enumerate(texts):
            t = service.create_ticket(
                s,
                channel="web",
                user_id="phone-e1",
                text=text,
                kind=kind,
                category=category,
                now=moment - timedelta(days=12 - i),
                anonymous=kind == "complaint",
            )
            numbers.append(t.number)
        late = service.find(s, numbers[0])
        life = Lifecycle(s, moment - timedelta(days=11), {})
        life.accept(late, people["gdgs"])
        life.resolve(late, people["gdgs"], "已安排勘查")
        life.rate(late, Actor("enterprise", "phone-e1"), 1)  # 重办
        late.supervised = True
        pending = service.find(s, numbers[1])
        Lifecycle(s, moment, {}).accept(pending, people["shenpi"])
    return numbers


def _sign_in(page, server, login):
    page.goto(server + "/console/login")
    page.fill("#login", login)
    page.fill("#password", demo_password(login))
    page.click("button[type=submit]")


def _fits(page, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"phone-{name}.png"), full_page=True)
    found = page.evaluate(OVERFLOW)
    assert found["scrollWidth"] <= found["width"] == PHONE["width"], found
    assert found["out"] == [], found


def test_the_queue_ticket_and_dashboard_fit_a_phone(server, phone, busy):
    _sign_in(phone, server, "yingshang")
    phone.goto(server + "/console/")
    _fits(phone, "queue")
    # tickets are cards, not a table squeezed to one character a line
    first = phone.locator("#queue tbody tr").first.bounding_box()
    assert first["width"] > 300 and phone.locator("#queue tbody tr").count() == 4
    assert phone.locator("#queue .tag.redo").count() == 1 and phone.locator("#queue .tag.supervised").count() == 1

    phone.goto(server + f"/console/tickets/{busy[0]}")
    _fits(phone, "ticket")
    assert phone.is_visible("#mark-redo") and phone.is_visible("#mark-supervised") and phone.is_visible("#sla")
    # the next step comes first on a phone, and at most three actions before 更多
    actions, timeline = phone.locator("#actions").bounding_box(), phone.locator("#timeline").bounding_box()
    assert actions["y"] < timeline["y"]
    assert phone.locator("#actions > form.action").count() <= 3 and phone.is_visible("#more-actions summary")

    phone.goto(server + "/console/dashboard")
    phone.wait_for_timeout(300)  # the charts draw
    _fits(phone, "dashboard")
    assert phone.locator("#ranking tbody tr").count() >= 3
