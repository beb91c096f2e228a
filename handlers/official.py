"""Officials' commands in 企业微信: 签收 / 办结 / 退回 / 提级 / 补充 / 延期 / 备注 / 待办 / 查看.

A command names the ticket number ("办结 YQ-20261122-0007 已协调供电公司，本周五前完成增容"); without
one, it applies to the only ticket of the department the command could apply to. Officials act
only on their department's tickets; each answer states the ticket's new status.
"""

from __future__ import annotations

import re

from sqlalchemy import select

from core import ticket_number
from core.errors import UserError
from handlers.messages import Reply
from handlers.registry import intent
from nlp import rules
from nlp.categories import label
from tickets import access, service, timeline, transitions
from tickets.lifecycle import OPEN, STATUS, Actor, Lifecycle, _local
from tickets.models import Official, Ticket

COMMAND = re.compile(
    rf"^(签收|办结|答复|退回|退单|提级|办不了|补充材料|延期|备注|查看|待办)\s*({ticket_number.TEXT})?\s*[:：,，]?\s*(.*)$",
    re.IGNORECASE | re.DOTALL,
)
# Each verb is an action of the table of transitions (tickets/transitions.py), which also says from
# which statuses it starts: the candidates for "the one ticket" when no number is given.
VERBS = {
    "签收": "accept",
    "办结": "resolve",
    "答复": "resolve",
    "退回": "return",
    "退单": "return",
    "提级": "escalate",
    "办不了": "escalate",
    "补充材料": "request_info",
    "延期": "request_extension",
    "备注": "note",
}
HELP = (
    "可用指令（工单号可省略，仅一件待办时自动匹配）：\n签收 YQ-…\n办结 YQ-… 答复内容\n退回 YQ-… 原因\n"
    "提级 YQ-… 原因\n补充材料 YQ-… 需要企业补充的内容\n延期 YQ-… 天数 原因\n备注 YQ-… 内容\n查看 YQ-…\n待办"
)


@intent("official")
def official_command(message, ctx) -> Reply | None:
    text = rules.normalise(message.text or "")
    m = COMMAND.match(text)
    official = ctx.session.scalars(
        select(Official).where(Official.wecom_user_id == ctx.user_id, Official.active)
    ).first()
    if official is None:
        return None  # not an official: an ordinary conversation
    if text in ("已联系", "已回应", "已联系企业"):  # 一叫就到: the officer answers the call-out
        from contacts import callouts

        item = callouts.respond(ctx.session, official, ctx.now)
        return Reply(
            f"已记录：您已回应{item.enterprise.name or '企业'}的联系请求。" if item else "您没有待回应的联系请求。"
        )
    if m is None:
        return Reply(HELP) if text in ("指令", "帮助", "help") else None
    verb, number, rest = m.group(1), m.group(2), m.group(3).strip()
    if verb == "待办":
        return _todo(ctx, official)
    ticket = _ticket(ctx, official, verb, number)
    if isinstance(ticket, Reply):
        return ticket
    if verb == "查看":
        if not _visible(official, ticket):
            return Reply(f"没有找到本部门的工单 {ticket.number}。")
        return Reply(_card(ticket, official, ctx.now))
    return perform_verb(ctx, official, ticket, verb, rest)


def perform_verb(ctx, official: Official, ticket: Ticket, verb: str, rest: str) -> Reply:
    """Takes a command's action through the table of transitions; the answer states the new status
    (the 企业微信 app's commands, and the 智能机器人's in groups, handlers/groups.py)."""
    params: dict = {"text": rest}
    if verb == "延期":
        days, _, reason = rest.partition(" ")
        if not days.isdigit():
            return Reply("请写明延期的工作日天数和原因，例如“延期 YQ-20261122-0007 5 需现场勘查”。")
        params = {"days": int(days), "text": reason}
    try:
        Lifecycle(ctx.session, ctx.now, ctx.services.config).perform(ticket, Actor.of(official), VERBS[verb], **params)
    except UserError as exc:
        return Reply(str(exc))
    where = (
        f"，现由{ticket.department.name}"
        if ticket.department and ticket.department_id != official.department_id
        else ""
    )
    return Reply(
        f"工单 {ticket.number} 已{verb}{where}。当前状态：{STATUS[ticket.status]}。",
        data={"ticket": ticket.number, "status": ticket.status},
    )


def _visible(official: Official, ticket: Ticket) -> bool:
    return access.may_see(official, ticket)


def _ticket(ctx, official: Official, verb: str, number: str | None):
    if number:
        number = ticket_number.canonical(number)
        ticket = service.find(ctx.session, number)
        if ticket is None or not _visible(official, ticket):
            return Reply(f"没有找到本部门的工单 {number}。")  # another department's ticket is not shown
        return ticket
    sources = transitions.TABLE[VERBS[verb]].sources if verb in VERBS else tuple(STATUS)
    if verb == "备注":
        sources = OPEN  # a note without a number is about work in hand, not an old closed ticket
    candidates = list(
        ctx.session.scalars(
            select(Ticket)
            .where(Ticket.department_id == official.department_id, Ticket.status.in_(sources))
            .order_by(Ticket.id.desc())
            .limit(2)
        )
    )
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        return Reply(f"本部门没有可{verb}的工单。")
    return Reply(f"本部门有多件可{verb}的工单，请写明工单号，例如“{verb} {candidates[0].number} …”。")


TODO = ("assigned", "accepted", "waiting")


def todo_tickets(ctx, department_id: int, limit: int = 20) -> list[Ticket]:
    """A department's open tickets, the nearest deadline first."""
    return list(
        ctx.session.scalars(
            select(Ticket)
            .where(Ticket.department_id == department_id, Ticket.status.in_(TODO))
            .order_by(Ticket.deadline)
            .limit(limit)
        )
    )


def todo_lines(tickets: list[Ticket], now) -> list[str]:
    return [
        f"{_marks(t, now)}{t.number} {label(t.category)} · {STATUS[t.status]} · 期限 {_local(t.deadline)}"
        for t in tickets
    ]


def _todo(ctx, official: Official) -> Reply:
    rows = todo_tickets(ctx, official.department_id)
    if not rows:
        return Reply("本部门暂无待办工单。")
    return Reply(f"{official.department.name}待办（{len(rows)} 件）：\n" + "\n".join(todo_lines(rows, ctx.now)))


def _marks(ticket: Ticket, now) -> str:
    """【超期】【重办】【督办】 in front of a 待办 line: what needs doing first."""
    marks = []
    if (
        now is not None
        and ticket.status in ("assigned", "accepted")
        and ticket.deadline is not None
        and ticket.deadline < now
    ):
        marks.append("【超期】")
    if ticket.redo_count:
        marks.append("【重办】")
    if ticket.supervised:
        marks.append("【督办】")
    return "".join(marks)


def _card(ticket: Ticket, official: Official, now=None) -> str:
    shown = access.reporter(ticket, official)
    who = f"企业：{shown['name'] or '未填写'}" + (
        f"  电话：{shown['phone'] or '未填写'}" if access.reporter_visible(ticket, official) else ""
    )
    lines = [
        f"{_marks(ticket, now)}工单 {ticket.number}（{label(ticket.category)}）· {STATUS[ticket.status]}",
        who,
        f"期限：{_local(ticket.deadline)}",
        f"内容：{ticket.text}",
    ]
    lines += [
        f"· {_local(e.at)} {timeline.describe(e)}（{timeline.actor_name(e, ticket, official)}）{e.note or ''}".rstrip()
        for e in ticket.events[-5:]
    ]
    return "\n".join(lines)
