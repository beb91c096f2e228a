"""Start-up configuration: environment variables, and a clear error naming a bad key."""

from __future__ import annotations

import pytest

from bot.app import create_app
from core.errors import ConfigError


def test_environment_variables_are_read(monkeypatch, config):
    monkeypatch.setenv("APPEALBOT_STATE_TTL", "60")
    app = create_app({k: v for k, v in config.items() if k != "STATE_TTL"})
    assert app.config["STATE_TTL"] == 60
    app.extensions["appealbot"].engine.dispose()


@pytest.mark.parametrize(
    "override,named",
    [
        ({"WECHAT_AES_KEY": "tooshort"}, "APPEALBOT_WECHAT_AES_KEY must be 43 characters"),
        ({"WECHAT_AES_KEY": "!" * 43}, "APPEALBOT_WECHAT_AES_KEY is not valid base64"),
        ({"WECHAT_APPID": None}, "APPEALBOT_WECHAT_APPID is required"),
        ({"WECOM_CORP_ID": None}, "APPEALBOT_WECOM_CORP_ID"),
        ({"MAX_CLOCK_SKEW": "soon"}, "APPEALBOT_MAX_CLOCK_SKEW must be a number"),
    ],
)
def test_bad_configuration_names_the_key(config, override, named):
    with pytest.raises(ConfigError, match=named):
        create_app({**config, **override})


def test_cli_reports_a_config_error_without_a_traceback(tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "APPEALBOT_WECOM_TOKEN": "x", "APPEALBOT_VAR_DIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "bot.cli", "init"], env=env, capture_output=True, text=True)
    assert result.returncode != 0
    assert "APPEALBOT_WECOM_CORP_ID" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_readme_lists_every_configuration_key_as_the_code_defines_it():
    from pathlib import Path

    from bot.config import markdown_table

    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    assert markdown_table() in readme, "README's table is stale: paste the output of `appealbot config-table`"
