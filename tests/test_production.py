import pytest

from bot.errors import ConfigError
from bot.production import check_secrets

GOOD = {"SECRET_KEY": "k" * 16 + "Zq8#xP2!vR6@mW4$", "DATABASE_URL": "postgresql+psycopg://db/appealbot",
        "WECHAT_TOKEN": "Xk29dLq0pW", "WECOM_TOKEN": None}


def test_strong_configuration_passes():
    check_secrets(GOOD)


@pytest.mark.parametrize("override,named", [
    ({"SECRET_KEY_GENERATED": True}, "APPEALBOT_SECRET_KEY"),
    ({"SECRET_KEY": "short"}, "APPEALBOT_SECRET_KEY"),
    ({"WECHAT_TOKEN": "token"}, "APPEALBOT_WECHAT_TOKEN"),
    ({"WECOM_TOKEN": "1234"}, "APPEALBOT_WECOM_TOKEN"),
    ({"DATABASE_URL": "sqlite:///var/appealbot.db"}, "APPEALBOT_DATABASE_URL"),
])
def test_weak_or_default_secrets_are_refused(override, named):
    with pytest.raises(ConfigError, match=named):
        check_secrets({**GOOD, **override})
