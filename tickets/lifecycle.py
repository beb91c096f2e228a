"""The ticket state machine's moves: each action checks itself against the one table of
transitions (tickets/transitions.py: which status, which actor), then changes, records and notifies.

Anything the table refuses is refused with a message the official or the enterprise can read.
Every applied action appends one TicketEvent (全程留痕). `Lifecycle.perform` takes an action by
its name, as the console, the API and the WeCom verbs do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from core import settings, timefmt
from core.errors import UserError
from nlp.categories import KIND_OF, TICKET_CATEGORIES, label
from tickets import access, directory, outbox, transitions
from tickets.models import Department, Official, Ticket, TicketEvent
from tickets.transitions import OPEN, STATUS
from tickets.workdays import add_working_days, add_working_time, working_time_between

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
    official: Official | None = None

    @classmethod
    def of(cls, official: Official) -> Actor:
        return cls("official", official.wecom_user_id or official.login or str(official.id), official.name, official)

    @property
    def label(self) -> str:
        if self.kind == "official" and self.official is not None:
            return f"official:{self.id}({self.official.name}/{self.official.department.name})"
        return f"{self.kind}:{self.id}"


SYSTEM = Actor("system", "appealbot", "系统")


def _reason(text: str | None, what: str) -> str:
    text = (text or "").strip()
    if not text:
        raise UserError(f"{what}必须写明原因")
    return text[:2000]


class NeedsConfirmation(UserError):
    """Assigning a complaint to the department it is about: allowed only when a supervisor says so."""


class Lifecycle:
    """Applies actions at a given moment (`now` comes from the caller, so tests control the clock)."""

    def __init__(self, session: Session, now: datetime, config: dict):
        self.session, self.now, self.config = session, now, config

    # -- helpers -------------------------------------------------------------------------------

    def check(self, ticket: Ticket, actor: Actor, action: str) -> None:
        """Refuses what the table of transitions does not allow this actor in this status, now."""
        problem = transitions.refusal(ticket, actor, action, self.now)
        if problem is not None:
            raise (Forbidden if problem.forbidden else TransitionError)(problem.message)

    def perform(self, ticket: Ticket, actor: Actor, action: str, **params) -> Ticket:
        """Takes an action by its name (console, API, WeCom verbs): `params` are the inputs the
        transition names (text, days, department, official, category, parent, rating)."""
        t = transitions.TABLE.get(action)
        if t is None:
            raise UserError(f"未知的操作：{action}")
        self.check(ticket, actor, action)  # before asking for inputs: a refused action is refused as such
        missing = [p for p in t.params if params.get(p) is None]
        if missing:
            raise UserError(transitions.MISSING.get(missing[0], f"缺少参数：{missing[0]}"))
        return t.call(self, ticket, actor, params)

    def record(
        self, ticket: Ticket, actor: Actor, action: str, before: str | None, note: str | None = None, **data
    ) -> TicketEvent:
        event = TicketEvent(ticket=ticket, **self._event(ticket, actor, action, before, note, data))
        self.session.add(event)
        ticket.updated_at = self.now
        return event

    def _event(
        self, ticket: Ticket, actor: Actor, action: str, before: str | None, note: str | None, data: dict
    ) -> dict:
        # The responsibility after the event goes with it: who held the ticket, until when.
        return {
            "at": self.now,
            "actor": actor.label,
            "action": action,
            "from_status": before,
            "to_status": ticket.status,
            "note": note,
            "data": data,
            "department_id": ticket.department_id,
            "accept_due": ticket.accept_due,
            "deadline": ticket.deadline,
        }

    def _assign_to(self, ticket: Ticket, department: Department, days: int | None = None) -> None:
        ticket.department = department
        ticket.department_id = department.id
        ticket.status = "assigned"
        if days is not None:
            ticket.deadline_days = days
        ticket.assigned_at = self.now
        ticket.accept_due = add_working_days(self.now, int(settings.value(self.config, "ACCEPT_DAYS")))
        ticket.deadline = add_working_days(self.now, ticket.deadline_days)
        ticket.reminded_at = ticket.overdue_notified_at = None
        ticket.accepted_at = ticket.resolved_at = ticket.paused_at = None  # a reopened ticket is not 办结

    def _escalation_target(self, ticket: Ticket, department: Department | None) -> Department:
        """The parent department, or 营商办 at the top — and 营商办 when the parent is the very
        department a complaint is about (only a supervisor's confirmed assignment sends it there)."""
        target = (department.parent if department is not None else None) or directory.office(self.session)
        if access.names_department(self.session, ticket, target):
            return directory.office(self.session)
        return target

    def _answer_notice(self, ticket: Ticket) -> None:
        """The answer, with the one-tap rating link (tickets/rating_links.py) when one can be signed."""
        from tickets import rating_links

        link = rating_links.issue(self.session, ticket, self.now, self.config)
        body = rating_request(ticket) + (f"\n或点此一键评价：{link}" if link else "")
        outbox.enterprise(self.session, ticket, body, kind="resolve", link=link)

    # -- actions -------------------------------------------------------------------------------

    def submit(
        self,
        ticket: Ticket,
        actor: Actor,
        department: Department | None,
        days: int | None = None,
        note: str | None = None,
        **data,
    ) -> Ticket:
        """Inserts a new ticket, assigned to `department` when routing found one; otherwise 营商办
        is asked to distribute it. The ticket goes in through the session; its first history
        entries and its notices go in as plain rows after it: this is the one write on the chat's
        hot path, and the unit of work took 1.7 times as long over the four dependent objects.
        Nothing has loaded the new ticket's history yet, so no loaded collection misses them."""
        ticket.status = "submitted"
        events = [self._event(ticket, actor, "submit", None, None, data)]
        card = department is not None  # a ticket to 签收 goes as a card with buttons (tickets/groups.py)
        if department is not None:
            self._assign_to(ticket, department, days)
            events.append(self._event(ticket, SYSTEM, "assign", "submitted", note, {"department": department.name}))
            title, body = _assignment_notice(ticket)
        else:
            department = directory.office(self.session)
            title, body = f"新诉求待分办：{ticket.number}", f"【{label(ticket.category)}】{ticket.text[:120]}"
        ticket.updated_at = self.now
        self.session.add(ticket)
        self.session.flush()  # the ticket alone: its id for the rows below
        self.session.execute(_EVENTS, [{**e, "ticket_id": ticket.id} for e in events])
        outbox.department_rows(self.session, ticket.id, department, title, body, card=card)
        return ticket

    def assign(
        self,
        ticket: Ticket,
        actor: Actor,
        department: Department,
        days: int | None = None,
        note: str | None = None,
        confirm_named: bool = False,
    ) -> Ticket:
        """`confirm_named`: the supervisor confirmed assigning a complaint to the very department
        it is about (asked for, and recorded, only then)."""
        self.check(ticket, actor, "assign")  # distributing and reassigning are 营商办's call
        named = access.names_department(self.session, ticket, department)
        if named and (actor.kind != "official" or not confirm_named):
            raise NeedsConfirmation(
                f"工单 {ticket.number} 反映的正是{department.name}的问题。分办给被反映的部门，"
                "须由营商办督办人员明确确认（勾选“确认分办至被反映部门”）。"
            )
        before = ticket.status
        self._assign_to(ticket, department, days)
        extra = {"named_in_complaint": True, "confirmed_by": actor.label} if named else {}
        if named:
            note = "督办人员确认分办至被反映部门" + (f"：{note}" if note else "")
        self.record(ticket, actor, "assign", before, note, department=department.name, **extra)
        outbox.department(self.session, ticket, *_assignment_notice(ticket), card=True)
        # 受理: the enterprise learns who handles it and by when (a ticket routed at submission
        # told it in the reply that created it).
        outbox.enterprise(
            self.session,
            ticket,
            f"您的诉求 {ticket.number} 已受理，由{department.name}办理，承诺{_local(ticket.deadline)}前答复。",
            kind="assign",
        )
        return ticket

    def accept(self, ticket: Ticket, actor: Actor) -> Ticket:
        self.check(ticket, actor, "accept")
        assert ticket.department is not None  # 签收 starts from "assigned", which _assign_to enters with one
        before = ticket.status
        ticket.status, ticket.accepted_at = "accepted", self.now
        self.record(ticket, actor, "accept", before)
        outbox.enterprise(
            self.session,
            ticket,
            f"您的诉求 {ticket.number} 已由{ticket.department.name}签收办理，承诺{_local(ticket.deadline)}前答复。",
            kind="accept",
        )
        return ticket

    def resolve(self, ticket: Ticket, actor: Actor, result: str) -> Ticket:
        self.check(ticket, actor, "resolve")
        result = _reason(result, "办结")
        before = ticket.status
        ticket.status, ticket.result, ticket.resolved_at = "resolved", result, self.now
        self.record(ticket, actor, "resolve", before, result)
        self._answer_notice(ticket)
        if ticket.category == "policy":
            # An answer that cites a clause teaches the library how enterprises ask for it.
            from knowledge.learning import learn_from_answer

            learn_from_answer(self.session, ticket.text, result, by=actor.name or actor.id)
        for child in ticket_children(self.session, ticket):  # linked duplicates get the same answer
            if child.status in OPEN:
                child_before = child.status
                child.status, child.result, child.resolved_at = "resolved", result, self.now
                self.record(child, actor, "resolve", child_before, result, via=ticket.number)
                self._answer_notice(child)
        return ticket

    def return_(self, ticket: Ticket, actor: Actor, reason: str) -> Ticket:
        self.check(ticket, actor, "return")
        reason = _reason(reason, "退回")
        before, from_dept = ticket.status, ticket.department
        ticket.status, ticket.department, ticket.department_id = "submitted", None, None
        ticket.returned_count += 1
        ticket.accept_due = ticket.deadline = None
        self.record(ticket, actor, "return", before, reason, department=from_dept.name if from_dept else None)
        outbox.office(
            self.session,
            ticket,
            f"工单被退回待重新分办：{ticket.number}",
            f"{from_dept.name if from_dept else ''}退回，原因：{reason}\n{_short(ticket.text)}",
        )
        return ticket

    def escalate(self, ticket: Ticket, actor: Actor, reason: str) -> Ticket:
        self.check(ticket, actor, "escalate")
        reason = _reason(reason, "提级")
        before, from_dept = ticket.status, ticket.department
        target = self._escalation_target(ticket, from_dept)
        if from_dept is not None and target.id == from_dept.id:
            raise TransitionError(f"工单 {ticket.number} 已在{target.name}，无法再提级")
        ticket.escalated_count += 1
        ticket.paused_at = None
        self._assign_to(ticket, target)
        self.record(
            ticket, actor, "escalate", before, reason, to=target.name, department=from_dept.name if from_dept else None
        )
        outbox.department(
            self.session,
            ticket,
            f"提级诉求待签收：{ticket.number}",
            f"{from_dept.name if from_dept else ''}无法办理，原因：{reason}\n{_short(ticket.text)}",
            card=True,
        )
        outbox.enterprise(
            self.session,
            ticket,
            f"您的诉求 {ticket.number} 已提级至{target.name}办理，新的答复期限为{_local(ticket.deadline)}。",
            kind="escalate",
        )
        return ticket

    def request_info(self, ticket: Ticket, actor: Actor, question: str) -> Ticket:
        self.check(ticket, actor, "request_info")
        question = _reason(question, "补充材料")
        before = ticket.status
        ticket.status, ticket.paused_at = "waiting", self.now
        self.record(ticket, actor, "request_info", before, question)
        outbox.enterprise(
            self.session,
            ticket,
            f"办理诉求 {ticket.number} 需要您补充：{question}\n"
            f"请回复“补充 {ticket.number} 内容”（照片、文件可直接发送）。"
            "补充前办理期限暂停计算。",
            kind="request_info",
        )
        return ticket

    def supplement(self, ticket: Ticket, actor: Actor, text: str) -> Ticket:
        self.check(ticket, actor, "supplement")
        text = _reason(text, "补充内容")
        before = ticket.status
        if ticket.status == "waiting":
            if ticket.paused_at is not None and ticket.deadline is not None:
                # The clock stood still while waiting, in working time: waiting over a weekend
                # moves a Friday deadline to Monday's end, not to Saturday.
                ticket.deadline = add_working_time(ticket.deadline, working_time_between(ticket.paused_at, self.now))
            ticket.status, ticket.paused_at = "accepted", None
        self.record(ticket, actor, "supplement", before, text)
        if ticket.department is not None:
            outbox.department(self.session, ticket, f"企业补充了诉求 {ticket.number}", _short(text))
        return ticket

    def request_extension(self, ticket: Ticket, actor: Actor, days: int, reason: str) -> Ticket:
        self.check(ticket, actor, "request_extension")  # also: not overdue, none pending already
        reason = _reason(reason, "延期")
        if not 1 <= days <= 30:
            raise UserError("延期天数应为 1 到 30 个工作日")
        ticket.extension = {"days": days, "reason": reason, "by": actor.label, "at": self.now.isoformat()}
        self.record(ticket, actor, "request_extension", ticket.status, reason, days=days)
        outbox.office(
            self.session, ticket, f"延期申请待审批：{ticket.number}", f"申请延期 {days} 个工作日，原因：{reason}"
        )
        return ticket

    def decide_extension(self, ticket: Ticket, actor: Actor, approve: bool, note: str | None = None) -> Ticket:
        self.check(ticket, actor, "approve_extension" if approve else "reject_extension")
        assert ticket.extension is not None  # check(): the guard refuses a ticket with none pending
        days = int(ticket.extension["days"])
        ticket.extension = None
        if approve:
            ticket.deadline = add_working_days(ticket.deadline or self.now, days)
            ticket.reminded_at = ticket.overdue_notified_at = None
            outbox.enterprise(
                self.session,
                ticket,
                f"您的诉求 {ticket.number} 办理期限延长至{_local(ticket.deadline)}。",
                kind="extension",
            )
        self.record(
            ticket, actor, "approve_extension" if approve else "reject_extension", ticket.status, note, days=days
        )
        outbox.department(
            self.session,
            ticket,
            f"延期申请{'已批准' if approve else '未批准'}：{ticket.number}",
            f"期限：{_local(ticket.deadline)}",
        )
        return ticket

    def rate(self, ticket: Ticket, actor: Actor, rating: int, comment: str | None = None) -> Ticket:
        self.check(ticket, actor, "rate")
        if rating not in RATINGS:
            raise UserError("请回复 1 到 5 的数字评价")
        before = ticket.status
        ticket.rating = rating
        if rating not in UNSATISFIED:
            ticket.status, ticket.closed_at = "closed", self.now
            self.record(ticket, actor, "rate", before, comment, rating=rating)
            return ticket
        kind = "redo"
        if ticket.redo_count == 0 and ticket.department is not None:
            ticket.redo_count += 1  # 重办: back to the same department, once
            self._assign_to(ticket, ticket.department)
            self.record(ticket, actor, "rate", before, comment, rating=rating, redo=True)
            outbox.department(
                self.session,
                ticket,
                f"企业不满意，请重办：{ticket.number}",
                f"评价：{RATINGS[rating]}\n原答复：{_short(ticket.result or '')}",
                card=True,
            )
        else:
            ticket.supervised, kind = True, "supervise"  # 营商办 takes it over
            self._assign_to(ticket, directory.office(self.session))
            self.record(ticket, actor, "rate", before, comment, rating=rating, supervise=True)
            outbox.office(self.session, ticket, f"重办后仍不满意，请督办：{ticket.number}", _short(ticket.text))
        outbox.enterprise(
            self.session,
            ticket,
            f"收到您的评价。诉求 {ticket.number} 已安排重新办理，期限为{_local(ticket.deadline)}。",
            kind=kind,
        )
        return ticket

    def note(self, ticket: Ticket, actor: Actor, text: str) -> Ticket:
        self.check(ticket, actor, "note")
        self.record(ticket, actor, "note", ticket.status, _reason(text, "备注"))
        return ticket

    def delegate(self, ticket: Ticket, actor: Actor, person: Official) -> Ticket:
        """The department head names who in the department handles the ticket."""
        self.check(ticket, actor, "delegate")
        if person is None or person.department_id != ticket.department_id or not person.active:
            raise UserError("请选择本部门的经办人")
        ticket.assignee = person
        self.record(ticket, actor, "delegate", ticket.status, f"指派给{person.name}", official=person.name)
        if person.wecom_user_id:
            outbox.add(
                self.session,
                "wecom_app",
                person.wecom_user_id,
                ticket,
                f"您被指派办理：{ticket.number}",
                f"【{label(ticket.category)}】{_short(ticket.text)}\n办结期限：{_local(ticket.deadline)}",
            )
        return ticket

    def link(self, ticket: Ticket, actor: Actor, parent: Ticket) -> Ticket:
        """Files a duplicate appeal under the ticket that handles the same matter."""
        self.check(ticket, actor, "link")
        if parent.id == ticket.id or parent.parent_id is not None:
            raise UserError("只能关联到一个主工单")
        ticket.parent_id = parent.id
        self.record(ticket, actor, "link", ticket.status, f"并入 {parent.number}", parent=parent.number)
        return ticket

    def correct_category(self, ticket: Ticket, actor: Actor, category: str) -> Ticket:
        if category not in TICKET_CATEGORIES:
            raise UserError(f"未知的类别：{category}")
        self.check(ticket, actor, "correct_category")
        from nlp.models import record_correction

        old = ticket.category
        ticket.category, ticket.kind = category, KIND_OF[category]
        record_correction(
            self.session,
            text=ticket.text,
            predicted=old,
            category=category,
            ticket_number=ticket.number,
            corrected_by=actor.label,
        )
        self.record(
            ticket, actor, "correct_category", ticket.status, f"{label(old)} → {label(category)}", old=old, new=category
        )
        return ticket

    # -- what the clock does (jobs.sweep calls these) ------------------------------------------

    def remind(self, ticket: Ticket) -> None:
        ticket.reminded_at = self.now
        self.record(ticket, SYSTEM, "remind", ticket.status)
        outbox.department(
            self.session,
            ticket,
            f"诉求即将到期：{ticket.number}",
            f"请于{_local(ticket.deadline)}前办结。\n{_short(ticket.text)}",
        )

    def mark_overdue(self, ticket: Ticket) -> None:
        ticket.overdue_notified_at = self.now
        ticket.supervised = True
        self.record(ticket, SYSTEM, "supervise", ticket.status, "已超期，转营商办督办")
        outbox.office(
            self.session,
            ticket,
            f"督办：诉求已超期 {ticket.number}",
            f"承办部门：{ticket.department.name if ticket.department else '未分办'}，"
            f"期限：{_local(ticket.deadline)}\n{_short(ticket.text)}",
        )
        outbox.department(self.session, ticket, f"督办：诉求已超期 {ticket.number}", "请立即办理并答复企业。")
        outbox.enterprise(
            self.session,
            ticket,
            f"您的诉求 {ticket.number} 已超过承诺的办理期限，营商办已督办"
            f"{ticket.department.name if ticket.department else ''}，请耐心等待答复。",
            kind="supervise",
        )

    def auto_escalate(self, ticket: Ticket) -> None:
        dept = ticket.department
        target = self._escalation_target(ticket, dept)
        if dept is not None and target.id == dept.id:
            return  # already at the top: 督办 continues, nothing further to escalate to
        before = ticket.status
        ticket.escalated_count += 1
        self._assign_to(ticket, target)
        self.record(
            ticket,
            SYSTEM,
            "escalate",
            before,
            "超过宽限期未办结，自动提级",
            to=target.name,
            department=dept.name if dept else None,
        )
        outbox.department(self.session, ticket, f"超期自动提级：{ticket.number}", _short(ticket.text), card=True)
        outbox.enterprise(
            self.session,
            ticket,
            f"您的诉求 {ticket.number} 已提级至{target.name}督办，新的答复期限为{_local(ticket.deadline)}。",
            kind="escalate",
        )


def ticket_children(session: Session, ticket: Ticket) -> list[Ticket]:
    return list(session.scalars(select(Ticket).where(Ticket.parent_id == ticket.id)))


def rating_request(ticket: Ticket) -> str:
    options = "\n".join(f"{n}. {name}" for n, name in RATINGS.items())
    return (
        f"您的诉求 {ticket.number} 已办结，答复如下：\n{ticket.result}\n\n请您评价办理结果，回复序号即可：\n{options}"
    )


def _assignment_notice(ticket: Ticket) -> tuple[str, str]:
    evidence = len((ticket.extra or {}).get("attachments") or [])
    return (
        f"新诉求待签收：{ticket.number}",
        f"【{label(ticket.category)}】{_short(ticket.text)}\n请于{_local(ticket.accept_due)}前签收，"
        f"{_local(ticket.deadline)}前办结。"
        + (f"\n企业附了 {evidence} 份材料（照片等），见工单页面。" if evidence else ""),
    )


_EVENTS = cast(Table, TicketEvent.__table__).insert()  # append-only history: rows are only ever inserted


def _short(text: str, n: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _local(moment: datetime | None) -> str:
    return timefmt.local(moment, missing="（未定）")


__all__ = [
    "Lifecycle",
    "Actor",
    "SYSTEM",
    "STATUS",
    "OPEN",
    "RATINGS",
    "TransitionError",
    "Forbidden",
    "NeedsConfirmation",
]
