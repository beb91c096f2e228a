"""Who sees what of a ticket: the one place for the visibility and anonymity rules.

Every view asks here — the console's queue, ticket page, timeline and exports, the REST API, the
officials' 查看 in 企业微信, search — so that a rule changed here holds everywhere at once:

- an official sees the tickets of their own department; 营商办 supervisors (and administrators)
  see every ticket;
- an anonymous complaint's enterprise — its name, phone and chat id — is seen by supervisors only;
- an enterprise's chat id (公众号 openid, web or 企业微信 id) is shown to supervisors only, on any
  ticket: it is the same on all of an enterprise's tickets, so wherever a department saw it on a
  named ticket it would recognise the author of an anonymous one;
- a complaint names the department it is about; assigning it there is a supervisor's explicit
  decision (tickets/lifecycle.py asks `departments_named`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, or_, select, true
from sqlalchemy.orm import Session

from tickets import directory
from tickets.models import Department, Enterprise, Official, Ticket

ANONYMOUS = "匿名企业"
ENTERPRISE = "enterprise"


def supervises(official: Official | None) -> bool:
    return official is not None and official.active and official.supervises


def may_see(official: Official | None, ticket: Ticket) -> bool:
    """Whether this official may see the ticket at all (elsewhere it is a 404, not a 403)."""
    return (
        official is not None
        and official.active
        and (official.supervises or ticket.department_id == official.department_id)
    )


def visible_tickets(official: Official) -> Select:
    """select(Ticket) narrowed to what `official` may see."""
    q = select(Ticket)
    if not supervises(official):
        q = q.where(Ticket.department_id == official.department_id)
    return q


def reporter_visible(ticket: Ticket, official: Official | None) -> bool:
    """An anonymous complaint's enterprise is seen by 营商办 supervisors only, nowhere else."""
    return not ticket.anonymous or supervises(official)


def reporter(ticket: Ticket, official: Official | None) -> dict[str, str | None]:
    """The enterprise as this official may see it: name and phone, or the anonymous stand-in."""
    if not reporter_visible(ticket, official):
        return {"name": ANONYMOUS, "phone": None}
    return {"name": ticket.enterprise.name, "phone": ticket.enterprise.phone}


def reporter_name(ticket: Ticket, official: Official | None, unnamed: str = "—") -> str:
    return reporter(ticket, official)["name"] or unnamed


def actor_label(actor: str, ticket: Ticket, official: Official | None) -> str:
    """How a history entry's actor is shown. Stored as `kind:id`; an enterprise's id is its chat
    id, shown to supervisors only: others read its name, or 匿名企业 on an anonymous ticket."""
    kind, _, _ = actor.partition(":")
    if kind != ENTERPRISE or supervises(official):
        return actor
    if not reporter_visible(ticket, official):
        return f"{ENTERPRISE}:{ANONYMOUS}"
    return f"{ENTERPRISE}:{ticket.enterprise.name or '企业'}"


def search(q: str, official: Official) -> Any:
    """The condition for a search box (tickets/queries.py: number, company name, phone, credit code,
    words of the appeal), with this official's view of reporters: the enterprise is matched only
    where they may see it (never on another's anonymous complaint), its chat id by supervisors only."""
    from tickets import queries

    text = q.strip()[:100]
    if not text:
        return true()
    condition = queries.matching(text, supervises(official))
    if supervises(official):
        condition = or_(condition, Ticket.enterprise_id.in_(select(Enterprise.id).where(Enterprise.user_id == text)))
    return condition


# -- a complaint and the department it is about ---------------------------------------------------

# How people shorten department names when they speak of them.
_SHORT = (
    ("监督管理", "监管"),
    ("人力资源和社会保障", "人社"),
    ("卫生健康委员会", "卫健委"),
    ("应急管理", "应急"),
    ("生态环境", "环保"),
    ("发展和改革委员会", "发改委"),
    ("住房和城乡建设", "住建"),
    ("工业和信息化", "工信"),
    ("行政审批服务", "审批"),
    ("地方金融管理", "金融"),
    ("纪委监委驻营商局纪检监察组", "纪检组"),
)


def short_names(dept: Department) -> set[str]:
    """The names a complaint may use for a department: its own, without the city or district, and
    the usual short forms (市场监管局 for 市市场监督管理局, 人社局 …). A district's bureau answers to
    the bare name too: "市场监管局的人" may mean either level."""
    cores = {dept.name}
    if dept.region and dept.name.startswith(dept.region):
        cores.add(dept.name[len(dept.region) :])
    for prefix in ("国网市", "市"):  # once, from the full name: 市场监督管理局 keeps its 市
        if dept.name.startswith(prefix):
            cores.add(dept.name[len(prefix) :])
            break
    variants = set(cores)
    for core in cores:
        for long, short in _SHORT:
            if long in core:
                variants.add(core.replace(long, short))
    return {v for v in variants if len(v) >= 2}


def departments_named(session: Session, text: str) -> list[Department]:
    """The departments a text speaks of, from the process's copy of the directory (no query)."""
    text = text or ""
    return [
        d
        for d in directory.current(session).departments.values()
        if not d.is_office and any(v in text for v in short_names(d))
    ]


def names_department(session: Session, ticket: Ticket, department: Department) -> bool:
    """Whether `ticket` is a complaint about `department` (so it must not land there unasked)."""
    return ticket.kind == "complaint" and any(d.id == department.id for d in departments_named(session, ticket.text))


__all__ = [
    "ANONYMOUS",
    "supervises",
    "may_see",
    "visible_tickets",
    "reporter_visible",
    "reporter",
    "reporter_name",
    "actor_label",
    "search",
    "short_names",
    "departments_named",
    "names_department",
]
