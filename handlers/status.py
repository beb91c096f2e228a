"""我的诉求: the enterprise's own tickets, their timelines, ratings (回访) and supplements.

A rating is taken in words ("满意", "非常满意", "给个4分") whenever a ticket waits for one; a bare
digit only when the rating request is the last thing with numbers the enterprise was shown — never
a "1" meant for a newer menu, or one typed after the menu it answered was gone.
"""

from __future__ import annotations

import re
from datetime import datetime

from core import ticket_number
from handlers.context import Context
from handlers.conversation import Conversation, Option, numbered, pick
from handlers.details import number
from handlers.messages import Reply
from handlers.offer import show_answer
from handlers.registry import answers, intent
from handlers.understanding import Understanding
from nlp.categories import label
from tickets import service
from tickets.lifecycle import RATINGS, STATUS, Actor, Lifecycle, _local
from tickets.models import Ticket

ACTIONS = {
    "submit": "提交诉求",
    "assign": "转办至{department}",
    "accept": "承办部门签收",
    "resolve": "答复办结",
    "return": "退回重新分办",
    "escalate": "提级至{to}",
    "request_info": "要求补充材料",
    "supplement": "企业补充材料",
    "rate": "企业评价",
    "remind": None,
    "supervise": "营商办督办",
    "approve_extension": "延期获批",
    "reject_extension": None,
    "request_extension": None,
    "note": None,
    "link": "并入同类诉求",
    "correct_category": None,
}
# Numbered by the rating itself (5 非常满意 … 1 非常不满意), as the resolution notice shows it.
RATING_LINES = "\n".join(f"{n}. {name}" for n, name in sorted(RATINGS.items(), reverse=True))
SUPPLEMENT = re.compile(rf"^补充\s*({ticket_number.TEXT})?\s*[:：]?\s*(.+)$", re.IGNORECASE | re.DOTALL)


@intent("ticket_status")
def ticket_status(message, ctx: Context) -> Reply:
    u = ctx.understood
    if u.details.ticket:
        return timeline(ctx, u.details.ticket)
    mine = service.tickets_of(ctx.session, ctx.channel, ctx.user_id)
    if not mine:
        # "部门办不了的诉求怎么提级": a question about appeals in general, from one who has none.
        found = u.answer(ctx.session) if u.question else None
        if found is not None:
            return show_answer(ctx, u, found, kind="appeal", category="policy")
        return Reply("您还没有提交过诉求。直接描述遇到的问题，我们会转给负责的部门办理。")
    menu = [Option(t.number, f"{t.number} {label(t.category)} · {STATUS[t.status]}", (t.number,)) for t in mine]
    Conversation(ctx.state, ctx.now).ask("my_tickets", menu)
    return Reply(
        "您的诉求（最近 10 件）：\n" + numbered(menu) + "\n回复序号查看办理过程。", data={"asking": "my_tickets"}
    )


@answers("my_tickets")
def pick_ticket(u: Understanding, ctx: Context) -> Reply | None:
    conv = Conversation(ctx.state, ctx.now)
    choice = pick(u.text, conv.menu)
    if choice is None:
        return None
    conv.answered()
    return timeline(ctx, choice)


def timeline(ctx: Context, number_: str) -> Reply:
    ticket = service.find(ctx.session, number_)
    if ticket is None or ticket.enterprise.user_id != ctx.user_id or ticket.enterprise.channel != ctx.channel:
        return Reply(f"没有找到您提交的诉求 {number_.upper()}，请核对编号。")  # others' tickets do not exist for you
    lines = [f"诉求 {ticket.number}（{label(ticket.category)}）· {STATUS[ticket.status]}"]
    if ticket.department and ticket.status not in ("resolved", "closed"):
        lines.append(f"承办：{ticket.department.name}，期限 {_local(ticket.deadline)}")
    for e in ticket.events:
        what = ACTIONS.get(e.action, e.action)
        if what is None:
            continue
        lines.append(
            f"· {_local(e.at)} {what.format(department=e.data.get('department') or '', to=e.data.get('to') or '')}"
        )
    if ticket.result:
        lines.append(f"答复：{ticket.result}")
    if ticket.status == "resolved":
        ask_rating(ctx, ticket)
        lines.append("请评价办理结果，回复序号或直接说“满意”“不满意”：\n" + RATING_LINES)
        return Reply(
            "\n".join(lines),
            choices=[f"{n} {name}" for n, name in sorted(RATINGS.items(), reverse=True)],
            data={"ticket": ticket.number, "status": ticket.status, "asking": "rating"},
        )
    return Reply("\n".join(lines), data={"ticket": ticket.number, "status": ticket.status})


# -- ratings -------------------------------------------------------------------------------------------


def ask_rating(ctx: Context, ticket: Ticket) -> None:
    """The rating request is now the last numbered question the enterprise was shown."""
    Conversation(ctx.state, ctx.now).ask(
        "rating", [Option(str(n), name) for n, name in RATINGS.items()], ticket=ticket.number
    )


def _rating_value(u: Understanding) -> int | None:
    value = u.details.rating
    if value is None:
        n = number(u.text)
        value = n if n is not None and 1 <= n <= 5 else None
    return value


def awaiting_rating(ctx: Context) -> list[Ticket]:
    return [t for t in service.tickets_of(ctx.session, ctx.channel, ctx.user_id) if t.status == "resolved"]


@answers("rating")
def rating_given(u: Understanding, ctx: Context) -> Reply | None:
    conv = Conversation(ctx.state, ctx.now)
    value = _rating_value(u)
    if value is None:
        return None
    ticket = service.find(ctx.session, conv.context.get("ticket", ""))
    conv.answered()
    if ticket is None or ticket.status != "resolved":
        return Reply("这件诉求已经评价过了，谢谢！")
    return rate(ctx, ticket, value)


def rating_anytime(u: Understanding, ctx: Context) -> Reply | None:
    """A rating outside an open rating question: in words whenever a ticket waits for one; as a bare
    digit only if the rating request came after the last numbered menu the user was shown."""
    value = u.details.rating
    bare_digit = number(u.text) if value is None else None
    if value is None and bare_digit is None:
        return None
    waiting = awaiting_rating(ctx)
    if not waiting:
        return None
    if value is None:
        assert bare_digit is not None  # one of the two is set, checked above
        shown_at = Conversation(ctx.state, ctx.now).shown_at
        latest = waiting[0].resolved_at
        if not (1 <= bare_digit <= 5) or (shown_at and latest and latest <= datetime.fromisoformat(shown_at)):
            return None
        value = bare_digit
    if len(waiting) > 1:
        menu = [Option(t.number, f"{t.number} {label(t.category)}", (t.number,)) for t in waiting]
        Conversation(ctx.state, ctx.now).ask("rating_which", menu, value=value)
        return Reply(
            f"您有 {len(waiting)} 件诉求待评价，这个评价（{RATINGS[value]}）是给哪一件的？\n" + numbered(menu),
            data={"asking": "rating_which"},
        )
    return rate(ctx, waiting[0], value)


@answers("rating_which")
def rating_which(u: Understanding, ctx: Context) -> Reply | None:
    conv = Conversation(ctx.state, ctx.now)
    choice = pick(u.text, conv.menu)
    if choice is None:
        return None
    value = conv.context.get("value", 3)
    conv.answered()
    ticket = service.find(ctx.session, choice)
    return rate(ctx, ticket, value) if ticket and ticket.status == "resolved" else Reply("这件诉求已经评价过了，谢谢！")


def rate(ctx: Context, ticket: Ticket, value: int) -> Reply:
    Lifecycle(ctx.session, ctx.now, ctx.services.config).rate(ticket, Actor("enterprise", ctx.user_id), value)
    if ticket.status == "closed":
        return Reply(
            f"感谢您的评价（{RATINGS[value]}）！诉求 {ticket.number} 已办结归档。",
            data={"ticket": ticket.number, "rating": value},
        )
    return Reply(
        f"收到您的评价（{RATINGS[value]}），我们很抱歉没能让您满意。诉求 {ticket.number} 已安排重新办理，"
        f"新的期限为{_local(ticket.deadline)}。",
        data={"ticket": ticket.number, "rating": value},
    )


# -- supplements -------------------------------------------------------------------------------------


def supplement(u: Understanding, ctx: Context) -> Reply | None:
    m = SUPPLEMENT.match(u.text)
    if not m:
        return None
    mine = service.tickets_of(ctx.session, ctx.channel, ctx.user_id, limit=50)
    if m.group(1):
        number_ = u.details.ticket or ""
        ticket = next((t for t in mine if t.number == number_), None)
        if ticket is None:
            return Reply(f"没有找到您提交的诉求 {number_}，请核对编号。")
    else:
        open_ = [t for t in mine if t.status == "waiting"] or [
            t for t in mine if t.status not in ("resolved", "closed")
        ]
        if len(open_) != 1:
            return Reply("请注明要补充的诉求编号，例如“补充 YQ-20261122-0007 营业执照照片已上传”。") if mine else None
        ticket = open_[0]
    Lifecycle(ctx.session, ctx.now, ctx.services.config).supplement(
        ticket, Actor("enterprise", ctx.user_id), m.group(2)
    )
    return Reply(f"已将补充内容转给承办部门（诉求 {ticket.number}）。")
