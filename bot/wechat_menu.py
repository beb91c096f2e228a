"""The 公众号 menu (`appealbot wechat menu`): built from the configuration, created through wechatpy,
and created only when the account's menu differs (running it again changes nothing).

Click buttons send keys the dialogue router reads as the words a user could type
(handlers/router.MENU_KEYS); a view button opens a page (the rating page under PUBLIC_URL).
"""

from __future__ import annotations

import json
from typing import Any

from core.errors import ConfigError
from handlers.router import MENU_KEYS

MAX_BUTTONS, MAX_SUB_BUTTONS = 3, 5  # the platform's limits


def default_menu(public_url: str) -> dict[str, Any]:
    base = public_url.rstrip("/")
    return {
        "button": [
            {"type": "click", "name": "反映诉求", "key": "APPEAL"},
            {"type": "click", "name": "政策查询", "key": "POLICY"},
            {
                "name": "办事服务",
                "sub_button": [
                    {"type": "click", "name": "一叫就到", "key": "CONTACT"},
                    {"type": "click", "name": "我的诉求", "key": "MY_TICKETS"},
                    {"type": "view", "name": "评价办理结果", "url": f"{base}/rate"},
                ],
            },
        ]
    }


def menu_from(config) -> dict[str, Any]:
    menu = config.get("WECHAT_MENU") or default_menu(config["PUBLIC_URL"])
    check(menu)
    return menu


def check(menu: dict[str, Any]) -> None:
    """The platform's limits, and click keys the router understands (an unknown key would answer nothing)."""
    buttons = menu.get("button") if isinstance(menu, dict) else None
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= MAX_BUTTONS:
        raise ConfigError(f"WECHAT_MENU needs 1 to {MAX_BUTTONS} buttons")
    for button in buttons:
        subs = button.get("sub_button")
        if subs:
            if len(subs) > MAX_SUB_BUTTONS:
                raise ConfigError(f"WECHAT_MENU: {button.get('name')!r} has more than {MAX_SUB_BUTTONS} sub-buttons")
            for sub in subs:
                _check_leaf(sub)
        else:
            _check_leaf(button)


def _check_leaf(button: dict[str, Any]) -> None:
    if not button.get("name"):
        raise ConfigError("WECHAT_MENU: every button needs a name")
    if button.get("type") == "click" and button.get("key") not in MENU_KEYS:
        raise ConfigError(
            f"WECHAT_MENU: click key {button.get('key')!r} is not one the bot understands ({', '.join(MENU_KEYS)})"
        )
    if button.get("type") == "view" and not str(button.get("url", "")).startswith(("http://", "https://")):
        raise ConfigError(f"WECHAT_MENU: {button['name']!r} needs a http(s) url")


def _normal(value: Any) -> Any:
    """The menu as the platform gives it back and as we send it compare alike (empty lists dropped)."""
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items() if v not in ([], None, "")}
    if isinstance(value, list):
        return [_normal(v) for v in value]
    return value


def sync(client, menu: dict[str, Any]) -> str:
    """Creates the menu unless the account already has exactly it: "created" or "unchanged"."""
    current = client.menu.get()  # None while the account has no menu (46003)
    if current and json.dumps(_normal(current.get("menu") or {}), sort_keys=True, ensure_ascii=False) == json.dumps(
        _normal(menu), sort_keys=True, ensure_ascii=False
    ):
        return "unchanged"
    client.menu.create(menu)
    return "created"
