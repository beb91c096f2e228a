"""The conversation's store: the statements every message runs, on the inbox and dialogue-state tables.

They are the hot path (a message costs a handful of round trips: benchmarks/appeal_cost.py counts
them and must not see more). Built once at import, since building a statement costs more than
running it; the state is read and written as plain table rows, which cost half what ORM statements
do here. The outbox's statements are tickets/outbox.py's.
"""

from __future__ import annotations

from datetime import timedelta
from typing import cast

from sqlalchemy import Table, and_, bindparam, literal, or_, select
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from core.db import per_dialect
from handlers.context import Context, ConversationState
from handlers.messages import IncomingMessage
from handlers.models import DialogueState, InboundMessage
from tickets import outbox, service
from tickets.models import Enterprise

# -- the inbox: each message stored before it is handled, handled once (handlers/inbox.py) ------------

# Built once, as they run for every message; plain table statements (not ORM-enabled ones, which
# cost twice as much here), and the session has no copy of the row to keep in step.
_MESSAGES = cast(Table, InboundMessage.__table__)
_ID, _OWNER = _MESSAGES.c.id == bindparam("row_id"), _MESSAGES.c.owner == bindparam("owner_")
# INSERT … ON CONFLICT DO NOTHING RETURNING id: a retry is told apart without an error.
STORE_MESSAGE = per_dialect(
    lambda insert: insert(_MESSAGES).on_conflict_do_nothing(index_elements=["dedupe_key"]).returning(_MESSAGES.c.id)
)
# PostgreSQL: the first statement of the owner's handling transaction. It still owns the message,
# and from here to its commit it holds the row's lock, which is what tells a retry it is alive.
CLAIM = _MESSAGES.update().where(_ID, _OWNER, _MESSAGES.c.status == "received").values(lease_until=bindparam("until"))
HANDLED = (
    _MESSAGES.update()
    .where(_ID, _OWNER)
    .values(status="handled", reply=bindparam("reply_"), handled_at=bindparam("at"))
)
SEEN = select(_MESSAGES.c.id, _MESSAGES.c.status, _MESSAGES.c.reply, _MESSAGES.c.owner, _MESSAGES.c.lease_until).where(
    _MESSAGES.c.dedupe_key == bindparam("key")
)
# A retry takes over a delivery whose handling failed (and so changed nothing), or one whose owner
# holds no lock past its lease (it died); the conditions let one retry win when several race.
RECLAIM = (
    _MESSAGES.update()
    .where(_ID, _MESSAGES.c.status == "failed")
    .values(status="received", error=None, owner=bindparam("new_owner"), lease_until=bindparam("until"))
)
# (Rows stored before owners were recorded have none: IS NOT DISTINCT FROM matches them too.)
_SEEN_OWNER = _MESSAGES.c.owner.is_not_distinct_from(bindparam("owner_"))
UNHELD = (
    select(_MESSAGES.c.id).where(_ID, _SEEN_OWNER, _MESSAGES.c.status == "received").with_for_update(skip_locked=True)
)  # PostgreSQL: no row while its owner holds it
TAKE_OVER = (
    _MESSAGES.update()
    .where(
        _ID,
        _SEEN_OWNER,
        _MESSAGES.c.status == "received",
        or_(_MESSAGES.c.lease_until.is_(None), _MESSAGES.c.lease_until <= bindparam("now")),
    )
    .values(owner=bindparam("new_owner"), lease_until=bindparam("until"))
)
MARK = (
    _MESSAGES.update()
    .where(_ID, _OWNER, _MESSAGES.c.status == "received")
    .values(
        status=bindparam("status_"), error=bindparam("error_"), handled_at=bindparam("at"), reply=bindparam("reply_")
    )
)


# -- the dialogue state: read with the enterprise and the held notices in one round trip --------------


def _same_writer(columns):
    return and_(columns.channel == bindparam("channel"), columns.user_id == bindparam("user_id"))


_STATES = cast(Table, DialogueState.__table__)
# What nearly every message needs, in one round trip: the open flow, the enterprise (remembered for
# the handlers) and whether notices wait to go with the reply. The state is read and written as
# plain table rows, which cost half what ORM statements do on this path; the enterprise is an ORM
# object because handlers change it. Built once, like the statements below: they run for every message.
_WRITER = (
    select(_STATES.c.flow, _STATES.c.data, _STATES.c.expires_at, _STATES.c.updated_at, Enterprise, outbox.HELD_EXISTS)
    .select_from(select(literal(1).label("one")).subquery("writer"))
    .outerjoin(_STATES, _same_writer(_STATES.c))
    .outerjoin(Enterprise, _same_writer(Enterprise))
)


def _upsert_state(insert):
    stmt = insert(_STATES).values(
        channel=bindparam("channel"),
        user_id=bindparam("user_id"),
        flow=bindparam("flow"),
        data=bindparam("data"),
        expires_at=bindparam("expires_at"),
        updated_at=bindparam("now"),
    )
    # An upsert: two first messages of one user at once leave one state, not a unique violation.
    return stmt.on_conflict_do_update(
        index_elements=["channel", "user_id"],
        set_={name: stmt.excluded[name] for name in ("flow", "data", "expires_at", "updated_at")},
    )


_SAVE_STATE = per_dialect(_upsert_state)
_CLEAR_STATE = _STATES.delete().where(_same_writer(_STATES.c))


def load_writer(session: Session, channel: str, user_id: str, now) -> tuple[ConversationState, bool]:
    """The user's conversation state, and whether held notices wait for them."""
    flow, data, expires_at, updated_at, enterprise, held = session.execute(
        _WRITER, {"channel": channel, "user_id": user_id, "held_channel": outbox.held_channel(channel)}
    ).one()
    service.remember_enterprise(session, channel, user_id, enterprise)
    if flow is None or expires_at <= now:
        return ConversationState(changed=flow is not None, stored=flow is not None, version=updated_at), bool(held)
    return ConversationState(flow=flow, data=dict(data or {}), stored=True, version=updated_at), bool(held)


_CONSUME = _STATES.delete().where(_same_writer(_STATES.c), _STATES.c.updated_at == bindparam("version"))


def consume_state(ctx: Context) -> bool:
    """Take the conversation for a ticket, once: a conditional delete of the row as it was read.
    Of two confirmations racing, the second finds the row changed or gone (PostgreSQL waits on the
    first one's row lock, then sees it deleted; SQLite has one writer at a time) and creates nothing."""
    state = ctx.state
    if not state.stored:
        return True
    taken = cast(
        CursorResult,
        ctx.session.execute(_CONSUME, {"channel": ctx.channel, "user_id": ctx.user_id, "version": state.version}),
    )
    if taken.rowcount != 1:
        return False
    state.stored = False  # saved again (an upsert) at the end of the message, as a new row
    return True


def save_state(session: Session, message: IncomingMessage, state: ConversationState, now, expires_at) -> None:
    key = {"channel": message.channel, "user_id": message.user_id}
    if state.flow is not None:
        # now may equal the version read (a fast clock): a consumed row must never be taken twice
        if state.version is not None and now <= state.version:
            now = state.version + timedelta(microseconds=1)
        session.execute(
            _SAVE_STATE[session.get_bind().dialect.name],
            {**key, "flow": state.flow, "data": dict(state.data), "expires_at": expires_at, "now": now},
        )
    elif state.stored:
        session.execute(_CLEAR_STATE, key)
