"""The appeal form: a draft of what the enterprise said, filled slot by slot and submitted once.

The form's slots, asked in this order and only when missing:
    anonymity     (disturbances only, first: before any name is asked for)
    company_name  an organisation's name, validated (never a question, a refusal or a command)
    phone         mobile or landline in any common form
    confirm       a summary of what will be sent ("将以 伊宁市…有限公司、138****5678 提交")
Details the first message already carries (name, phone, 统一社会信用代码, "匿名") fill their slots at
once. The enterprise's name and phone are written when the ticket is created, so nothing typed by
mistake is stored for later appeals.

The steps here call nothing above them: the handlers that read answers (handlers/appeal.py,
clarify.py, policy.py …) call into the form, never the other way round. The step that creates the
ticket consumes the dialogue state with a conditional delete (handlers/store.py): of two
confirmations racing (a double tap), one creates the ticket and the other finds the state gone.
"""

from __future__ import annotations

import re
from typing import Any

from core import timefmt
from handlers import store
from handlers.context import Context
from handlers.conversation import Conversation, Option, numbered
from handlers.details import CANCEL, YES, looks_like_company_name, mask_phone, strip_name, valid_credit_code
from handlers.messages import Reply
from handlers.understanding import Understanding
from nlp.categories import HINTS, TICKET_CATEGORIES, label
from tickets import service

SLOTS = ("anonymity", "company_name", "phone", "confirm")  # the questions the form asks
ANONYMITY_MENU = [
    Option(
        "named",
        "实名反映：营商办和核查部门可看到企业名称和电话，便于联系核实",
        ("实名", "实名反映", "不匿名", "不用匿名", "不要匿名", "留名", "可以留名"),
    ),
    Option(
        "anonymous",
        "匿名反映：只有营商办能看到企业信息，被反映的部门和其他部门都看不到",
        ("匿名", "匿名反映", "匿名吧", "不留名", "保密"),
    ),
]
CONFIRM_MENU = [
    Option("confirm", "确认提交", YES),
    Option(
        "change", "不是这一类，重新选择", ("重新选择", "重选", "不是这一类", "类别不对", "选错了", "换一类", "不是这个")
    ),
    Option("cancel", "取消", CANCEL),
]


def draft_of(
    u: Understanding | None,
    *,
    text: str,
    kind: str,
    category: str,
    confidence: float | None = None,
    alternatives: list[str] | None = None,
    extra: dict[str, Any] | None = None,
    anonymous: bool | None = None,
) -> dict[str, Any]:
    draft: dict[str, Any] = {
        "text": text,
        "kind": kind,
        "category": category,
        "confidence": confidence,
        "alternatives": list(alternatives or []),
        "extra": dict(extra or {}),
        "anonymous": anonymous if kind == "complaint" else False,
    }
    if u is not None:
        d = u.details
        draft["topic"] = u.topic
        if d.company:
            draft["name"] = d.company
        if d.phones:
            draft["phone"] = d.phones[0]
        codes = [c for c in d.credit_codes if valid_credit_code(c)]
        if codes:
            draft["credit_code"] = codes[0]
        if kind == "complaint" and draft["anonymous"] is None and (d.anonymous or d.named):
            draft["anonymous"] = d.anonymous
    return draft


def start(ctx: Context, draft: dict[str, Any], note: str = "") -> Reply:
    """Every path that ends in a ticket comes here (classifier, clarify, a policy hand-over …)."""
    conv = Conversation(ctx.state, ctx.now)
    for slot, value in (conv.topic.get("details") or {}).items():  # a name or phone sent before the problem
        draft.setdefault(slot, value)
    if conv.draft:
        if conv.draft.get("category") == draft["category"] and not _same_text(conv.draft, draft):
            # More about the same problem: one appeal, told in two messages.
            merged = dict(conv.draft)
            merged["text"] = f"{conv.draft['text']}\n{draft['text']}"
            for slot in ("name", "phone", "credit_code"):
                merged[slot] = draft.get(slot) or conv.draft.get(slot)
            draft = merged
        elif not _same_text(conv.draft, draft):
            conv.set_aside()
            note += "（您上一条未提交的诉求已保留，这条提交后会接着处理。）\n"
    conv.keep(draft)
    return next_step(ctx, note)


def _same_text(a: dict, b: dict) -> bool:
    return a.get("text") == b.get("text")


def resume(ctx: Context) -> Reply:
    """ "继续": the draft's next step, or the one set aside."""
    conv = Conversation(ctx.state, ctx.now)
    if conv.draft is None and conv.next_later() is None:
        return Reply("没有待提交的诉求。直接描述遇到的问题，我们会转给负责的部门办理。")
    assert conv.draft is not None  # next_later() brought the one set aside back
    return next_step(ctx, f"继续提交您刚才的诉求：“{_brief(conv.draft['text'])}”\n")


def next_step(ctx: Context, note: str = "") -> Reply:
    conv = Conversation(ctx.state, ctx.now)
    draft = conv.draft
    assert draft is not None, "next_step without a draft"  # every caller keeps one first
    ent = service.find_enterprise(ctx.session, ctx.channel, ctx.user_id)
    if draft["kind"] == "complaint" and draft.get("anonymous") is None:
        conv.ask("anonymity", ANONYMITY_MENU)
        return menu_reply(
            f"{note}您反映的是“无事不扰”问题（{label(draft['category'])}），将由营商办核查办理。请先选择：",
            ANONYMITY_MENU,
            "（匿名时请勿在描述中写企业名称）",
            asking="anonymity",
        )
    # An anonymous report asks for no name or phone: what the bot already knows is shown to 营商办 only.
    anonymous = bool(draft.get("anonymous"))
    if not anonymous and not _name(draft, ent):
        conv.ask("company_name")
        return asking(
            f"{note}为了让承办部门及时联系您，请告诉我们企业名称（首次提交需要，之后会记住）：", "company_name"
        )
    if not anonymous and not _phone(draft, ent):
        conv.ask("phone")
        return asking(f"{note}请留一个联系电话（手机或座机），承办部门会通过它与您联系：", "phone")
    conv.ask("confirm", CONFIRM_MENU)
    who = "、".join(x for x in (_name(draft, ent), mask_phone(_phone(draft, ent) or "")) if x)
    if anonymous:
        who = f"匿名（{who}仅营商办可见）" if who else "匿名（不留企业信息）"
    privacy = "，被反映的部门看不到企业信息" if anonymous else ""
    kind = "“无事不扰”问题" if draft["kind"] == "complaint" else "诉求"
    return menu_reply(
        f"{note}请确认：您反映的{kind}属于“{label(draft['category'])}”类，将转交负责部门办理。\n"
        f"将以 {who} 提交{privacy}。",
        CONFIRM_MENU,
        "（企业名称或电话有变，直接发“企业名称改为…”或“电话改为…”）",
        asking="confirm",
    )


def _name(draft: dict, ent) -> str | None:
    return draft.get("name") or (ent.name if ent else None)


def _phone(draft: dict, ent) -> str | None:
    return draft.get("phone") or (ent.phone if ent else None)


def asking(text: str, what: str) -> Reply:
    return Reply(text, data={"asking": what})


def menu_reply(head: str, menu: list[Option], tail: str = "", *, asking: str) -> Reply:
    body = f"{head}\n{numbered(menu)}" + (f"\n{tail}" if tail else "")
    return Reply(body, choices=[o.label.split("：")[0] for o in menu], data={"asking": asking})


def fill(draft: dict, u: Understanding) -> None:
    """The slots a message of details fills: name, phone, a valid credit code."""
    d = u.details
    name = d.company or (
        strip_name(u.text)
        if not d.phones and not d.credit_codes and looks_like_company_name(u.text, asked=False)
        else None
    )
    if name:
        draft["name"] = name
    if d.phones:
        draft["phone"] = d.phones[0]
    code = next((c for c in d.credit_codes if valid_credit_code(c)), None)
    if code:
        draft["credit_code"] = code


def change_details(u: Understanding, ctx: Context) -> Reply | None:
    """ "企业名称改为…", "电话换了 139…": at any time; into the draft if one is open, else the profile."""
    text = u.text
    name_change = (
        re.search(
            r"(?:企业|公司|单位|店)?(?:名称|名字|全称|名)\s*(?:也)?(?:改为|改成|换成|应该是|更正为|写错了[,，]?\s*(?:应该)?是|不对[,，]?\s*(?:应该)?是|是)\s*[:：]?\s*(.+)$",
            text,
        )
        if re.search(r"改|换|更正|写错|不对|应该", text)
        else None
    )
    phone_change = (
        re.search(r"(?:电话|手机|号码|联系方式).{0,4}(?:改|换|变|更正|写错|应该是|用这个)", text)
        if u.details.phones
        else re.search(r"(?:电话|手机|号码|联系方式)\s*(?:改为|改成|换成|换了|变了|更正为|写错了|应该是)", text)
    )
    if not name_change and not phone_change:
        return None
    conv = Conversation(ctx.state, ctx.now)
    fields: dict[str, str] = {}
    if name_change:
        name = strip_name(name_change.group(1))
        if not looks_like_company_name(name):
            return Reply("没看清新的企业名称，请这样发送：企业名称改为 伊宁市某某有限公司。")
        fields["name"] = name
    if phone_change:
        if not u.details.phones:
            return Reply("没看到新的电话号码，请这样发送：电话改为 13899912345。")
        fields["phone"] = u.details.phones[0]
    if conv.draft is not None:
        draft = {**conv.draft, **fields}
        conv.keep(draft)
        return (
            next_step(ctx, "已更新。\n")
            if conv.asking in ("confirm", "company_name", "phone")
            else Reply("已更新，提交刚才的诉求时会用新的信息。回复“继续”接着提交。")
        )
    service.enterprise_for(ctx.session, ctx.channel, ctx.user_id, **fields)
    what = "、".join(v if k == "name" else mask_phone(v) for k, v in fields.items())
    return Reply(f"已更新您的企业信息：{what}。以后提交诉求会用新的信息。")


def cancel(ctx: Context) -> Reply:
    conv = Conversation(ctx.state, ctx.now)
    conv.keep(None)
    conv.answered()
    later = conv.next_later()
    if later is not None:
        return Reply(
            f"已取消，这条内容不会提交。您还有一条未提交的诉求：“{_brief(later['text'])}”，回复“继续”接着提交。"
        )
    return Reply("已取消，本次内容不会提交。需要时请随时留言。")


# -- the ticket --------------------------------------------------------------------------------------


def submit(ctx: Context) -> Reply:
    conv = Conversation(ctx.state, ctx.now)
    draft = dict(conv.draft or {})
    if not store.consume_state(ctx):
        # Another delivery of the same confirmation (a double tap) got here first and created it.
        conv.keep(None)
        conv.answered()
        return Reply("这条诉求已经提交了，回复“我的诉求”可查看编号和进度。")
    fields = {k: draft[k] for k in ("name", "phone", "credit_code") if draft.get(k)}
    if fields:
        service.enterprise_for(ctx.session, ctx.channel, ctx.user_id, **fields)
    # An anonymous report goes to the department without the name or phone typed into it.
    text = draft.get("topic") or draft["text"] if draft.get("anonymous") else draft["text"]
    ticket = service.create_ticket(
        ctx.session,
        channel=ctx.channel,
        user_id=ctx.user_id,
        text=text,
        kind=draft["kind"],
        category=draft["category"],
        confidence=draft.get("confidence"),
        extra=draft.get("extra"),
        now=ctx.now,
        config=ctx.services.config,
        anonymous=bool(draft.get("anonymous")),
    )
    conv.keep(None)
    conv.answered()
    if ticket.department is None:
        where = "已转营商办，由工作人员尽快分派给负责部门"
    else:
        where = f"已转交{ticket.department.name}办理，承诺于{timefmt.local(ticket.deadline, missing='（未定）')}前答复"
    privacy = "（匿名：企业信息仅营商办可见）" if ticket.anonymous else ""
    text = f"已受理！诉求编号 {ticket.number}，{where}。{privacy}\n回复“我的诉求”可随时查看进度。"
    later = conv.next_later()
    if later is not None:
        text += f"\n\n您还有一条未提交的诉求：“{_brief(later['text'])}”，回复“继续”接着提交。"
    return Reply(
        text,
        data={
            "ticket": ticket.number,
            "kind": ticket.kind,
            "category": ticket.category,
            "department": ticket.department.name if ticket.department else None,
            "anonymous": ticket.anonymous,
        },
    )


def _brief(text: str, n: int = 30) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


# -- the category, when the bot is unsure or the enterprise says it is another --------------------

NONE_OF_THESE = Option("none", "都不是，请工作人员分办", ("都不是", "都不对", "不知道", "不清楚", "其他", "别的"))


def ask_category(ctx: Context, *, draft: dict[str, Any], codes: list[str], exclude: str | None = None) -> Reply:
    """One tap picks the category; the pick routes this one ticket and teaches the model nothing."""
    options = [c for c in dict.fromkeys(codes) if c in TICKET_CATEGORIES and c != exclude][:3] or ["coordination"]
    menu = [Option(c, f"{label(c)}（{HINTS[c]}）", (label(c),)) for c in options] + [NONE_OF_THESE]
    conv = Conversation(ctx.state, ctx.now)
    conv.keep(draft)
    conv.ask("category", menu)
    return Reply(
        "为了转给对口的部门，请确认您的问题属于哪一类，回复序号即可：\n" + numbered(menu),
        choices=[label(c) for c in options] + ["都不是"],
        data={"asking": "category"},
    )
