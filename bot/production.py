"""Production mode: refuse weak secrets, and serve with gunicorn workers forked after the model loads.

Both servers also protect themselves from slow clients (deploy/nginx.conf does it properly, in
front of them): waitress (`run`, `serve`) reads every request in its event loop before a thread sees
it, so it needs room for many connections and drops idle ones; gunicorn's threads read the body
themselves, so a body must arrive within REQUEST_BODY_TIMEOUT seconds or the client gets a 408.
"""

from __future__ import annotations

import gc
import io
import multiprocessing
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from core.errors import ConfigError

WEAK = {"", "token", "test", "secret", "changeme", "password", "123456", "appealbot", "dev", "default"}


def check_secrets(config: Mapping[str, Any]) -> None:
    """Secrets come only from configuration and must not be weak or defaults in production."""
    secret = str(config.get("SECRET_KEY") or "")
    if config.get("SECRET_KEY_GENERATED") or len(secret) < 32 or secret.lower() in WEAK:
        raise ConfigError("APPEALBOT_SECRET_KEY must be set to at least 32 random characters in production mode")
    for name in ("WECHAT_TOKEN", "WECOM_TOKEN", "WECOM_BOT_TOKEN"):
        value = config.get(name)
        if value is not None and (len(str(value)) < 8 or str(value).lower() in WEAK):
            raise ConfigError(f"APPEALBOT_{name} is too weak for production (at least 8 characters, not a default)")
    if str(config.get("DATABASE_URL", "")).startswith("sqlite"):
        raise ConfigError("APPEALBOT_DATABASE_URL must name a server database (PostgreSQL) in production mode")
    redis_url = config.get("REDIS_URL")
    if redis_url:
        url = urlsplit(str(redis_url))
        local = url.scheme == "unix" or url.hostname in ("127.0.0.1", "localhost", "::1")
        if not url.password and not local:
            # The job queue (huey) unpickles what it reads from Redis: whoever can write there runs code.
            raise ConfigError(
                "APPEALBOT_REDIS_URL must carry a password in production mode "
                "(redis://:PASSWORD@host:6379/0; see deploy/redis.conf)"
            )


def check_accounts(Session) -> None:
    """No console account may keep a demo password (they are printed by `make run`)."""
    from sqlalchemy import select
    from werkzeug.security import check_password_hash

    from bot.demo import demo_password
    from tickets.models import Official

    with Session() as session:
        for official in session.scalars(select(Official).where(Official.password_hash.is_not(None), Official.active)):
            if official.login and check_password_hash(official.password_hash, demo_password(official.login)):
                raise ConfigError(
                    f"console account {official.login!r} still has its demo password: "
                    f"change it (appealbot create-user {official.login} --reset) or disable it"
                )


def settle_heap() -> None:
    """Hide what is loaded by now from the garbage collector: the model, the dictionary, the
    mappers (about 200,000 objects) live as long as the process, and a full collection that walks
    them takes ~100 ms, a pause every thread of the process waits through (the load test's worst
    latencies). Frozen, a full collection takes microseconds; before a fork, the pages also stay
    shared between the workers."""
    gc.collect()
    gc.freeze()


def waitress_options(config: Mapping[str, Any], threads: int) -> dict[str, Any]:
    """waitress buffers each request in its event loop, so slow or stalled uploads cost a connection
    each, not a thread: allow many (with poll(), not select(), which stops at 1,024 descriptors),
    drop a connection idle for a while, and buffer no more than the largest body accepted."""
    return {
        "threads": threads,
        "ident": "appealbot",
        "connection_limit": 2000,
        "asyncore_use_poll": True,
        "channel_timeout": max(5, int(config["REQUEST_BODY_TIMEOUT"])),
        "cleanup_interval": 5,
        "max_request_body_size": max(config["MAX_BODY_BYTES"], config["MAX_UPLOAD_BYTES"]),
    }


class BodyDeadline:
    """WSGI middleware for gunicorn: the whole request body within `seconds`, or a 408.

    A gunicorn thread reads the body from the socket as the application asks for it; a client that
    sends its headers and then a byte now and then would hold the thread for as long as it likes
    (the audit held every thread of `serve --prod` with 24 such uploads). The body is read here,
    against one deadline, before the application runs."""

    def __init__(self, app, seconds: float, limit: int):
        self.app, self.seconds, self.limit = app, seconds, limit

    def __call__(self, environ, start_response):
        sock = environ.get("gunicorn.socket")
        length = environ.get("CONTENT_LENGTH") or ""
        chunked = "chunked" in (environ.get("HTTP_TRANSFER_ENCODING") or "").lower()
        if sock is None or not (length.isdigit() and 0 < int(length) <= self.limit or chunked and not length):
            return self.app(environ, start_response)  # no body, or one the app refuses unread (413)
        want = int(length) if length else self.limit + 1
        stream, body = environ["wsgi.input"], bytearray()
        deadline = time.monotonic() + self.seconds
        before = sock.gettimeout()
        try:
            while len(body) < want:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError
                sock.settimeout(left)
                chunk = stream.read(min(65536, want - len(body)))
                if not chunk:
                    break
                body += chunk
        except OSError:  # TimeoutError, or the client went away
            start_response(
                "408 Request Timeout", [("Content-Type", "text/plain; charset=utf-8"), ("Connection", "close")]
            )
            return ["请求超时：请求内容未能及时送达，请重新提交".encode()]
        finally:
            sock.settimeout(before)
        environ["wsgi.input"] = io.BytesIO(bytes(body))
        environ["CONTENT_LENGTH"] = str(len(body))
        return self.app(environ, start_response)


def _after_fork(server, worker) -> None:  # pragma: no cover
    # Pooled connections made before the fork belong to the parent; each worker opens its own.
    app = server.app.wsgi()
    while isinstance(app, BodyDeadline):
        app = app.app
    state = app.extensions["appealbot"]
    state.engine.dispose(close=False)


def serve(app, *, bind: str, workers: int | None, threads: int) -> None:  # pragma: no cover (exercised by benchmarks)
    from gunicorn.app.base import BaseApplication

    from nlp.tokenizer import warm_up

    warm_up()  # jieba's dictionary and the model load once, before the fork, shared copy-on-write
    from knowledge.index import warm_up as warm_library

    warm_library(app.extensions["appealbot"].Session)  # the policy library's index, shared the same way
    settle_heap()
    wsgi = BodyDeadline(
        app,
        float(app.config["REQUEST_BODY_TIMEOUT"]),
        max(app.config["MAX_BODY_BYTES"], app.config["MAX_UPLOAD_BYTES"]),
    )

    class Application(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", bind)
            self.cfg.set("workers", workers or 2 * multiprocessing.cpu_count())
            self.cfg.set("threads", threads)
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("preload_app", True)
            self.cfg.set("timeout", 30)
            self.cfg.set("keepalive", 5)
            self.cfg.set("graceful_timeout", 10)
            self.cfg.set("accesslog", None)
            self.cfg.set("post_fork", _after_fork)

        def load(self):
            return wsgi

    Application().run()
