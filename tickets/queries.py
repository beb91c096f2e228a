"""Finding tickets the way an official does when an enterprise calls: by number, company name,
phone, 统一社会信用代码 or words of the appeal — one search for the console and the API."""

from __future__ import annotations

import re

from sqlalchemy import ColumnElement, and_, func, or_, select

from core import ticket_number
from tickets.models import Enterprise, Ticket

_SEPARATORS = re.compile(r"[\s\-－—()（）+]")
_CREDIT_CODE = re.compile(r"^[0-9A-HJ-NP-RTUWXY]{18}$")


def matching(text: str, sees_reporters: bool):
    """A WHERE clause for tickets matching `text`. An anonymous report is found by its enterprise's
    name, phone or code only by those who may see who reported it (`sees_reporters`): otherwise
    searching would tell a department who complained about it."""
    text = (text or "").strip()[:100]
    number = ticket_number.parse(text)
    if number and ticket_number.is_number(text):
        return Ticket.number == number
    about_enterprise = [Enterprise.name.contains(text)]
    digits = _SEPARATORS.sub("", text)
    if digits.isdigit() and len(digits) >= 4:  # a phone number, or its last digits, as people type it
        phone = func.replace(func.replace(func.replace(Enterprise.phone, " ", ""), "-", ""), "+86", "")
        about_enterprise.append(phone.contains(digits))
    if _CREDIT_CODE.match(digits.upper()):
        about_enterprise.append(Enterprise.credit_code == digits.upper())
    by_enterprise: ColumnElement[bool] = Ticket.enterprise_id.in_(select(Enterprise.id).where(or_(*about_enterprise)))
    if not sees_reporters:
        by_enterprise = and_(by_enterprise, Ticket.anonymous.is_(False))
    conditions = [Ticket.text.contains(text), by_enterprise]
    if number:
        conditions.append(Ticket.number == number)
    return or_(*conditions)


__all__ = ["matching"]
