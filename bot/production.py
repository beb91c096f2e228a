"""Production mode: refuse weak secrets, and serve with gunicorn workers forked after the model loads."""
from __future__ import annotations

import gc
import multiprocessing
from typing import Any, Mapping

from bot.errors import ConfigError

WEAK = {"", "token", "test", "secret", "changeme", "password", "123456", "appealbot", "dev", "default"}


def check_secrets(config: Mapping[str, Any]) -> None:
    """Secrets come only from configuration and must not be weak or defaults in production."""
    secret = str(config.get("SECRET_KEY") or "")
    if config.get("SECRET_KEY_GENERATED") or len(secret) < 32 or secret.lower() in WEAK:
        raise ConfigError("APPEALBOT_SECRET_KEY must be set to at least 32 random characters in production mode")
    for name in ("WECHAT_TOKEN", "WECOM_TOKEN"):
        value = config.get(name)
        if value is not None and (len(str(value)) < 8 or str(value).lower() in WEAK):
            raise ConfigError(f"APPEALBOT_{name} is too weak for production (at least 8 characters, not a default)")
    if str(config.get("DATABASE_URL", "")).startswith("sqlite"):
        raise ConfigError("APPEALBOT_DATABASE_URL must name a server database (PostgreSQL) in production mode")


def check_accounts(Session) -> None:
    """No console account may keep a demo password (they are printed by `make run`)."""
    from sqlalchemy import select
    from werkzeug.security import check_password_hash

    from tickets.demo import demo_password
    from tickets.models import Official

    with Session() as session:
        for official in session.scalars(select(Official).where(Official.password_hash.is_not(None), Official.active)):
            if official.login and check_password_hash(official.password_hash, demo_password(official.login)):
                raise ConfigError(f"console account {official.login!r} still has its demo password: "
                                  f"change it (appealbot create-user {official.login} --reset) or disable it")


def settle_heap() -> None:
    """Hide what is loaded by now from the garbage collector: the model, the dictionary, the
    mappers (about 200,000 objects) live as long as the process, and a full collection that walks
    them takes ~100 ms, a pause every thread of the process waits through (the load test's worst
    latencies). Frozen, a full collection takes microseconds; before a fork, the pages also stay
    shared between the workers."""
    gc.collect()
    gc.freeze()


def _after_fork(server, worker) -> None:  # pragma: no cover
    # Pooled connections made before the fork belong to the parent; each worker opens its own.
    state = server.app.wsgi().extensions["appealbot"]
    state.engine.dispose(close=False)


def serve(app, *, bind: str, workers: int | None, threads: int) -> None:  # pragma: no cover (exercised by benchmarks)
    from gunicorn.app.base import BaseApplication

    from nlp.tokenizer import warm_up

    warm_up()  # jieba's dictionary and the model load once, before the fork, shared copy-on-write
    settle_heap()

    class Application(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", bind)
            self.cfg.set("workers", workers or 2 * multiprocessing.cpu_count())
            self.cfg.set("threads", threads)
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("preload_app", True)
            self.cfg.set("timeout", 30)
            self.cfg.set("graceful_timeout", 10)
            self.cfg.set("accesslog", None)
            self.cfg.set("post_fork", _after_fork)

        def load(self):
            return app

    Application().run()
