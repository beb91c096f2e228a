"""无事不扰 at the door: "市场监管局的人来检查了，有备案吗" or a filing's code → is it filed and approved?"""

from __future__ import annotations

import re

from sqlalchemy import select

from handlers.context import Context
from handlers.conversation import Conversation, Option, numbered
from handlers.form import draft_of
from handlers.messages import Reply
from handlers.understanding import Understanding
from inspections import filings
from tickets import service
from tickets.access import short_names
from tickets.models import Department
from tickets.workdays import local_date

ASKS = re.compile(
    r"(检查|执法|查|检测|抽查).{0,20}(备案|报备|批准|审批|合法|有没有手续|登记)|(备案|报备).{0,10}(检查|执法)"
)
# The inspectors are here (or were): not a question about inspections in general.
AT_DOOR = re.compile(
    r"来了|来查|来检查|上门|现在|今天|刚才|刚刚|正在|门口|到了|在我们|在厂|在店|来厂|进厂|来店|这次|这帮|这几个|他们|"
    r"这些人"
)


REPORT = Option("submit", "反映“随意检查”问题（已为您填好情况，可匿名）", ("反映", "举报", "投诉", "要反映", "提交"))


def check(u: Understanding, ctx: Context) -> Reply | None:
    text = u.text
    if u.details.inspection_code:
        return _by_code(ctx, u.details.inspection_code)
    if not (ASKS.search(text) and u.question):  # "有备案吗" at the door, not a story about inspections
        return None
    if not AT_DOOR.search(text) and u.answer(ctx.session) is not None:
        return None  # "执法检查要不要提前报备": asked in general, the library answers it (the intent's handler)
    ent = service.enterprise_for(ctx.session, ctx.channel, ctx.user_id)
    named = next((d for d in ctx.session.scalars(select(Department)) if any(v in text for v in short_names(d))), None)
    if not ent.name:
        return Reply(
            "请先告诉我们贵企业的名称（例如回复“企业名称：某某有限公司”），或直接发送检查人员出示的 6 位备案码。"
        )
    found = filings.covering(ctx.session, ent, local_date(ctx.now), named.name if named else None)
    if found:
        return Reply(
            "查到今天对贵企业的已批准检查备案：\n\n"
            + "\n\n".join(filings.describe(f) for f in found)
            + "\n\n请核对执法人员与证件。检查结束后可扫码对本次检查匿名评价。"
        )
    who = named.name if named else "相关部门"
    draft = draft_of(
        u,
        text=f"{who}今天到我企业检查，未查到检查备案。企业原话：{text}",
        kind="complaint",
        category="random_inspection",
    )
    Conversation(ctx.state, ctx.now).ask("offer", [REPORT], draft=draft)
    return Reply(
        f"没有查到{who}今天对贵企业的检查备案（凡检必报）。您可以请执法人员出示备案码核对。\n"
        f"如需反映：\n{numbered([REPORT])}",
        choices=["反映"],
        data={"asking": "offer"},
    )


def _by_code(ctx, code: str) -> Reply:
    filing = filings.find_by_code(ctx.session, code)
    if filing is None or filing.status != "approved":
        return Reply(f"备案码 {code} 不存在或未获批准，请向执法人员核实。如属未经批准的检查，可直接向我们反映。")
    today = local_date(ctx.now)
    if filing.end_date < today or filing.start_date > today:
        return Reply(
            f"备案码 {code} 不在有效期内（{filing.start_date:%m月%d日}—{filing.end_date:%m月%d日}）。"
            "今天的检查不在该备案范围内，如有疑问可向我们反映。"
        )
    ent = service.enterprise_for(ctx.session, ctx.channel, ctx.user_id)
    mine = any(t.enterprise_id == ent.id for t in filing.targets)
    note = "" if mine or not ent.name else "\n注意：该备案的检查对象不包括贵企业。"
    return Reply("备案有效：\n" + filings.describe(filing) + note)
