"""Outbound calls to WeCom and the 公众号 API through wechatpy's clients.

Two things are ours: the API base address is configurable (tests point it at a local fake server
that answers as the real API does), and the access token lives in the database, refreshed by one
process at a time under a row lock, so workers neither fetch a token each nor invalidate each
other's.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker
from wechatpy import WeChatClient as _WeChatClient
from wechatpy.enterprise import WeChatClient as _WeComClient
from wechatpy.exceptions import WeChatClientException
from wechatpy.session import SessionStorage
from wechatpy.session.redisstorage import RedisStorage

from tickets.models import AccessToken

_REFRESH = threading.Lock()  # SQLite has no row locks; within one process this serialises refreshes
MARGIN = timedelta(seconds=120)  # refresh a little before the platform expires the token


def _now() -> datetime:
    return datetime.now(UTC)


class DatabaseTokenStorage(SessionStorage):
    def __init__(self, Session: sessionmaker):
        self.Session = Session

    def get(self, key, default=None):
        with self.Session() as s:
            row = s.get(AccessToken, key)
            if row is None or not row.token or row.expires_at is None or row.expires_at - MARGIN <= _now():
                return default
            return row.token

    def set(self, key, value, ttl=None):
        with self.Session() as s, s.begin():
            row = s.get(AccessToken, key) or AccessToken(name=key)
            row.token, row.expires_at = value, _now() + timedelta(seconds=ttl or 7200)
            s.add(row)

    def delete(self, key):
        with self.Session() as s, s.begin():
            row = s.get(AccessToken, key)
            if row is not None:
                row.token, row.expires_at = None, None

    @contextmanager
    def refreshing(self, key):
        """Holds the token's row lock (PostgreSQL) or this process's lock (SQLite) while refreshing."""
        with _REFRESH, self.Session() as s:
            with s.begin():
                if s.get(AccessToken, key) is None:
                    try:
                        with s.begin_nested():
                            s.add(AccessToken(name=key))
                    except IntegrityError:
                        pass  # another process created the row first
            with s.begin():
                row = s.execute(select(AccessToken).where(AccessToken.name == key).with_for_update()).scalar_one()
                fresh = row.token if row.token and row.expires_at and row.expires_at - MARGIN > _now() else None

                def store(token: str, ttl: int) -> None:
                    row.token, row.expires_at = token, _now() + timedelta(seconds=ttl)

                yield fresh, store


class RedisTokenStorage(RedisStorage):
    """wechatpy's Redis storage, plus a Redis lock so that one worker refreshes for all."""

    @contextmanager
    def refreshing(self, key):
        with self.redis.lock(self.key_name(key) + ":refresh", timeout=30, blocking_timeout=30):
            yield self.get(key), lambda token, ttl: self.set(key, token, max(60, ttl - int(MARGIN.total_seconds())))


def token_storage(config, Session) -> SessionStorage:
    if config.get("REDIS_URL"):
        import redis

        return RedisTokenStorage(
            redis.Redis.from_url(config["REDIS_URL"], socket_timeout=2), prefix=config["QUEUE_NAME"]
        )
    return DatabaseTokenStorage(Session)


class _SharedToken:
    """Mixin: fetch the token once for all processes (under the storage's lock), from the configured base."""

    TOKEN_PATH = ""
    _used: str | None = None  # the token this client last sent: if the platform rejected it, fetch anew

    @property
    def access_token(self):
        self._used = super().access_token
        return self._used

    def _token_params(self) -> dict:
        raise NotImplementedError

    def fetch_access_token(self):
        with self.session.refreshing(self.access_token_key) as (fresh, store):
            if fresh and fresh != self._used:
                return {"access_token": fresh}  # refreshed by someone else while we waited
            res = self._http.get(
                self.API_BASE_URL + self.TOKEN_PATH, params=self._token_params(), timeout=self.timeout or 10
            )
            result = res.json()
            if result.get("errcode"):
                raise WeChatClientException(
                    result["errcode"], result.get("errmsg"), client=self, request=res.request, response=res
                )
            expires_in = int(result.get("expires_in", 7200))
            store(result["access_token"], expires_in)
            self._used = result["access_token"]
            self.expires_at = int(time.time()) + expires_in
            return result


class WeComClient(_SharedToken, _WeComClient):
    TOKEN_PATH = "gettoken"

    def __init__(self, corp_id, secret, base, storage, timeout=10):
        super().__init__(corp_id, secret, session=storage, timeout=timeout)
        self.API_BASE_URL = base.rstrip("/") + "/cgi-bin/"

    def _token_params(self):
        return {"corpid": self.corp_id, "corpsecret": self.secret}


class WeChatClient(_SharedToken, _WeChatClient):
    TOKEN_PATH = "token"

    def __init__(self, appid, secret, base, storage, timeout=10):
        super().__init__(appid, secret, session=storage, timeout=timeout)
        self.API_BASE_URL = base.rstrip("/") + "/cgi-bin/"

    def _token_params(self):
        return {"grant_type": "client_credential", "appid": self.appid, "secret": self.secret}
