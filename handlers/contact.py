"""一叫就到: who handles a matter (a contact card), my service officers, and "请联系我" call-outs.

A lookup with no fitting card says so and gives 营商办's duty contact instead of a wrong number;
"请联系我" without an assigned officer goes to 营商办; every promised time counts the card's
service hours and working days (a request at 23:07 on a Friday is due on Monday morning).
"""

from __future__ import annotations

import re

from sqlalchemy import select

from contacts import book, callouts
from contacts.models import CallOut, ContactCard
from handlers import texts
from handlers.context import Context
from handlers.conversation import Conversation
from handlers.messages import Reply
from handlers.offer import show_answer
from handlers.registry import answers, intent
from handlers.understanding import CONTACT, Understanding
from nlp import rules
from tickets import service
from tickets.models import Official, ServiceOfficer

MY_OFFICERS = re.compile(r"我的(联系人|包联|服务专员|首席服务员)|包联干部|服务专员是谁")
CALL_ME = re.compile(
    r"请.{0,6}联系我|联系一下我|给我回(个)?电话|回电|上门|来一趟|过来一下|叫.{0,4}(人|干部)来|派(个)?人"
)
CONFIRMED = re.compile(r"^(已经?联系上了?|联系上了|已上门|已经来过了?|已经打过电话了?|来过了)$")


@intent("contact_lookup")
def contact_lookup(message, ctx: Context) -> Reply:
    u = ctx.understood
    text = u.text
    conv = Conversation(ctx.state, ctx.now)
    if rules.COMMANDS.get(text.strip(" 。.!！")) == "contact_lookup":  # the menu button: ask for the matter
        conv.ask("contact_matter")
        return Reply(texts.CONTACT_PROMPT, data={"asking": "contact_matter"})
    if CALL_ME.search(text):
        return call_me(ctx, text)
    if MY_OFFICERS.search(text):
        return my_officers(ctx)
    matter = _matter(text)
    if not matter and conv.topic.get("question"):
        matter = conv.topic["question"]  # "那具体找谁办" after a policy answer: who handles that
    matter = matter or text
    cards = book.lookup(ctx.session, matter)
    if not cards and u.question:
        # "罚款不服，复议该找谁": no card handles it, but the law names who does.
        found = u.answer(ctx.session)
        if found is not None:
            return show_answer(ctx, u, found, kind=u.ticket_kind, category=u.ticket_guess() or "policy")
    return cards_for(ctx, matter, cards)


# After a card: "排污许可呢", "专利也是找他们吗", "公积金中心电话也给我一个" ask for another matter's card.
FOLLOW_UP = re.compile(
    r"^(那|还有|另外)?(?P<matter>[^，,。？?\s]{2,12}?)(的)?"
    r"(呢|也是找(他们|他|她|这个部门|这里)吗?|也是(他们|他|她|这个部门)管吗?|也找(他们|他|她)吗?|"
    r"(的)?(电话|联系方式)?也(给我|发我|说)(一个|一下)?|找谁呢?)[?？。!！]*$"
)


def follow_up(u: Understanding, ctx: Context) -> Reply | None:
    """A short follow-up to a card just shown names the next matter; anything longer is a new message."""
    conv = Conversation(ctx.state, ctx.now)
    if conv.topic.get("kind") != "contact" or len(u.text) > 20:
        return None
    found = FOLLOW_UP.match(u.text.strip())
    if found is None:
        return None
    return cards_for(ctx, found.group("matter"))


def _matter(text: str) -> str:
    """The matter a contact question names, without the asking words ("办环评找谁" → "办环评";
    "那找哪个部门问" → "": it names none, so the last topic is meant)."""
    rest = CONTACT.sub(" ", text)
    rest = re.sub(
        r"那么|那|这个|这事|具体|请问|我想|我要|应该|一般|要|去|的|呢|吗|啊|呀|部门|单位|机构|问问|问一下|问|咨询|"
        r"找|办理|怎么|联系|电话|谁|哪里|哪儿|反映|投诉|举报|[?？。,，!！\s]",
        "",
        rest,
    )
    return rest if len(rest) >= 2 else ""


def cards_for(ctx: Context, matter: str, cards: list[ContactCard] | None = None) -> Reply:
    cards = book.lookup(ctx.session, matter) if cards is None else cards
    Conversation(ctx.state, ctx.now).talked_about(kind="contact", matter=matter)
    if cards:
        return Reply("\n\n".join(book.card_text(c) for c in cards), data={"cards": [_card(c) for c in cards]})
    duty = book.duty_card(ctx.session)
    fallback = f"\n\n{book.card_text(duty)}" if duty else ""
    return Reply(
        f"没有找到办理“{_short(matter)}”的对口联系人，先不给您一个可能不对的电话。"
        f"您可以联系营商办值班人员，由他们帮您找到负责的部门：{fallback}\n"
        "也可以直接描述要办的事，我们转给负责的部门。",
        data={"cards": [_card(duty)] if duty else [], "fallback": True},
    )


def _card(card: ContactCard) -> dict:
    return {"department": card.department.name, "person": card.person, "phone": card.phone}


def _short(text: str, n: int = 20) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


@answers("contact_matter")
def contact_matter(u: Understanding, ctx: Context) -> Reply | None:
    """After "一叫就到": the next message is the matter ("社保"), unless it is a command."""
    if u.source == "rule":
        return None
    Conversation(ctx.state, ctx.now).answered()
    if CALL_ME.search(u.text):
        return call_me(ctx, u.text)
    return cards_for(ctx, _matter(u.text) or u.text)


def my_officers(ctx: Context) -> Reply:
    officers = _officers(ctx)
    if not officers:
        return Reply(
            "贵企业暂未分配包联干部。需要办事时，直接告诉我们事项，我们推送对口联系人；"
            "需要有人联系您，回复“请联系我”，由营商办安排。"
        )
    lines = [f"{o.role}：{o.official.name}（{o.official.department.name}）" for o in officers]
    return Reply("您的联系人：\n" + "\n".join(lines) + "\n需要上门或回电，回复“请联系我”。")


def _officers(ctx: Context) -> list[ServiceOfficer]:
    ent = service.find_enterprise(ctx.session, ctx.channel, ctx.user_id)
    if ent is None:
        return []
    return list(ctx.session.scalars(select(ServiceOfficer).where(ServiceOfficer.enterprise_id == ent.id)))


def call_me(ctx: Context, text: str) -> Reply:
    """Notify the enterprise's officer, or 营商办 when it has none; promise a time within service hours."""
    ent = service.enterprise_for(ctx.session, ctx.channel, ctx.user_id)
    officers = _officers(ctx)
    duty = book.duty_card(ctx.session)
    official: Official | None
    if officers:
        official, who = officers[0].official, f"您的{officers[0].role}{officers[0].official.name}"
        card = ctx.session.scalars(
            select(ContactCard).where(ContactCard.wecom_user_id == official.wecom_user_id)
        ).first()
        minutes, hours = (card.promise_minutes, card.hours) if card else (120, "")
    else:
        official = _office_official(ctx, duty)
        if official is None:
            return Reply("暂时无法安排回电。请拨打营商办电话，或直接描述您的问题，我们转给负责的部门。")
        who = f"营商办{duty.person if duty else official.name}"
        minutes, hours = (duty.promise_minutes, duty.hours) if duty else (120, "")
    item = callouts.call_out(ctx.session, ent, official, text, ctx.now, promise_minutes=minutes, hours=hours)
    need = "" if ent.phone else "\n您还没有留联系电话，请直接发送手机号，方便对方联系您。"
    return Reply(
        f"已通知{who}，承诺于{callouts.due_local(item)}前与您联系（按工作时间计算）。联系上后请回复“已联系上”。{need}",
        data={"call_out": item.id, "due": item.due_at.isoformat()},
    )


def _office_official(ctx: Context, duty: ContactCard | None) -> Official | None:
    if duty is not None and duty.wecom_user_id:
        found = ctx.session.scalars(
            select(Official).where(Official.wecom_user_id == duty.wecom_user_id, Official.active)
        ).first()
        if found is not None:
            return found
    from tickets.models import Department

    return ctx.session.scalars(
        select(Official)
        .join(Department)
        .where(Department.is_office, Official.active)
        .order_by(Official.role.desc(), Official.id)
    ).first()


def confirm_call_out(u: Understanding, ctx: Context) -> Reply | None:
    """The enterprise says the officer got in touch: the call-out is closed with the time."""
    if not CONFIRMED.match(u.text.strip(" 。.!！")):
        return None
    ent = service.find_enterprise(ctx.session, ctx.channel, ctx.user_id)
    if ent is None:
        return None
    item = ctx.session.scalars(
        select(CallOut)
        .where(CallOut.enterprise_id == ent.id, CallOut.status.in_(("requested", "responded")))
        .order_by(CallOut.id.desc())
    ).first()
    if item is None:
        return None
    item.status, item.confirmed_at = "confirmed", ctx.now
    item.responded_at = item.responded_at or ctx.now
    return Reply("好的，已记录。感谢您的反馈！")
