"""One-tap rating links: `/r/<id>.<signature>`, short enough for an SMS, signed with SECRET_KEY,
expiring after RATING_LINK_DAYS, used once.

A link rates the answer it was issued for: a ticket reopened for 重办 and answered again gets a new
link, and the old one is refused. The rating itself goes through the lifecycle (`Lifecycle.perform
(…, "rate")`), as a rating typed in chat does.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from core import settings
from tickets.models import Ticket
from tickets.outreach_models import RatingLink

MAX_ID = 2**31 - 1


def _b36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


def _signature(link: RatingLink, secret: str) -> str:
    message = f"rate:{link.id}:{link.ticket_id}:{int(link.expires_at.timestamp())}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest)[:12].decode()  # 72 bits: not guessable, short for an SMS


def token(link: RatingLink, secret: str) -> str:
    return f"{_b36(link.id)}.{_signature(link, secret)}"


def url(link: RatingLink, config) -> str:
    return f"{str(config['PUBLIC_URL']).rstrip('/')}/r/{token(link, config['SECRET_KEY'])}"


def issue(session: Session, ticket: Ticket, now: datetime, config) -> str | None:
    """A new link for the ticket's current answer (the answer notice carries it); None without a
    SECRET_KEY and PUBLIC_URL to sign and address it."""
    if not config.get("SECRET_KEY") or not config.get("PUBLIC_URL"):
        return None
    days = int(settings.value(config, "RATING_LINK_DAYS"))
    link = RatingLink(
        ticket_id=ticket.id,
        resolved_at=ticket.resolved_at or now,
        created_at=now,
        expires_at=now + timedelta(days=days),
    )
    session.add(link)
    session.flush()  # its id is in the token
    return url(link, config)


def current(session: Session, ticket: Ticket, now: datetime, config) -> str | None:
    """The link of the ticket's current answer if it is still valid, else a new one (an SMS sent
    after the first link was lost or expired)."""
    if ticket.resolved_at is None or not config.get("SECRET_KEY") or not config.get("PUBLIC_URL"):
        return None
    link = session.scalars(
        select(RatingLink)
        .where(
            RatingLink.ticket_id == ticket.id,
            RatingLink.resolved_at == ticket.resolved_at,
            RatingLink.used_at.is_(None),
            RatingLink.expires_at > now,
        )
        .order_by(RatingLink.id.desc())
    ).first()
    return url(link, config) if link is not None else issue(session, ticket, now, config)


def find(session: Session, value: str, secret: str) -> RatingLink | None:
    """The link a token names, if its signature holds (a changed character is no link at all)."""
    ident, _, signature = (value or "").partition(".")
    if not ident or len(ident) > 12 or not signature or not ident.isascii() or not ident.isalnum():
        return None
    number = int(ident, 36)
    if number > MAX_ID:  # not a row id on either database (PostgreSQL would refuse the query)
        return None
    link = session.get(RatingLink, number)
    if link is None or not hmac.compare_digest(_signature(link, secret).encode(), signature.encode("ascii", "replace")):
        return None
    return link


def state(link: RatingLink, now: datetime) -> str:
    """usable | used | expired | stale (the ticket was answered again, or is no longer waiting)."""
    if link.used_at is not None:
        return "used"
    if link.expires_at <= now:
        return "expired"
    if link.ticket.status != "resolved" or link.ticket.resolved_at != link.resolved_at:
        return "stale"
    return "usable"


def claim(session: Session, link: RatingLink, now: datetime) -> bool:
    """Marks the link used, once: of two taps racing, one gets it (a conditional update)."""
    done = session.execute(
        update(RatingLink)
        .where(RatingLink.id == link.id, RatingLink.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return cast(CursorResult, done).rowcount == 1


def opened(session: Session, link: RatingLink, now: datetime) -> None:
    if link.opened_at is None:
        link.opened_at = now
