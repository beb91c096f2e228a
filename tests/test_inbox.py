"""Exactly once: retries, also concurrent ones, produce one processing and the same reply."""

from __future__ import annotations

import threading
from datetime import UTC

import pytest
from sqlalchemy import func, select

from handlers.messages import Reply
from handlers.models import InboundMessage
from handlers.registry import INTENTS
from tests.platforms import message_xml


def counting_handler(monkeypatch, delay: float = 0.0):
    calls = []

    def handler(message, ctx):
        calls.append(message.text)
        if delay:
            import time

            time.sleep(delay)
        return Reply(f"第{len(calls)}次处理")

    monkeypatch.setitem(INTENTS, "appeal", handler)
    return calls


def at_once(deliver, n: int) -> tuple[list, list]:
    """Runs deliver(0) … deliver(n-1) on threads at the same time: (their results, their exceptions)."""
    results, errors = [], []

    def run(i: int) -> None:
        try:
            results.append(deliver(i))
        except Exception as exc:  # surfaced by the caller's assertion
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, errors


def test_three_identical_deliveries_are_processed_once(wechat, db, monkeypatch):
    calls = counting_handler(monkeypatch)
    xml = message_xml("text", user="oRetry", content="电一直停", msg_id=1234567890123)
    replies = [wechat.reply_of(wechat.post(xml, params=wechat.params(nonce=str(n)))) for n in range(3)]
    assert calls == ["电一直停"]
    assert [r["Content"] for r in replies] == ["第1次处理"] * 3
    assert db.scalar(select(func.count()).select_from(InboundMessage)) == 1


def test_concurrent_retries_from_threads_are_processed_once(app, monkeypatch):
    from tests.conftest import WECHAT
    from tests.platforms import WeChatServer

    calls = counting_handler(monkeypatch, delay=0.3)
    xml = message_xml("text", user="oRace", content="用气报装", msg_id=99887766554433)

    def deliver(n: int) -> dict:
        server = WeChatServer(app.test_client(), **WECHAT)
        return server.reply_of(server.post(xml, params=server.params(nonce=f"n{n}")))

    results, errors = at_once(deliver, 4)
    assert errors == []
    assert calls == ["用气报装"]
    assert sorted(r.get("Content", "") for r in results) == ["第1次处理"] * 4


def test_events_are_deduplicated_by_sender_and_time(wechat, monkeypatch, db):
    xml = message_xml("event", user="oSub", Event="subscribe", create_time=1763800000)
    for n in range(2):
        wechat.post(xml, params=wechat.params(nonce=str(n)))
    assert db.scalar(select(func.count()).select_from(InboundMessage)) == 1


def test_a_failing_handler_keeps_the_message_and_apologises(wechat, db, monkeypatch):
    def broken(message, ctx):
        raise RuntimeError("boom")

    monkeypatch.setitem(INTENTS, "appeal", broken)
    reply = wechat.say("水管爆了没人管", user="oFail")
    assert "消息已经记录" in reply and "boom" not in reply
    row = db.scalars(select(InboundMessage)).one()
    assert row.status == "failed" and row.text == "水管爆了没人管" and "RuntimeError" in row.error


def test_a_retry_after_a_failure_is_handled_again(wechat, db, monkeypatch):
    state = {"fail": True}

    def flaky(message, ctx):
        if state["fail"]:
            state["fail"] = False
            raise RuntimeError("database hiccup")
        return Reply("已受理")

    monkeypatch.setitem(INTENTS, "appeal", flaky)
    xml = message_xml("text", user="oFlaky", content="停电三天了", msg_id=5550001)
    first = wechat.reply_of(wechat.post(xml, params=wechat.params(nonce="a")))
    second = wechat.reply_of(wechat.post(xml, params=wechat.params(nonce="b")))
    assert "消息已经记录" in first["Content"]
    assert second["Content"] == "已受理"
    assert db.scalars(select(InboundMessage)).one().status == "handled"


def test_two_first_messages_of_one_user_at_once_both_get_their_flow(app, db, monkeypatch):
    # Each opens a flow; the second to commit keeps its own (an upsert, not a unique violation).
    from datetime import datetime

    from handlers.messages import IncomingMessage
    from handlers.models import DialogueState

    entered = threading.Barrier(2)

    def opening(message, ctx):
        ctx.state.start("demo", text=message.text)
        entered.wait(timeout=10)  # both have read "no state" before either writes
        return Reply(f"开始：{message.text}")

    monkeypatch.setitem(INTENTS, "appeal", opening)
    inbox = app.extensions["appealbot"].inbox

    def send(n: int) -> str:
        return inbox.receive(
            IncomingMessage(
                channel="web",
                user_id="wTwin",
                type="text",
                text=f"第{n}条：厂区停电",
                created_at=datetime.now(UTC),
                message_id=f"twin-{n}",
            )
        ).text

    replies, errors = at_once(send, 2)
    assert errors == [] and sorted(replies) == ["开始：第0条：厂区停电", "开始：第1条：厂区停电"]
    (state,) = db.scalars(select(DialogueState).where(DialogueState.user_id == "wTwin")).all()
    assert state.flow == "demo" and state.data["text"] in ("第0条：厂区停电", "第1条：厂区停电")
    assert db.scalar(select(func.count()).select_from(InboundMessage).where(InboundMessage.status == "handled")) == 2


# -- a delivery is owned by one handler at a time (issue 16, item 4) ---------------------------------


def ticket_making_handler(monkeypatch, delay: float = 0.0):
    """Opens a ticket for every message it handles, then takes `delay` seconds: a slow confirmation."""
    from tickets import service

    calls = []

    def handler(message, ctx):
        calls.append(message.text)
        ticket = service.create_ticket(
            ctx.session,
            channel=ctx.channel,
            user_id=ctx.user_id,
            text=message.text,
            kind="appeal",
            category="operations",
            now=ctx.now,
        )
        if delay:
            import time

            time.sleep(delay)
        return Reply(f"已受理 {ticket.number}")

    monkeypatch.setitem(INTENTS, "appeal", handler)
    return calls


def tickets_of(app) -> int:
    from tickets.models import Ticket

    with app.extensions["appealbot"].Session() as s:
        return s.scalar(select(func.count()).select_from(Ticket))


@pytest.fixture(params=["database", "redis"])
def door(request, config):
    """The app as deployed: the database alone, or with Redis noting deliveries at the door (a
    retry is then looked up before anything is inserted)."""
    from bot.app import create_app
    from bot.demo import load_demo_data

    settings = dict(config)
    if request.param == "redis":
        from tests.fault_helpers import REDIS_URL, redis_missing

        reason = redis_missing()
        if reason:
            pytest.skip(reason)
        settings["REDIS_URL"] = REDIS_URL
    app = create_app(settings)
    with app.extensions["appealbot"].Session() as s, s.begin():
        load_demo_data(s)
    yield app
    app.extensions["appealbot"].engine.dispose()


@pytest.mark.parametrize("writes_first", [True, False], ids=["opens-a-ticket-then-waits", "waits-then-answers"])
def test_a_slow_handler_is_waited_for_not_taken_over(door, monkeypatch, writes_first):
    # The audit: a retry took over a delivery that was slow, not dead, after RETRY_WAIT, and one
    # message made two tickets. (On SQLite a handler that has written holds the database's write
    # lock, which used to hide the fault; one that is slow before it writes did not.)
    import random
    import time

    from tests.conftest import WECHAT
    from tests.platforms import WeChatServer

    demo = door
    inbox = demo.extensions["appealbot"].inbox
    inbox.retry_wait, inbox.claim_grace = 1.0, 0.3
    if writes_first:
        calls = ticket_making_handler(monkeypatch, delay=3.0)
    else:
        calls = counting_handler(monkeypatch, delay=3.0)
    msg_id = random.randrange(10**15, 10**16)  # Redis remembers a delivery's key for five minutes
    xml = message_xml("text", user="oSlow", content="变压器增容申请一个月没批", msg_id=msg_id)

    def deliver(n: int) -> str:
        time.sleep(n * 1.4)  # WeChat's retries come while the first is still working
        server = WeChatServer(demo.test_client(), **WECHAT)
        return server.reply_of(server.post(xml, params=server.params(nonce=f"s{n}"))).get("Content", "")

    replies, errors = at_once(deliver, 3)
    assert errors == []
    assert calls == ["变压器增容申请一个月没批"] and tickets_of(demo) == (1 if writes_first else 0)
    answered = [r for r in replies if r]
    assert answered and len(set(answered)) == 1


def test_a_delivery_that_lost_its_claim_changes_nothing(demo, monkeypatch):
    # Whatever the timing, the handler's last write names its owner: a handler that is no longer the
    # owner rolls back, and the message is handled once, by the one that is.
    inbox = demo.extensions["appealbot"].inbox
    inbox.claim_grace = 0.2
    ticket_making_handler(monkeypatch)
    real_store = inbox._store
    monkeypatch.setattr(
        inbox, "_store", lambda message: (lambda claim: claim and (claim[0], "not-the-owner"))(real_store(message))
    )
    from datetime import datetime

    from handlers.messages import IncomingMessage

    message = IncomingMessage(
        channel="web",
        user_id="wFence",
        type="text",
        text="停电三天了",
        created_at=datetime.now(UTC),
        message_id="fence-1",
    )
    reply = inbox.receive(message)
    assert reply.text.startswith("已受理 YQ-") and tickets_of(demo) == 1
    with demo.extensions["appealbot"].Session() as s:
        row = s.scalars(select(InboundMessage)).one()
    assert row.status == "handled" and row.owner != "not-the-owner"


def test_a_held_row_is_not_taken_over_and_a_released_one_is(app, monkeypatch, database_url):
    """PostgreSQL: the owner's row lock is what says it is alive; its lease only covers the moment
    before it takes the lock. (SQLite has no row locks: the process's own list says it there.)"""
    from datetime import datetime, timedelta

    from sqlalchemy import create_engine, text

    if not database_url.startswith("postgresql"):
        pytest.skip("row locks: PostgreSQL only (SQLite's liveness is the process's own, tested above)")
    inbox = app.extensions["appealbot"].inbox
    inbox.retry_wait = 0.6
    calls = counting_handler(monkeypatch)
    xml = message_xml("text", user="oHeld", content="用气报装", msg_id=77002)
    from tests.conftest import WECHAT
    from tests.platforms import WeChatServer

    server = WeChatServer(app.test_client(), **WECHAT)
    with app.extensions["appealbot"].Session() as s, s.begin():  # stored by a delivery that then stalled
        s.add(
            InboundMessage(
                channel="wechat",
                dedupe_key="wechat:id:77002",
                user_id="oHeld",
                msg_type="text",
                text="用气报装",
                raw="",
                status="received",
                owner="a" * 32,
                lease_until=datetime.now(UTC) - timedelta(seconds=5),
            )
        )
    engine = create_engine(database_url)
    holder = engine.connect()
    holder.begin()
    holder.execute(text("SELECT id FROM inbound_messages WHERE dedupe_key = 'wechat:id:77002' FOR UPDATE"))
    assert server.reply_of(server.post(xml)) == {} and calls == []  # alive, however slow: waited for
    holder.rollback()  # the owner's connection is gone
    holder.close()
    engine.dispose()
    assert server.reply_of(server.post(xml, params=server.params(nonce="again")))["Content"] == "第1次处理"
    assert calls == ["用气报装"]
