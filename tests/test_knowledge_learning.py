"""The questions attached to clauses: edited by administrators in the console, and learned from
officials' answers that cite a clause; either way every process's search finds them."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy import select

from knowledge.bundled import ingest_bundled
from knowledge.models import ClauseQuestion, PolicyDocument
from knowledge.search import rank
from tests.test_console import sign_in

QUESTION = "柜台小妹偷拿营业款被抓了现行"


def _top(app, question):
    with app.extensions["appealbot"].Session() as s:
        hit = rank(s, question, k=1)[0]
        return hit.clause.document.key, hit.clause.path


def _csrf(client, path):
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)


def test_an_administrator_attaches_edits_and_deletes_a_question(demo):
    with demo.extensions["appealbot"].Session() as s, s.begin():
        ingest_bundled(s)
        doc = s.scalars(select(PolicyDocument).where(PolicyDocument.key == "劳动合同法")).one()
        doc_id, clause_id = doc.id, next(c.id for c in doc.clauses if c.path == "第三十九条")
    assert _top(demo, QUESTION) != ("劳动合同法", "第三十九条")
    client = demo.test_client()
    sign_in(client, "admin")
    page = f"/console/admin/documents/{doc_id}/questions"
    assert "第三十九条" in client.get(page).get_data(as_text=True)
    client.post(
        page, data={"clause": clause_id, "text": "店员偷拿营业款能直接开除吗", "csrf_token": _csrf(client, page)}
    )
    assert _top(demo, QUESTION) == ("劳动合同法", "第三十九条")
    with demo.extensions["appealbot"].Session() as s:
        row = s.scalars(select(ClauseQuestion).where(ClauseQuestion.origin == "console")).one()
    client.post(f"/console/admin/questions/{row.id}", data={"delete": "1", "csrf_token": _csrf(client, page)})
    assert _top(demo, QUESTION) != ("劳动合同法", "第三十九条")
    signed_out = demo.test_client()
    assert signed_out.get(page).status_code in (302, 401, 403)


def test_an_answer_citing_a_clause_teaches_the_library_the_enterprises_question(demo):
    from tickets import service
    from tickets.lifecycle import SYSTEM, Lifecycle

    now = datetime.now(UTC)
    with demo.extensions["appealbot"].Session() as s, s.begin():
        ingest_bundled(s)
        ticket = service.create_ticket(
            s, channel="web", user_id="learner", text=QUESTION, kind="appeal", category="policy", now=now, config={}
        )
        life = Lifecycle(s, now, {})
        life.accept(ticket, SYSTEM)
        life.resolve(ticket, SYSTEM, "依据《中华人民共和国劳动合同法》第三十九条，严重违反规章制度的可以解除劳动合同。")
    with demo.extensions["appealbot"].Session() as s:
        learned = s.scalars(select(ClauseQuestion).where(ClauseQuestion.origin == "ticket")).one()
    assert (learned.document_key, learned.clause_path, learned.text) == ("劳动合同法", "第三十九条", QUESTION)
    assert _top(demo, QUESTION) == ("劳动合同法", "第三十九条")
