"""What the fault tests share: a PostgreSQL schema of their own, a private Redis, queue worker
processes, a fake platform that can fail, hang or drop a call, and a client that retries as WeChat does.

Faults are injected from outside the code under test: a process is killed, a server restarted or
stopped, the platform misbehaves. The app itself is built as in production, from configuration.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from flask import jsonify, request
from sqlalchemy import create_engine, text

from tests.conftest import WECHAT
from tests.platforms import WeChatServer, message_xml

PG_URL = os.environ.get("APPEALBOT_TEST_DATABASE_URL") or "postgresql+psycopg://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/15"  # the suite's Redis database (test_queue_real, test_ratelimit)


def wait_for(predicate: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- PostgreSQL ---------------------------------------------------------------------------------


def postgres_missing() -> str | None:
    """Why the PostgreSQL fault tests cannot run here, or None."""
    engine = create_engine(PG_URL, connect_args={"connect_timeout": 2})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any failure to connect means: skip, and say why
        return f"no PostgreSQL at {PG_URL} ({type(exc).__name__})"
    finally:
        engine.dispose()
    return None


@contextmanager
def private_schema() -> Iterator[str]:
    """A schema of this test's own on the PostgreSQL server, migrated, with the demo departments;
    the URL selects it through the connection's search_path. Dropped afterwards."""
    from sqlalchemy.orm import Session

    from bot.demo import load_demo_data
    from bot.schema import upgrade

    schema = f"faults_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    _on_server(f"CREATE SCHEMA {schema}")
    url = PG_URL + ("&" if "?" in PG_URL else "?") + f"options=-csearch_path%3D{schema}"
    try:
        upgrade(url)
        engine = create_engine(url)
        with Session(engine) as session, session.begin():
            load_demo_data(session)
        engine.dispose()
        yield url
    finally:
        _on_server(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def _on_server(statement: str, attempts: int = 10) -> None:
    """Runs one statement on a connection of its own, waiting out a restart of the server (this
    test's or another run's) instead of leaving a schema behind."""
    from sqlalchemy.exc import OperationalError

    for attempt in range(attempts):
        engine = create_engine(PG_URL)
        try:
            with engine.begin() as conn:
                conn.execute(text(statement))
            return
        except OperationalError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.5)
        finally:
            engine.dispose()


def local_cluster() -> tuple[str | None, str | None]:
    """(version, None) when PG_URL is this machine's `main` cluster and we may restart it; else (None, why)."""
    if not shutil.which("pg_ctlcluster") or not os.path.isdir("/etc/postgresql"):
        return None, "pg_ctlcluster is not installed (no Debian PostgreSQL cluster to restart)"
    if os.geteuid() != 0:
        return None, "restarting the PostgreSQL cluster needs root"
    url = urlsplit(PG_URL.replace("postgresql+psycopg", "postgresql"))
    if url.hostname not in ("127.0.0.1", "localhost"):
        return None, f"PostgreSQL at {url.hostname} is not this machine's"
    versions = sorted(os.listdir("/etc/postgresql"))
    for version in versions:
        conf = Path(f"/etc/postgresql/{version}/main/postgresql.conf")
        port = 5432
        if conf.exists():
            for line in conf.read_text().splitlines():
                if line.split("#", 1)[0].strip().startswith("port"):
                    port = int(line.split("=", 1)[1].split("#", 1)[0].strip())
        if port == (url.port or 5432):
            return version, None
    return None, f"no local cluster listens on port {url.port or 5432}"


def restart_cluster(version: str) -> float:
    """Restart PostgreSQL as an operator would; returns the seconds the command took."""
    started = time.monotonic()
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return time.monotonic() - started


def reset_stale_pools() -> None:
    """After a server restart every pooled connection in this process is dead. Engines with
    pool_pre_ping (the app's) notice by themselves; the suite's own fixtures (conftest's template
    engine) do not, so their pools are emptied here rather than failing at teardown."""
    import gc

    from sqlalchemy.engine import Engine

    for obj in gc.get_objects():
        if isinstance(obj, Engine) and obj.dialect.name == "postgresql":
            obj.dispose()


# -- Redis ----------------------------------------------------------------------------------------


def redis_missing() -> str | None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5).ping()
    except redis.RedisError as exc:
        return f"no Redis at {REDIS_URL} ({type(exc).__name__})"
    return None


def forget_queue(url: str, name: str) -> None:
    """Removes a test queue's keys (huey's, under the name it cleans, and the access tokens stored
    under the name as given)."""
    import re

    import redis

    client = redis.Redis.from_url(url, socket_timeout=2)
    try:
        huey_name = re.sub("[^A-Za-z0-9_]", "", name)  # as huey's RedisStorage.clean_name does
        keys = [f"huey.{kind}.{huey_name}" for kind in ("redis", "schedule", "results", "counters")]
        keys += list(client.scan_iter(match=f"{name}*"))
        client.delete(*keys)
    except redis.RedisError:
        pass  # a stopped private Redis has nothing left to clean
    finally:
        client.close()


class PrivateRedis:
    """A redis-server of the test's own on a free port, which the test may stop, freeze and restart
    (the machine's shared Redis on 6379 is never touched)."""

    def __init__(self, workdir: Path):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.workdir = workdir
        self.process: subprocess.Popen | None = None

    @staticmethod
    def missing() -> str | None:
        return None if shutil.which("redis-server") else "redis-server is not installed"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import redis

        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.2)

        def answers():
            try:
                return client.ping()
            except redis.RedisError:
                return False

        assert wait_for(answers, 10), "private redis-server did not start"
        client.close()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)  # a frozen server cannot act on SIGTERM
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None

    def freeze(self) -> None:
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self.process.send_signal(signal.SIGCONT)


# -- processes ------------------------------------------------------------------------------------


def app_env(settings: dict) -> dict:
    """The environment a production process gets for the same configuration as the test's app."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("APPEALBOT_")}
    env.update({f"APPEALBOT_{k}": str(v) for k, v in settings.items() if k != "TESTING"})
    return env


class Worker:
    """`appealbot worker` as a separate process, its output kept in a file for the failure message."""

    def __init__(self, env: dict, log: Path, threads: int = 1):
        self.log_path = log
        self._log = open(log, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "worker", "--workers", str(threads)],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def kill(self) -> None:
        """SIGKILL: no clean-up, no chance to finish the job in hand."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]


def cli(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], env=env, capture_output=True, text=True, timeout=60)


# -- the fake platform, misbehaving on cue ----------------------------------------------------------


class Misbehaviour:
    """Scripted answers of the fake WeCom API per recipient, before the real handler runs:
    "error" (HTTP 500), "busy" (errcode -1), "hang" (answer only after `hang` seconds, then a gateway
    timeout: nothing delivered), "slow" (deliver, after `hang` seconds), "hold" (wait until released,
    then as if the connection had been cut: nothing delivered), "ok" (deliver). Every call is counted
    per recipient."""

    def __init__(self, platform, hang: float = 1.0):
        self.script: dict[str, list[str]] = {}
        self.calls: dict[str, int] = {}
        self.hang = hang
        self.arrived = threading.Event()  # a held call is waiting
        self.release = threading.Event()
        self.lock = threading.Lock()
        platform.app.before_request(self._intercept)

    def plan(self, recipient: str, *answers: str) -> None:
        self.script[recipient] = list(answers)

    def _intercept(self):
        if request.path != "/cgi-bin/message/send":
            return None
        recipient = (request.get_json(force=True, silent=True) or {}).get("touser", "")
        with self.lock:
            self.calls[recipient] = self.calls.get(recipient, 0) + 1
            answers = self.script.get(recipient)
            answer = answers.pop(0) if answers else "ok"
        if answer == "error":
            return jsonify(errcode=-1, errmsg="internal error"), 500
        if answer == "busy":
            return jsonify(errcode=-1, errmsg="system busy")
        if answer == "hang":
            time.sleep(self.hang)
            return jsonify(errcode=-1, errmsg="gateway timeout"), 504
        if answer == "slow":
            time.sleep(self.hang)
            return None
        if answer == "hold":
            self.arrived.set()
            self.release.wait(30)
            return jsonify(errcode=-1, errmsg="connection reset"), 502
        return None


def sends_to(platform, recipient: str, containing: str = "") -> list[dict]:
    return [
        m
        for m in platform.sent
        if m["api"] == "message/send"
        and m["to"] == recipient
        and containing in json.dumps(m["body"], ensure_ascii=False)
    ]


# -- WeChat's side: deliveries that are retried until answered --------------------------------------

_msg_ids = itertools.count(8_200_000_000_000_000_001)


class RetryingWeChat:
    """Sends 公众号 messages to an app as WeChat does: a delivery that gets no 200 is repeated, same
    MsgId, every `retry_after` seconds (WeChat waits five), at most `retries` times; a 200 ends it,
    whatever its body. Safe from several threads (each has its own test client); each message's
    answers are kept for the assertions."""

    def __init__(self, app, retry_after: float = 5.0, retries: int = 3):
        self.app = app
        self.retry_after, self.retries = retry_after, retries
        self.history: dict[int, list[tuple[int, str, float]]] = {}  # msg_id -> [(status, reply, when)]
        self.lock = threading.Lock()
        self.local = threading.local()

    def _server(self) -> WeChatServer:
        if getattr(self.local, "server", None) is None:
            self.local.server = WeChatServer(self.app.test_client(), **WECHAT)
        return self.local.server

    def send(self, user: str, text_: str) -> tuple[int, str]:
        """Deliver, and retry while refused; returns the last (status, reply)."""
        server = self._server()
        with self.lock:
            msg_id = next(_msg_ids)
            self.history[msg_id] = []
        xml = message_xml("text", user=user, content=text_, msg_id=msg_id)
        for attempt in range(1 + self.retries):
            if attempt:
                time.sleep(self.retry_after)
            response = server.post(xml)
            reply = server.reply_of(response).get("Content", "") if response.status_code == 200 else ""
            with self.lock:
                self.history[msg_id].append((response.status_code, reply, time.monotonic()))
            if response.status_code == 200:
                break
        return response.status_code, reply

    def answers(self, since: float = 0.0) -> list[int]:
        """The status of every delivery answered after `since` (time.monotonic())."""
        with self.lock:
            return [status for answers in self.history.values() for status, _, when in answers if when > since]

    def accepted(self) -> dict[str, str]:
        """dedupe key -> the reply of the 200 that ended WeChat's retries."""
        with self.lock:
            return {
                f"wechat:id:{msg_id}": answers[-1][1]
                for msg_id, answers in self.history.items()
                if answers and answers[-1][0] == 200
            }

    def unanswered(self) -> list[int]:
        with self.lock:
            return [msg_id for msg_id, answers in self.history.items() if not answers or answers[-1][0] != 200]
