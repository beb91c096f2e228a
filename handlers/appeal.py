"""Appeals (有求必应) and disturbance reports (无事不扰) become tickets.

Before a ticket is created the bot has what the department needs: the company name and a contact
phone (asked once, remembered), and the enterprise's confirmation of the category. The reply
names the ticket number, the department and the promised date.
"""
from __future__ import annotations

import re
from typing import Optional

from handlers import texts
from handlers.messages import Reply
from handlers.registry import flow, intent
from nlp import rules
from nlp.categories import KIND_OF, label
from tickets import credit_code, numbers, service
from tickets.lifecycle import STATUS, Actor, Lifecycle
from tickets.workdays import CalendarError

PHONE = re.compile(r"(?<!\d)(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})(?!\d)")
CREDIT = re.compile(r"(?<![0-9A-Z])[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}(?![0-9A-Z])")
CONFIRM, CHANGE, CANCEL = "1", "2", "0"


@intent("appeal_start")
def appeal_start(message, ctx) -> Reply:
    return Reply(texts.APPEAL_PROMPT)


@intent("appeal", "complaint")
def appeal(message, ctx) -> Reply:
    u = ctx.understanding
    from handlers import policy

    if u.kind == "appeal" and policy.looks_like_a_question(message.text or ""):
        # A question the policies answer gets the answer first; "转人工" still opens a ticket here.
        answered = policy.answer(ctx, rules.normalise(message.text or ""), kind=u.kind, category=u.category, strict=True)
        if answered is not None:
            return answered
    return start_appeal(ctx, text=message.text or "", kind=u.kind, category=u.category, confidence=u.confidence,
                        alternatives=[c for _, c, _ in u.alternatives], confirmed=False)


def start_appeal(ctx, *, text: str, kind: str, category: str, confidence=None, extra=None,
                 alternatives=None, confirmed: bool = True) -> Reply:
    """Entry point for every path that ends in a ticket (classifier, clarify, policy "转人工")."""
    pending = {"text": text, "kind": kind, "category": category, "confidence": confidence,
               "extra": dict(extra or {}), "alternatives": list(alternatives or []), "confirmed": confirmed}
    ctx.state.start("appeal", **pending)
    return _next_step(ctx)


def _next_step(ctx, note: str = "") -> Reply:
    data = ctx.state.data
    ent = service.find_enterprise(ctx.session, ctx.channel, ctx.user_id)  # created once there is a name
    if ent is None or not ent.name:
        ctx.state.update(asking="name")
        return Reply(note + "为了让承办部门及时联系您，请告诉我们企业名称（首次提交需要，之后会记住）：")
    if not ent.phone:
        ctx.state.update(asking="phone")
        return Reply(note + "请留一个联系电话（手机或座机），承办部门会通过它与您联系：")
    if data["kind"] == "complaint" and "anonymous" not in data:
        ctx.state.update(asking="anonymous")
        return Reply(f"{note}您反映的是“无事不扰”问题，将由营商办核查办理。请选择：\n"
                     "1. 实名反映：营商办和核查部门可看到企业名称和电话，便于联系核实\n"
                     "2. 匿名反映：只有营商办能看到企业信息，被反映的部门和其他部门都看不到\n"
                     "（您描述的内容会转给核查人员，匿名时请勿在内容中写企业名称）",
                     choices=["实名反映", "匿名反映"])
    if not data.get("confirmed"):
        ctx.state.update(asking="confirm")
        category = data["category"]
        return Reply(f"{note}您反映的问题属于“{label(category)}”类，我们将转交负责部门办理。\n"
                     f"{CONFIRM}. 确认提交\n{CHANGE}. 不是这一类，重新选择\n{CANCEL}. 取消",
                     choices=["确认提交", "重新选择", "取消"])
    return _submit(ctx)


def _submit(ctx) -> Reply:
    data = dict(ctx.state.data)
    ctx.state.clear()
    try:
        ticket = service.create_ticket(ctx.session, channel=ctx.channel, user_id=ctx.user_id, text=data["text"],
                                       kind=data["kind"], category=data["category"], confidence=data.get("confidence"),
                                       extra=data.get("extra"), now=ctx.now, config=ctx.services.config,
                                       anonymous=bool(data.get("anonymous")))
    except CalendarError:
        raise  # a configuration fault: the inbox keeps the message and apologises
    if ticket.department is None:
        where = "已转营商办，由工作人员尽快分派给负责部门"
    else:
        where = f"已转交{ticket.department.name}办理，承诺于{_date(ticket.deadline)}前答复"
    privacy = "（匿名：企业信息仅营商办可见）" if ticket.anonymous else ""
    return Reply(f"已受理！诉求编号 {ticket.number}，{where}。{privacy}\n"
                 f"回复“我的诉求”可随时查看进度。",
                 data={"ticket": ticket.number, "kind": ticket.kind, "category": ticket.category,
                       "department": ticket.department.name if ticket.department else None})


@flow("appeal")
def appeal_answer(message, ctx) -> Optional[Reply]:
    data = ctx.state.data
    text = rules.normalise(message.text or "")
    asking = data.get("asking")
    if text in (CANCEL, "取消", "算了"):
        ctx.state.clear()
        return Reply("已取消，本次内容不会提交。需要时请随时留言。")
    if asking in ("name", "phone"):
        phone = PHONE.search(text)
        code = CREDIT.search(text.upper())
        fields = {}
        if code:
            if not credit_code.is_valid(code.group()):
                return Reply("这个统一社会信用代码校验不通过，请核对后重新发送（18位），或只发送企业名称。")
            fields["credit_code"] = code.group()
        if phone:
            fields["phone"] = phone.group().replace("-", "")
        rest = CREDIT.sub("", PHONE.sub("", text.upper() if code else text)).strip(" ，,。:：") if (phone or code) else text
        problem = None
        if asking == "name":
            name = rest.strip()
            if 2 <= len(name) <= 60:
                fields["name"] = name
            else:
                problem = Reply("请发送企业的全称，例如“某某市某某食品有限公司”。")
        elif not phone:
            problem = Reply("没有识别到电话号码，请发送手机号（11位）或带区号的座机号。")
        if fields:  # what was valid is kept, even when something else must be asked again
            service.enterprise_for(ctx.session, ctx.channel, ctx.user_id, **fields)
        return problem or _next_step(ctx)
    if asking == "anonymous":
        if text not in ("1", "2", "实名", "匿名", "实名反映", "匿名反映"):
            ctx.state.clear()
            return None
        ctx.state.update(anonymous=text in ("2", "匿名", "匿名反映"))
        return _next_step(ctx)
    if asking == "confirm":
        if text in (CONFIRM, "确认", "确定", "是", "对", "提交"):
            return _submit(ctx)
        if text in (CHANGE, "重新选择", "不是"):
            return _choose_again(ctx)
        ctx.state.clear()
        return None  # something else entirely: understand it afresh
    ctx.state.clear()
    return None


def _choose_again(ctx) -> Reply:
    from handlers.clarify import ask

    data = dict(ctx.state.data)
    ctx.state.clear()
    return ask(ctx, text=data["text"], codes=[data["category"], *data.get("alternatives", [])],
               confidence=data.get("confidence"), exclude=data["category"])


def _date(moment) -> str:
    from tickets.lifecycle import _local

    return _local(moment)


# -- enterprise actions on existing tickets: rating, supplements -------------------------------

RATING = re.compile(r"^(?:评价\s*)?([1-5])(?:\s*分)?$")
SUPPLEMENT = re.compile(rf"^补充\s*({numbers.TEXT})?\s*[:：]?\s*(.+)$", re.IGNORECASE | re.DOTALL)


@intent("enterprise_pending")
def enterprise_pending(message, ctx) -> Optional[Reply]:
    """Answers to what the bot asked asynchronously (a rating, documents, a call-out), and the
    inspection check at the door, which must not be mistaken for a complaint."""
    from handlers import contact, inspection

    text = rules.normalise(message.text or "")
    for check in (lambda: contact.confirm_call_out(ctx, text), lambda: inspection.check(message, ctx)):
        reply = check()
        if reply is not None:
            return reply
    m = RATING.match(text)
    if m:
        resolved = [t for t in service.tickets_of(ctx.session, ctx.channel, ctx.user_id) if t.status == "resolved"]
        if not resolved:
            return None
        ticket = resolved[0]
        Lifecycle(ctx.session, ctx.now, ctx.services.config).rate(ticket, _me(ctx), int(m.group(1)))
        if ticket.status == "closed":
            return Reply(f"感谢您的评价！诉求 {ticket.number} 已办结归档。")
        return Reply(f"收到您的评价，我们很抱歉没能让您满意。诉求 {ticket.number} 已安排重新办理，"
                     f"新的期限为{_date(ticket.deadline)}。")
    m = SUPPLEMENT.match(text)
    if m:
        mine = service.tickets_of(ctx.session, ctx.channel, ctx.user_id, limit=50)
        if m.group(1):
            number = _canonical(m.group(1))
            ticket = next((t for t in mine if t.number == number), None)
            if ticket is None:
                return Reply(f"没有找到您提交的诉求 {number}，请核对编号。")
        else:
            waiting = [t for t in mine if t.status == "waiting"] or [t for t in mine if t.status in STATUS and t.status not in ("resolved", "closed")]
            if len(waiting) != 1:
                return Reply("请注明要补充的诉求编号，例如“补充 YQ-20261122-0007 营业执照照片已上传”。") if mine else None
            ticket = waiting[0]
        Lifecycle(ctx.session, ctx.now, ctx.services.config).supplement(ticket, _me(ctx), m.group(2))
        return Reply(f"已将补充内容转给承办部门（诉求 {ticket.number}）。")
    return None


def _me(ctx) -> Actor:
    return Actor("enterprise", ctx.user_id)


def _canonical(number: str) -> str:
    return numbers.canonical(number)


__all__ = ["start_appeal", "KIND_OF"]
