"""Faults the scaled-out deployment must survive (issue 8): a queue worker killed mid-job, the WeCom
API failing or hanging, PostgreSQL restarted under traffic, Redis gone or frozen.

They run against real PostgreSQL and Redis and skip, saying why, where those are missing. Each test
builds what it breaks: a PostgreSQL schema of its own (whichever database the rest of the run
uses), a Redis queue of its own, a private redis-server when Redis has to go down or freeze.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError

from bot.app import create_app
from core import ticket_number
from delivery import deliver as outbound
from delivery import sender as senders
from handlers.models import InboundMessage
from tests.conftest import WECHAT
from tests.fake_platform import FakePlatform
from tests.fault_helpers import (
    REDIS_URL,
    Misbehaviour,
    PrivateRedis,
    RetryingWeChat,
    Worker,
    app_env,
    cli,
    forget_queue,
    local_cluster,
    postgres_missing,
    private_schema,
    redis_missing,
    reset_stale_pools,
    restart_cluster,
    sends_to,
    wait_for,
)
from tests.platforms import WeChatServer, fresh_rate_window, message_xml
from tickets import service
from tickets.models import Notification

POWER = "厂里变压器容量不够，申请增容报装一个多月了还没批下来"  # operations → 国网市供电公司 (gdgs)
LOAN = "流动资金紧张，申请的应急转贷资金一直没有批复"  # finance → 市地方金融管理局 (jrb)


@pytest.fixture
def pg_url():
    reason = postgres_missing()
    if reason:
        pytest.skip(reason)
    with private_schema() as url:
        yield url


@pytest.fixture
def redis_queue():
    reason = redis_missing()
    if reason:
        pytest.skip(reason)
    name = f"appealbot-faults-{uuid.uuid4().hex[:8]}"
    yield REDIS_URL, name
    forget_queue(REDIS_URL, name)


@pytest.fixture
def platform():
    with FakePlatform() as fake:
        yield fake


@pytest.fixture
def misbehaving(platform):
    return Misbehaviour(platform)


@pytest.fixture
def private_redis(tmp_path):
    reason = PrivateRedis.missing()
    if reason:
        pytest.skip(reason)
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()


def platform_keys(platform) -> dict:
    return {
        "WECOM_SECRET": "wecom-secret",
        "WECOM_AGENT_ID": "1000002",
        "WECOM_API_BASE": platform.base,
        "WECHAT_API_BASE": platform.base,
    }


def with_demo(app):
    from bot.demo import load_demo_data

    with app.extensions["appealbot"].Session() as s, s.begin():
        load_demo_data(s)
    return app


def new_ticket(app, text: str = POWER, category: str = "operations", user: str = "oFault") -> str:
    with app.extensions["appealbot"].Session() as s, s.begin():
        return service.create_ticket(s, channel="web", user_id=user, text=text, kind="appeal", category=category).number


def notices(app) -> dict[str, Notification]:
    """recipient -> its notification (one each in these tests)."""
    with app.extensions["appealbot"].Session() as s:
        return {n.recipient: n for n in s.scalars(select(Notification).order_by(Notification.id))}


def notices_of(app) -> list[Notification]:
    with app.extensions["appealbot"].Session() as s:
        return list(s.scalars(select(Notification)))


def inbound(app) -> dict[str, InboundMessage]:
    with app.extensions["appealbot"].Session() as s:
        return {m.dedupe_key: m for m in s.scalars(select(InboundMessage))}


# -- the queue worker killed mid-job --------------------------------------------------------------


def test_a_worker_killed_mid_delivery_is_replaced_and_the_notice_goes_out_once(
    config, pg_url, redis_queue, platform, misbehaving, tmp_path
):
    url, name = redis_queue
    misbehaving.plan("gdgs", "hold")  # the first send stays in flight until the test lets it go
    settings = {
        **config,
        "DATABASE_URL": pg_url,
        "QUEUE": "redis",
        "REDIS_URL": url,
        "QUEUE_NAME": name,
        **platform_keys(platform),
    }
    app = create_app(settings)
    first = Worker(app_env(settings), tmp_path / "worker-1.log")
    second = None
    try:
        number = new_ticket(app)
        assert misbehaving.arrived.wait(30), "the worker never called the platform:\n" + first.output()
        first.kill()  # SIGKILL while the send is in flight: no clean-up, the outbox row untouched
        misbehaving.release.set()  # the platform sees the connection drop and delivers nothing
        assert (notices(app)["gdgs"].status, notices(app)["gdgs"].attempts) == ("pending", 0)

        # huey dropped the job with the process; the outbox keeps the notice, and a (re)started worker
        # delivers what it holds (a delivery and the periodic sweep are enqueued as it starts)
        second = Worker(app_env(settings), tmp_path / "worker-2.log")
        assert wait_for(lambda: sends_to(platform, "gdgs", number), 30), second.output()
        time.sleep(1.0)  # room for a second send, if one were coming
        assert len(sends_to(platform, "gdgs", number)) == 1
        assert misbehaving.calls["gdgs"] == 2  # the interrupted call, then the one that went through
        assert notices(app)["gdgs"].status == "sent"
    finally:
        misbehaving.release.set()
        for worker in (first, second):
            if worker is not None:
                worker.stop()
        app.extensions["appealbot"].engine.dispose()


# -- the WeCom API answering errors or hanging ------------------------------------------------------


def test_wecom_errors_and_timeouts_back_off_then_end_failed_listed_and_nothing_is_lost(
    config, pg_url, platform, misbehaving
):
    misbehaving.hang = 1.0
    # every kind of failure, more often than the attempts allowed; another department's send fails once
    script = ["error", "hang", "busy", "hang", "error", "busy", "hang", "error"]
    expected_error = {"error": "WeChatClientException", "busy": "WeChatClientException", "hang": "Timeout"}
    misbehaving.plan("gdgs", *script)
    misbehaving.plan("jrb", "hang")
    settings = {**config, "DATABASE_URL": pg_url, **platform_keys(platform)}
    app = create_app(settings)
    state = app.extensions["appealbot"]
    try:
        sender = senders.Sender(app.config, state.Session)
        sender.wecom.timeout = 0.3  # the client's patience, shortened: a hang becomes a timeout quickly
        power = new_ticket(app)
        loan = new_ticket(app, LOAN, "finance", user="oFault2")
        moment = datetime.now(UTC)
        assert len(script) == senders.MAX_ATTEMPTS
        for attempt, answer in enumerate(script, 1):
            calls = misbehaving.calls.get("gdgs", 0)
            outbound.deliver_pending(state.Session, sender, moment)
            row = notices(app)["gdgs"]
            assert misbehaving.calls["gdgs"] == calls + 1 and row.attempts == attempt
            assert expected_error[answer] in row.last_error
            if attempt == senders.MAX_ATTEMPTS:
                break
            backoff = timedelta(seconds=30 * 2 ** (attempt - 1))
            assert row.status == "pending" and row.next_attempt_at == moment + backoff
            outbound.deliver_pending(state.Session, sender, moment + backoff - timedelta(seconds=1))
            assert misbehaving.calls["gdgs"] == calls + 1  # not a moment before its time
            moment += backoff

        rows = notices(app)
        assert rows["gdgs"].status == "failed" and rows["gdgs"].attempts == senders.MAX_ATTEMPTS
        assert rows["jrb"].status == "sent" and misbehaving.calls["jrb"] == 2  # a hang, then delivered
        assert len(sends_to(platform, "jrb", loan)) == 1 and not sends_to(platform, "gdgs")
        assert {n.status for n in rows.values()} == {"sent", "failed"}  # nothing left in between, nothing gone

        listed = cli(app_env(settings), "notifications", "--status", "failed")
        assert listed.returncode == 0, listed.stderr
        lines = [json.loads(line) for line in listed.stdout.splitlines()]
        assert [(n["recipient"], n["attempts"]) for n in lines] == [("gdgs", senders.MAX_ATTEMPTS)]
        assert power in lines[0]["title"] and "WeChatClientException" in lines[0]["error"]
    finally:
        state.engine.dispose()


def test_two_deliveries_running_at_once_send_a_notice_once(config, pg_url, platform, misbehaving):
    """A worker's threads, or several workers, deliver at the same moment: the outbox row lock decides."""
    misbehaving.hang = 0.5
    misbehaving.plan("gdgs", "slow", "slow")
    app = create_app({**config, "DATABASE_URL": pg_url, **platform_keys(platform)})
    state = app.extensions["appealbot"]
    try:
        number = new_ticket(app)
        start = threading.Barrier(2)
        now = datetime.now(UTC)

        def deliver():
            sender = senders.Sender(app.config, state.Session)
            start.wait()
            outbound.deliver_pending(state.Session, sender, now)

        threads = [threading.Thread(target=deliver) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert len(sends_to(platform, "gdgs", number)) == 1
    finally:
        state.engine.dispose()


# -- PostgreSQL restarted under traffic ----------------------------------------------------------


def test_postgresql_restarted_under_traffic_answers_503_briefly_recovers_and_loses_nothing(config, pg_url):
    """Restarts the machine's PostgreSQL for a second or two, so any other test run using the server
    at that moment sees its connections drop; APPEALBOT_TEST_NO_PG_RESTART=1 skips it there."""
    if os.environ.get("APPEALBOT_TEST_NO_PG_RESTART"):
        pytest.skip("APPEALBOT_TEST_NO_PG_RESTART is set (other runs share this PostgreSQL server)")
    version, why = local_cluster()
    if version is None:
        pytest.skip(why)
    # one client address sends everything here, as WeChat's few callback servers do
    app = create_app({**config, "DATABASE_URL": pg_url, "RATE_LIMIT_ADDR": 0})
    wechat = RetryingWeChat(app)
    stop = threading.Event()

    def enterprise(n: int) -> None:
        i = 0
        while not stop.is_set():
            user = f"oRestart{n}x{i}"
            status, reply = wechat.send(user, POWER)
            if status == 200 and "企业名称" in reply:  # the conversation goes on: its state must survive
                wechat.send(user, f"重启测试{n}号{i}有限公司")
            i += 1

    senders = [threading.Thread(target=enterprise, args=(n,)) for n in range(4)]
    try:
        for t in senders:
            t.start()
        assert wait_for(lambda: wechat.answers().count(200) >= 10, 10), "no traffic before the restart"
        took = restart_cluster(version)
        back = time.monotonic()
        recovered = wait_for(lambda: wechat.answers(since=back).count(200) >= 20, 15)
        stop.set()
        for t in senders:
            t.join(30)  # a refused delivery is retried 5 s later, as WeChat does
        statuses = wechat.answers()
        assert recovered, f"no recovery within 15 s of the restart (it took {took:.1f} s): {statuses[-20:]}"
        assert 503 in statuses, "the restart was not seen: no delivery failed while PostgreSQL was down"
        assert set(statuses) <= {200, 503}, f"answers other than 200 and 503: {sorted(set(statuses))}"
        assert not wechat.unanswered(), "deliveries still refused when WeChat's retries ran out"

        stored = inbound(app)
        lost = {}
        for key, reply in wechat.accepted().items():
            row = stored.get(key)
            if row is None or row.status != "handled" or not reply or (row.reply or {}).get("text") != reply:
                lost[key] = (row.status if row is not None else "missing", reply)
        assert not lost, (
            f"{len(lost)} of {len(stored)} messages accepted (a 200 ends WeChat's retries) but "
            f"not handled, (status, reply): {lost}"
        )
    finally:
        stop.set()
        for t in senders:
            t.join(30)
        app.extensions["appealbot"].engine.dispose()
        reset_stale_pools()


def _database_down(*args, **kwargs):
    raise OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly"))


def test_a_message_whose_handling_died_with_the_database_is_handled_on_the_retry(app, wechat, monkeypatch):
    """The window the restart test lands in, made certain: the message is stored, then the database
    goes away before its handling (or the record of its failure) commits; the delivery gets a 503."""
    inbox = app.extensions["appealbot"].inbox
    xml = message_xml("text", user="oWindow", content=POWER)
    with monkeypatch.context() as patch:
        patch.setattr(inbox.router, "handle", _database_down)
        patch.setattr(inbox, "_mark", _database_down)
        assert wechat.post(xml).status_code == 503  # WeChat will retry
    with app.extensions["appealbot"].Session() as s, s.begin():  # ... five seconds later
        five_seconds_ago = datetime.now(UTC) - timedelta(seconds=5)
        s.execute(update(InboundMessage).values(received_at=five_seconds_ago, lease_until=five_seconds_ago))
    retry = wechat.post(xml)  # the database is back
    assert retry.status_code == 200 and "企业名称" in wechat.reply_of(retry).get("Content", "")
    assert [m.status for m in inbound(app).values()] == ["handled"]


# -- Redis down -------------------------------------------------------------------------------------


def complete_appeal(server: WeChatServer, user: str, timings: list[float] | None = None) -> str:
    """The four messages of an appeal; returns the ticket number from the last reply."""
    replies = []
    for text in (POWER, f"{user}测试有限公司", "13912345678", "1"):
        started = time.monotonic()
        replies.append(server.say(text, user=user))
        if timings is not None:
            timings.append(time.monotonic() - started)
    assert "企业名称" in replies[0] and "联系电话" in replies[1] and "确认提交" in replies[2], replies
    assert "已受理" in replies[3], replies
    return ticket_number.parse(replies[3])


def test_with_redis_down_the_bot_answers_from_the_database_and_the_queue_catches_up(
    config, platform, private_redis, tmp_path
):
    name = f"appealbot-faults-{uuid.uuid4().hex[:8]}"
    settings = {
        **config,
        "QUEUE": "redis",
        "REDIS_URL": private_redis.url,
        "QUEUE_NAME": name,
        "RATE_LIMIT_USER": 5,
        **platform_keys(platform),
    }
    app = with_demo(create_app(settings))
    server = WeChatServer(app.test_client(), **WECHAT)
    worker = None
    try:
        before = complete_appeal(server, "oRedisUp")  # its delivery job waits in Redis (no worker yet)
        private_redis.stop()

        timings: list[float] = []
        during = complete_appeal(server, "oRedisDown", timings)  # rate limit, state, ticket: no Redis
        assert max(timings) < 1.5, f"a request waited on the dead Redis: {timings}"
        fresh_rate_window()
        flood = [server.say("你好", user="oRedisFlood") for _ in range(6)]
        assert [("频繁" in reply) for reply in flood] == [False] * 5 + [True]  # counted in this process
        stored = inbound(app)
        assert len(stored) == 4 + 4 + 5 and {m.status for m in stored.values()} == {"handled"}
        waiting = notices_of(app)
        assert waiting and {n.status for n in waiting} == {"pending"}  # in the outbox, not lost

        private_redis.start()  # back on the same port, empty: the queued job is gone with it
        worker = Worker(app_env(settings), tmp_path / "worker.log")
        recipients = {n.recipient for n in waiting}
        assert wait_for(
            lambda: all(sends_to(platform, r, before) and sends_to(platform, r, during) for r in recipients), 30
        ), worker.output()
        time.sleep(0.5)
        assert all(len(sends_to(platform, r, n)) == 1 for r in recipients for n in (before, during))
        assert {n.status for n in notices_of(app)} == {"sent"}
    finally:
        if worker is not None:
            worker.stop()
        app.extensions["appealbot"].engine.dispose()
        forget_queue(private_redis.url, name)


def test_a_frozen_redis_does_not_hold_the_webhook(config, platform, private_redis):
    """A Redis that takes connections but does not answer (frozen, overloaded, a half-open network)
    must cost a message far less than WeChat's 5 s: the rate limiter and the enqueue after a ticket's
    commit both wait on it, and a waiting request holds one of gunicorn's few threads."""
    settings = {
        **config,
        "QUEUE": "redis",
        "REDIS_URL": private_redis.url,
        "QUEUE_NAME": f"appealbot-faults-{uuid.uuid4().hex[:8]}",
        **platform_keys(platform),
    }
    app = with_demo(create_app(settings))
    try:
        private_redis.freeze()
        timings: list[float] = []
        complete_appeal(WeChatServer(app.test_client(), **WECHAT), "oRedisFrozen", timings)
        assert max(timings) < 3.0, f"seconds per message with Redis frozen: {[round(t, 2) for t in timings]}"
    finally:
        private_redis.thaw()
        app.extensions["appealbot"].engine.dispose()
