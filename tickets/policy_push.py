"""精准推送: a published policy document reaches the enterprises its criteria match, once.

An enterprise's profile (industry, region, size, 专精特新, 高新) comes from what it tells the bot
(handlers/outreach.py), from the console and from the region's enterprise list (CSV/Excel import,
kept as `registry` rows by credit code, as inspection filings keep them). A chat enterprise is
matched on its own profile, completed from the list's row with the same credit code or name.

Publishing writes, in one transaction: the push, one target per matched enterprise, one notice per
enterprise that has a chat to receive it (公众号: customer-service message in the window, template
message or held outside it; web chat: held), and one 企业微信 list per 包联干部 of the matched
enterprises. "不要再推送" (push_opt_out) keeps an enterprise out of every later push. The console
reads back how many were reached, opened the document page, and asked about it afterwards.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import UserError
from tickets import outbox
from tickets.models import Enterprise, Notification, ServiceOfficer
from tickets.outreach_models import PolicyPush, PolicyPushTarget

REGISTRY = "registry"  # inspections/filings.py: enterprises known from a list, not from a chat
SIZES = ("微型", "小型", "中型", "大型", "个体户")
FLAGS = {"specialized": "专精特新", "high_tech": "高新技术企业"}
CHAT_CHANNELS = ("wechat", "wecom", "web")


# -- criteria ------------------------------------------------------------------------------------


def _words(value: Any) -> list[str]:
    if isinstance(value, str):
        value = value.replace("，", ",").replace("、", ",").replace(" ", ",").split(",")
    return [str(v).strip() for v in (value or []) if str(v).strip()]


def criteria_from(
    industries: Any = None, regions: Any = None, sizes: Any = None, specialized: bool = False, high_tech: bool = False
) -> dict[str, Any]:
    """Empty lists and unset flags mean "any": a push with no criteria reaches everyone not opted out."""
    sizes = [s for s in _words(sizes) if s in SIZES]
    return {
        "industries": _words(industries),
        "regions": _words(regions),
        "sizes": sizes,
        "specialized": bool(specialized),
        "high_tech": bool(high_tech),
    }


def describe(criteria: dict[str, Any]) -> str:
    parts = []
    if criteria.get("industries"):
        parts.append("行业：" + "、".join(criteria["industries"]))
    if criteria.get("regions"):
        parts.append("地区：" + "、".join(criteria["regions"]))
    if criteria.get("sizes"):
        parts.append("规模：" + "、".join(criteria["sizes"]))
    parts += [FLAGS[k] for k in FLAGS if criteria.get(k)]
    return "；".join(parts) or "全部企业"


def profile(ent: Enterprise, listed: Enterprise | None = None) -> dict[str, Any]:
    """The enterprise's profile, each empty field taken from its row in the enterprise list."""

    def pick(name):
        own = getattr(ent, name)
        return own if own or listed is None else getattr(listed, name)

    return {
        "industry": pick("industry") or "",
        "region": pick("region") or "",
        "size": pick("size") or "",
        "specialized": bool(pick("specialized")),
        "high_tech": bool(pick("high_tech")),
    }


def matches(p: dict[str, Any], criteria: dict[str, Any]) -> bool:
    if criteria.get("industries") and not any(
        w in p["industry"] or (p["industry"] and p["industry"] in w) for w in criteria["industries"]
    ):
        return False
    if criteria.get("regions") and not any(
        r in p["region"] or (p["region"] and p["region"] in r) for r in criteria["regions"]
    ):
        return False
    if criteria.get("sizes") and p["size"] not in criteria["sizes"]:
        return False
    return all(p[flag] for flag in FLAGS if criteria.get(flag))


def _listed_index(rows: Iterable[Enterprise]) -> tuple[dict, dict]:
    by_code, by_name = {}, {}
    for e in rows:
        if e.credit_code:
            by_code[e.credit_code.upper()] = e
        if e.name:
            by_name[e.name] = e
    return by_code, by_name


def matching(session: Session, criteria: dict[str, Any]) -> list[tuple[Enterprise, bool]]:
    """(enterprise, has a chat) for every enterprise the criteria match: chat enterprises not opted
    out, and listed enterprises that no chat enterprise stands for (their officers follow up)."""
    everyone = session.scalars(select(Enterprise).order_by(Enterprise.id)).all()
    listed = [e for e in everyone if e.channel == REGISTRY]
    by_code, by_name = _listed_index(listed)
    found, covered = [], set()
    for ent in everyone:
        if ent.channel not in CHAT_CHANNELS:
            continue
        twin = (by_code.get((ent.credit_code or "").upper()) if ent.credit_code else None) or (
            by_name.get(ent.name) if ent.name else None
        )
        if twin is not None:
            covered.add(twin.id)  # one enterprise, reached through its chat
        if ent.push_opt_out or (twin is not None and twin.push_opt_out):
            continue
        if matches(profile(ent, twin), criteria):
            found.append((ent, True))
    found += [
        (e, False) for e in listed if e.id not in covered and not e.push_opt_out and matches(profile(e), criteria)
    ]
    return found


# -- links ---------------------------------------------------------------------------------------


def _signature(target_id: int, enterprise_id: int, secret: str) -> str:
    digest = hmac.new(secret.encode(), f"push:{target_id}:{enterprise_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest)[:12].decode()


def link(target: PolicyPushTarget, config) -> str:
    from tickets.rating_links import _b36

    return (
        f"{str(config['PUBLIC_URL']).rstrip('/')}/p/{_b36(target.id)}."
        f"{_signature(target.id, target.enterprise_id, config['SECRET_KEY'])}"
    )


def find_target(session: Session, token: str, secret: str) -> PolicyPushTarget | None:
    ident, _, signature = (token or "").partition(".")
    if not ident or len(ident) > 12 or not ident.isascii() or not ident.isalnum() or not signature:
        return None
    from tickets.rating_links import MAX_ID

    number = int(ident, 36)
    if number > MAX_ID:
        return None
    target = session.get(PolicyPushTarget, number)
    if target is None or not hmac.compare_digest(
        _signature(target.id, target.enterprise_id, secret).encode(), signature.encode("ascii", "replace")
    ):
        return None
    return target


# -- publishing ----------------------------------------------------------------------------------


def publish(
    session: Session, document, summary: str, criteria: dict[str, Any], by: str, now: datetime, config
) -> PolicyPush:
    summary = " ".join((summary or "").split())
    if not summary:
        raise UserError("请写一段政策摘要（推送给企业的内容）。")
    if len(summary) > 500:
        raise UserError("摘要请控制在 500 字以内。")
    if document.status != "active":
        raise UserError("已废止的文件不能推送。")
    if session.scalar(select(PolicyPush.id).where(PolicyPush.document_id == document.id)) is not None:
        raise UserError(f"《{document.title}》已经推送过，同一文件只推送一次。")
    push = PolicyPush(
        document_id=document.id, summary=summary, criteria=criteria, published_by=by[:160], created_at=now
    )
    session.add(push)
    session.flush()
    found = matching(session, criteria)
    for ent, chat in found:
        target = PolicyPushTarget(push_id=push.id, enterprise_id=ent.id, notified=chat, created_at=now)
        session.add(target)
        session.flush()
        if chat:
            _notify_enterprise(session, ent, target, document, summary, now, config)
    _notify_officers(session, push, document, [ent for ent, _ in found])
    return push


def _notify_enterprise(
    session: Session, ent: Enterprise, target: PolicyPushTarget, document, summary: str, now: datetime, config
) -> None:
    url = link(target, config)
    body = (
        f"【政策推送】{document.title}\n{summary}\n查看全文：{url}\n"
        "（有疑问可直接留言咨询；回复“不要再推送”不再接收政策推送）"
    )
    channel = outbox.held_channel(ent.channel)
    values = outbox.notice_values(channel, ent.user_id, f"政策推送：{document.title}", body)
    data = {
        "title": document.title,
        "summary": summary,
        "link": url,
        "issuer": document.issuer or "",
        "date": now.strftime("%Y-%m-%d"),
    }
    session.add(Notification(kind="policy", data=data, once_key=f"policy:{target.push_id}:{ent.id}", **values))
    outbox.written(session, [values])


def _notify_officers(session: Session, push: PolicyPush, document, enterprises: list[Enterprise]) -> None:
    """Each 包联干部 gets the list of their enterprises the policy fits, in one 企业微信 message."""
    if not enterprises:
        return
    by_name = {e.name: e for e in enterprises if e.name}
    by_code = {e.credit_code.upper(): e for e in enterprises if e.credit_code}
    ids = {e.id for e in enterprises}
    # Officers are assigned to whichever row the console knew (chat or list): match either.
    twins = session.scalars(select(Enterprise).where(Enterprise.id.not_in(ids))).all()
    also = {t.id: (by_code.get((t.credit_code or "").upper()) or by_name.get(t.name or "")) for t in twins}
    also = {k: v for k, v in also.items() if v is not None}
    rows = session.scalars(select(ServiceOfficer).where(ServiceOfficer.enterprise_id.in_(ids | set(also)))).all()
    lists: dict[str, dict[int, Enterprise]] = defaultdict(dict)
    for row in rows:
        if row.official.wecom_user_id and row.official.active:
            ent = also.get(row.enterprise_id) or row.enterprise
            lists[row.official.wecom_user_id][ent.id] = ent
    for wecom_id, ents in lists.items():
        lines = [f"{i}. {_label(e)}" for i, e in enumerate(ents.values(), 1)]
        outbox.add(
            session,
            "wecom_app",
            wecom_id,
            None,
            f"政策推送：{document.title}"[:60],
            f"您包联的 {len(ents)} 家企业符合《{document.title}》的条件，请跟进解读：\n"
            + "\n".join(lines[:30])
            + (f"\n…等共 {len(ents)} 家" if len(lines) > 30 else ""),
        )


def _label(e: Enterprise) -> str:
    extra = "、".join(x for x in (e.industry, e.region) if x)
    return (e.name or e.credit_code or "未登记名称的企业") + (f"（{extra}）" if extra else "")


def push_document(session: Session, push: PolicyPush):
    from knowledge.models import PolicyDocument

    return session.get(PolicyDocument, push.document_id)
