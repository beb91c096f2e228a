"""Exactly once: retries, also concurrent ones, produce one processing and the same reply."""
from __future__ import annotations

import threading

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
    from datetime import datetime, timezone

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
        return inbox.receive(IncomingMessage(channel="web", user_id="wTwin", type="text", text=f"第{n}条：厂区停电",
                                             created_at=datetime.now(timezone.utc), message_id=f"twin-{n}")).text

    replies, errors = at_once(send, 2)
    assert errors == [] and sorted(replies) == ["开始：第0条：厂区停电", "开始：第1条：厂区停电"]
    (state,) = db.scalars(select(DialogueState).where(DialogueState.user_id == "wTwin")).all()
    assert state.flow == "demo" and state.data["text"] in ("第0条：厂区停电", "第1条：厂区停电")
    assert db.scalar(select(func.count()).select_from(InboundMessage).where(InboundMessage.status == "handled")) == 2
