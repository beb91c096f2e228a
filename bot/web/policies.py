"""The /policies page: search box, results with highlights, documents with an anchor per clause."""

from __future__ import annotations

import re

from flask import Blueprint, abort, render_template, request
from markupsafe import Markup, escape
from sqlalchemy import select

from bot.inputs import MAX_INT
from bot.state import appstate
from knowledge.models import PolicyDocument
from knowledge.search import search

bp = Blueprint("policies", __name__)


def highlight(value: str, terms: list[str]) -> Markup:
    """Escape first, then mark the matched terms: user input never becomes markup."""
    safe = str(escape(value))
    for term in sorted({str(escape(t)) for t in terms if t}, key=len, reverse=True):
        safe = re.sub(re.escape(term), lambda m: f"<mark>{m.group(0)}</mark>", safe)
    return Markup(safe)


@bp.get("/policies")
def index():
    q = (request.args.get("q") or "").strip()[:200]
    region = request.args.get("region") or None
    with appstate().Session() as s:
        hits = search(s, q, k=10, region=region) if q else []
        results = [{"hit": h.to_dict(), "html": highlight(h.clause.text, h.matched)} for h in hits]
        documents = s.scalars(
            select(PolicyDocument).where(PolicyDocument.status == "active").order_by(PolicyDocument.id)
        ).all()
        regions = sorted({d.region for d in documents if d.region})
        return render_template(
            "policies.html", q=q, results=results, documents=documents, regions=regions, region=region
        )


@bp.get("/policies/<int:document_id>")
def document(document_id: int):
    if document_id > MAX_INT:
        abort(404)  # not a row id on either database; asked for, it was a 500
    with appstate().Session() as s:
        doc = s.get(PolicyDocument, document_id)
        if doc is None:
            abort(404)
        return render_template("policy_document.html", doc=doc, clauses=list(doc.clauses))
