"""The real job queue: a SQLite-backed consumer thread (embedded) and a Redis-backed worker process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import redis

from bot.app import create_app
from bot.demo import load_demo_data
from delivery.queue import GATHER_SECONDS, start_consumer
from tests.fake_platform import FakePlatform
from tickets import service


def _wait_for(predicate, timeout=20.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def _text(sent: dict) -> str:
    """What a sent message says (a new ticket reaches each official as a card, other notices as text cards)."""
    return json.dumps(sent["body"], ensure_ascii=False)


def _secrets(platform):
    return {
        "WECOM_SECRET": "wecom-secret",
        "WECOM_AGENT_ID": "1000002",
        "WECOM_API_BASE": platform.base,
        "WECHAT_API_BASE": platform.base,
    }


def _ticket(app):
    with app.extensions["appealbot"].Session() as s, s.begin():
        load_demo_data(s)
    with app.extensions["appealbot"].Session() as s, s.begin():
        return service.create_ticket(
            s, channel="web", user_id="e1", text="申请增容用电", kind="appeal", category="operations"
        ).number


def test_embedded_consumer_thread_delivers_from_the_sqlite_queue(config, tmp_path):
    with FakePlatform() as platform:
        app = create_app({**config, "QUEUE": "sqlite", "VAR_DIR": str(tmp_path), **_secrets(platform)})
        consumer = start_consumer(app.extensions["appealbot"].huey)
        try:
            number = _ticket(app)
            assert (tmp_path / "queue.db").exists()
            assert _wait_for(lambda: any(number in _text(m) for m in platform.sent if m["api"] == "message/send"))
        finally:
            consumer.stop(graceful=True)
            app.extensions["appealbot"].engine.dispose()


def _redis_url():
    url = "redis://127.0.0.1:6379/15"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
    except redis.RedisError:
        return None
    return url


@pytest.mark.skipif(_redis_url() is None, reason="no Redis at 127.0.0.1:6379")
def test_a_separate_worker_process_delivers_from_the_redis_queue(config, tmp_path):
    with FakePlatform() as platform:
        settings = {**config, "QUEUE": "redis", "REDIS_URL": _redis_url(), **_secrets(platform)}
        settings["WECOM_AGENT_ID"] = "1000002"
        name = f"appealbot-test-{uuid.uuid4().hex[:8]}"
        env = {
            **os.environ,
            **{f"APPEALBOT_{k}": str(v) for k, v in settings.items() if k != "TESTING"},
            "APPEALBOT_QUEUE_NAME": name,
        }
        app = create_app({**settings, "QUEUE_NAME": name})
        worker = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "worker", "--workers", "1"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            number = _ticket(app)
            assert _wait_for(
                lambda: any(number in _text(m) for m in platform.sent if m["api"] == "message/send"), timeout=40
            )
        finally:
            worker.terminate()
            worker.wait(timeout=20)
            app.extensions["appealbot"].huey.storage.flush_all()
            app.extensions["appealbot"].engine.dispose()


@pytest.mark.skipif(_redis_url() is None, reason="no Redis at 127.0.0.1:6379")
def test_wake_ups_are_coalesced_and_none_is_lost(config, tmp_path):
    from delivery.queue import drain

    with FakePlatform() as platform:
        name = f"appealbot-test-{uuid.uuid4().hex[:8]}"
        app = create_app(
            {**config, "QUEUE": "redis", "REDIS_URL": _redis_url(), "QUEUE_NAME": name, **_secrets(platform)}
        )
        huey = app.extensions["appealbot"].huey
        try:
            first = _ticket(app)  # notices committed: one wake-up scheduled, GATHER_SECONDS ahead
            with app.extensions["appealbot"].Session() as s, s.begin():
                second = service.create_ticket(
                    s, channel="web", user_id="e2", text="天然气管道什么时候通", kind="appeal", category="operations"
                ).number
            assert len(huey) == 1  # the second commit found a wake-up already waiting
            assert drain(huey) == 1 and huey.scheduled_count() == 1  # not due yet: it gathers for a moment
            assert not [m for m in platform.sent if m["api"] == "message/send"]
            (wake_up,) = huey.read_schedule(
                datetime.now(UTC).replace(tzinfo=None) + timedelta(seconds=GATHER_SECONDS + 1)
            )  # as the scheduler will
            huey.execute(wake_up)
            titles = [_text(m) for m in platform.sent if m["api"] == "message/send"]
            assert any(first in t for t in titles) and any(second in t for t in titles)
            # a commit after the job started queues a new wake-up
            with app.extensions["appealbot"].Session() as s, s.begin():
                service.create_ticket(
                    s, channel="web", user_id="e3", text="工业园区自来水水压太低", kind="appeal", category="operations"
                )
            assert len(huey) == 1
        finally:
            huey.storage.flush_all()
            app.extensions["appealbot"].engine.dispose()
