"""The long-lived objects of one app: engine, session factory, services, inbox, crypto."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

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
    wechat_key: Optional[bytes] = None
    wechat_crypto: Any = None
    wecom_key: Optional[bytes] = None
    wecom_crypto: Any = None
    redis: Any = None  # redis.Redis when APPEALBOT_REDIS_URL is set
    limiter: RateLimiter = None  # type: ignore[assignment]
    huey: Any = None  # the job queue (tickets/queue.py)
    bot_inbox: Optional[Inbox] = None  # the 智能机器人 channel and card taps (handlers/groups.py)
    wecom_bot_key: Optional[bytes] = None
    tasks: Optional[dict] = None


def appstate() -> AppState:
    return current_app.extensions["appealbot"]
