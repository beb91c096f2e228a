"""ticket_events: the responsibility after each event (department, 签收 and 办结 deadlines)

The figures charge overdue, returns, ratings and 重办 to the department responsible at that moment,
read from the history; earlier events get their department by replaying each ticket's history
(the department names the events recorded), their deadlines stay empty.

Revision ID: 0010_event_responsibility
Revises: 0009_security
Create Date: 2026-11-24
"""
from alembic import op
import sqlalchemy as sa
import core.db

revision = "0010_event_responsibility"
down_revision = "0009_security"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ticket_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("department_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("accept_due", core.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("deadline", core.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_ticket_events_department_id"), ["department_id"], unique=False)
        batch_op.create_foreign_key(batch_op.f("fk_ticket_events_department_id_departments"), "departments",
                                    ["department_id"], ["id"])
    _backfill(op.get_bind())


def _backfill(conn) -> None:
    import json

    by_name = {name: id_ for id_, name in conn.execute(sa.text("SELECT id, name FROM departments"))}
    office = conn.execute(sa.text("SELECT id FROM departments WHERE is_office")).scalar()
    rows = conn.execute(sa.text("SELECT id, ticket_id, action, data FROM ticket_events ORDER BY ticket_id, id")).all()
    holder: dict[int, object] = {}
    updates = []
    for event_id, ticket_id, action, data in rows:
        data = json.loads(data) if isinstance(data, str) else (data or {})
        current = holder.get(ticket_id)
        if action == "assign":
            current = by_name.get(data.get("department"))
        elif action == "escalate":
            current = by_name.get(data.get("to"))
        elif action == "return":
            current = None
        elif action == "rate" and data.get("supervise"):
            current = office
        holder[ticket_id] = current
        if current is not None:
            updates.append({"id": event_id, "department_id": current})
    if updates:
        conn.execute(sa.text("UPDATE ticket_events SET department_id = :department_id WHERE id = :id"), updates)


def downgrade() -> None:
    with op.batch_alter_table("ticket_events", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_ticket_events_department_id_departments"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_ticket_events_department_id"))
        batch_op.drop_column("deadline")
        batch_op.drop_column("accept_due")
        batch_op.drop_column("department_id")
