"""The ticket state machine: every change goes through `apply`, which checks, records and notifies.

    submitted ─assign→ assigned ─accept→ accepted ─resolve→ resolved ─rate→ closed
        ↑  ↖────return────┘  ↑  ↘escalate↗  │  ↕ request_info / supplement (waiting: clock paused)
        └──────return───────────────────────┘  rate ≤ 2 → redo once (assigned), then 营商办 supervision

Each action names the statuses it may start from; anything else is refused with a message the
official or the enterprise can read. Every applied action appends one TicketEvent (全程留痕).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Optional

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.errors import UserError
from nlp.categories import KIND_OF, TICKET_CATEGORIES, label
from tickets import access, directory, notify
from tickets.models import Department, Official, Ticket, TicketEvent
from tickets.workdays import add_working_days

STATUS = {
    "submitted": "待分办",
    "assigned": "待签收",
    "accepted": "办理中",
    "waiting": "待补充材料",
    "resolved": "已答复待评价",
    "closed": "已办结",
}
OPEN = ("submitted", "assigned", "accepted", "waiting")
RATINGS = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}
UNSATISFIED = (1, 2)


class TransitionError(UserError):
    """An action the ticket's status does not allow."""


class Forbidden(UserError):
    """An actor acting on a ticket that is not theirs."""


@dataclass(frozen=True)
class Actor:
    kind: str  # official | enterprise | system
    id: str
    name: str = ""
    official: Optional[Official] = None

    @classmethod
    def of(cls, official: Official) -> "Actor":
        return cls("official", official.wecom_user_id or official.login or str(official.id), official.name, official)

    @property
    def label(self) -> str:
        if self.kind == "official" and self.official is not None:
            return f"official:{self.id}({self.official.name}/{self.official.department.name})"
        return f"{self.kind}:{self.id}"


SYSTEM = Actor("system", "appealbot", "系统")


def office(session: Session) -> Department:
    office_id = directory.current(session).office_id
    if office_id is None:
        raise UserError("尚未配置营商办（is_office 部门），无法分办")
    return directory.department(session, office_id)


def _require(ticket: Ticket, action: str, allowed: tuple[str, ...]) -> None:
    if ticket.status not in allowed:
        raise TransitionError(f"工单 {ticket.number} 当前状态为“{STATUS[ticket.status]}”，不能{ACTION_NAMES[action]}")


def _reason(text: Optional[str], what: str) -> str:
    text = (text or "").strip()
    if not text:
        raise UserError(f"{what}必须写明原因")
    return text[:2000]


class NeedsConfirmation(UserError):
    """Assigning a complaint to the department it is about: allowed only when a supervisor says so."""


def can_act(actor: Actor, ticket: Ticket) -> bool:
    if actor.kind == "system":
        return True
    if actor.kind == "enterprise":
        return ticket.enterprise.user_id == actor.id and ticket.enterprise.channel == ticket.channel
    return access.may_see(actor.official, ticket)


def _department_member(actor: Actor, ticket: Ticket) -> None:
    if actor.kind == "system":
        return
    if actor.kind != "official" or not can_act(actor, ticket):
        raise Forbidden(f"工单 {ticket.number} 不属于您所在的部门，不能操作")


def _supervisor(actor: Actor) -> None:
    if actor.kind != "system" and not (actor.official and actor.official.supervises):
        raise Forbidden("只有营商办督办人员可以进行此操作")


def _enterprise(actor: Actor, ticket: Ticket) -> None:
    if actor.kind != "system" and (actor.kind != "enterprise" or not can_act(actor, ticket)):
        raise Forbidden("只能操作您本人提交的诉求")


class Lifecycle:
    """Applies actions at a given moment (`now` comes from the caller, so tests control the clock)."""

    def __init__(self, session: Session, now: datetime, config: dict):
        self.session, self.now, self.config = session, now, config

    # -- helpers -------------------------------------------------------------------------------

    def record(self, ticket: Ticket, actor: Actor, action: str, before: Optional[str], note: Optional[str] = None,
               **data) -> TicketEvent:
        event = TicketEvent(ticket=ticket, **self._event(ticket, actor, action, before, note, data))
        self.session.add(event)
        ticket.updated_at = self.now
        return event

    def _event(self, ticket: Ticket, actor: Actor, action: str, before: Optional[str], note: Optional[str],
               data: dict) -> dict:
        return {"at": self.now, "actor": actor.label, "action": action, "from_status": before,
                "to_status": ticket.status, "note": note, "data": data}

    def _assign_to(self, ticket: Ticket, department: Department, days: Optional[int] = None) -> None:
        ticket.department = department
        ticket.department_id = department.id
        ticket.status = "assigned"
        if days is not None:
            ticket.deadline_days = days
        ticket.assigned_at = self.now
        ticket.accept_due = add_working_days(self.now, int(self.config.get("ACCEPT_DAYS", 1)))
        ticket.deadline = add_working_days(self.now, ticket.deadline_days)
        ticket.reminded_at = ticket.overdue_notified_at = None
        ticket.accepted_at = None

    def _escalation_target(self, ticket: Ticket, department: Optional[Department]) -> Department:
        """The parent department, or 营商办 at the top — and 营商办 when the parent is the very
        department a complaint is about (only a supervisor's confirmed assignment sends it there)."""
        target = (department.parent if department is not None else None) or office(self.session)
        if access.names_department(self.session, ticket, target):
            return office(self.session)
        return target

    # -- actions -------------------------------------------------------------------------------

    def submit(self, ticket: Ticket, actor: Actor, department: Optional[Department], days: Optional[int] = None,
               note: Optional[str] = None, **data) -> Ticket:
        """Inserts a new ticket, assigned to `department` when routing found one; otherwise 营商办
        is asked to distribute it. The ticket goes in through the session; its first history
        entries and its notices go in as plain rows after it: this is the one write on the chat's
        hot path, and the unit of work took 1.7 times as long over the four dependent objects.
        Nothing has loaded the new ticket's history yet, so no loaded collection misses them."""
        ticket.status = "submitted"
        events = [self._event(ticket, actor, "submit", None, None, data)]
        if department is not None:
            self._assign_to(ticket, department, days)
            events.append(self._event(ticket, SYSTEM, "assign", "submitted", note, {"department": department.name}))
            title, body = _assignment_notice(ticket)
        else:
            department = office(self.session)
            title, body = f"新诉求待分办：{ticket.number}", f"【{label(ticket.category)}】{ticket.text[:120]}"
        ticket.updated_at = self.now
        self.session.add(ticket)
        self.session.flush()  # the ticket alone: its id for the rows below
        self.session.execute(_EVENTS, [{**e, "ticket_id": ticket.id} for e in events])
        notify.department_rows(self.session, ticket.id, department, title, body)
        return ticket

    def assign(self, ticket: Ticket, actor: Actor, department: Department, days: Optional[int] = None,
               note: Optional[str] = None, confirm_named: bool = False) -> Ticket:
        """`confirm_named`: the supervisor confirmed assigning a complaint to the very department
        it is about (asked for, and recorded, only then)."""
        _require(ticket, "assign", ("submitted", "assigned", "accepted"))
        if ticket.status != "submitted":
            _supervisor(actor)  # reassigning someone else's ticket is 营商办's call
        elif actor.kind != "system":
            _supervisor(actor)
        named = access.names_department(self.session, ticket, department)
        if named and (actor.kind != "official" or not confirm_named):
            raise NeedsConfirmation(f"工单 {ticket.number} 反映的正是{department.name}的问题。分办给被反映的部门，"
                                    "须由营商办督办人员明确确认（勾选“确认分办至被反映部门”）。")
        before = ticket.status
        self._assign_to(ticket, department, days)
        extra = {"named_in_complaint": True, "confirmed_by": actor.label} if named else {}
        if named:
            note = "督办人员确认分办至被反映部门" + (f"：{note}" if note else "")
        self.record(ticket, actor, "assign", before, note, department=department.name, **extra)
        notify.department(self.session, ticket, *_assignment_notice(ticket))
        return ticket

    def accept(self, ticket: Ticket, actor: Actor) -> Ticket:
        _require(ticket, "accept", ("assigned",))
        _department_member(actor, ticket)
        before = ticket.status
        ticket.status, ticket.accepted_at = "accepted", self.now
        self.record(ticket, actor, "accept", before)
        notify.enterprise(self.session, ticket, f"您的诉求 {ticket.number} 已由{ticket.department.name}签收办理，"
                                                f"承诺{_local(ticket.deadline)}前答复。")
        return ticket

    def resolve(self, ticket: Ticket, actor: Actor, result: str) -> Ticket:
        _require(ticket, "resolve", ("accepted",))
        _department_member(actor, ticket)
        result = _reason(result, "办结")
        before = ticket.status
        ticket.status, ticket.result, ticket.resolved_at = "resolved", result, self.now
        self.record(ticket, actor, "resolve", before, result)
        notify.enterprise(self.session, ticket, rating_request(ticket))
        for child in ticket_children(self.session, ticket):  # linked duplicates get the same answer
            if child.status in OPEN:
                child_before = child.status
                child.status, child.result, child.resolved_at = "resolved", result, self.now
                self.record(child, actor, "resolve", child_before, result, via=ticket.number)
                notify.enterprise(self.session, child, rating_request(child))
        return ticket

    def return_(self, ticket: Ticket, actor: Actor, reason: str) -> Ticket:
        _require(ticket, "return", ("assigned", "accepted"))
        _department_member(actor, ticket)
        reason = _reason(reason, "退回")
        before, from_dept = ticket.status, ticket.department
        ticket.status, ticket.department, ticket.department_id = "submitted", None, None
        ticket.returned_count += 1
        ticket.accept_due = ticket.deadline = None
        self.record(ticket, actor, "return", before, reason, department=from_dept.name if from_dept else None)
        notify.office(self.session, ticket, f"工单被退回待重新分办：{ticket.number}",
                      f"{from_dept.name if from_dept else ''}退回，原因：{reason}\n{_short(ticket.text)}")
        return ticket

    def escalate(self, ticket: Ticket, actor: Actor, reason: str) -> Ticket:
        _require(ticket, "escalate", ("assigned", "accepted", "waiting"))
        _department_member(actor, ticket)
        reason = _reason(reason, "提级")
        before, from_dept = ticket.status, ticket.department
        target = self._escalation_target(ticket, from_dept)
        if from_dept is not None and target.id == from_dept.id:
            raise TransitionError(f"工单 {ticket.number} 已在{target.name}，无法再提级")
        ticket.escalated_count += 1
        ticket.paused_at = None
        self._assign_to(ticket, target)
        self.record(ticket, actor, "escalate", before, reason, to=target.name,
                    department=from_dept.name if from_dept else None)
        notify.department(self.session, ticket, f"提级诉求待签收：{ticket.number}",
                          f"{from_dept.name if from_dept else ''}无法办理，原因：{reason}\n{_short(ticket.text)}")
        notify.enterprise(self.session, ticket, f"您的诉求 {ticket.number} 已提级至{target.name}办理，"
                                                f"新的答复期限为{_local(ticket.deadline)}。")
        return ticket

    def request_info(self, ticket: Ticket, actor: Actor, question: str) -> Ticket:
        _require(ticket, "request_info", ("accepted",))
        _department_member(actor, ticket)
        question = _reason(question, "补充材料")
        before = ticket.status
        ticket.status, ticket.paused_at = "waiting", self.now
        self.record(ticket, actor, "request_info", before, question)
        notify.enterprise(self.session, ticket, f"办理诉求 {ticket.number} 需要您补充：{question}\n"
                                                f"请回复“补充 {ticket.number} 内容”。补充前办理期限暂停计算。")
        return ticket

    def supplement(self, ticket: Ticket, actor: Actor, text: str) -> Ticket:
        _require(ticket, "supplement", OPEN)
        _enterprise(actor, ticket)
        text = _reason(text, "补充内容")
        before = ticket.status
        if ticket.status == "waiting":
            if ticket.paused_at is not None and ticket.deadline is not None:
                ticket.deadline += self.now - ticket.paused_at  # the clock stood still while waiting
            ticket.status, ticket.paused_at = "accepted", None
        self.record(ticket, actor, "supplement", before, text)
        if ticket.department is not None:
            notify.department(self.session, ticket, f"企业补充了诉求 {ticket.number}", _short(text))
        return ticket

    def request_extension(self, ticket: Ticket, actor: Actor, days: int, reason: str) -> Ticket:
        _require(ticket, "request_extension", ("accepted", "waiting"))
        _department_member(actor, ticket)
        reason = _reason(reason, "延期")
        if ticket.deadline is not None and self.now > ticket.deadline:
            raise TransitionError(f"工单 {ticket.number} 已超期，不能再申请延期")
        if not 1 <= days <= 30:
            raise UserError("延期天数应为 1 到 30 个工作日")
        ticket.extension = {"days": days, "reason": reason, "by": actor.label, "at": self.now.isoformat()}
        self.record(ticket, actor, "request_extension", ticket.status, reason, days=days)
        notify.office(self.session, ticket, f"延期申请待审批：{ticket.number}", f"申请延期 {days} 个工作日，原因：{reason}")
        return ticket

    def decide_extension(self, ticket: Ticket, actor: Actor, approve: bool, note: Optional[str] = None) -> Ticket:
        _supervisor(actor)
        if not ticket.extension:
            raise TransitionError(f"工单 {ticket.number} 没有待审批的延期申请")
        days = int(ticket.extension["days"])
        ticket.extension = None
        if approve:
            ticket.deadline = add_working_days(ticket.deadline or self.now, days)
            ticket.reminded_at = ticket.overdue_notified_at = None
            notify.enterprise(self.session, ticket, f"您的诉求 {ticket.number} 办理期限延长至{_local(ticket.deadline)}。")
        self.record(ticket, actor, "approve_extension" if approve else "reject_extension", ticket.status, note, days=days)
        notify.department(self.session, ticket, f"延期申请{'已批准' if approve else '未批准'}：{ticket.number}",
                          f"期限：{_local(ticket.deadline)}")
        return ticket

    def rate(self, ticket: Ticket, actor: Actor, rating: int, comment: Optional[str] = None) -> Ticket:
        _require(ticket, "rate", ("resolved",))
        _enterprise(actor, ticket)
        if rating not in RATINGS:
            raise UserError("请回复 1 到 5 的数字评价")
        before = ticket.status
        ticket.rating = rating
        if rating not in UNSATISFIED:
            ticket.status, ticket.closed_at = "closed", self.now
            self.record(ticket, actor, "rate", before, comment, rating=rating)
            return ticket
        if ticket.redo_count == 0 and ticket.department is not None:
            ticket.redo_count += 1  # 重办: back to the same department, once
            self._assign_to(ticket, ticket.department)
            self.record(ticket, actor, "rate", before, comment, rating=rating, redo=True)
            notify.department(self.session, ticket, f"企业不满意，请重办：{ticket.number}",
                              f"评价：{RATINGS[rating]}\n原答复：{_short(ticket.result or '')}")
        else:
            ticket.supervised = True  # 营商办 takes it over
            self._assign_to(ticket, office(self.session))
            self.record(ticket, actor, "rate", before, comment, rating=rating, supervise=True)
            notify.office(self.session, ticket, f"重办后仍不满意，请督办：{ticket.number}", _short(ticket.text))
        notify.enterprise(self.session, ticket, f"收到您的评价。诉求 {ticket.number} 已安排重新办理，"
                                                f"期限为{_local(ticket.deadline)}。")
        return ticket

    def note(self, ticket: Ticket, actor: Actor, text: str) -> Ticket:
        if actor.kind == "enterprise":
            _enterprise(actor, ticket)
        else:
            _department_member(actor, ticket)
        self.record(ticket, actor, "note", ticket.status, _reason(text, "备注"))
        return ticket

    def link(self, ticket: Ticket, actor: Actor, parent: Ticket) -> Ticket:
        """Files a duplicate appeal under the ticket that handles the same matter."""
        _supervisor(actor)
        _require(ticket, "link", OPEN)
        if parent.id == ticket.id or parent.parent_id is not None:
            raise UserError("只能关联到一个主工单")
        ticket.parent_id = parent.id
        self.record(ticket, actor, "link", ticket.status, f"并入 {parent.number}", parent=parent.number)
        return ticket

    def correct_category(self, ticket: Ticket, actor: Actor, category: str) -> Ticket:
        if category not in TICKET_CATEGORIES:
            raise UserError(f"未知的类别：{category}")
        _department_member(actor, ticket)
        from nlp.models import record_correction

        old = ticket.category
        ticket.category, ticket.kind = category, KIND_OF[category]
        record_correction(self.session, text=ticket.text, predicted=old, category=category,
                          ticket_number=ticket.number, corrected_by=actor.label)
        self.record(ticket, actor, "correct_category", ticket.status, f"{label(old)} → {label(category)}",
                    old=old, new=category)
        return ticket

    # -- what the clock does (jobs.sweep calls these) ------------------------------------------

    def remind(self, ticket: Ticket) -> None:
        ticket.reminded_at = self.now
        self.record(ticket, SYSTEM, "remind", ticket.status)
        notify.department(self.session, ticket, f"诉求即将到期：{ticket.number}",
                          f"请于{_local(ticket.deadline)}前办结。\n{_short(ticket.text)}")

    def mark_overdue(self, ticket: Ticket) -> None:
        ticket.overdue_notified_at = self.now
        ticket.supervised = True
        self.record(ticket, SYSTEM, "supervise", ticket.status, "已超期，转营商办督办")
        notify.office(self.session, ticket, f"督办：诉求已超期 {ticket.number}",
                      f"承办部门：{ticket.department.name if ticket.department else '未分办'}，"
                      f"期限：{_local(ticket.deadline)}\n{_short(ticket.text)}")
        notify.department(self.session, ticket, f"督办：诉求已超期 {ticket.number}", "请立即办理并答复企业。")

    def auto_escalate(self, ticket: Ticket) -> None:
        dept = ticket.department
        target = self._escalation_target(ticket, dept)
        if dept is not None and target.id == dept.id:
            return  # already at the top: 督办 continues, nothing further to escalate to
        before = ticket.status
        ticket.escalated_count += 1
        self._assign_to(ticket, target)
        self.record(ticket, SYSTEM, "escalate", before, "超过宽限期未办结，自动提级", to=target.name,
                    department=dept.name if dept else None)
        notify.department(self.session, ticket, f"超期自动提级：{ticket.number}", _short(ticket.text))
        notify.enterprise(self.session, ticket, f"您的诉求 {ticket.number} 已提级至{target.name}督办，"
                                                f"新的答复期限为{_local(ticket.deadline)}。")


ACTION_NAMES = {
    "assign": "分办", "accept": "签收", "resolve": "办结", "return": "退回", "escalate": "提级",
    "request_info": "要求补充材料", "supplement": "补充", "request_extension": "申请延期", "rate": "评价",
    "link": "关联",
}


def ticket_children(session: Session, ticket: Ticket) -> list[Ticket]:
    return list(session.scalars(select(Ticket).where(Ticket.parent_id == ticket.id)))


def rating_request(ticket: Ticket) -> str:
    options = "\n".join(f"{n}. {name}" for n, name in RATINGS.items())
    return (f"您的诉求 {ticket.number} 已办结，答复如下：\n{ticket.result}\n\n"
            f"请您评价办理结果，回复序号即可：\n{options}")


def _assignment_notice(ticket: Ticket) -> tuple[str, str]:
    return (f"新诉求待签收：{ticket.number}",
            f"【{label(ticket.category)}】{_short(ticket.text)}\n请于{_local(ticket.accept_due)}前签收，"
            f"{_local(ticket.deadline)}前办结。")


_EVENTS = TicketEvent.__table__.insert()  # append-only history: rows are only ever inserted


def _short(text: str, n: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _local(moment: Optional[datetime]) -> str:
    if moment is None:
        return "（未定）"
    from tickets.workdays import CHINA

    return moment.astimezone(CHINA).strftime("%Y年%m月%d日")


__all__ = ["Lifecycle", "Actor", "SYSTEM", "STATUS", "OPEN", "RATINGS", "TransitionError", "Forbidden",
           "NeedsConfirmation"]
