"""Officials at work in 企业微信: the 智能机器人 in their groups and 1:1, and taps on ticket cards.

The 智能机器人 (`/wecom/bot`) hears what an official writes when they @ it in a group, or in a 1:1
chat with it. It answers officials only: the sender is `from.userid`, bound to an official in the
console; anyone else is told so. A group must be bound to a department first (console); in it the
bot shows only that department's tickets (a 营商办 group: any ticket), and a card there never shows
an anonymous reporter, whoever reads it.

The verbs are the app's (handlers/official.py): 签收 / 办结 / 退回 / 提级 / 补充材料 / 延期 / 备注 /
查看, the same table of transitions and the same rights; and 待办, 本部门超期, 本周统计.

A tap on a card (`template_card_event`, from the bot's cards or the app's 1:1 cards) is one message
of its own, stored and handled once like any other (handlers/inbox.py). 签收 takes the ticket's
write lock before it asks the table, so of two officials tapping at once one accepts and the other
is told who did. 退回 and 办结 need words: the card asks for them, and the official's next message
in the same chat (or 1:1 with the app) is taken as the reason or the answer; "取消" drops it.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from core import ticket_number
from handlers.context import Context, ConversationState, Services
from handlers.details import CANCEL, one_of
from handlers.messages import IncomingMessage, Reply
from handlers.models import DialogueState
from handlers.official import COMMAND, VERBS, perform_verb, todo_lines, todo_tickets
from nlp import rules
from tickets import access, cards, groups, service, timeline, transitions
from tickets.lifecycle import Actor, _local
from tickets.models import Official, Ticket, WecomGroup
from tickets.transitions import STATUS

PROMPT = "official_prompt"  # a tapped 退回/办结 waits for its words in the next message
WELCOME = (
    "您好，我是“有求必应”诉求办理助手。在本部门的企业微信群里 @我 发“待办”，可以看到本部门的工单并一键签收；"
    "发“帮助”查看全部指令。"
)
HELP = (
    "在群里 @我 或单聊发送（工单号可省略，只有一件可办时自动匹配）：\n"
    "待办 · 本部门超期 · 本周统计\n签收 YQ-… · 查看 YQ-…\n办结 YQ-… 答复内容 · 退回 YQ-… 原因\n"
    "提级 YQ-… 原因 · 补充材料 YQ-… 内容 · 延期 YQ-… 天数 原因 · 备注 YQ-… 内容\n"
    "点工单卡片上的按钮也可以直接签收、退回、办结。"
)
NOT_OFFICIAL = (
    "您的企业微信账号（{user_id}）还没有绑定为办事人员，不能办理工单。"
    "请联系管理员在后台“管理”页的“人员”中填写您的企业微信账号。"
)
UNBOUND_GROUP = (
    "本群还没有绑定部门，我在这里暂不显示工单。请管理员在后台“管理”页的“企业微信群”中绑定本群"
    "（群ID：{chat_id}）。您也可以单聊我办理。"
)
OTHER_GROUP = "本群是{department}的工作群，这里只办理本部门的工单。请在您所在部门的群里，或单聊我办理。"
ONLY_TEXT = "我目前只读文字。请用文字发送指令，例如“待办”或“签收 YQ-20261123-0007”。"
STATS_LATER = "正在统计本周数据，稍后发在这里。"


# -- the router of the 智能机器人 channel and of card taps ------------------------------------------


class GroupRouter:
    """What handlers/inbox.py calls for the 智能机器人 channel and for taps on cards (the inbox's
    `router`): the officials' own conversation, apart from the enterprises' (handlers/router.py)."""

    def __init__(self, services: Services):
        self.services = services

    def handle(self, session, message: IncomingMessage) -> Reply:
        now = self.services.clock()
        ctx = Context(session, self.services, ConversationState(), now, message.channel, message.user_id)
        group = groups.seen(session, message.chat_id, now) if message.chat_id else None
        if message.type == "event":
            if message.event == "template_card_event":
                reply = tap(ctx, message, group)
            elif message.event == "enter_chat":
                reply = Reply(WELCOME)
            else:
                reply = Reply.empty()
        else:
            reply = converse(ctx, message, group)
        if group is not None and message.channel == "wecom_bot" and not reply.data.get("answered_later"):
            # Answered at once: the callback's response_url is left for cards waiting for this group.
            groups.keep_reply_url(session, group, message.reply_token, now)
        return reply


@dataclass(frozen=True)
class Scope:
    """Which tickets an official may handle here: their own rights, narrowed to the group's."""

    official: Official
    group: WecomGroup | None

    @property
    def department_id(self) -> int:
        if self.group is not None and self.group.department_id is not None:
            return self.group.department_id
        return self.official.department_id

    @property
    def department_name(self) -> str:
        return (
            self.group.department
            if self.group is not None and self.group.department is not None
            else self.official.department
        ).name

    def may_show(self, ticket: Ticket) -> bool:
        return access.may_see(self.official, ticket) and groups.shows(self.group, ticket)


def official_of(session, user_id: str) -> Official | None:
    return session.scalars(select(Official).where(Official.wecom_user_id == user_id, Official.active)).first()


def _member(official: Official, group: WecomGroup) -> bool:
    return official.supervises or official.department_id == group.department_id


def converse(ctx: Context, message: IncomingMessage, group: WecomGroup | None) -> Reply:
    if message.type != "text":
        return Reply(ONLY_TEXT)
    official = official_of(ctx.session, ctx.user_id)
    if group is not None and group.department_id is None:
        return Reply(UNBOUND_GROUP.format(chat_id=group.chat_id))
    if official is None:
        return Reply(NOT_OFFICIAL.format(user_id=ctx.user_id))
    if group is not None and not _member(official, group):
        return Reply(OTHER_GROUP.format(department=group.department.name if group.department else "其他部门"))
    scope = Scope(official, group)
    text = rules.normalise(message.text or "")
    quoted, m = ticket_number.parse(message.quoted), COMMAND.match(text)
    if quoted and m is not None and not m.group(2):
        # "办结 已协调完毕", written quoting a card or a message that names the ticket
        text = f"{m.group(1)} {quoted} {m.group(3)}".strip()
    key = prompt_key(message)
    prompt = get_prompt(ctx, *key)
    if prompt is not None:
        clear_prompt(ctx, *key)
        if one_of(text, CANCEL):
            return Reply(f"好的，工单 {prompt['number']} 不{cards.LABELS[prompt['action']]}了。")
        if not COMMAND.match(text):
            return answer_prompt(ctx, scope, prompt, (message.text or "").strip())  # the words as written
    return command(ctx, message, scope, text)


def command(ctx: Context, message: IncomingMessage, scope: Scope, text: str) -> Reply:
    if text in ("", "帮助", "指令", "help", "菜单", "?", "？"):
        return Reply(HELP)
    if text in ("待办", "本部门待办", "我的待办"):
        return todo(ctx, scope)
    if text in ("超期", "本部门超期", "超期工单"):
        return overdue(ctx, scope)
    if text in ("本周统计", "统计", "本周"):
        if message.reply_token:
            groups.answer_later(ctx.session, message.reply_token, "weekly_stats", department_id=scope.department_id)
            return Reply(STATS_LATER, data={"answered_later": True})
        return Reply(groups.weekly_stats(ctx.session, scope.department_id, ctx.now))
    m = COMMAND.match(text)
    if m is None:
        return Reply("没有听懂这条指令。" + HELP)
    verb, number, rest = m.group(1), m.group(2), m.group(3).strip()
    if verb == "待办":
        return todo(ctx, scope)
    ticket = find(ctx, scope, verb, number)
    if isinstance(ticket, Reply):
        return ticket
    if verb == "查看":
        return Reply(
            data={
                "card": cards.ticket_card(
                    ticket,
                    task_id=task_id(),
                    public_url=_public_url(ctx),
                    viewer=scope.official,
                    in_group=scope.group is not None,
                )
            }
        )
    return act(ctx, scope, ticket.number, verb, rest)


def act(ctx: Context, scope: Scope, number: str, verb: str, rest: str) -> Reply:
    """A command on one ticket, under the ticket's write lock; a refused one says who got there first."""
    ticket = groups.lock_ticket(ctx.session, number)
    if ticket is None or not scope.may_show(ticket):
        return Reply(f"没有找到本部门的工单 {number}。")
    problem = transitions.refusal(ticket, Actor.of(scope.official), VERBS[verb], ctx.now)
    if problem is not None and not problem.forbidden:
        return Reply(with_who(problem.message, ticket, scope))
    return perform_verb(ctx, scope.official, ticket, verb, rest)


def find(ctx: Context, scope: Scope, verb: str, number: str | None):
    """The ticket a command names, or the only one it can apply to here; a Reply when there is none."""
    if number:
        number = ticket_number.canonical(number)
        ticket = service.find(ctx.session, number)
        if ticket is None or not scope.may_show(ticket):
            return Reply(f"没有找到本部门的工单 {number}。")
        return ticket
    sources = transitions.TABLE[VERBS[verb]].sources if verb in VERBS else tuple(STATUS)
    if verb == "备注":
        sources = transitions.OPEN
    candidates = list(
        ctx.session.scalars(
            select(Ticket)
            .where(Ticket.department_id == scope.department_id, Ticket.status.in_(sources))
            .order_by(Ticket.id.desc())
            .limit(2)
        )
    )
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        return Reply(f"本部门没有可{verb}的工单。")
    return Reply(f"本部门有多件可{verb}的工单，请写明工单号，例如“{verb} {candidates[0].number} …”。")


def todo(ctx: Context, scope: Scope) -> Reply:
    rows = todo_tickets(ctx, scope.department_id)
    if not rows:
        return Reply(f"{scope.department_name}暂无待办工单。")
    # The most urgent first: those to 签收, by their 签收 deadline, then the rest by their deadline.
    urgent = sorted(rows, key=lambda t: (t.status != "assigned", t.accept_due or t.deadline or ctx.now))
    card = cards.list_card(
        urgent,
        len(rows),
        title=f"{scope.department_name}待办 {len(rows)} 件",
        desc="点按钮签收或办结",
        task_id=task_id(),
        public_url=_public_url(ctx),
    )
    text = f"{scope.department_name}待办（{len(rows)} 件）：\n" + "\n".join(todo_lines(rows, ctx.now))
    return Reply(text, data={"card": card})


def overdue(ctx: Context, scope: Scope) -> Reply:
    rows = [
        t
        for t in todo_tickets(ctx, scope.department_id, limit=200)
        if t.status in ("assigned", "accepted") and t.deadline is not None and t.deadline < ctx.now
    ]
    if not rows:
        return Reply(f"{scope.department_name}目前没有超期工单。")
    lines = [
        f"{t.number} {STATUS[t.status]} · 期限 {_local(t.deadline)} · 已超 {(ctx.now - t.deadline).days if t.deadline else 0} 天"
        for t in rows[:20]
    ]
    more = f"\n另有 {len(rows) - 20} 件，请在后台查看。" if len(rows) > 20 else ""
    return Reply(f"{scope.department_name}超期工单（{len(rows)} 件）：\n" + "\n".join(lines) + more)


# -- taps ------------------------------------------------------------------------------------------


def tap(ctx: Context, message: IncomingMessage, group: WecomGroup | None) -> Reply:
    """A button tapped on a ticket card. The answer is the card as it is now (for everyone in the
    group when the ticket changed, for the tapper alone otherwise), with a line that says what
    happened; in the app, the tapped card is shown anew through its ResponseCode and the line comes
    as the reply."""
    pressed = cards.parse_key(message.event_key)
    if pressed is None:
        return Reply.empty()
    app = message.channel == "wecom"
    official = official_of(ctx.session, ctx.user_id)
    ticket = (
        groups.lock_ticket(ctx.session, pressed.number)
        if pressed.action == "accept"
        else service.find(ctx.session, pressed.number)
    )
    if ticket is None:
        return Reply.empty()
    if group is not None and not groups.shows(group, ticket):
        # The ticket has left this group's department since the card was posted: say only that.
        return Reply(f"工单 {ticket.number} 已不由本部门办理。", data={"card": moved_card(ticket), "card_for": "all"})
    scope = Scope(official, group) if official is not None else None
    everyone = not pressed.listed  # a list card (待办) is everyone's: only the tapper's copy changes
    if official is None:
        note, everyone = NOT_OFFICIAL.format(user_id=ctx.user_id), False
    elif scope is None or not scope.may_show(ticket) or (group is not None and not _member(official, group)):
        note, everyone = f"工单 {ticket.number} 不属于您所在的部门，不能操作。", False
    else:
        note, changed = _tap_action(ctx, message, scope, ticket, pressed)
        everyone = everyone and (changed or pressed.action == "accept")
    if app and official is not None and message.reply_token:
        groups.update_app_card(ctx.session, ticket, official, message.reply_token, note)
    card = cards.ticket_card(
        ticket,
        task_id=task_id(),
        public_url=_public_url(ctx),
        viewer=official,
        in_group=group is not None or official is None,
        note=note,
    )
    return Reply(note, data={"card": card, "card_for": "all" if everyone else "tapper"})


def _tap_action(ctx: Context, message: IncomingMessage, scope: Scope, ticket: Ticket, pressed: cards.Tap):
    """(what the card says, whether the ticket changed)."""
    action = pressed.action
    problem = transitions.refusal(ticket, Actor.of(scope.official), action, ctx.now)
    if problem is not None:
        return with_who(problem.message, ticket, scope), False
    if action == "accept":
        reply = perform_verb(ctx, scope.official, ticket, "签收", "")
        changed = reply.data.get("status") == "accepted"
        return (
            f"{scope.official.name}已签收，请于{_local(ticket.deadline)}前办结。" if changed else reply.text
        ), changed
    set_prompt(ctx, *prompt_key(message), action=action, number=ticket.number)
    where = "在群里 @我" if message.channel == "wecom_bot" and message.chat_id else "直接"
    return (
        f"请{where}用下一条消息写明{cards.ASKS[action]}，发送后即{cards.LABELS[action]}；"
        f"发“取消”则不{cards.LABELS[action]}。"
    ), False


def with_who(message: str, ticket: Ticket, scope: Scope) -> str:
    """A refusal because the status moved on, with who moved it: 已由王某（市供电公司）签收."""
    for event in reversed(ticket.events):
        if event.to_status == ticket.status and event.action not in ("note", "remind", "request_extension"):
            viewer = None if scope.group is not None else scope.official
            who = timeline.actor_name(event, ticket, viewer)
            return f"工单 {ticket.number} 已由{who}{timeline.describe(event)}（{_local(event.at)}），当前状态：{STATUS[ticket.status]}。"
    return message


def moved_card(ticket: Ticket) -> dict:
    return {
        "card_type": "text_notice",
        "source": {"desc": "有求必应 · 诉求工单"},
        "main_title": {"title": f"{ticket.number}", "desc": "已不由本部门办理"},
        "card_action": {"type": 1, "url": "https://work.weixin.qq.com"},
        "task_id": task_id(),
    }


# -- the reason or the answer, in the next message -------------------------------------------------


def prompt_key(message: IncomingMessage) -> tuple[str, str]:
    """Where a question waits: per person and chat for the bot (a question asked in one group is not
    answered from another), per person for the app."""
    if message.channel != "wecom_bot":
        return message.channel, message.user_id
    key = f"{message.user_id}|{message.chat_id or ''}"
    return "wecom_bot", key if len(key) <= 128 else hashlib.sha1(key.encode()).hexdigest()


def set_prompt(ctx: Context, channel: str, user_key: str, action: str, number: str) -> None:
    ttl = timedelta(seconds=int(ctx.services.config.get("STATE_TTL", 1800)))
    ctx.session.merge(
        DialogueState(
            channel=channel,
            user_id=user_key,
            flow=PROMPT,
            data={"action": action, "number": number},
            expires_at=ctx.now + ttl,
            updated_at=ctx.now,
        )
    )


def get_prompt(ctx: Context, channel: str, user_key: str) -> dict | None:
    row = ctx.session.get(DialogueState, (channel, user_key))
    if row is None or row.flow != PROMPT or row.expires_at <= ctx.now:
        return None
    return dict(row.data or {})


def clear_prompt(ctx: Context, channel: str, user_key: str) -> None:
    row = ctx.session.get(DialogueState, (channel, user_key))
    if row is not None:
        ctx.session.delete(row)


def answer_prompt(ctx: Context, scope: Scope, prompt: dict, text: str) -> Reply:
    verb = "退回" if prompt.get("action") == "return" else "办结"
    return act(ctx, scope, str(prompt.get("number", "")), verb, text)


def answer_app_prompt(ctx: Context, official: Official, written: str) -> Reply | None:
    """The app's 1:1 chat (handlers/officials.py): the message after a tapped 退回/办结."""
    if ctx.state.flow != PROMPT:
        return None
    prompt = dict(ctx.state.data)
    ctx.state.clear()
    written = (written or "").strip()
    text = rules.normalise(written)
    if one_of(text, CANCEL):
        return Reply(f"好的，工单 {prompt.get('number')} 不{cards.LABELS.get(str(prompt.get('action')), '操作')}了。")
    if COMMAND.match(text):
        return None  # a command of its own: the question is dropped
    return answer_prompt(ctx, Scope(official, None), prompt, written)


# -- small things ----------------------------------------------------------------------------------


def task_id() -> str:
    """A card's id, unique as the platform wants (the reply holding it is stored, so a retried
    callback answers with the same card)."""
    return f"yq-r{uuid.uuid4().hex[:20]}"


def _public_url(ctx: Context) -> str:
    return str(ctx.services.config.get("PUBLIC_URL") or "")


__all__ = ["GroupRouter", "converse", "tap", "answer_app_prompt", "PROMPT", "Scope"]
