"""Slow clients do not stall the servers (issue 16, item 8).

The audit stalled `run` with 110 partial uploads and `serve --prod` with 24: each sends its
headers and part of a body, then nothing. deploy/nginx.conf is the answer in production (nginx reads
every request whole before gunicorn sees it); these tests hold the servers' own limits, which are
what is left when something gets past it, or when nothing stands in front (`make run`).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from sqlalchemy import create_engine, text

from tests.fault_helpers import free_port, postgres_missing, private_schema, wait_for

PARTIAL = (
    b"POST /api/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    b'Content-Length: 4000\r\n\r\n{"text": "'
)


def start(env: dict, *args: str, log) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "bot.cli", *args], env=env, stdout=log, stderr=subprocess.STDOUT)


def healthy(port: int, timeout: float) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=timeout) as response:
            return response.status == 200
    except OSError:
        return False


def stall(port: int, n: int) -> list[socket.socket]:
    sockets = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(PARTIAL)
        sockets.append(s)
    return sockets


def base_env(tmp_path, **settings) -> dict:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("APPEALBOT_")}
    env.update(
        {
            "APPEALBOT_VAR_DIR": str(tmp_path),
            "APPEALBOT_MODEL_PATH": str(tmp_path / "none.joblib"),
            "APPEALBOT_QUEUE": "memory",
            "APPEALBOT_RATE_LIMIT_ADDR": "0",
        }
    )
    env.update({f"APPEALBOT_{k}": str(v) for k, v in settings.items()})
    return env


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


def test_waitress_keeps_answering_while_110_uploads_stall(tmp_path):
    port = free_port()
    env = base_env(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'slow.db'}")
    with open(tmp_path / "serve.log", "wb") as log:
        server = start(env, "serve", "--bind", f"127.0.0.1:{port}", log=log)
        sockets = []
        try:
            assert wait_for(lambda: healthy(port, 1), 60), (tmp_path / "serve.log").read_text()
            sockets = stall(port, 110)
            started = time.monotonic()
            assert healthy(port, 5), "a health check waited behind the stalled uploads"
            assert time.monotonic() - started < 5
        finally:
            for s in sockets:
                s.close()
            stop(server)


@pytest.fixture
def pg_url():
    reason = postgres_missing()
    if reason:
        pytest.skip(reason)
    with private_schema() as url:
        engine = create_engine(url)
        with engine.begin() as conn:  # production mode refuses to start while demo passwords exist
            conn.execute(text("UPDATE officials SET password_hash = NULL"))
        engine.dispose()
        yield url


def test_gunicorn_cuts_off_a_body_that_does_not_arrive_and_serves_the_next_request(tmp_path, pg_url):
    port = free_port()
    env = base_env(tmp_path, DATABASE_URL=pg_url, SECRET_KEY="Qx7!" * 10, REQUEST_BODY_TIMEOUT=2)
    with open(tmp_path / "prod.log", "wb") as log:
        server = start(
            env, "serve", "--prod", "--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "2", log=log
        )
        sockets = []
        try:
            assert wait_for(lambda: healthy(port, 1), 90), (tmp_path / "prod.log").read_text()
            sockets = stall(port, 4)  # twice the threads there are
            time.sleep(0.3)
            started = time.monotonic()
            assert healthy(port, 12), "a health check waited behind the stalled uploads"
            assert time.monotonic() - started < 8  # two rounds of the 2-second deadline, not forever
            answers = []
            for s in sockets:
                try:
                    answers.append(s.recv(200))
                except OSError:
                    answers.append(b"")
            assert any(a.startswith(b"HTTP/1.1 408") for a in answers), answers
        finally:
            for s in sockets:
                s.close()
            stop(server)
