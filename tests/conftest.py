"""Fixtures: a fresh database per test (SQLite by default, PostgreSQL when
APPEALBOT_TEST_DATABASE_URL is set), the app, and helpers that act as WeChat and WeCom would."""

from __future__ import annotations

import os
import shutil
import sqlite3
import time

import pytest
from sqlalchemy import create_engine, text

# The developer's own APPEALBOT_* settings must not leak into the tests.
for _name in list(os.environ):
    if _name.startswith("APPEALBOT_") and not _name.startswith("APPEALBOT_TEST_"):
        del os.environ[_name]

from bot.app import create_app
from bot.schema import upgrade
from core.db import Base
from tests.platforms import WeChatServer, WeComServer

WECHAT = {
    "token": "wechat-test-token",
    "appid": "wx0123456789abcdef",
    "aes_key": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
}
WECOM = {"token": "QDG6eK", "corp_id": "wx5823bf96d3bd56c7", "aes_key": "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"}
WECOM_BOT = {"token": "botToken2026", "aes_key": "Kq8vR2mX7pLw4sN9tY3zB6cD1fG5hJ0aE8uI2oQ7rT4"}


@pytest.fixture(scope="session")
def database_template(tmp_path_factory):
    url = os.environ.get("APPEALBOT_TEST_DATABASE_URL")
    if url:
        # A schema of its own per test run, so that concurrent runs on one server do not collide.
        schema = f"test_{os.getpid()}"
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        url = url + ("&" if "?" in url else "?") + f"options=-csearch_path%3D{schema}"
        upgrade(url)
        yield url
        with engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        engine.dispose()
        return
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    # As a served database is after its first connection: in WAL mode, so that the copies the tests
    # run on do not start with processes racing to switch it.
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
    yield path


@pytest.fixture
def database_url(database_template, tmp_path):
    if isinstance(database_template, str):
        _truncate_all(database_template)
        yield database_template
        return
    target = tmp_path / "test.db"
    shutil.copy(database_template, target)
    yield f"sqlite:///{target}"


def _truncate_all(url: str) -> None:
    engine = create_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture
def config(database_url, tmp_path):
    return {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "VAR_DIR": str(tmp_path),
        "MODEL_PATH": str(tmp_path / "no-model.joblib"),
        "WECHAT_TOKEN": WECHAT["token"],
        "WECHAT_APPID": WECHAT["appid"],
        "WECHAT_AES_KEY": WECHAT["aes_key"],
        "WECOM_TOKEN": WECOM["token"],
        "WECOM_CORP_ID": WECOM["corp_id"],
        "WECOM_AES_KEY": WECOM["aes_key"],
        "WECOM_BOT_TOKEN": WECOM_BOT["token"],
        "WECOM_BOT_AES_KEY": WECOM_BOT["aes_key"],
        "RETRY_WAIT": 2.0,
        "QUEUE": "memory",
    }


@pytest.fixture
def app(config):
    app = create_app(config)
    yield app
    app.extensions["appealbot"].engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def wechat(client):
    return WeChatServer(client, **WECHAT)


@pytest.fixture
def wecom(client):
    return WeComServer(client, **WECOM)


@pytest.fixture
def db(app):
    """A session on the app's database, for assertions."""
    with app.extensions["appealbot"].Session() as session:
        yield session


def now() -> int:
    return int(time.time())


@pytest.fixture
def demo(app):
    """The bundled demo departments, routing rules and officials."""
    from bot.demo import load_demo_data

    with app.extensions["appealbot"].Session() as session, session.begin():
        load_demo_data(session)
    return app


@pytest.fixture(scope="session")
def trained_model_path():
    """The classifier trained on the corpus as it is (about half a minute), kept under var/ by the
    corpus's hash so that the SQLite and PostgreSQL runs and later runs reuse it."""
    from pathlib import Path

    from nlp.corpus import corpus_hash, load_training
    from nlp.training import ensure_model

    var = Path(__file__).resolve().parent.parent / "var"
    var.mkdir(exist_ok=True)
    path = var / f"test-model-{corpus_hash(load_training())[:12]}.joblib"
    ensure_model({"MODEL_PATH": str(path)})
    return str(path)


@pytest.fixture
def assistant(config, trained_model_path):
    """The whole bot as an enterprise meets it: the trained classifier, the bundled policy library and
    the demo departments, contact cards and officials."""
    from bot.demo import load_demo_data
    from knowledge.bundled import ingest_bundled

    app = create_app({**config, "MODEL_PATH": trained_model_path})
    with app.extensions["appealbot"].Session() as session, session.begin():
        load_demo_data(session)
        ingest_bundled(session)
    yield app
    app.extensions["appealbot"].engine.dispose()
