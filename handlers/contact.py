"""一叫就到: who handles a matter (a contact card), my service officers, and "请联系我" call-outs."""
from __future__ import annotations

import re

from sqlalchemy import select

from handlers import texts
from handlers.messages import Reply
from handlers.registry import intent
from nlp import rules
from tickets import contacts, inspections, service
from tickets.inspections_models import CallOut, ServiceOfficer

MY_OFFICERS = re.compile(r"我的(联系人|包联|服务专员|首席服务员)|包联干部|服务专员是谁")
CALL_ME = re.compile(r"请.{0,6}联系我|上门|来一趟|过来一下|叫.{0,4}(人|干部)来|一叫就到")
CONFIRMED = re.compile(r"^(已经?联系上了?|已上门|已经来过了?|已经打过电话了?)$")


@intent("contact_lookup")
def contact_lookup(message, ctx) -> Reply:
    text = rules.normalise(message.text or "")
    ent = service.enterprise_for(ctx.session, ctx.channel, ctx.user_id)
    officers = ctx.session.scalars(select(ServiceOfficer).where(ServiceOfficer.enterprise_id == ent.id)).all()
    if CALL_ME.search(text) and text not in ("一叫就到",):
        if not officers:
            return Reply("贵企业暂未分配包联干部。请告诉我们要办的事项（如“办环评找谁”），我们把对口联系人推送给您。")
        item = inspections.call_out(ctx.session, ent, officers[0].official, text, ctx.now)
        return Reply(f"已通知您的{officers[0].role}{officers[0].official.name}，"
                     f"承诺于{inspections.due_local(item)}前与您联系。联系上后请回复“已联系上”。")
    if MY_OFFICERS.search(text):
        if not officers:
            return Reply("贵企业暂未分配包联干部。需要办事时，直接告诉我们事项，我们推送对口联系人。")
        lines = [f"{o.role}：{o.official.name}（{o.official.department.name}）" for o in officers]
        return Reply("您的联系人：\n" + "\n".join(lines) + "\n需要上门或回电，回复“请联系我”。")
    cards = contacts.lookup(ctx.session, text)
    if not cards:
        return Reply(texts.CONTACT_PROMPT if len(text) <= 6 else
                     "没有找到对口的联系人。请换个说法告诉我们要办的事项，例如“办环评找谁”；"
                     "也可以直接描述问题，我们转给负责的部门。")
    return Reply("\n\n".join(contacts.card_text(c) for c in cards),
                 data={"cards": [{"department": c.department.name, "person": c.person, "phone": c.phone} for c in cards]})


def confirm_call_out(ctx, text: str):
    """The enterprise says the officer got in touch: the call-out is closed with the time."""
    if not CONFIRMED.match(text):
        return None
    ent = service.enterprise_for(ctx.session, ctx.channel, ctx.user_id)
    item = ctx.session.scalars(select(CallOut).where(CallOut.enterprise_id == ent.id,
                                                     CallOut.status.in_(("requested", "responded")))
                               .order_by(CallOut.id.desc())).first()
    if item is None:
        return None
    item.status, item.confirmed_at = "confirmed", ctx.now
    item.responded_at = item.responded_at or ctx.now
    return Reply("好的，已记录。感谢您的反馈！")
