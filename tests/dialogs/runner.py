"""Drive the conversation without HTTP, as the Zulip bots' `verify_dialog` does: say a line, look at
the reply and at what the bot stored. Used by the scripted conversations in tests/ and by
benchmarks/dialog_eval.py (the conversations written separately from the code).

A scenario is one JSON line (tests/dialogs/README.md describes the format):
    {"id", "about", "setup"?, "turns": [{"user", "expect"?}], "final"?}
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from handlers.messages import IncomingMessage, Reply
from handlers.models import DialogueState
from tickets.models import Enterprise, Official, Ticket
from tickets.workdays import CHINA

HERE = Path(__file__).parent
SLOTS = {"company_name", "phone", "anonymity", "confirm", "category", "rating"}


def load(name: str) -> list[dict[str, Any]]:
    path = Path(name) if Path(name).exists() else HERE / name
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@dataclass
class Dialog:
    """One user talking to the bot through the inbox (stored, then handled), no HTTP in between."""

    app: Any
    user: str = field(default_factory=lambda: f"dlg-{uuid.uuid4().hex[:12]}")
    channel: str = "web"
    replies: list[Reply] = field(default_factory=list)
    new_tickets: list[Ticket] = field(default_factory=list)
    before: int = 0  # tickets the setup gave this user: "final.tickets" counts the ones the dialogue created

    @property
    def state(self):
        return self.app.extensions["appealbot"]

    def say(self, text: str) -> Reply:
        before = self._ticket_ids()
        message = IncomingMessage(
            channel=self.channel,
            user_id=self.user,
            type="text",
            text=text,
            created_at=datetime.now(UTC),
            message_id=uuid.uuid4().hex,
        )
        reply = self.state.inbox.receive(message)
        self.replies.append(reply)
        with self.state.Session() as s:
            ids = self._ticket_ids(s) - before
            self.new_tickets = list(s.scalars(select(Ticket).where(Ticket.id.in_(ids)))) if ids else []
            for t in self.new_tickets:
                s.expunge(t)
        return reply

    def _ticket_ids(self, session=None) -> set[int]:
        own = session or self.state.Session()
        try:
            return set(
                own.scalars(
                    select(Ticket.id)
                    .join(Enterprise)
                    .where(Enterprise.channel == self.channel, Enterprise.user_id == self.user)
                )
            )
        finally:
            if session is None:
                own.close()

    def asking(self) -> str | None:
        with self.state.Session() as s:
            row = s.get(DialogueState, (self.channel, self.user))
            if row is None or row.expires_at <= datetime.now(UTC):
                return None
            return (row.data or {}).get("asking")

    def enterprise(self) -> Enterprise | None:
        with self.state.Session() as s:
            ent = s.scalars(
                select(Enterprise).where(Enterprise.channel == self.channel, Enterprise.user_id == self.user)
            ).first()
            if ent is not None:
                s.expunge(ent)
            return ent

    def tickets(self) -> int:
        with self.state.Session() as s:
            return (
                s.scalar(
                    select(func.count(Ticket.id))
                    .join(Enterprise)
                    .where(Enterprise.channel == self.channel, Enterprise.user_id == self.user)
                )
                or 0
            )


# -- scenarios --------------------------------------------------------------------------------------


def prepare(app, scenario: dict[str, Any]) -> Dialog:
    setup = scenario.get("setup") or {}
    state = app.extensions["appealbot"]
    dialog = Dialog(app, channel=setup.get("channel", "web"))
    moment = setup.get("local_time")
    state.services.clock = (
        (lambda: datetime.fromisoformat(moment).replace(tzinfo=CHINA).astimezone(UTC))
        if moment
        else (lambda: datetime.now(UTC))
    )
    with state.Session() as s, s.begin():
        if dialog.channel == "wecom":
            login = setup.get("official")
            official = s.scalars(select(Official).where(Official.login == login)).first() if login else None
            dialog.user = official.wecom_user_id if official else f"unbound-{uuid.uuid4().hex[:8]}"
            return dialog
        from tickets import service

        if setup.get("enterprise"):
            e = setup["enterprise"]
            service.enterprise_for(s, dialog.channel, dialog.user, name=e.get("name"), phone=e.get("phone"))
        if setup.get("resolved_ticket"):
            _resolved_ticket(s, dialog, setup["resolved_ticket"]["category"], setup.get("enterprise"))
        if setup.get("officer"):
            from tickets.models import ServiceOfficer

            ent = service.enterprise_for(s, dialog.channel, dialog.user)
            officer = s.scalars(select(Official).where(Official.login == "scjg")).one()
            s.add(ServiceOfficer(enterprise=ent, official=officer, role="包联干部"))
    dialog.before = dialog.tickets()
    return dialog


def _resolved_ticket(session, dialog: Dialog, category: str, enterprise: dict | None) -> None:
    from nlp.categories import KIND_OF
    from tickets import service
    from tickets.lifecycle import SYSTEM, Lifecycle

    ent = service.enterprise_for(session, dialog.channel, dialog.user)
    ent.name = ent.name or (enterprise or {}).get("name") or "伊宁市某某测试有限公司"
    ent.phone = ent.phone or (enterprise or {}).get("phone") or "13899900000"
    now = datetime.now(UTC)
    ticket = service.create_ticket(
        session,
        channel=dialog.channel,
        user_id=dialog.user,
        text="（测试前提）上月反映的问题",
        kind=KIND_OF[category],
        category=category,
        now=now,
        config={},
    )
    life = Lifecycle(session, now, {})
    life.accept(ticket, SYSTEM)
    life.resolve(ticket, SYSTEM, "已协调解决，详见电话沟通。")


def check_turn(dialog: Dialog, reply: Reply, expect: dict[str, Any]) -> list[str]:
    problems = []
    text = reply.text or ""
    data = reply.data or {}
    if "ticket" in expect:
        want = expect["ticket"]
        if len(dialog.new_tickets) != 1:
            problems.append(f"expected one ticket, got {len(dialog.new_tickets)}")
        else:
            t = dialog.new_tickets[0]
            categories = want.get("category")
            categories = [categories] if isinstance(categories, str) else categories
            if categories and t.category not in categories:
                problems.append(f"ticket category {t.category}, expected {categories}")
            if "anonymous" in want and bool(t.anonymous) != bool(want["anonymous"]):
                problems.append(f"ticket anonymous={t.anonymous}, expected {want['anonymous']}")
            for words in want.get("text_contains") or []:
                if words not in t.text:
                    problems.append(f"ticket text lacks {words!r}")
    if expect.get("no_ticket") and dialog.new_tickets:
        problems.append(f"expected no ticket, got {[t.category for t in dialog.new_tickets]}")
    citations = data.get("citations") or []
    if "cites" in expect:
        wanted = [tuple(c) for c in expect["cites"]]
        first = (citations[0]["source"], citations[0]["clause"]) if citations else None
        if first is None or not any(first[0] == s and first[1].startswith(c) for s, c in wanted):
            problems.append(f"first citation {first}, expected one of {wanted}")
    if expect.get("no_citation") and citations:
        problems.append(f"expected no citation, got {citations[0]}")
    if "asks" in expect:
        asking = dialog.asking()
        got = asking if asking in SLOTS else "nothing"
        if got != expect["asks"]:
            problems.append(f"asks {got} ({asking}), expected {expect['asks']}")
    cards = [c for c in data.get("cards") or [] if not data.get("fallback")]
    if "contact" in expect:
        if not cards or cards[0]["department"] != expect["contact"]:
            problems.append(f"contact {[c['department'] for c in cards]}, expected {expect['contact']}")
    if expect.get("no_contact_card") and cards:
        problems.append(f"expected no contact card, got {[c['department'] for c in cards]}")
    if expect.get("contains_any") and not any(w in text for w in expect["contains_any"]):
        problems.append(f"reply has none of {expect['contains_any']}")
    for word in expect.get("not_contains") or []:
        if word in text:
            problems.append(f"reply contains {word!r}")
    return problems


def check_final(dialog: Dialog, final: dict[str, Any]) -> list[str]:
    problems = []
    if "enterprise" in final:
        want = final["enterprise"]
        ent = dialog.enterprise()
        name = ent.name if ent else None
        phone = ent.phone if ent else None
        if "name" in want and (want["name"] or None) != (name or None):
            problems.append(f"stored name {name!r}, expected {want['name']!r}")
        if want.get("phone") and want["phone"] != phone:
            problems.append(f"stored phone {phone!r}, expected {want['phone']!r}")
    if "tickets" in final and dialog.tickets() - dialog.before != final["tickets"]:
        problems.append(f"{dialog.tickets() - dialog.before} tickets created, expected {final['tickets']}")
    return problems


@dataclass
class Outcome:
    scenario: dict[str, Any]
    problems: list[str]
    transcript: list[tuple[str, str]]

    @property
    def passed(self) -> bool:
        return not self.problems


def run(app, scenario: dict[str, Any]) -> Outcome:
    dialog = prepare(app, scenario)
    problems, transcript = [], []
    for n, turn in enumerate(scenario["turns"], 1):
        reply = dialog.say(turn["user"])
        transcript.append((turn["user"], reply.text))
        problems += [
            f"turn {n} ({turn['user'][:20]}): {p}" for p in check_turn(dialog, reply, turn.get("expect") or {})
        ]
    problems += [f"final: {p}" for p in check_final(dialog, scenario.get("final") or {})]
    return Outcome(scenario, problems, transcript)
