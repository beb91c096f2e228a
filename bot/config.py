"""Configuration keys, their defaults and their validation.

The app factory layers defaults, then APPEALBOT_* environment variables (Flask's
`from_prefixed_env`), then a test mapping, and calls `finalize` once at start-up, so a bad value
fails there with a sentence naming the key. The README's table comes from `markdown_table()`.
"""
from __future__ import annotations

import base64
import binascii
import os
import secrets
from dataclasses import dataclass
from typing import Any, Mapping

from bot.errors import ConfigError

ENV_PREFIX = "APPEALBOT"


@dataclass(frozen=True)
class Key:
    default: Any
    help: str


def _var_dir() -> str:
    return os.path.abspath("var")


DEFAULTS: dict[str, Key] = {
    "DATABASE_URL": Key(None, "SQLAlchemy URL; default a SQLite file `var/appealbot.db`."),
    "VAR_DIR": Key(None, "Directory for the SQLite file, the trained model and the job queue; default `./var`."),
    "SECRET_KEY": Key(None, "Signs console sessions; a random one per process when unset (sessions then end on restart)."),
    "WECHAT_TOKEN": Key(None, "公众号 callback token; `/wechat` answers 404 while unset."),
    "WECHAT_APPID": Key(None, "公众号 AppID; required with `WECHAT_AES_KEY`."),
    "WECHAT_AES_KEY": Key(None, "公众号 EncodingAESKey (43 characters); enables compatible and safe mode."),
    "WECOM_TOKEN": Key(None, "企业微信 app callback token; `/wecom` answers 404 while unset."),
    "WECOM_CORP_ID": Key(None, "企业微信 CorpID; required with `WECOM_TOKEN`."),
    "WECOM_AES_KEY": Key(None, "企业微信 EncodingAESKey (43 characters); required with `WECOM_TOKEN`."),
    "WECOM_BOT_TOKEN": Key(None, "企业微信 智能机器人 (API mode) callback Token; `/wecom/bot` answers 404 while unset."),
    "WECOM_BOT_AES_KEY": Key(None, "企业微信 智能机器人 EncodingAESKey (43 characters); required with `WECOM_BOT_TOKEN`."),
    "MAX_CLOCK_SKEW": Key(300, "Seconds a POSTed callback's timestamp may differ from now; 0 turns the replay check off."),
    "MAX_BODY_BYTES": Key(64 * 1024, "Largest request body accepted, in bytes."),
    "MAX_UPLOAD_BYTES": Key(21 * 1024 * 1024, "Largest console upload (policy documents, contact cards), in bytes: a 20 MB file, as ingest takes, and its form."),
    "STATE_TTL": Key(1800, "Seconds a multi-turn conversation (asking for a name, a rating …) stays open."),
    "REQUEST_BODY_TIMEOUT": Key(20, "Seconds a client may take to send a request body (`serve --prod` answers 408 after; waitress drops a connection idle this long). Behind deploy/nginx.conf, nginx buffers bodies first."),
    "RETRY_WAIT": Key(3.0, "Seconds a retried WeChat delivery waits for the first delivery's reply."),
    "MODEL_PATH": Key(None, "Trained classifier file; default `var/model.joblib`."),
    "REDIS_URL": Key(None, "Redis for what processes share (dedupe, state, rate limits, queue, tokens); unset: the database and the process."),
    "RATE_LIMIT_USER": Key(30, "Messages one user may send per minute (webhooks and API); 0 turns the limit off."),
    "RATE_LIMIT_ADDR": Key(600, "Requests one client address may make per minute; 0 turns the limit off."),
    "RATE_LIMIT_LOGIN": Key(20, "Console sign-in attempts one client address may make per minute; 0 turns the limit off."),
    "PROXY_COUNT": Key(0, "Reverse proxies in front of the app whose X-Forwarded-For is trusted."),
    "QUEUE": Key("sqlite", "Job queue: `sqlite` (a file under VAR_DIR, consumer inside `appealbot run`), `redis` (REDIS_URL; run `appealbot worker`) or `memory` (tests)."),
    "QUEUE_NAME": Key("appealbot", "Name of the queue in Redis (several deployments may share one Redis)."),
    "PUBLIC_URL": Key("http://127.0.0.1:8000", "Address officials open from notification cards (the console's ticket pages)."),
    "WECOM_AGENT_ID": Key(None, "企业微信 app AgentId for app messages to officials."),
    "WECOM_SECRET": Key(None, "企业微信 app Secret; app messages to officials are sent only when set."),
    "WECHAT_SECRET": Key(None, "公众号 AppSecret; customer-service messages to enterprises are sent only when set."),
    "WECOM_API_BASE": Key("https://qyapi.weixin.qq.com", "企业微信 API address (tests point it at a local fake)."),
    "WECHAT_API_BASE": Key("https://api.weixin.qq.com", "公众号 API address (tests point it at a local fake)."),
    "ACCEPT_DAYS": Key(1, "Working days a department has to accept (签收) an assigned ticket."),
    "REMIND_AT": Key(0.75, "Share of the time to the deadline after which the department is reminded."),
    "ESCALATE_GRACE_DAYS": Key(2, "Working days past the deadline before an unresolved ticket is escalated automatically."),
    "JOINT_WINDOW_DAYS": Key(30, "Days around an inspection within which another filing for the same enterprise is flagged for a joint inspection."),
    "INSPECTION_YEARLY_CAP": Key(2, "Inspections per department and enterprise per year before a filing is warned."),
    "WEB_CHAT": Key(True, "Serve the web chat (`/`, `POST /api/messages`); `0` turns it off, e.g. in production where enterprises write through the 公众号."),
    "WECHAT_TEMPLATES": Key(None, "公众号 template messages (服务号) for notices while the 48-hour window is closed, JSON: `{\"resolve\": {\"template_id\": \"…\", \"data\": {\"character_string1\": \"{number}\", \"thing2\": \"{department}\"}}, …}`; kinds `assign` (受理) `accept` (签收) `resolve` (答复) `extension` (延期) `escalate` (提级) `supervise` (督办) `redo` `request_info` `policy`; values may use `{number}` `{category}` `{department}` `{deadline}` `{status}` `{result}` `{date}` `{title}` `{link}`; each value is cut to 20 characters. A kind without a template is held for the enterprise's next message."),
    "WECHAT_MENU": Key(None, "The 公众号 menu as `menu/create` JSON for `appealbot wechat menu`; default: 反映诉求 / 政策查询 / 一叫就到 / 我的诉求 and a link to the rating page under PUBLIC_URL."),
    "RATING_LINK_DAYS": Key(15, "Days an answer's one-tap rating link stays valid (it is used once)."),
    "SMS_PROVIDER": Key("", "`tencent`: SMS through Tencent Cloud as the last resort for answers not rated after SMS_AFTER_HOURS; empty: no SMS."),
    "SMS_SECRET_ID": Key(None, "Tencent Cloud API SecretId (SMS)."),
    "SMS_SECRET_KEY": Key(None, "Tencent Cloud API SecretKey (SMS)."),
    "SMS_APP_ID": Key(None, "Tencent Cloud SMS SdkAppId (1400…)."),
    "SMS_SIGN": Key(None, "Approved SMS signature (签名), e.g. the government office's name."),
    "SMS_REGION": Key("ap-guangzhou", "Tencent Cloud region of the SMS API."),
    "SMS_ENDPOINT": Key("sms.tencentcloudapi.com", "Tencent Cloud SMS API host (`http://host:port` for a local fake in tests)."),
    "SMS_TEMPLATES": Key(None, "Approved SMS templates, JSON: `{\"resolve\": {\"template_id\": \"…\", \"params\": [\"{number}\", \"{link}\"]}}` (the same variables as WECHAT_TEMPLATES)."),
    "SMS_AFTER_HOURS": Key(72, "Hours an answer may wait for the enterprise's rating before one SMS with the rating link goes to the phone it gave."),
    "SMS_DAILY_CAP": Key(3, "SMS one phone number may receive per day; more wait for the next day."),
    "MEDIA_STORE": Key("local", "Where evidence (photos, voice, files) is kept: `local` (VAR_DIR/media) or `s3` (an S3-compatible store)."),
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


def finalize(config: dict[str, Any]) -> None:
    """Coerce, fill in derived paths and validate, in place; raises ConfigError naming the key."""
    _coerce(config)
    _derive(config)
    validate(config)


def _coerce(config: dict[str, Any]) -> None:
    for name in ("MAX_CLOCK_SKEW", "MAX_BODY_BYTES", "MAX_UPLOAD_BYTES", "STATE_TTL", "PORT", "RATE_LIMIT_USER",
                 "RATE_LIMIT_ADDR", "RATE_LIMIT_LOGIN", "PROXY_COUNT", "ACCEPT_DAYS", "REQUEST_BODY_TIMEOUT", "ESCALATE_GRACE_DAYS", "JOINT_WINDOW_DAYS", "INSPECTION_YEARLY_CAP",
                 "RATING_LINK_DAYS", "SMS_AFTER_HOURS", "SMS_DAILY_CAP", "MEDIA_MAX_BYTES"):
        config[name] = _as_number(name, config[name], int)
    config["RETRY_WAIT"] = _as_number("RETRY_WAIT", config["RETRY_WAIT"], float)
    config["REMIND_AT"] = _as_number("REMIND_AT", config["REMIND_AT"], float)
    config["WEB_CHAT"] = _as_bool("WEB_CHAT", config["WEB_CHAT"])
    _coerce_outreach(config)
    if config["QUEUE"] not in ("sqlite", "redis", "memory"):
        raise ConfigError(f"{ENV_PREFIX}_QUEUE must be sqlite, redis or memory, got {config['QUEUE']!r}")
    if config["QUEUE"] == "redis" and not config.get("REDIS_URL"):
        raise ConfigError(f"{ENV_PREFIX}_REDIS_URL is required when {ENV_PREFIX}_QUEUE is redis")
    for name in ("WECHAT_TOKEN", "WECHAT_APPID", "WECHAT_AES_KEY", "WECOM_TOKEN", "WECOM_CORP_ID", "WECOM_AES_KEY",
                 "WECOM_BOT_TOKEN", "WECOM_BOT_AES_KEY"):
        value = config.get(name)
        config[name] = str(value).strip() if value not in (None, "") else None


def _as_json(name: str, value: Any, kind: type) -> Any:
    """A structured key: given as JSON in the environment, or as the object itself by a test."""
    if value in (None, ""):
        return None
    if isinstance(value, str):
        import json

        try:
            value = json.loads(value)
        except ValueError as exc:
            raise ConfigError(f"{ENV_PREFIX}_{name} is not valid JSON: {exc}") from None
    if not isinstance(value, kind):
        raise ConfigError(f"{ENV_PREFIX}_{name} must be a JSON {'object' if kind is dict else 'list'}")
    return value


def _coerce_outreach(config: dict[str, Any]) -> None:
    """Template messages, SMS and the evidence store: each needs all of its keys, or none is used."""
    for name in ("WECHAT_TEMPLATES", "SMS_TEMPLATES", "WECHAT_MENU"):
        config[name] = _as_json(name, config.get(name), dict)
    for name in ("WECHAT_TEMPLATES", "SMS_TEMPLATES"):
        for kind, entry in (config[name] or {}).items():
            if not isinstance(entry, dict) or not isinstance(entry.get("template_id"), (str, int)) \
                    or not str(entry["template_id"]).strip():
                raise ConfigError(f"{ENV_PREFIX}_{name}: {kind!r} needs a template_id")
            fields = entry.get("data" if name == "WECHAT_TEMPLATES" else "params")
            if not isinstance(fields, dict if name == "WECHAT_TEMPLATES" else list):
                raise ConfigError(f"{ENV_PREFIX}_{name}: {kind!r} needs "
                                  + ("a data object" if name == "WECHAT_TEMPLATES" else "a params list"))
    config["SMS_PROVIDER"] = str(config.get("SMS_PROVIDER") or "").strip().lower()
    if config["SMS_PROVIDER"] not in ("", "tencent"):
        raise ConfigError(f"{ENV_PREFIX}_SMS_PROVIDER must be tencent or empty, got {config['SMS_PROVIDER']!r}")
    if config["SMS_PROVIDER"]:
        missing = [n for n in ("SMS_SECRET_ID", "SMS_SECRET_KEY", "SMS_APP_ID", "SMS_SIGN", "SMS_TEMPLATES")
                   if not config.get(n)]
        if missing:
            raise ConfigError("SMS needs " + ", ".join(f"{ENV_PREFIX}_{n}" for n in missing))
    config["S3_SECURE"] = _as_bool("S3_SECURE", config.get("S3_SECURE", True))
    if config.get("MEDIA_STORE") not in ("local", "s3"):
        raise ConfigError(f"{ENV_PREFIX}_MEDIA_STORE must be local or s3, got {config.get('MEDIA_STORE')!r}")
    if config["MEDIA_STORE"] == "s3":
        missing = [n for n in ("S3_ENDPOINT", "S3_BUCKET", "S3_ACCESS_KEY", "S3_SECRET_KEY") if not config.get(n)]
        if missing:
            raise ConfigError("MEDIA_STORE=s3 needs " + ", ".join(f"{ENV_PREFIX}_{n}" for n in missing))


def _as_number(name: str, value: Any, kind: type) -> Any:
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{ENV_PREFIX}_{name} must be a number, got {value!r}") from None
    if number < 0:
        raise ConfigError(f"{ENV_PREFIX}_{name} must not be negative, got {value!r}")
    return number


def _as_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"{ENV_PREFIX}_{name} must be 1 or 0 (on or off), got {value!r}")


def _derive(config: dict[str, Any]) -> None:
    var_dir = config.get("VAR_DIR") or _var_dir()
    config["VAR_DIR"] = var_dir
    if not config.get("DATABASE_URL"):
        config["DATABASE_URL"] = "sqlite:///" + os.path.join(var_dir, "appealbot.db")
    if not config.get("MODEL_PATH"):
        config["MODEL_PATH"] = os.path.join(var_dir, "model.joblib")
    if not config.get("SECRET_KEY"):
        config["SECRET_KEY"] = secrets.token_hex(32)
        config["SECRET_KEY_GENERATED"] = True  # fine for `make run`, refused in production mode


def validate(config: Mapping[str, Any]) -> None:
    for name in ("WECHAT_AES_KEY", "WECOM_AES_KEY", "WECOM_BOT_AES_KEY"):
        if config.get(name):
            check_aes_key(name, config[name])
    if config.get("WECHAT_AES_KEY") and not config.get("WECHAT_APPID"):
        raise ConfigError(f"{ENV_PREFIX}_WECHAT_APPID is required when {ENV_PREFIX}_WECHAT_AES_KEY is set")
    if config.get("WECHAT_AES_KEY") and not config.get("WECHAT_TOKEN"):
        raise ConfigError(f"{ENV_PREFIX}_WECHAT_TOKEN is required when {ENV_PREFIX}_WECHAT_AES_KEY is set")
    wecom = [n for n in ("WECOM_TOKEN", "WECOM_CORP_ID", "WECOM_AES_KEY") if config.get(n)]
    if wecom and len(wecom) < 3:
        missing = [n for n in ("WECOM_TOKEN", "WECOM_CORP_ID", "WECOM_AES_KEY") if n not in wecom]
        raise ConfigError(
            "企业微信 needs all three keys: missing " + ", ".join(f"{ENV_PREFIX}_{n}" for n in missing)
        )
    if bool(config.get("WECOM_BOT_TOKEN")) != bool(config.get("WECOM_BOT_AES_KEY")):
        raise ConfigError(f"企业微信 智能机器人 needs both {ENV_PREFIX}_WECOM_BOT_TOKEN and {ENV_PREFIX}_WECOM_BOT_AES_KEY")


def check_aes_key(name: str, value: str) -> bytes:
    """An EncodingAESKey is 43 base64 characters that decode to a 32-byte AES key."""
    if len(value) != 43:
        raise ConfigError(f"{ENV_PREFIX}_{name} must be 43 characters (an EncodingAESKey), got {len(value)}")
    try:
        key = base64.b64decode(value + "=", validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(f"{ENV_PREFIX}_{name} is not valid base64") from None
    if len(key) != 32:
        raise ConfigError(f"{ENV_PREFIX}_{name} does not decode to a 32-byte key")
    return key


def markdown_table() -> str:
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, key in DEFAULTS.items():
        default = "" if key.default is None else f"`{key.default}`"
        rows.append(f"| `{ENV_PREFIX}_{name}` | {default} | {key.help} |")
    return "\n".join(rows)
