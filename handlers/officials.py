"""企业微信 users who are officials get their own conversation: commands (handlers/official.py), and
for anything else — a greeting, a menu tap, a question — their help and their department's 待办,
never the enterprise welcome. A 企业微信 user who is not bound to an official and types a command
is told how to get bound instead of "no such ticket"."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select

from handlers import texts
from handlers.context import Context
from handlers.messages import IncomingMessage, Reply
from handlers.registry import INTENTS
from handlers.understanding import OFFICIAL_COMMAND, Understanding
from tickets.models import Official


def handle(message: IncomingMessage, ctx: Context, u: Understanding) -> Reply | None:
    official = ctx.session.scalars(
        select(Official).where(Official.wecom_user_id == ctx.user_id, Official.active)
    ).first()
    if official is None:
        if OFFICIAL_COMMAND.match(u.text) or u.text in ("帮助", "指令", "工作台"):
            return Reply(texts.UNBOUND_WECOM)
        if u.intent == "chitchat" and not any(w in u.text for w in ("谢", "再见", "拜拜")):
            # A greeting from 企业微信 is as likely a new official as an enterprise: both are told.
            return Reply(f"{texts.WELCOME}\n\n如果您是承办部门的工作人员：{texts.UNBOUND_WECOM}")
        return None  # an enterprise writing from 企业微信: the ordinary conversation
    from handlers.groups import answer_app_prompt

    answer = answer_app_prompt(ctx, official, message.text or "")  # the words a tapped 退回/办结 card asked for
    if answer is not None:
        return answer
    command = INTENTS["official"](message, ctx)
    if command is not None:
        return command
    todo = INTENTS["official"](replace(message, text="待办"), ctx)
    help_ = texts.OFFICIAL_HELP.format(name=official.name, department=official.department.name)
    return Reply(f"{help_}\n\n{todo.text if todo else ''}".rstrip(), data={"official": True})
