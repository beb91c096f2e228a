"""The long-lived objects of one app: engine, session factory, services, inbox, crypto."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from bot.ratelimit import RateLimiter
from handlers.context import Services
from handlers.inbox import Inbox


@dataclass
class AppState:
    engine: Engine
    Session: sessionmaker
    services: Services
    inbox: Inbox
    wechat_key: bytes | None = None
    wechat_crypto: Any = None
    wecom_key: bytes | None = None
    wecom_crypto: Any = None
    redis: Any = None  # redis.Redis when APPEALBOT_REDIS_URL is set
    limiter: RateLimiter = None  # type: ignore[assignment]
    huey: Any = None  # the job queue (delivery/queue.py)
    bot_inbox: Inbox | None = None  # the 智能机器人 channel and card taps (handlers/groups.py)
    wecom_bot_key: bytes | None = None
    tasks: dict | None = None


def appstate() -> AppState:
    return current_app.extensions["appealbot"]
