"""The rule layer in front of the classifier: menu words, ticket numbers and bare greetings.

Only what is unambiguous is decided here; everything else goes to the statistical model.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

# The number format is the tickets' (one module, no imports of its own); the rule layer only asks
# whether a message names one.
from core import ticket_number

# Exact commands (menu buttons and their typed equivalents) → intent.
COMMANDS = {
    "我要反映问题": "appeal_start",
    "反映问题": "appeal_start",
    "我要反映": "appeal_start",
    "我要投诉": "appeal_start",
    "我要诉求": "appeal_start",
    "提诉求": "appeal_start",
    "政策查询": "policy",
    "查政策": "policy",
    "政策咨询": "policy",
    "一叫就到": "contact_lookup",
    "联系人": "contact_lookup",
    "找人": "contact_lookup",
    "我的诉求": "ticket_status",
    "我的工单": "ticket_status",
    "查进度": "ticket_status",
    "诉求进度": "ticket_status",
    "我的投诉": "ticket_status",
    "帮助": "chitchat",
    "help": "chitchat",
    "菜单": "chitchat",
    "?": "chitchat",
    "？": "chitchat",
}

_GREETINGS = (
    "你好",
    "您好",
    "在吗",
    "在不在",
    "哈喽",
    "hello",
    "hi",
    "谢谢",
    "感谢",
    "多谢",
    "好的",
    "收到",
    "再见",
    "拜拜",
    "ok",
    "嗯",
    "早上好",
    "晚上好",
    "下午好",
    "thanks",
    "thank you",
)


@lru_cache(maxsize=4096)  # one message is read by several checks: normalised once
def normalise(text: str) -> str:
    """NFKC (full-width to half-width), control characters out, whitespace folded."""
    text = unicodedata.normalize("NFKC", text or "")
    text = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in text)
    return " ".join(text.split())


def _is_meaningless(text: str) -> bool:
    """No letters of any script: only emoji, punctuation or digits."""
    return not any(unicodedata.category(ch).startswith("L") for ch in text)


def match(text: str) -> str | None:
    """Return the non-ticket intent this text certainly is, or None to ask the model."""
    clean = normalise(text)
    bare = clean.strip(" 。.!！~～,，、").lower()
    if not bare or _is_meaningless(bare):
        return "chitchat"
    if bare in COMMANDS:
        return COMMANDS[bare]
    if ticket_number.parse(clean) and len(bare) <= 40:
        return "ticket_status"
    if len(bare) <= 8 and any(bare.startswith(g) for g in _GREETINGS) and not _has_request_words(bare):
        return "chitchat"
    return None


def _has_request_words(text: str) -> bool:
    return any(w in text for w in ("问", "请", "办", "查", "找", "怎么", "能不能"))  # "你好请问…"
