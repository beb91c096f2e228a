"""A ticket's history as people read it: Chinese labels for each event and the people who acted.

Who acted is shown by `actor_name`, the one place the console and the API ask; whether an
enterprise's name may be shown is the anonymity rule's call (`access.reporter_visible`).
"""

from __future__ import annotations

import re
from typing import Any

from nlp.categories import label as category_label
from tickets.access import ANONYMOUS, reporter_visible, supervises
from tickets.lifecycle import RATINGS
from tickets.models import Official, Ticket, TicketEvent

LABELS = {
    "submit": "企业提交诉求",
    "assign": "分办至{department}",
    "accept": "签收",
    "resolve": "答复办结",
    "return": "退回（非本部门职责）",
    "escalate": "提级至{to}",
    "request_info": "要求企业补充材料",
    "supplement": "企业补充材料",
    "request_extension": "申请延期 {days} 个工作日",
    "approve_extension": "批准延期 {days} 个工作日",
    "reject_extension": "不批准延期",
    "rate": "企业评价：{rating}",
    "remind": "到期提醒",
    "supervise": "超期督办",
    "note": "备注",
    "link": "并入主工单 {parent}",
    "correct_category": "更正类别",
    "delegate": "指派经办人：{official}",
}
_OFFICIAL = re.compile(r"^official:[^(]*\((?P<name>.*)/(?P<department>[^/]*)\)$")


def describe(event: TicketEvent) -> str:
    data: dict[str, Any] = dict(event.data or {})
    if event.action == "rate":
        rating: Any = data.get("rating", "")  # as stored (JSON), 1 to 5; shown as it is when not one of those
        text = LABELS["rate"].format(rating=RATINGS.get(rating, rating))
        if data.get("redo"):
            return text + "，退回重办"
        if data.get("supervise"):
            return text + "，转营商办督办"
        return text
    if event.action == "escalate" and event.actor.startswith("system:"):
        return f"超期自动提级至{data.get('to', '')}"
    if event.action == "correct_category" and data.get("new"):
        return f"更正类别：{category_label(data.get('old', ''))} → {category_label(data['new'])}"
    template = LABELS.get(event.action)
    if template is None:
        return event.action
    values = {"department": "", "to": "", "days": "", "parent": "", "official": "", **data}
    return template.format(**values).strip()


def actor_name(event: TicketEvent, ticket: Ticket, viewer: Official | None) -> str:
    """Who did it, as a person reads it: 王敏（市行政审批服务局）, 企业（名称）, 系统."""
    kind, _, rest = event.actor.partition(":")
    if kind == "official":
        m = _OFFICIAL.match(event.actor)
        return f"{m.group('name')}（{m.group('department')}）" if m else "工作人员"
    if kind == "enterprise":
        if not reporter_visible(ticket, viewer):
            return ANONYMOUS
        name = f"企业（{ticket.enterprise.name}）" if ticket.enterprise.name else "企业"
        # The chat id identifies a reporter across tickets: 营商办 supervisors only see it.
        return f"{name} {event.actor}" if supervises(viewer) else name
    return "系统"


__all__ = ["LABELS", "describe", "actor_name"]
