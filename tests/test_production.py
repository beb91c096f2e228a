import pytest

from bot.production import check_secrets
from core.errors import ConfigError

GOOD = {
    "SECRET_KEY": "k" * 16 + "Zq8#xP2!vR6@mW4$",
    "DATABASE_URL": "postgresql+psycopg://db/appealbot",
    "WECHAT_TOKEN": "Xk29dLq0pW",
    "WECOM_TOKEN": None,
}


def test_strong_configuration_passes():
    check_secrets(GOOD)


@pytest.mark.parametrize(
    "override,named",
    [
        ({"SECRET_KEY_GENERATED": True}, "APPEALBOT_SECRET_KEY"),
        ({"SECRET_KEY": "short"}, "APPEALBOT_SECRET_KEY"),
        ({"WECHAT_TOKEN": "token"}, "APPEALBOT_WECHAT_TOKEN"),
        ({"WECOM_TOKEN": "1234"}, "APPEALBOT_WECOM_TOKEN"),
        ({"DATABASE_URL": "sqlite:///var/appealbot.db"}, "APPEALBOT_DATABASE_URL"),
    ],
)
def test_weak_or_default_secrets_are_refused(override, named):
    with pytest.raises(ConfigError, match=named):
        check_secrets({**GOOD, **override})


@pytest.mark.parametrize(
    "url,refused",
    [
        ("redis://cache.internal:6379/0", True),  # deploy/ used to ship this: no password, on the network
        ("redis://:s3cret-Redis-pass@cache.internal:6379/0", False),
        ("rediss://default:s3cret-Redis-pass@cache.internal:6380/0", False),
        ("redis://127.0.0.1:6379/0", False),  # loopback: only this machine's processes reach it
        ("unix:///run/redis/redis.sock", False),
    ],
)
def test_a_network_redis_needs_a_password_in_production(url, refused):
    # huey unpickles what it reads from Redis: whoever can write there runs code in the workers.
    if refused:
        with pytest.raises(ConfigError, match="APPEALBOT_REDIS_URL"):
            check_secrets({**GOOD, "REDIS_URL": url})
    else:
        check_secrets({**GOOD, "REDIS_URL": url})


def test_the_deploy_examples_set_a_redis_password_and_bind_the_web_to_loopback():
    from pathlib import Path

    deploy = Path(__file__).parent.parent / "deploy"
    env = (deploy / "env.example").read_text(encoding="utf-8")
    url = next(line.split("=", 1)[1] for line in env.splitlines() if line.startswith("APPEALBOT_REDIS_URL="))
    assert "@" in url and ":<" in url  # redis://:<password>@host
    assert "requirepass" in (deploy / "redis.conf").read_text(encoding="utf-8")
    for name in ("Procfile", "appealbot-web.service"):
        text = (deploy / name).read_text(encoding="utf-8")
        assert "0.0.0.0" not in text and "--bind 127.0.0.1:8000" in text
