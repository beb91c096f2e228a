"""The one table of ticket transitions: which action starts from which status, for whom, and what it calls.

    submitted ─assign→ assigned ─accept→ accepted ─resolve→ resolved ─rate→ closed
        ↑  ↖────return────┘  ↑  ↘escalate↗  │  ↕ request_info / supplement (waiting: clock paused)
        └──────return───────────────────────┘  rate ≤ 2 → redo once (assigned), then 营商办 supervision

Every interface asks this table: the console's ticket page shows `allowed_actions(ticket, official)`,
the REST API's actions and the WeCom verbs go through `Lifecycle.perform(ticket, actor, name, …)`
(action name → call), and each `Lifecycle` action checks itself against `refusal` before changing
anything. Nothing here touches the database or imports the lifecycle (a transition's call is made on
the lifecycle object passed in), so every layer may import it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

STATUS = {
    "submitted": "待分办",
    "assigned": "待签收",
    "accepted": "办理中",
    "waiting": "待补充材料",
    "resolved": "已答复待评价",
    "closed": "已办结",
}
OPEN = ("submitted", "assigned", "accepted", "waiting")
ALL = tuple(STATUS)


@dataclass(frozen=True)
class Refusal:
    """Why an action is not allowed: `forbidden` when it is the actor, not the status or a condition
    (tickets.lifecycle raises it as Forbidden or TransitionError)."""

    message: str
    forbidden: bool = False


class _Official(Protocol):
    id: int
    role: str
    active: bool
    department_id: int

    @property
    def supervises(self) -> bool: ...


class _Actor(Protocol):
    # Read-only: the rules only read them, and the actors passed in are frozen dataclasses.
    @property
    def kind(self) -> str: ...  # official | enterprise | system

    @property
    def id(self) -> str: ...

    @property
    def official(self) -> Any | None: ...


# -- who may act -------------------------------------------------------------------------------
# Each rule answers for an actor that is not the system (the clock and routing may do anything).


def _member(actor: _Actor, ticket: Any) -> bool:
    """An active official of the department holding the ticket, or a 营商办 supervisor."""
    o = actor.official
    return (
        actor.kind == "official"
        and o is not None
        and o.active
        and (o.supervises or o.department_id == ticket.department_id)
    )


def _supervisor(actor: _Actor, ticket: Any) -> bool:
    o = actor.official
    return actor.kind == "official" and o is not None and o.active and o.supervises


def _head(actor: _Actor, ticket: Any) -> bool:
    """The head of the holding department (assigns within it), or a supervisor."""
    o = actor.official
    return _supervisor(actor, ticket) or (
        actor.kind == "official"
        and o is not None
        and o.active
        and o.role == "head"
        and o.department_id == ticket.department_id
    )


def _enterprise(actor: _Actor, ticket: Any) -> bool:
    """The enterprise that submitted the ticket, on the channel it submitted through."""
    return (
        actor.kind == "enterprise"
        and ticket.enterprise.user_id == actor.id
        and ticket.enterprise.channel == ticket.channel
    )


def _member_or_enterprise(actor: _Actor, ticket: Any) -> bool:
    return _enterprise(actor, ticket) if actor.kind == "enterprise" else _member(actor, ticket)


WHO: dict[str, tuple[Callable[[_Actor, Any], bool], str]] = {
    "member": (_member, "工单 {number} 不属于您所在的部门，不能操作"),
    "supervisor": (_supervisor, "只有营商办督办人员可以进行此操作"),
    "head": (_head, "只有本部门负责人或营商办可以指派经办人"),
    "enterprise": (_enterprise, "只能操作您本人提交的诉求"),
    "member_or_enterprise": (_member_or_enterprise, "工单 {number} 不属于您，不能操作"),
}


# -- conditions besides the status ---------------------------------------------------------------


def _extension_pending(ticket: Any, now: datetime | None) -> str | None:
    return None if ticket.extension else f"工单 {ticket.number} 没有待审批的延期申请"


def _extension_possible(ticket: Any, now: datetime | None) -> str | None:
    if ticket.extension:
        return f"工单 {ticket.number} 已有待审批的延期申请"
    if now is not None and ticket.deadline is not None and now > ticket.deadline:
        return f"工单 {ticket.number} 已超期，不能再申请延期"
    return None


# -- the table -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Transition:
    name: str  # the action's code: console URL, API `action`, history entry
    label: str  # what the button says and what refusals call it (…不能签收)
    sources: tuple[str, ...]  # statuses it may start from
    who: str  # a key of WHO
    call: Callable[..., Any] = field(repr=False)  # (lifecycle, ticket, actor, params) -> ticket
    text: str | None = None  # the free text it needs (prompt), or None
    text_required: bool = True
    params: tuple[str, ...] = ()  # other inputs: days, department, official, category, parent
    primary: bool = False  # offered among the first buttons when the status allows it
    guard: Callable[[Any, datetime | None], str | None] | None = field(default=None, repr=False)
    danger: bool = False  # hands the ticket away: the console asks before sending it


def _text(p: dict) -> str:
    return str(p.get("text") or "")


# Ordered by how often the action is the next step; the console shows the first primary ones.
TRANSITIONS: tuple[Transition, ...] = (
    Transition(
        "approve_extension",
        "批准延期",
        OPEN,
        "supervisor",
        guard=_extension_pending,
        primary=True,
        text="审批意见（可选）",
        text_required=False,
        call=lambda life, t, a, p: life.decide_extension(t, a, True, _text(p) or None),
    ),
    Transition(
        "reject_extension",
        "不批准延期",
        OPEN,
        "supervisor",
        guard=_extension_pending,
        primary=True,
        text="不批准的理由（可选）",
        text_required=False,
        call=lambda life, t, a, p: life.decide_extension(t, a, False, _text(p) or None),
    ),
    Transition(
        "assign",
        "分办",
        ("submitted", "assigned", "accepted"),
        "supervisor",
        primary=True,
        params=("department",),
        text="分办说明（可选）",
        text_required=False,
        call=lambda life, t, a, p: life.assign(
            t, a, p["department"], note=_text(p) or None, confirm_named=bool(p.get("confirm_named"))
        ),
    ),
    Transition("accept", "签收", ("assigned",), "member", primary=True, call=lambda life, t, a, p: life.accept(t, a)),
    Transition(
        "resolve",
        "办结",
        ("accepted",),
        "member",
        primary=True,
        text="答复内容（将发送给企业）",
        call=lambda life, t, a, p: life.resolve(t, a, _text(p)),
    ),
    Transition(
        "request_info",
        "要求补充材料",
        ("accepted",),
        "member",
        primary=True,
        text="需要企业补充的内容",
        call=lambda life, t, a, p: life.request_info(t, a, _text(p)),
    ),
    Transition(
        "request_extension",
        "申请延期",
        ("accepted", "waiting"),
        "member",
        primary=True,
        text="延期原因",
        params=("days",),
        guard=_extension_possible,
        call=lambda life, t, a, p: life.request_extension(t, a, p["days"], _text(p)),
    ),
    Transition(
        "return",
        "退回",
        ("assigned", "accepted"),
        "member",
        primary=True,
        text="退回原因（非本部门职责）",
        danger=True,
        call=lambda life, t, a, p: life.return_(t, a, _text(p)),
    ),
    Transition(
        "escalate",
        "提级",
        ("assigned", "accepted", "waiting"),
        "member",
        primary=True,
        text="提级原因（本部门办不了）",
        danger=True,
        call=lambda life, t, a, p: life.escalate(t, a, _text(p)),
    ),
    Transition(
        "delegate",
        "指派经办人",
        ("assigned", "accepted"),
        "head",
        params=("official",),
        call=lambda life, t, a, p: life.delegate(t, a, p["official"]),
    ),
    Transition(
        "link",
        "并入主工单",
        OPEN,
        "supervisor",
        params=("parent",),
        call=lambda life, t, a, p: life.link(t, a, p["parent"]),
    ),
    Transition(
        "correct_category",
        "更正类别",
        tuple(s for s in ALL if s != "closed"),
        "member",
        params=("category",),
        call=lambda life, t, a, p: life.correct_category(t, a, str(p.get("category", ""))),
    ),
    Transition(
        "note", "备注", ALL, "member_or_enterprise", text="备注", call=lambda life, t, a, p: life.note(t, a, _text(p))
    ),
    # The enterprise's own actions (in chat).
    Transition(
        "supplement",
        "补充",
        OPEN,
        "enterprise",
        text="补充内容",
        call=lambda life, t, a, p: life.supplement(t, a, _text(p)),
    ),
    Transition(
        "rate",
        "评价",
        ("resolved",),
        "enterprise",
        params=("rating",),
        call=lambda life, t, a, p: life.rate(t, a, p["rating"], _text(p) or None),
    ),
)
TABLE: dict[str, Transition] = {t.name: t for t in TRANSITIONS}
OFFICIAL_ACTIONS = tuple(t.name for t in TRANSITIONS if t.who not in ("enterprise",))


def refusal(ticket: Any, actor: _Actor, name: str, now: datetime | None = None) -> Refusal | None:
    """Why `actor` may not take action `name` on `ticket` now, or None when it may.

    The status is judged first (a refusal names the status), then who acts, then the conditions."""
    t = TABLE.get(name)
    if t is None:
        return Refusal(f"未知的操作：{name}")
    if ticket.status not in t.sources:
        return Refusal(f"工单 {ticket.number} 当前状态为“{STATUS[ticket.status]}”，不能{t.label}")
    if actor.kind != "system":
        allowed, message = WHO[t.who]
        if not allowed(actor, ticket):
            return Refusal(message.format(number=ticket.number), forbidden=True)
    if t.guard is not None:
        reason = t.guard(ticket, now)
        if reason:
            return Refusal(reason)
    return None


@dataclass(frozen=True)
class _OfficialActor:
    official: Any
    kind: str = "official"
    id: str = ""


def allowed_actions(ticket: Any, official: _Official, now: datetime | None = None) -> list[Transition]:
    """The actions this official may take on this ticket now, most likely next step first."""
    actor = _OfficialActor(official)
    return [t for t in TRANSITIONS if t.who != "enterprise" and refusal(ticket, actor, t.name, now) is None]


MISSING = {
    "department": "请选择部门",
    "official": "请选择本部门的经办人",
    "days": "请写明延期的工作日天数",
    "category": "请选择类别",
    "parent": "请填写要并入的主工单编号",
    "rating": "请回复 1 到 5 的数字评价",
}


def label(name: str) -> str:
    t = TABLE.get(name)
    return t.label if t else name


__all__ = [
    "STATUS",
    "OPEN",
    "TRANSITIONS",
    "TABLE",
    "OFFICIAL_ACTIONS",
    "MISSING",
    "Transition",
    "Refusal",
    "refusal",
    "allowed_actions",
    "label",
]
