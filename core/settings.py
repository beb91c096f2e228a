"""The configuration keys every layer may read: names, defaults and what each means.

The edge (`bot/config.py`) loads them from the environment and validates them once at start-up;
code below reads a finalized mapping through `value()`, so no default is written twice.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Key:
    default: Any
    help: str


def _var_dir() -> str:
    return os.path.abspath("var")


DEFAULTS: dict[str, Key] = {
    "DATABASE_URL": Key(None, "SQLAlchemy URL; default a SQLite file `var/appealbot.db`."),
    "VAR_DIR": Key(None, "Directory for the SQLite file, the trained model and the job queue; default `./var`."),
    "SECRET_KEY": Key(
        None, "Signs console sessions; a random one per process when unset (sessions then end on restart)."
    ),
    "WECHAT_TOKEN": Key(None, "公众号 callback token; `/wechat` answers 404 while unset."),
    "WECHAT_APPID": Key(None, "公众号 AppID; required with `WECHAT_AES_KEY`."),
    "WECHAT_AES_KEY": Key(None, "公众号 EncodingAESKey (43 characters); enables compatible and safe mode."),
    "WECOM_TOKEN": Key(None, "企业微信 app callback token; `/wecom` answers 404 while unset."),
    "WECOM_CORP_ID": Key(None, "企业微信 CorpID; required with `WECOM_TOKEN`."),
    "WECOM_AES_KEY": Key(None, "企业微信 EncodingAESKey (43 characters); required with `WECOM_TOKEN`."),
    "WECOM_BOT_TOKEN": Key(
        None, "企业微信 智能机器人 (API mode) callback Token; `/wecom/bot` answers 404 while unset."
    ),
    "WECOM_BOT_AES_KEY": Key(
        None, "企业微信 智能机器人 EncodingAESKey (43 characters); required with `WECOM_BOT_TOKEN`."
    ),
    "MAX_CLOCK_SKEW": Key(
        300, "Seconds a POSTed callback's timestamp may differ from now; 0 turns the replay check off."
    ),
    "MAX_BODY_BYTES": Key(64 * 1024, "Largest request body accepted, in bytes."),
    "MAX_UPLOAD_BYTES": Key(
        21 * 1024 * 1024,
        "Largest console upload (policy documents, contact cards), in bytes: a 20 MB file, as ingest takes, and its form.",
    ),
    "STATE_TTL": Key(1800, "Seconds a multi-turn conversation (asking for a name, a rating …) stays open."),
    "REQUEST_BODY_TIMEOUT": Key(
        20,
        "Seconds a client may take to send a request body (`serve --prod` answers 408 after; waitress drops a connection idle this long). Behind deploy/nginx.conf, nginx buffers bodies first.",
    ),
    "RETRY_WAIT": Key(3.0, "Seconds a retried WeChat delivery waits for the first delivery's reply."),
    "MODEL_PATH": Key(None, "Trained classifier file; default `var/model.joblib`."),
    "REDIS_URL": Key(
        None,
        "Redis for what processes share (dedupe, state, rate limits, queue, tokens); unset: the database and the process.",
    ),
    "RATE_LIMIT_USER": Key(30, "Messages one user may send per minute (webhooks and API); 0 turns the limit off."),
    "RATE_LIMIT_ADDR": Key(600, "Requests one client address may make per minute; 0 turns the limit off."),
    "RATE_LIMIT_LOGIN": Key(
        20, "Console sign-in attempts one client address may make per minute; 0 turns the limit off."
    ),
    "PROXY_COUNT": Key(0, "Reverse proxies in front of the app whose X-Forwarded-For is trusted."),
    "QUEUE": Key(
        "sqlite",
        "Job queue: `sqlite` (a file under VAR_DIR, consumer inside `appealbot run`), `redis` (REDIS_URL; run `appealbot worker`) or `memory` (tests).",
    ),
    "QUEUE_NAME": Key("appealbot", "Name of the queue in Redis (several deployments may share one Redis)."),
    "PUBLIC_URL": Key(
        "http://127.0.0.1:8000", "Address officials open from notification cards (the console's ticket pages)."
    ),
    "WECOM_AGENT_ID": Key(None, "企业微信 app AgentId for app messages to officials."),
    "WECOM_SECRET": Key(None, "企业微信 app Secret; app messages to officials are sent only when set."),
    "WECHAT_SECRET": Key(None, "公众号 AppSecret; customer-service messages to enterprises are sent only when set."),
    "WECOM_API_BASE": Key("https://qyapi.weixin.qq.com", "企业微信 API address (tests point it at a local fake)."),
    "WECHAT_API_BASE": Key("https://api.weixin.qq.com", "公众号 API address (tests point it at a local fake)."),
    "ACCEPT_DAYS": Key(1, "Working days a department has to accept (签收) an assigned ticket."),
    "REMIND_AT": Key(0.75, "Share of the time to the deadline after which the department is reminded."),
    "ESCALATE_GRACE_DAYS": Key(
        2, "Working days past the deadline before an unresolved ticket is escalated automatically."
    ),
    "JOINT_WINDOW_DAYS": Key(
        30,
        "Days around an inspection within which another filing for the same enterprise is flagged for a joint inspection.",
    ),
    "INSPECTION_YEARLY_CAP": Key(2, "Inspections per department and enterprise per year before a filing is warned."),
    "WEB_CHAT": Key(
        True,
        "Serve the web chat (`/`, `POST /api/messages`); `0` turns it off, e.g. in production where enterprises write through the 公众号.",
    ),
    "WECHAT_TEMPLATES": Key(
        None,
        '公众号 template messages (服务号) for notices while the 48-hour window is closed, JSON: `{"resolve": {"template_id": "…", "data": {"character_string1": "{number}", "thing2": "{department}"}}, …}`; kinds `assign` (受理) `accept` (签收) `resolve` (答复) `extension` (延期) `escalate` (提级) `supervise` (督办) `redo` `request_info` `policy`; values may use `{number}` `{category}` `{department}` `{deadline}` `{status}` `{result}` `{date}` `{title}` `{link}`; each value is cut to 20 characters. A kind without a template is held for the enterprise\'s next message.',
    ),
    "WECHAT_MENU": Key(
        None,
        "The 公众号 menu as `menu/create` JSON for `appealbot wechat menu`; default: 反映诉求 / 政策查询 / 一叫就到 / 我的诉求 and a link to the rating page under PUBLIC_URL.",
    ),
    "RATING_LINK_DAYS": Key(15, "Days an answer's one-tap rating link stays valid (it is used once)."),
    "SMS_PROVIDER": Key(
        "",
        "`tencent`: SMS through Tencent Cloud as the last resort for answers not rated after SMS_AFTER_HOURS; empty: no SMS.",
    ),
    "SMS_SECRET_ID": Key(None, "Tencent Cloud API SecretId (SMS)."),
    "SMS_SECRET_KEY": Key(None, "Tencent Cloud API SecretKey (SMS)."),
    "SMS_APP_ID": Key(None, "Tencent Cloud SMS SdkAppId (1400…)."),
    "SMS_SIGN": Key(None, "Approved SMS signature (签名), e.g. the government office's name."),
    "SMS_REGION": Key("ap-guangzhou", "Tencent Cloud region of the SMS API."),
    "SMS_ENDPOINT": Key(
        "sms.tencentcloudapi.com", "Tencent Cloud SMS API host (`http://host:port` for a local fake in tests)."
    ),
    "SMS_TEMPLATES": Key(
        None,
        'Approved SMS templates, JSON: `{"resolve": {"template_id": "…", "params": ["{number}", "{link}"]}}` (the same variables as WECHAT_TEMPLATES).',
    ),
    "SMS_AFTER_HOURS": Key(
        72,
        "Hours an answer may wait for the enterprise's rating before one SMS with the rating link goes to the phone it gave.",
    ),
    "SMS_DAILY_CAP": Key(3, "SMS one phone number may receive per day; more wait for the next day."),
    "MEDIA_STORE": Key(
        "local",
        "Where evidence (photos, voice, files) is kept: `local` (VAR_DIR/media) or `s3` (an S3-compatible store).",
    ),
    "MEDIA_MAX_BYTES": Key(10 * 1024 * 1024, "Largest photo, voice or file taken as evidence, in bytes."),
    "S3_ENDPOINT": Key(None, "S3-compatible store host[:port] for MEDIA_STORE=s3."),
    "S3_BUCKET": Key(None, "Bucket of the S3-compatible store."),
    "S3_ACCESS_KEY": Key(None, "Access key of the S3-compatible store."),
    "S3_SECRET_KEY": Key(None, "Secret key of the S3-compatible store."),
    "S3_REGION": Key("us-east-1", "Region of the S3-compatible store."),
    "S3_SECURE": Key(True, "HTTPS to the S3-compatible store; `0` for plain HTTP (a store on the same host)."),
    "HOST": Key("127.0.0.1", "Address `appealbot run` listens on."),
    "PORT": Key(8000, "Port `appealbot run` listens on."),
}


def defaults() -> dict[str, Any]:
    return {name: key.default for name, key in DEFAULTS.items()}


def value(config: Mapping[str, Any], name: str) -> Any:
    """`name` from a finalized configuration, or the table's default where a partial mapping (a
    script's, a test's) leaves it out."""
    found = config.get(name)
    return DEFAULTS[name].default if found is None else found
