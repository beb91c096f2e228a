"""The console in a real browser (headless Chromium through Playwright): an official signs in, accepts
and answers a ticket that came in through /api/messages, sees the dashboard change, exports the list."""
from __future__ import annotations

import os
import shutil
import threading

import pytest
from werkzeug.serving import make_server

from nlp.classifier import Prediction
from tests.stubs import StubClassifier
from tickets.demo import demo_password

CHROMIUM = os.environ.get("APPEALBOT_TEST_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on this machine (Debian package `chromium`)")


@pytest.fixture
def server(demo):
    demo.extensions["appealbot"].services.classifier = StubClassifier(default=Prediction("appeal", "gov_service", 0.9, []))
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
    assert "答复办结" not in page.inner_text("#timeline") and "resolve" in page.inner_text("#timeline")

    page.goto(server + "/console/dashboard")
    assert page.inner_text("#fig-resolution") == "100.0%"

    page.goto(server + "/console/")
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
