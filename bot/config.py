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
from collections.abc import Mapping
from typing import Any

from core.errors import ConfigError
from core.settings import DEFAULTS, Key, _var_dir, defaults  # noqa: F401  (the table lives in the kernel)

ENV_PREFIX = "APPEALBOT"


def finalize(config: dict[str, Any]) -> None:
    """Coerce, fill in derived paths and validate, in place; raises ConfigError naming the key."""
    _coerce(config)
    _derive(config)
    validate(config)


def _coerce(config: dict[str, Any]) -> None:
    for name in (
        "MAX_CLOCK_SKEW",
        "MAX_BODY_BYTES",
        "MAX_UPLOAD_BYTES",
        "STATE_TTL",
        "PORT",
        "RATE_LIMIT_USER",
        "RATE_LIMIT_ADDR",
        "RATE_LIMIT_LOGIN",
        "PROXY_COUNT",
        "ACCEPT_DAYS",
        "REQUEST_BODY_TIMEOUT",
        "ESCALATE_GRACE_DAYS",
        "JOINT_WINDOW_DAYS",
        "INSPECTION_YEARLY_CAP",
        "RATING_LINK_DAYS",
        "SMS_AFTER_HOURS",
        "SMS_DAILY_CAP",
        "MEDIA_MAX_BYTES",
    ):
        config[name] = _as_number(name, config[name], int)
    config["RETRY_WAIT"] = _as_number("RETRY_WAIT", config["RETRY_WAIT"], float)
    config["REMIND_AT"] = _as_number("REMIND_AT", config["REMIND_AT"], float)
    config["WEB_CHAT"] = _as_bool("WEB_CHAT", config["WEB_CHAT"])
    _coerce_outreach(config)
    if config["QUEUE"] not in ("sqlite", "redis", "memory"):
        raise ConfigError(f"{ENV_PREFIX}_QUEUE must be sqlite, redis or memory, got {config['QUEUE']!r}")
    if config["QUEUE"] == "redis" and not config.get("REDIS_URL"):
        raise ConfigError(f"{ENV_PREFIX}_REDIS_URL is required when {ENV_PREFIX}_QUEUE is redis")
    for name in (
        "WECHAT_TOKEN",
        "WECHAT_APPID",
        "WECHAT_AES_KEY",
        "WECOM_TOKEN",
        "WECOM_CORP_ID",
        "WECOM_AES_KEY",
        "WECOM_BOT_TOKEN",
        "WECOM_BOT_AES_KEY",
    ):
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
            if (
                not isinstance(entry, dict)
                or not isinstance(entry.get("template_id"), (str, int))
                or not str(entry["template_id"]).strip()
            ):
                raise ConfigError(f"{ENV_PREFIX}_{name}: {kind!r} needs a template_id")
            fields = entry.get("data" if name == "WECHAT_TEMPLATES" else "params")
            if not isinstance(fields, dict if name == "WECHAT_TEMPLATES" else list):
                raise ConfigError(
                    f"{ENV_PREFIX}_{name}: {kind!r} needs "
                    + ("a data object" if name == "WECHAT_TEMPLATES" else "a params list")
                )
    config["SMS_PROVIDER"] = str(config.get("SMS_PROVIDER") or "").strip().lower()
    if config["SMS_PROVIDER"] not in ("", "tencent"):
        raise ConfigError(f"{ENV_PREFIX}_SMS_PROVIDER must be tencent or empty, got {config['SMS_PROVIDER']!r}")
    if config["SMS_PROVIDER"]:
        missing = [
            n
            for n in ("SMS_SECRET_ID", "SMS_SECRET_KEY", "SMS_APP_ID", "SMS_SIGN", "SMS_TEMPLATES")
            if not config.get(n)
        ]
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
        raise ConfigError("企业微信 needs all three keys: missing " + ", ".join(f"{ENV_PREFIX}_{n}" for n in missing))
    if bool(config.get("WECOM_BOT_TOKEN")) != bool(config.get("WECOM_BOT_AES_KEY")):
        raise ConfigError(
            f"企业微信 智能机器人 needs both {ENV_PREFIX}_WECOM_BOT_TOKEN and {ENV_PREFIX}_WECOM_BOT_AES_KEY"
        )


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
