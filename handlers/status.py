"""我的诉求: the enterprise's own tickets, their status, and a ticket's timeline."""
from __future__ import annotations

from handlers.messages import Reply
from handlers.registry import flow, intent
from nlp import rules
from nlp.categories import label
from tickets import numbers, service
from tickets.lifecycle import STATUS, _local

ACTIONS = {
    "submit": "提交诉求", "assign": "转办至{department}", "accept": "承办部门签收", "resolve": "答复办结",
    "return": "退回重新分办", "escalate": "提级至{to}", "request_info": "要求补充材料", "supplement": "企业补充材料",
    "rate": "企业评价", "remind": None, "supervise": "营商办督办", "approve_extension": "延期获批",
    "reject_extension": None, "request_extension": None, "note": None, "link": "并入同类诉求",
    "correct_category": None,
}


@intent("ticket_status")
def ticket_status(message, ctx) -> Reply:
    text = rules.normalise(message.text or "")
    number = numbers.parse(text)
    if number:
        return timeline(ctx, number)
    mine = service.tickets_of(ctx.session, ctx.channel, ctx.user_id)
    if not mine:
        return Reply("您还没有提交过诉求。直接描述遇到的问题，我们会转给负责的部门办理。")
    lines = [f"{i}. {t.number} {label(t.category)} · {STATUS[t.status]}" for i, t in enumerate(mine, 1)]
    ctx.state.start("my_tickets", numbers=[t.number for t in mine])
    return Reply("您的诉求（最近 10 件）：\n" + "\n".join(lines) + "\n回复序号查看办理过程。")


@flow("my_tickets")
def pick(message, ctx):
    text = rules.normalise(message.text or "")
    numbers = ctx.state.data.get("numbers", [])
    ctx.state.clear()
    if text.isdigit() and 1 <= int(text) <= len(numbers):
        return timeline(ctx, numbers[int(text) - 1])
    return None


def timeline(ctx, number: str) -> Reply:
    ticket = service.find(ctx.session, number)
    if ticket is None or ticket.enterprise.user_id != ctx.user_id or ticket.enterprise.channel != ctx.channel:
        return Reply(f"没有找到您提交的诉求 {number.upper()}，请核对编号。")  # others' tickets do not exist for you
    lines = [f"诉求 {ticket.number}（{label(ticket.category)}）· {STATUS[ticket.status]}"]
    if ticket.department and ticket.status not in ("resolved", "closed"):
        lines.append(f"承办：{ticket.department.name}，期限 {_local(ticket.deadline)}")
    for e in ticket.events:
        what = ACTIONS.get(e.action, e.action)
        if what is None:
            continue
        what = what.format(department=e.data.get("department") or "", to=e.data.get("to") or "")
        lines.append(f"· {_local(e.at)} {what}")
    if ticket.result:
        lines.append(f"答复：{ticket.result}")
    if ticket.status == "resolved":
        lines.append("请回复 1–5 评价（5 非常满意 … 1 非常不满意）。")
    return Reply("\n".join(lines), data={"ticket": ticket.number, "status": ticket.status})
