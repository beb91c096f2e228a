"""Appeals (有求必应) and disturbance reports (无事不扰): the answers to the form's questions and the
intents that start it (the form itself: handlers/form.py).

Each answer is validated; a message that is not an answer to the open question is left to the
router, which handles it as what it is and keeps the draft for "继续".
"""

from __future__ import annotations

import re

from handlers import form, texts
from handlers.context import Context
from handlers.conversation import Conversation, pick
from handlers.details import (
    ACKNOWLEDGED,
    CANCEL,
    NO,
    bare,
    looks_like_company_name,
    one_of,
    strip_name,
    valid_credit_code,
)
from handlers.form import asking, cancel, change_details, draft_of, fill, next_step, start, submit
from handlers.messages import Reply
from handlers.offer import show_answer
from handlers.registry import answers, intent
from handlers.understanding import Understanding
from nlp.categories import KIND_OF

SKIP = ("跳过", "不留", "不想留", "不方便留", "不留了", "不告诉", "不想说", "不想给", "不给")
# A question about the name asked for, not a new subject: "个体户没有公司名 写啥", "要写全称吗".
ABOUT_THE_NAME = re.compile(
    r"(个体|没有?(公司|企业|执照|营业执照|名字|名称|字号)|没注册|还没办执照|字号|名字|名称|全称|简称|店名)"
    r".{0,12}(写啥|写什么|填啥|填什么|怎么写|怎么填|咋写|咋填|写哪个|填哪个|怎么办|咋办|行吗|行不行|可以吗|要全称|全称吗)"
)


# -- answers to the form's questions --------------------------------------------------------------


def on_answer(u: Understanding, ctx: Context) -> Reply | None:
    """The reply when `u` answers the open question of the form; None when it is something else."""
    conv = Conversation(ctx.state, ctx.now)
    draft, asking = conv.draft, conv.asking
    if draft is None:
        return None
    if one_of(u.text, CANCEL) and asking != "confirm":
        return cancel(ctx)
    if one_of(u.text, ACKNOWLEDGED) and asking in ("anonymity", "company_name", "phone", "confirm"):
        return next_step(ctx, "好的。需要提交的话请接着回答；不需要可回复“取消”。\n")
    if asking == "anonymity":
        choice = None
        if len(u.text) <= 20 and (u.details.anonymous or u.details.named):  # "不用匿名" before "匿名"
            choice = "named" if u.details.named and not u.details.anonymous else "anonymous"
        choice = choice or pick(u.text, conv.menu)
        if choice is None and one_of(u.text, NO):
            choice = "named"  # "不用": no anonymity
        if choice is None:
            return None
        draft["anonymous"] = choice == "anonymous"
        conv.keep(draft)
        return next_step(ctx)
    if asking == "company_name":
        return _on_name(u, ctx, conv, draft)
    if asking == "phone":
        return _on_phone(u, ctx, conv, draft)
    if asking == "confirm":
        return _on_confirm(u, ctx, conv, draft)
    return None


def _anonymity_said(u: Understanding, conv: Conversation, draft: dict) -> str | None:
    """ "不想留名字", "匿名" while a name or phone is asked: for a disturbance it is the anonymous
    choice; for an appeal it gets an explanation (a department cannot answer nobody)."""
    if not u.details.anonymous or len(u.text) > 30:
        return None
    if draft["kind"] == "complaint":
        draft["anonymous"] = True
        return "anonymous"
    return "explain"


def _named_said(u: Understanding, ctx: Context, draft: dict) -> Reply | None:
    """ "不匿名", "实名" while the name or phone is asked: the report stays named, the question stays."""
    if not u.details.named or u.details.anonymous or len(u.text) > 20:
        return None
    draft["anonymous"] = False if draft["kind"] == "complaint" else draft.get("anonymous")
    Conversation(ctx.state, ctx.now).keep(draft)
    return next_step(ctx, "好的，实名反映。\n")


def _on_name(u: Understanding, ctx: Context, conv: Conversation, draft: dict) -> Reply | None:
    if ABOUT_THE_NAME.search(u.text) and len(u.text) <= 30 and not u.details.company:
        return asking(texts.WHAT_NAME, "company_name")
    named = _named_said(u, ctx, draft)
    if named is not None:
        return named
    said = _anonymity_said(u, conv, draft)
    if said == "anonymous":  # "不想留名字" in a disturbance report: anonymous, no name asked again
        conv.keep(draft)
        return next_step(ctx, "好的，按匿名处理：被反映的部门看不到企业信息。\n")
    if said == "explain":
        return asking(
            "反映诉求需要企业名称，承办部门才能联系您办理；信息只用于办理本诉求。"
            "（如果是反映乱检查、乱收费等干扰问题，可以匿名。）\n请告诉我们企业名称：",
            "company_name",
        )
    d = u.details
    name = d.company
    if (
        name is None
        and not d.phones
        and not d.credit_codes
        and looks_like_company_name(u.text)
        and not u.question
        and not _surely_something_else(u)
    ):
        name = strip_name(u.text)
    if name is None and not d.phones and not d.credit_codes:
        return None  # not a name: the router handles it as what it is, and keeps the draft
    if name:
        draft["name"] = name
    if d.phones:
        draft["phone"] = d.phones[0]
    bad_code = next((c for c in d.credit_codes if not valid_credit_code(c)), None)
    good_code = next((c for c in d.credit_codes if valid_credit_code(c)), None)
    if good_code:
        draft["credit_code"] = good_code
    conv.keep(draft)
    if bad_code and not name:
        return asking("这个统一社会信用代码校验不通过，请核对后重新发送（18位），或只发送企业名称。", "company_name")
    return next_step(ctx)


def _surely_something_else(u: Understanding) -> bool:
    """A message the rule layer knows as another intent ("我的诉求", "你好"). The classifier is not
    asked: it reads a bare shop name ("伊宁市某某便民超市") as anything but an appeal, and a name's shape
    (handlers/details.looks_like_company_name) already turns away questions, refusals and commands."""
    return u.source == "rule"


def _on_phone(u: Understanding, ctx: Context, conv: Conversation, draft: dict) -> Reply | None:
    named = _named_said(u, ctx, draft)
    if named is not None:
        return named
    said = _anonymity_said(u, conv, draft)
    if said == "anonymous":
        conv.keep(draft)
        return next_step(ctx, "好的，按匿名处理：被反映的部门看不到企业信息。\n")
    d = u.details
    if not d.phones:
        name = d.company or (
            strip_name(u.text)
            if looks_like_company_name(u.text) and not u.question and not _surely_something_else(u)
            else None
        )
        if name:  # the name again, or a corrected one
            draft["name"] = name
            conv.keep(draft)
            return asking(f"好的，企业名称：{name}。请再留一个联系电话（手机或座机）：", "phone")
        digits = sum(ch.isdigit() for ch in u.text)
        if digits >= 5 and len(bare(u.text)) <= 20:
            return asking("这个号码不像电话号码，请发送11位手机号，或带区号的座机号（如 0999-8123456）。", "phone")
        if said == "explain" or one_of(u.text, SKIP) or one_of(u.text, NO):
            return asking("承办部门需要一个电话才能联系您办理，号码只用于本诉求。请留一个手机号或座机号：", "phone")
        return None
    draft["phone"] = d.phones[0]
    if d.company:
        draft["name"] = d.company
    conv.keep(draft)
    return next_step(ctx)


def _on_confirm(u: Understanding, ctx: Context, conv: Conversation, draft: dict) -> Reply | None:
    changed = change_details(u, ctx)
    if changed is not None:
        return changed
    if u.only_details or (
        looks_like_company_name(u.text, asked=False)
        and not u.question
        and not _surely_something_else(u)
        and not pick(u.text, conv.menu)
    ):
        fill(draft, u)  # a name or phone typed at the confirmation: they correct what will be sent
        conv.keep(draft)
        return next_step(ctx, "已更新。\n")
    choice = pick(u.text, conv.menu)
    if (
        choice is None
        and draft["kind"] == "complaint"
        and (u.details.anonymous or u.details.named)
        and len(u.text) <= 20
    ):
        draft["anonymous"] = u.details.anonymous
        conv.keep(draft)
        return next_step(ctx, "已改为匿名反映。\n" if u.details.anonymous else "已改为实名反映。\n")
    if choice is None and one_of(u.text, NO):
        choice = "cancel"
    if choice == "confirm":
        return submit(ctx)
    if choice == "cancel":
        return cancel(ctx)
    if choice == "change":
        conv.keep(None)
        return form.ask_category(
            ctx, draft=draft, codes=[draft["category"], *draft.get("alternatives", [])], exclude=draft["category"]
        )
    return None


# -- the intents that start the form -----------------------------------------------------------------


@intent("appeal_start")
def appeal_prompt(message, ctx: Context) -> Reply:
    Conversation(ctx.state, ctx.now).ask("appeal_text")
    return Reply(texts.APPEAL_PROMPT, data={"asking": "appeal_text"})


@intent("appeal", "complaint")
def appeal(message, ctx: Context) -> Reply:
    u = ctx.understood
    if u.question:
        # "罚之前没让我们解释，这样合法吗": the library's answer first, then the offer to report it.
        found = u.answer(ctx.session)
        if found is not None:
            return show_answer(ctx, u, found, kind=u.kind, category=u.category)
    # A bare question the library does not answer is told so before the form: the department answers it.
    bare_question = u.question and not u.request and u.kind == "appeal"
    reply = start(
        ctx,
        draft_of(
            u,
            text=u.text,
            kind=u.kind,
            category=u.category,
            confidence=u.confidence,
            alternatives=[c for _, c, _ in u.alternatives],
        ),
        texts.NOT_IN_LIBRARY if bare_question else "",
    )
    if bare_question:  # "那具体找谁办" next asks whom to contact about it
        Conversation(ctx.state, ctx.now).talked_about(kind="question", question=u.text)
    return reply


@answers("appeal_text")
def appeal_text(u: Understanding, ctx: Context) -> Reply | None:
    """After "我要反映问题": the next message is the problem, whatever the classifier's confidence."""
    if u.source == "rule" or u.intent in ("contact_lookup", "ticket_status"):
        return None
    Conversation(ctx.state, ctx.now).answered()
    if u.intent in ("appeal", "complaint", "policy"):
        return start(
            ctx,
            draft_of(
                u,
                text=u.text,
                kind=u.kind,
                category=u.category,
                confidence=u.confidence,
                alternatives=[c for _, c, _ in u.alternatives],
            ),
        )
    guess = u.ticket_guess() or "coordination"
    draft = draft_of(u, text=u.text, kind=KIND_OF[guess], category=guess, confidence=u.confidence)
    return form.ask_category(ctx, draft=draft, codes=[guess] + [c for _, c, _ in u.alternatives])


for _slot in form.SLOTS:
    answers(_slot)(on_answer)
