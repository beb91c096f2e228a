"""Rate limits per user and per address; Redis shares them between processes, and its loss is survived."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot.app import create_app
from bot.ratelimit import RateLimiter
from handlers.models import InboundMessage
from tests.conftest import WECHAT
from tests.platforms import WeChatServer, fresh_rate_window, message_xml, post_message

REDIS_URL = "redis://127.0.0.1:6379/15"


def test_window_counts_and_resets():
    limiter = RateLimiter()
    assert [limiter.allow("user", "a", 3, now=1000.0) for _ in range(4)] == [True, True, True, False]
    assert limiter.allow("user", "b", 3, now=1000.0)  # another key has its own budget
    assert limiter.allow("user", "a", 3, now=1060.0)  # next window


def test_zero_means_no_limit():
    limiter = RateLimiter()
    assert all(limiter.allow("addr", "x", 0) for _ in range(1000))


@pytest.fixture
def limited(config):
    app = create_app({**config, "RATE_LIMIT_USER": 3, "RATE_LIMIT_ADDR": 5})
    fresh_rate_window()
    yield app
    app.extensions["appealbot"].engine.dispose()


def count(app) -> int:
    with app.extensions["appealbot"].Session() as s:
        return s.scalar(select(func.count()).select_from(InboundMessage))


def test_api_user_over_the_limit_gets_429_and_nothing_is_stored(limited):
    client = limited.test_client()
    codes = [post_message(client, "你好", "flood").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    assert count(limited) == 3


def test_address_over_the_limit_gets_429(limited):
    client = limited.test_client()
    codes = [post_message(client, "你好", f"u{i}").status_code for i in range(6)]
    assert codes[-1] == 429 and codes[:5] == [200] * 5
    assert client.get("/healthz").status_code == 200  # health checks are never limited


def test_the_platforms_many_users_from_one_address_are_not_limited_by_address(limited):
    server = WeChatServer(limited.test_client(), **WECHAT)
    replies = [server.say("你好", user=f"oUser{i}") for i in range(8)]  # 8 users > 5 per address
    assert all("频繁" not in r and r for r in replies)


def test_wechat_user_over_the_limit_is_told_the_message_did_not_arrive_and_when_to_resend(limited):
    # The audit: the message over the limit was dropped while the reply said it had arrived.
    server = WeChatServer(limited.test_client(), **WECHAT)
    replies = [server.say("你好", user="oFlood") for _ in range(4)]
    assert "频繁" in replies[-1] and "没有收到" in replies[-1] and "秒后重新发送" in replies[-1]
    assert "已收到" not in replies[-1]
    assert count(limited) == 3


def test_the_web_chat_over_the_limit_says_when_to_resend(limited):
    client = limited.test_client()
    for _ in range(3):
        post_message(client, "你好", "wFlood")
    refused = post_message(client, "你好", "wFlood")
    assert refused.status_code == 429 and "没有收到" in refused.get_json()["error"]
    assert 1 <= int(refused.headers["Retry-After"]) <= 60


def redis_available() -> bool:
    import redis

    try:
        return redis.Redis.from_url(REDIS_URL, socket_timeout=0.5).ping()
    except redis.RedisError:
        return False


@pytest.mark.skipif(not redis_available(), reason="no Redis at 127.0.0.1:6379")
def test_redis_shares_counters_between_processes():
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    first, second = RateLimiter(client), RateLimiter(redis.Redis.from_url(REDIS_URL))
    assert first.allow("user", "shared", 2, now=5000.0) and second.allow("user", "shared", 2, now=5000.0)
    assert not first.allow("user", "shared", 2, now=5000.0)
    (key,) = client.keys("appealbot:rl:user:shared:*")
    assert int(client.get(key)) == 3 and 0 < client.ttl(key) <= 120  # the window's key expires
    client.script_flush()  # Redis restarted: the script is loaded again, nothing fails
    assert first.allow("user", "other", 2, now=5000.0)
    client.flushdb()


def test_redis_down_falls_back_to_counting_per_process():
    import redis

    dead = redis.Redis.from_url("redis://127.0.0.1:1/0", socket_timeout=0.2, socket_connect_timeout=0.2)
    limiter = RateLimiter(dead)
    assert [limiter.allow("user", "x", 2, now=7000.0) for _ in range(3)] == [True, True, False]


@pytest.fixture
def door(config):
    import redis

    if not redis_available():
        pytest.skip("no Redis at 127.0.0.1:6379")
    redis.Redis.from_url(REDIS_URL).flushdb()
    app = create_app({**config, "REDIS_URL": REDIS_URL, "QUEUE": "memory"})
    yield app, redis.Redis.from_url(REDIS_URL)
    app.extensions["appealbot"].engine.dispose()
    redis.Redis.from_url(REDIS_URL).flushdb()


def test_a_retry_known_to_redis_is_answered_without_inserting(door, monkeypatch):
    app, _ = door
    inbox = app.extensions["appealbot"].inbox
    inserts = []
    original = inbox._store
    monkeypatch.setattr(inbox, "_store", lambda message: inserts.append(message.dedupe_key) or original(message))
    server = WeChatServer(app.test_client(), **WECHAT)
    xml = message_xml("text", user="oDoor", content="你好", msg_id=777000111)
    replies = [server.reply_of(server.post(xml, params=server.params(nonce=str(n))))["Content"] for n in range(3)]
    assert len(set(replies)) == 1 and "有求必应" in replies[0]
    assert inserts == ["wechat:id:777000111"] and count(app) == 1


def test_a_delivery_redis_saw_but_the_database_never_stored_is_stored_and_handled(door):
    app, client = door
    client.set("appealbot:seen:wechat:id:777000222", 1)  # its first delivery died before storing it
    server = WeChatServer(app.test_client(), **WECHAT)
    reply = server.reply_of(server.post(message_xml("text", user="oLost", content="你好", msg_id=777000222)))["Content"]
    assert "有求必应" in reply and count(app) == 1


def test_a_refused_message_is_not_noted_as_seen(door):
    app, client = door
    app.config["RATE_LIMIT_USER"] = 1
    server = WeChatServer(app.test_client(), **WECHAT)
    fresh_rate_window()
    server.post(message_xml("text", user="oBusy", content="你好", msg_id=777000301))
    refused = server.reply_of(server.post(message_xml("text", user="oBusy", content="你好", msg_id=777000302)))
    assert "频繁" in refused["Content"]
    assert client.exists("appealbot:seen:wechat:id:777000301") and not client.exists(
        "appealbot:seen:wechat:id:777000302"
    )
    assert count(app) == 1
