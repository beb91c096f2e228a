"""Who handles what: routing rules, departments and the officials in them who receive notices.

Every new ticket reads them and they change rarely (in the console, by an administrator), so each
process keeps a copy for TTL seconds instead of querying for every ticket. A change committed by
this process is seen by it at once; other processes see it within TTL seconds.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from weakref import WeakKeyDictionary

from sqlalchemy import event, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.util import identity_key

from core import unit
from core.errors import UserError
from tickets.models import Department, Official, RoutingRule, WecomGroup

TTL = 10.0  # seconds


@dataclass(frozen=True)
class Rule:
    category: str
    region: str
    keywords: tuple[str, ...]
    priority: int
    department_id: int
    deadline_days: int


@dataclass(frozen=True)
class Directory:
    loaded_at: float
    rules: dict[str, tuple[Rule, ...]]  # by category
    departments: dict[int, Department]  # detached copies: never used in a session as they are
    recipients: dict[int, tuple[str, ...]]  # department id -> WeCom ids of its active officials
    office_id: int | None  # 营商办, the first department marked is_office
    groups: dict[int, tuple[str, ...]] = field(default_factory=dict)  # department id -> bound 企业微信 group chats


# One per database (tests have many), keyed by the sessions' bind: their engine here (a session
# bound to a connection would get a copy of its own).
_copies: WeakKeyDictionary[Engine | Connection, Directory] = WeakKeyDictionary()
_lock = threading.Lock()


def current(session: Session) -> Directory:
    bind = session.get_bind()
    directory = _copies.get(bind)
    if directory is None or time.monotonic() - directory.loaded_at > TTL:
        directory = _load(session)
        with _lock:
            _copies[bind] = directory
    return directory


def department(session: Session, department_id: int) -> Department:
    """The department as an object of this session, without a query: the session's own if it has
    loaded it (perhaps with changes of its own), else merged from the copy."""
    present = session.identity_map.get(identity_key(Department, department_id))
    return present if present is not None else session.merge(current(session).departments[department_id], load=False)


def office(session: Session) -> Department:
    """营商办: where what no department holds goes (is_office)."""
    office_id = current(session).office_id
    if office_id is None:
        raise UserError("尚未配置营商办（is_office 部门），无法分办")
    return department(session, office_id)


def _load(session: Session) -> Directory:
    loaded_at = time.monotonic()
    departments = {}
    for row in session.execute(select(Department.__table__)).mappings():
        dept = Department(**row)
        make_transient_to_detached(dept)
        departments[dept.id] = dept
    rules: dict[str, list[Rule]] = {}
    for r in session.execute(select(RoutingRule.__table__).order_by(RoutingRule.id)).mappings():
        words = tuple(w for w in re.split(r"[\s,，、]+", r["keywords"] or "") if w)
        rules.setdefault(r["category"], []).append(
            Rule(r["category"], r["region"] or "", words, r["priority"], r["department_id"], r["deadline_days"])
        )
    recipients: dict[int, list[str]] = {}
    officials = (
        select(Official.department_id, Official.wecom_user_id)
        .where(Official.active, Official.wecom_user_id.is_not(None))
        .order_by(Official.id)
    )
    for department_id, wecom_user_id in session.execute(officials):
        assert wecom_user_id is not None  # the query keeps only officials with one
        recipients.setdefault(department_id, []).append(wecom_user_id)
    office_id = min((d.id for d in departments.values() if d.is_office), default=None)
    groups: dict[int, list[str]] = {}
    bound = select(WecomGroup.department_id, WecomGroup.chat_id).where(WecomGroup.department_id.is_not(None))
    for bound_to, chat_id in session.execute(bound.order_by(WecomGroup.id)):
        assert bound_to is not None  # the query keeps only bound groups
        groups.setdefault(bound_to, []).append(chat_id)
    return Directory(
        loaded_at,
        {k: tuple(v) for k, v in rules.items()},
        departments,
        {k: tuple(v) for k, v in recipients.items()},
        office_id,
        {k: tuple(v) for k, v in groups.items()},
    )


def forget(bind: Engine | Connection) -> None:
    with _lock:
        _copies.pop(bind, None)


_WATCHED = (Department, Official, RoutingRule, WecomGroup)


@event.listens_for(Session, "after_flush")
def _note_changes(session: Session, _flush_context) -> None:
    if any(isinstance(obj, _WATCHED) for obj in (*session.new, *session.dirty, *session.deleted)):
        unit.notes(session).directory_changed = True


@event.listens_for(Session, "after_commit")
def _reload_after_changes(session: Session) -> None:
    notes = unit.notes(session)
    if notes.directory_changed:
        notes.directory_changed = False
        forget(session.get_bind())


@event.listens_for(Session, "after_rollback")
def _changes_undone(session: Session) -> None:
    unit.notes(session).directory_changed = False
