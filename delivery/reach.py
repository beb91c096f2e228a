"""What became of a policy push (tickets/policy_push.py): how many enterprises it matched, reached,
kept waiting, and which opened the document or asked about it afterwards. Read from the outbox and
from the inbox of messages, which is why it sits here, above the conversation's tables.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from handlers.models import InboundMessage
from tickets import policy_push
from tickets.models import Notification, Ticket
from tickets.outreach_models import PolicyPush, PolicyPushTarget


def figures(session: Session, push: PolicyPush, now: datetime) -> dict[str, int]:
    """matched · notified (has a chat) · reached (the notice went out) · waiting (held for the next
    message) · opened the document page · asked about it afterwards (a question answered from the
    document, a question naming it, or a policy ticket, after the notice reached it)."""
    document = policy_push.push_document(session, push)
    targets = push.targets
    notices = {
        n.once_key: n
        for n in session.scalars(select(Notification).where(Notification.once_key.like(f"policy:{push.id}:%")))
    }
    out = {"matched": len(targets), "notified": 0, "reached": 0, "waiting": 0, "opened": 0, "asked": 0}
    for t in targets:
        n = notices.get(f"policy:{push.id}:{t.enterprise_id}")
        if t.notified:
            out["notified"] += 1
        if n is not None and n.status == "sent":
            out["reached"] += 1
            if t.asked_at is None and _asked(session, t, n.sent_at, document):
                t.asked_at = now
        elif n is not None and n.status in ("held", "pending"):
            out["waiting"] += 1
        out["opened"] += t.opened_at is not None
        out["asked"] += t.asked_at is not None
    return out


def _asked(session: Session, target: PolicyPushTarget, since: datetime | None, document) -> bool:
    ent = target.enterprise
    if since is None:
        return False
    policy_ticket = session.scalar(
        select(Ticket.id)
        .where(Ticket.enterprise_id == ent.id, Ticket.category == "policy", Ticket.created_at >= since)
        .limit(1)
    )
    if policy_ticket is not None:
        return True
    messages = session.execute(
        select(InboundMessage.text, InboundMessage.reply)
        .where(
            InboundMessage.channel == ent.channel,
            InboundMessage.user_id == ent.user_id,
            InboundMessage.received_at >= since,
        )
        .limit(200)
    ).all()
    title = document.title.lstrip("#").strip()  # a Markdown heading keeps its "#" in the title
    for text, reply in messages:
        cited = ((reply or {}).get("data") or {}).get("citations") or []
        if any(c.get("source") == document.source or c.get("title") == document.title for c in cited):
            return True
        if text and ((title and title in text) or (document.key and document.key in text)):
            return True
    return False
