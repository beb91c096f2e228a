"""Ticket cards for 企业微信: template cards (button_interaction) with the buttons officials tap.

One builder for every place a card goes: the app's 1:1 messages, the 智能机器人's answers in a
group or a 1:1 chat, a new ticket posted into its department's group, and a tapped card shown
anew. Pure functions, no I/O. What a card shows of the enterprise is tickets/access.py's call for
one official; a card in a group is read by everyone in it, so there an anonymous report's
enterprise is never shown, whoever among them supervises.

A button's key names the action and the ticket (`yq|accept|YQ-20261123-0007`); the tap comes back
with it, signed by the platform, and is acted on only after the table of transitions and the
tapper's rights are asked again (handlers/groups.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from core import ticket_number, timefmt
from nlp.categories import label as category_label
from tickets import access, timeline
from tickets.models import Official, Ticket
from tickets.transitions import STATUS

# What a card offers in each status, in order; 查看 (the ticket page) is always added.
BUTTONS = {"assigned": ("accept", "return"), "accepted": ("resolve", "return")}
LABELS = {"accept": "签收", "resolve": "办结", "return": "退回"}
STYLES = {"accept": 1, "resolve": 1, "return": 2}  # 1 blue, 2 red, 4 grey
# Taps that need words: asked for in the official's next message.
ASKS = {"resolve": "答复内容（将发送给企业）", "return": "退回原因（为什么不属于本部门职责）"}
LIST_SIZE = 6  # a card holds at most six lines and six buttons
_KEY = "yq"


@dataclass(frozen=True)
class Tap:
    action: str
    number: str
    listed: bool  # tapped on a list card (待办): the answer replaces the tapper's copy only


def key(action: str, number: str, listed: bool = False) -> str:
    return "|".join((_KEY, action, number) + (("list",) if listed else ()))


def parse_key(value: str | None) -> Tap | None:
    """A button key of ours, or None (anything else is ignored, not guessed at)."""
    parts = (value or "").split("|")
    if len(parts) not in (3, 4) or parts[0] != _KEY or parts[1] not in LABELS:
        return None
    if not ticket_number.is_number(parts[2]) or (len(parts) == 4 and parts[3] != "list"):
        return None
    return Tap(parts[1], ticket_number.canonical(parts[2]), len(parts) == 4)


def ticket_url(public_url: str, number: str) -> str:
    return f"{public_url.rstrip('/')}/console/tickets/{number}" if public_url else ""


def _day(moment: datetime | None) -> str:
    return timefmt.month_day(moment)


def _cut(text: str, n: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= n else text[: n - 1] + "…"


def deadline_line(ticket: Ticket) -> str:
    if ticket.status == "assigned":
        return f"{_day(ticket.accept_due)}前签收，{_day(ticket.deadline)}前办结"
    if ticket.status == "accepted":
        return f"{_day(ticket.deadline)}前办结"
    if ticket.status == "waiting":
        return "等企业补充材料，暂停计时"
    return "—"


def last_act(ticket: Ticket, viewer: Official | None) -> str | None:
    """Who did the last thing that changed the ticket, and what: 王某（市供电公司）签收."""
    for event in reversed(ticket.events):
        if event.action in ("note", "remind", "request_extension"):
            continue
        when = timefmt.local(event.at, timefmt.SHORT)
        return _cut(f"{timeline.actor_name(event, ticket, viewer)}{timeline.describe(event)} {when}", 26)
    return None


def enterprise_shown(ticket: Ticket, viewer: Official | None, in_group: bool) -> str:
    """The enterprise as the card may show it: never an anonymous reporter in a group."""
    shown = access.reporter(ticket, None if in_group else viewer)
    return shown["name"] or "未填写"


def ticket_card(
    ticket: Ticket,
    *,
    task_id: str,
    public_url: str = "",
    viewer: Official | None = None,
    in_group: bool = True,
    note: str | None = None,
) -> dict:
    """The card of one ticket in its present state, with the buttons the status offers."""
    dept = ticket.department.name if ticket.department else "待营商办分办"
    rows = [
        {"keyname": "企业", "value": _cut(enterprise_shown(ticket, viewer, in_group), 26)},
        {"keyname": "期限", "value": deadline_line(ticket)},
    ]
    act = last_act(ticket, None if in_group else viewer)
    if act:
        rows.append({"keyname": "经办", "value": act})
    url = ticket_url(public_url, ticket.number)
    buttons = [
        {"text": LABELS[a], "style": STYLES[a], "key": key(a, ticket.number)} for a in BUTTONS.get(ticket.status, ())
    ]
    if url:
        buttons.append({"text": "查看", "style": 4, "type": 1, "url": url})
    card: dict = {
        "card_type": "button_interaction",
        "source": {"desc": "有求必应 · 诉求工单"},
        "main_title": {
            "title": f"{STATUS[ticket.status]} {ticket.number}",
            "desc": _cut(f"{category_label(ticket.category)} · {dept}", 30),
        },
        "sub_title_text": _cut(ticket.text, 100),
        "horizontal_content_list": rows,
        "task_id": task_id,
    }
    if note:
        card["quote_area"] = {"type": 0, "quote_text": _cut(note, 100)}
    if url:
        card["card_action"] = {"type": 1, "url": url}
    if buttons:
        card["button_list"] = buttons
    else:  # nothing to tap and no page to open: a plain notice card (button_interaction needs buttons)
        card["card_type"] = "text_notice"
        card["card_action"] = {"type": 1, "url": public_url or "https://work.weixin.qq.com"}
    return card


def list_card(
    tickets: Iterable[Ticket], total: int, *, title: str, desc: str, task_id: str, public_url: str = ""
) -> dict:
    """待办 as a card: the most urgent tickets, each with the one tap that moves it on."""
    shown = list(tickets)[:LIST_SIZE]
    rows, buttons = [], []
    for t in shown:
        rows.append(
            {
                "keyname": t.number[-4:],
                "value": _cut(f"{STATUS[t.status]} {category_label(t.category)} {_day(t.deadline)}", 26),
            }
        )
        actions = BUTTONS.get(t.status, ())
        if actions:
            buttons.append(
                {
                    "text": f"{LABELS[actions[0]]}{t.number[-4:]}",
                    "style": STYLES[actions[0]],
                    "key": key(actions[0], t.number, listed=True),
                }
            )
    more = f"共 {total} 件" + (f"，这里是最紧的 {len(shown)} 件，其余请在后台查看" if total > len(shown) else "")
    card: dict = {
        "card_type": "button_interaction",
        "source": {"desc": "有求必应 · 诉求工单"},
        "main_title": {"title": _cut(title, 26), "desc": _cut(desc, 30)},
        "sub_title_text": more,
        "horizontal_content_list": rows,
        "task_id": task_id,
    }
    if public_url:
        card["card_action"] = {"type": 1, "url": f"{public_url.rstrip('/')}/console/"}
    if not buttons and public_url:
        buttons.append({"text": "打开后台", "style": 4, "type": 1, "url": f"{public_url.rstrip('/')}/console/"})
    if buttons:
        card["button_list"] = buttons
    else:
        card["card_type"] = "text_notice"
        card["card_action"] = {"type": 1, "url": "https://work.weixin.qq.com"}
    return card


__all__ = [
    "Tap",
    "key",
    "parse_key",
    "ticket_url",
    "ticket_card",
    "list_card",
    "deadline_line",
    "last_act",
    "ASKS",
    "LABELS",
    "BUTTONS",
]
