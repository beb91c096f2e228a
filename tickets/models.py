"""Tickets models (SQLAlchemy 2.0 typed mappings): 一事项一清单一结果, with the whole process on record."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, utcnow

ROLES = ("official", "head", "supervisor", "admin")


class Department(Base):
    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    region: Mapped[str] = mapped_column(String(32), default="")
    level: Mapped[int] = mapped_column(Integer, default=1)  # 1 市级, 2 县区级
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    is_office: Mapped[bool] = mapped_column(Boolean, default=False)  # 营商办: supervises, takes unrouted tickets
    robot_url: Mapped[str | None] = mapped_column(String(300))  # WeCom group robot webhook, optional

    parent: Mapped[Department | None] = relationship(remote_side="Department.id")


class Official(Base):
    __tablename__ = "officials"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    wecom_user_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    login: Mapped[str | None] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(256))
    api_token_hash: Mapped[str | None] = mapped_column(String(128), unique=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    role: Mapped[str] = mapped_column(String(16), default="official")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]  # sign-in lockout after repeated failures

    department: Mapped[Department] = relationship()

    @property
    def supervises(self) -> bool:
        return self.role in ("supervisor", "admin")


class ConsoleSession(Base):
    """A signed-in console session. The browser's cookie carries only a random token; the server
    keeps its digest, so signing out, a new password or a disabled account ends it for good."""

    __tablename__ = "console_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    official_id: Mapped[int] = mapped_column(ForeignKey("officials.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]

    official: Mapped[Official] = relationship()


class Enterprise(Base):
    __tablename__ = "enterprises"

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[str] = mapped_column(String(128))  # 公众号 openid, or the web chat's id
    name: Mapped[str | None] = mapped_column(String(128))
    credit_code: Mapped[str | None] = mapped_column(String(18))
    contact_name: Mapped[str | None] = mapped_column(String(64))
    phone: Mapped[str | None] = mapped_column(String(32))
    industry: Mapped[str | None] = mapped_column(String(64))
    region: Mapped[str] = mapped_column(String(32), default="")
    credit_tier: Mapped[str | None] = mapped_column(String(8))  # A/B/C/D or the region's own scale
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The profile policy pushes are matched against (tickets/policy_push.py): from what the enterprise
    # tells the bot, the console and the region's enterprise list.
    size: Mapped[str | None] = mapped_column(String(16))  # 微型 | 小型 | 中型 | 大型 | 个体户
    specialized: Mapped[bool] = mapped_column(Boolean, default=False)  # 专精特新
    high_tech: Mapped[bool] = mapped_column(Boolean, default=False)  # 高新技术企业
    push_opt_out: Mapped[bool] = mapped_column(Boolean, default=False)  # "不要再推送"
    sms_opt_out: Mapped[bool] = mapped_column(Boolean, default=False)  # "不要发短信"

    __table_args__ = (UniqueConstraint("channel", "user_id"),)


class Ticket(Base):
    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(32))
    confidence: Mapped[float | None]
    text: Mapped[str] = mapped_column(Text)
    channel: Mapped[str] = mapped_column(String(16))
    region: Mapped[str] = mapped_column(String(32), default="")
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("officials.id"))  # set by the department head
    status: Mapped[str] = mapped_column(String(16), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    accept_due: Mapped[datetime | None]
    deadline: Mapped[datetime | None] = mapped_column(index=True)
    deadline_days: Mapped[int] = mapped_column(Integer, default=5)
    paused_at: Mapped[datetime | None]  # waiting for the enterprise: the clock stands still
    assigned_at: Mapped[datetime | None]  # start of the current deadline, for the 75% reminder
    accepted_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    result: Mapped[str | None] = mapped_column(Text)
    rating: Mapped[int | None]  # 5 非常满意 … 1 非常不满意
    redo_count: Mapped[int] = mapped_column(Integer, default=0)
    returned_count: Mapped[int] = mapped_column(Integer, default=0)
    escalated_count: Mapped[int] = mapped_column(Integer, default=0)
    supervised: Mapped[bool] = mapped_column(Boolean, default=False)
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)  # hidden from the department complained about
    reminded_at: Mapped[datetime | None]  # the 75% reminder, once per deadline
    overdue_notified_at: Mapped[datetime | None]
    extension: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # a pending 延期 request
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))  # duplicates link here
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Optimistic locking: two processes acting on one ticket cannot both win.
    version: Mapped[int] = mapped_column(Integer, default=1)

    enterprise: Mapped[Enterprise] = relationship()
    department: Mapped[Department | None] = relationship()
    assignee: Mapped[Official | None] = relationship()
    events: Mapped[list[TicketEvent]] = relationship(order_by="TicketEvent.id", back_populates="ticket")

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        Index("ix_tickets_department_status", "department_id", "status"),
        Index("ix_tickets_enterprise", "enterprise_id"),
    )


class TicketEvent(Base):
    """Append-only history (全程留痕): who did what, when, with which note, and the ticket's
    responsibility right after it (holding department, 签收 and 办结 deadlines): the figures charge
    each overdue, return, rating and 重办 to the department responsible at that moment from these."""

    __tablename__ = "ticket_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(160))
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    accept_due: Mapped[datetime | None]
    deadline: Mapped[datetime | None]

    ticket: Mapped[Ticket] = relationship(back_populates="events")


@event.listens_for(TicketEvent, "before_update")
@event.listens_for(TicketEvent, "before_delete")
def _history_is_append_only(mapper, connection, target):
    raise PermissionError("ticket history is append-only (全程留痕): events are never changed or deleted")


class RoutingRule(Base):
    __tablename__ = "routing_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    category: Mapped[str] = mapped_column(String(32), index=True)
    region: Mapped[str | None] = mapped_column(String(32))
    keywords: Mapped[str | None] = mapped_column(String(500))  # separated by spaces or commas
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    deadline_days: Mapped[int] = mapped_column(Integer, default=5)
    priority: Mapped[int] = mapped_column(Integer, default=0)

    department: Mapped[Department] = relationship()


class TicketCounter(Base):
    """The last ticket number issued per day; incremented atomically so numbers never collide."""

    __tablename__ = "ticket_counters"

    day: Mapped[str] = mapped_column(String(8), primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)


class Notification(Base):
    """Outbox: written in the same transaction as the change it reports, delivered by the job queue."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    channel: Mapped[str] = mapped_column(String(16))  # wecom_app | wecom_robot | wecom_user | wechat | web
    recipient: Mapped[str] = mapped_column(String(300))  # WeCom userid, robot URL, openid
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    title: Mapped[str] = mapped_column(String(128), default="")
    body: Mapped[str] = mapped_column(Text)
    # pending|sent|failed|held, or obsolete: a group card for a ticket that left the group's department first
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None]
    batch: Mapped[str | None] = mapped_column(String(40))  # digest id when sent together
    # What the notice reports (accept, resolve, escalate, policy …) and its fields, for a 公众号
    # template message or an SMS when no free-text channel is open (tickets/outreach.py).
    kind: Mapped[str | None] = mapped_column(String(32))
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # A notice that must go at most once (an SMS per answer, a policy per enterprise): unique.
    once_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    # How a channel that can do more than text shows it (tickets/groups.py): "ticket" (a ticket to 签收:
    # a card with buttons), "card_update" (a tapped app card shown anew), "job" (an answer the
    # 智能机器人 posts later). None: a plain notice.
    presentation: Mapped[str | None] = mapped_column(String(16))

    ticket: Mapped[Ticket | None] = relationship()

    # The second index serves the per-recipient send limits (sent in the last minute, since the
    # user's last message), asked before every send: without it each send scans the whole outbox.
    __table_args__ = (
        Index("ix_notifications_pending", "status", "channel", "recipient"),
        Index("ix_notifications_recipient_sent", "channel", "recipient", "sent_at"),
    )


class AccessToken(Base):
    """Platform access tokens shared by every process (one fetch, row-locked while refreshing)."""

    __tablename__ = "access_tokens"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    token: Mapped[str | None] = mapped_column(String(600))
    expires_at: Mapped[datetime | None]


class WecomGroup(Base):
    """A 企业微信 group chat the 智能机器人 is in. Bound in the console to the department whose
    group it is (new tickets of that department are posted there, and the bot shows nothing of
    another department's tickets there); a 营商办 group may see every ticket. A group the bot has
    met but nobody bound yet is kept unbound, so that an administrator can pick it in the console.

    `reply_url`: the latest response_url WeCom sent with a callback from this group that no answer
    used. In API mode it is the only way the bot can post into the group on its own: once, within
    an hour of the callback (tickets/groups.py)."""

    __tablename__ = "wecom_groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    chat_id: Mapped[str] = mapped_column(String(128), unique=True)
    name: Mapped[str] = mapped_column(String(64), default="")
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    bound_at: Mapped[datetime | None]
    bound_by: Mapped[str | None] = mapped_column(String(64))
    reply_url: Mapped[str | None] = mapped_column(String(600))
    reply_url_at: Mapped[datetime | None]

    department: Mapped[Department | None] = relationship()


class ServiceOfficer(Base):
    """包联干部 / 首席服务员: officers assigned to an enterprise (多包一)."""

    __tablename__ = "service_officers"

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    official_id: Mapped[int] = mapped_column(ForeignKey("officials.id"))
    role: Mapped[str] = mapped_column(String(32), default="包联干部")

    enterprise: Mapped[Enterprise] = relationship()
    official: Mapped[Official] = relationship()
    __table_args__ = (UniqueConstraint("enterprise_id", "official_id"),)
