"""The outbound side, built from the configuration: 企业微信 app and group robot, 公众号 customer
service, SMS. Each call sends one message; what to send and when is delivery/deliver.py's."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import requests

from delivery.platforms import WeChatClient, WeComClient, token_storage
from delivery.sms import provider
from tickets.models import Notification

log = logging.getLogger(__name__)


class Sender:
    """The outbound side, built from the configuration: WeCom app and robot, 公众号 customer service."""

    def __init__(self, config, Session):
        storage = token_storage(config, Session)
        self.config = config
        self.wecom = self.wechat = None
        if config.get("WECOM_SECRET") and config.get("WECOM_CORP_ID"):
            self.wecom = WeComClient(config["WECOM_CORP_ID"], config["WECOM_SECRET"], config["WECOM_API_BASE"], storage)
        if config.get("WECHAT_SECRET") and config.get("WECHAT_APPID"):
            self.wechat = WeChatClient(
                config["WECHAT_APPID"], config["WECHAT_SECRET"], config["WECHAT_API_BASE"], storage
            )
        self.sms = provider(config)  # the last resort (delivery/templates.py), None unless configured

    def send(self, channel: str, recipient: str, title: str, body: str, url: str) -> None:
        if channel == "wecom_app":
            if self.wecom is None:
                raise Unconfigured("WECOM_SECRET/WECOM_AGENT_ID 未配置")
            # The platform's duplicate check makes a re-send after a crash (sent, but not yet marked so)
            # reach the official once.
            self.wecom.message.send(
                self.config["WECOM_AGENT_ID"],
                recipient,
                msg={
                    "msgtype": "textcard",
                    "enable_duplicate_check": 1,
                    "duplicate_check_interval": 1800,
                    "textcard": {
                        "title": title,
                        "description": body[:500],
                        "url": url or "https://work.weixin.qq.com",
                        "btntxt": "详情",
                    },
                },
            )
        elif channel == "wecom_user":  # an enterprise that writes through 企业微信: plain text, no console link
            if self.wecom is None:
                raise Unconfigured("WECOM_SECRET/WECOM_AGENT_ID 未配置")
            self.wecom.message.send_text(self.config["WECOM_AGENT_ID"], recipient, f"{title}\n{body}")
        elif channel == "wecom_robot":
            res = requests.post(
                recipient,
                json={"msgtype": "markdown", "markdown": {"content": f"**{title}**\n{body}"[:4000]}},
                timeout=10,
            )
            res.raise_for_status()
            result = res.json()
            if result.get("errcode"):
                raise RuntimeError(f"robot errcode {result['errcode']}: {result.get('errmsg')}")
        elif channel == "wechat":
            if self.wechat is None:
                raise Unconfigured("WECHAT_SECRET 未配置")
            self.wechat.message.send_text(recipient, body)
        else:
            raise ValueError(f"unknown channel {channel}")

    # -- 企业微信 cards and the 智能机器人 (delivery/groups.py decides what goes) ----------------------

    @property
    def cards(self) -> bool:
        """Whether app messages may carry buttons: a tap comes back to the app's callback (/wecom),
        which the configuration requires with the app's keys (bot/config.py)."""
        return self.wecom is not None and bool(self.config.get("WECOM_TOKEN"))

    def send_card(self, recipient: str, card: dict) -> dict:
        """A template card to one official through the app (its task_id is the notice's own, so the
        platform's duplicate check keeps a re-send after a crash to one card)."""
        if self.wecom is None:
            raise Unconfigured("WECOM_SECRET/WECOM_AGENT_ID 未配置")
        return self.wecom.post(
            "message/send",
            data={
                "touser": recipient,
                "agentid": self.config["WECOM_AGENT_ID"],
                "msgtype": "template_card",
                "template_card": card,
                "enable_duplicate_check": 1,
                "duplicate_check_interval": 1800,
            },
        )

    def update_card(self, recipient: str, response_code: str, card: dict) -> dict:
        """A tapped app card shown anew to the official who tapped it (the tap's ResponseCode works
        once, within 72 hours)."""
        if self.wecom is None:
            raise Unconfigured("WECOM_SECRET/WECOM_AGENT_ID 未配置")
        return self.wecom.post(
            "message/update_template_card",
            data={
                "userids": [recipient],
                "agentid": self.config["WECOM_AGENT_ID"],
                "response_code": response_code,
                "template_card": card,
            },
        )

    def post_reply(self, url: str, payload: dict) -> None:
        """A message the 智能机器人 posts through a response_url (once, within an hour). Only to the
        platform's own address: the URL came in a signed callback, and is checked once more."""
        base = str(self.config.get("WECOM_API_BASE") or "").rstrip("/") + "/cgi-bin/aibot/response?"
        if not url.startswith(base):
            raise BadReplyAddress("response_url 不是企业微信的地址")
        res = requests.post(url, json=payload, timeout=10)
        res.raise_for_status()
        result = res.json()
        if result.get("errcode"):
            raise RuntimeError(f"aibot response errcode {result['errcode']}: {result.get('errmsg')}")


class Unconfigured(RuntimeError):
    pass


class BadReplyAddress(RuntimeError):
    """A response_url that is not the platform's: never posted to, never retried."""


MAX_ATTEMPTS = 8  # a notice is tried this often (with backoff) before it is marked failed
WINDOW_CLOSED = {45015, 45047}  # 公众号: outside the 48-hour window / quota used up


def record_failure(
    channel: str, recipient: str, items: list[Notification], exc: Exception, now: datetime, later: list[datetime]
) -> None:
    """A send that failed: retried with backoff, then `failed` (at once when it cannot succeed)."""
    code = getattr(exc, "errcode", None)
    for n in items:
        n.attempts += 1
        n.last_error = f"{type(exc).__name__}: {exc}"[:1000]
        if channel == "wechat" and code in WINDOW_CLOSED:
            n.status = "held"
        elif n.attempts >= MAX_ATTEMPTS or isinstance(exc, (Unconfigured, BadReplyAddress)):
            n.status = "failed"
        else:
            n.next_attempt_at = now + timedelta(seconds=30 * 2 ** (n.attempts - 1))
            later.append(n.next_attempt_at)
    log.warning("notification to %s via %s failed: %s", recipient[:12], channel, exc)
