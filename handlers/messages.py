"""The plain objects that cross the boundary between channels and the conversation core."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class IncomingMessage:
    channel: str  # "wechat" | "wecom" | "wecom_bot" | "web"
    user_id: str
    type: str  # text | voice | event | image | location | link | file | video | unknown
    created_at: datetime
    text: str | None = None
    message_id: str | None = None
    event: str | None = None  # subscribe | unsubscribe | click | …
    event_key: str | None = None
    raw: str = ""
    # What a photo, voice, video, file or location message carries besides text: media_id, format,
    # lat/lng/label (handlers/media.py).
    media: dict[str, Any] | None = None
    # 企业微信 智能机器人 and ticket cards: the group chat the message came from (None in a 1:1 chat),
    # the platform's one-use token for answering later (the bot's response_url, an app card's
    # ResponseCode), and the text of the message quoted in a reply.
    chat_id: str | None = None
    reply_token: str | None = None
    quoted: str | None = None

    @property
    def dedupe_key(self) -> str:
        """The platform's identity of this delivery: MsgId, or sender + CreateTime for events."""
        if self.message_id:
            return f"{self.channel}:id:{self.message_id}"
        stamp = int(self.created_at.timestamp())
        return f"{self.channel}:ev:{self.user_id}:{stamp}:{self.event or self.type}"


@dataclass
class Reply:
    """A channel-neutral answer. An empty text means "answer nothing" (WeChat's "success")."""

    text: str = ""
    choices: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def empty(cls) -> Reply:
        return cls()

    @property
    def is_empty(self) -> bool:
        return not self.text

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "choices": self.choices, "data": self.data}

    @classmethod
    def from_dict(cls, value: dict[str, Any]) -> Reply:
        return cls(text=value.get("text", ""), choices=list(value.get("choices", [])), data=dict(value.get("data", {})))
