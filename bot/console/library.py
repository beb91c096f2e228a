"""The policy library's questions in the console (administrators): what each clause answers, in the
words enterprises use — bundled ones, those officials' cited answers added, and the administrators'
own. Every change reaches every process's search index within seconds (knowledge/index.py)."""

from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from bot.console import bp, login_required
from knowledge import index as library
from knowledge.learning import attach
from knowledge.models import Clause, ClauseQuestion, PolicyDocument

ORIGINS = {"bundled": "随库", "console": "管理员", "ticket": "办理答复"}


@bp.get("/admin/documents/<int:document_id>/questions")
@login_required("admin")
def questions(document_id: int):
    doc = g.db.get(PolicyDocument, document_id)
    if doc is None:
        abort(404)
    attached: dict[str, list[ClauseQuestion]] = {}
    for q in g.db.scalars(
        select(ClauseQuestion).where(ClauseQuestion.document_key == doc.key).order_by(ClauseQuestion.id)
    ):
        attached.setdefault(q.clause_path, []).append(q)
    return render_template(
        "console/questions.html", doc=doc, clauses=list(doc.clauses), attached=attached, ORIGINS=ORIGINS
    )


@bp.post("/admin/documents/<int:document_id>/questions")
@login_required("admin")
def question_add(document_id: int):
    clause = g.db.get(Clause, request.form.get("clause", 0, type=int))
    if clause is None or clause.document_id != document_id:
        abort(404)
    text = request.form.get("text", "").strip()
    if len(text) < 4:
        flash("问题太短：请写出企业会怎么问，例如“试用期最长能约定多久”。", "error")
    elif attach(g.db, clause, text, "console", g.user.name) is None:
        flash("这个问题已经在这条条款下了。", "error")
    else:
        g.db.commit()
        flash(f"已添加到 {clause.citation}。", "info")
    return redirect(url_for("console.questions", document_id=document_id) + f"#{clause.anchor}")


@bp.post("/admin/questions/<int:question_id>")
@login_required("admin")
def question_edit(question_id: int):
    row = g.db.get(ClauseQuestion, question_id)
    if row is None:
        abort(404)
    doc = g.db.scalars(
        select(PolicyDocument).where(PolicyDocument.key == row.document_key).order_by(PolicyDocument.status)
    ).first()
    if request.form.get("delete") == "1":
        g.db.delete(row)
        flash("已删除。", "info")
    else:
        text = " ".join(request.form.get("text", "").split())[:300]
        if len(text) < 4:
            flash("问题太短。", "error")
            return redirect(url_for("console.questions", document_id=doc.id) if doc else url_for("console.documents"))
        row.text, row.terms, row.origin, row.created_by = text, library.terms_of(text), "console", g.user.name
        flash("已保存。", "info")
    library.bump(g.db)
    g.db.commit()
    return redirect(url_for("console.questions", document_id=doc.id) if doc else url_for("console.documents"))
