"""Console pages for reaching enterprises: evidence on the ticket page, enterprise profiles (edit and
CSV/Excel import of the region's enterprise list), and policy pushes (publish, then reached /
opened / asked)."""

from __future__ import annotations

from typing import Any

from flask import Response, abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy import or_, select

from bot.console import bp, login_required, now
from core.errors import UserError
from delivery import reach
from tickets import access, attachments, policy_push
from tickets.models import Department, Enterprise, Ticket
from tickets.outreach_models import Attachment, PolicyPush

PROFILE_COLUMNS = ["企业名称", "统一社会信用代码", "行业", "地区", "规模", "专精特新", "高新技术企业", "联系电话"]
YES = ("是", "1", "y", "yes", "true", "√", "✓")


def _config() -> dict:
    from bot.state import appstate

    return appstate().services.config


# -- evidence on the ticket page ------------------------------------------------------------------


@bp.app_template_global()
def ticket_attachments(ticket: Ticket) -> dict[str, Any]:
    """What the ticket page shows of the evidence: an anonymous report's photos may identify its
    author, so they are shown where its reporter is (营商办 supervisors)."""
    if not access.reporter_visible(ticket, g.user):
        return {"hidden": True, "rows": []}
    return {"hidden": False, "rows": attachments.of_ticket(g.db, ticket)}


@bp.get("/attachments/<int:attachment_id>")
@login_required()
def attachment(attachment_id: int):
    att = g.db.get(Attachment, attachment_id)
    if att is None or att.ticket_id is None or att.status != "stored":
        abort(404)
    ticket = g.db.scalars(access.visible_tickets(g.user).where(Ticket.id == att.ticket_id)).first()
    if ticket is None or not access.reporter_visible(ticket, g.user):
        abort(404)
    try:
        data = attachments.read(_config(), att)
    except (OSError, RuntimeError):
        abort(404)
    inline = (att.content_type or "").startswith(("image/", "video/", "application/pdf"))
    name = f"{ticket.number}-{att.id}.{(att.key or 'bin').rsplit('.', 1)[-1]}"
    return Response(
        data,
        mimetype=att.content_type or "application/octet-stream",
        headers={
            "Content-Disposition": f"{'inline' if inline else 'attachment'}; filename={name}",
            "Cache-Control": "private, max-age=3600",
        },
    )


# -- enterprise profiles ----------------------------------------------------------------------------


@bp.get("/enterprises")
@login_required("supervisor", "admin")
def enterprises():
    q = (request.args.get("q") or "").strip()[:60]
    query = select(Enterprise).order_by(Enterprise.id.desc())
    if q:
        query = query.where(
            or_(
                Enterprise.name.contains(q),
                Enterprise.credit_code == q.upper(),
                Enterprise.industry.contains(q),
                Enterprise.region.contains(q),
            )
        )
    rows = g.db.scalars(query.limit(200)).all()
    return render_template("console/enterprises.html", rows=rows, q=q, columns=PROFILE_COLUMNS, sizes=policy_push.SIZES)


@bp.post("/enterprises/<int:enterprise_id>")
@login_required("supervisor", "admin")
def enterprise_edit(enterprise_id: int):
    ent = g.db.get(Enterprise, enterprise_id) or abort(404)
    f = request.form
    ent.industry = f.get("industry", "").strip()[:64] or None
    ent.region = f.get("region", "").strip()[:32]
    ent.size = f.get("size") if f.get("size") in policy_push.SIZES else None
    ent.specialized = f.get("specialized") == "1"
    ent.high_tech = f.get("high_tech") == "1"
    ent.push_opt_out = f.get("push_opt_out") == "1"
    g.db.commit()
    flash(f"已保存{ent.name or '企业'}的画像。", "info")
    return redirect(url_for("console.enterprises", q=request.args.get("q", "")))


@bp.post("/enterprises/import")
@login_required("supervisor", "admin")
def enterprises_import():
    from bot.console.field import _read_table

    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash("请选择 CSV 或 Excel 文件。", "error")
        return redirect(url_for("console.enterprises"))
    try:
        rows = _read_table(upload.filename, upload.read(), PROFILE_COLUMNS)
        added, updated = import_profiles(g.db, rows)
    except UserError as exc:
        g.db.rollback()
        flash(str(exc), "error")  # one bad row and nothing is imported
        return redirect(url_for("console.enterprises"))
    g.db.commit()
    flash(f"已导入 {len(rows)} 家企业：新增 {added} 家，更新 {updated} 家。", "info")
    return redirect(url_for("console.enterprises"))


def import_profiles(db, rows: list[dict]) -> tuple[int, int]:
    """Each row updates every enterprise with its credit code (or, without one, its exact name),
    chat ones included; one nobody knows yet is kept as a listed (registry) enterprise."""
    from handlers.details import valid_credit_code

    added = updated = 0
    for line, row in enumerate(rows, 2):
        name, code = row.get("企业名称", "").strip(), row.get("统一社会信用代码", "").strip().upper()
        if not name and not code:
            raise UserError(f"第 {line} 行：企业名称和统一社会信用代码至少填一项，未导入任何数据。")
        if code and not valid_credit_code(code):
            raise UserError(f"第 {line} 行：统一社会信用代码 {code} 校验不通过，未导入任何数据。")
        size = row.get("规模", "").strip()
        if size and size not in policy_push.SIZES:
            raise UserError(f"第 {line} 行：规模应为{'、'.join(policy_push.SIZES)}之一，未导入任何数据。")
        fields = {
            "industry": row.get("行业", "").strip()[:64] or None,
            "region": row.get("地区", "").strip()[:32],
            "size": size or None,
            "specialized": row.get("专精特新", "").strip().lower() in YES,
            "high_tech": row.get("高新技术企业", "").strip().lower() in YES,
        }
        if row.get("联系电话", "").strip():
            fields["phone"] = row["联系电话"].strip()[:32]
        same = db.scalars(
            select(Enterprise).where(Enterprise.credit_code == code)
            if code
            else select(Enterprise).where(Enterprise.name == name)
        ).all()
        if not same:
            same = [
                Enterprise(
                    channel=policy_push.REGISTRY,
                    user_id=code or f"name:{name}"[:128],
                    credit_code=code or None,
                    name=name or None,
                )
            ]
            db.add(same[0])
            added += 1
        else:
            updated += 1
        for ent in same:
            for key, value in fields.items():
                if key == "phone" and ent.phone:
                    continue  # the number the enterprise gave in chat stays
                setattr(ent, key, value)
            if name and not ent.name:
                ent.name = name
        db.flush()
    return added, updated


# -- policy pushes --------------------------------------------------------------------------------


def _regions() -> list[str]:
    names = set(g.db.scalars(select(Department.region))) | set(g.db.scalars(select(Enterprise.region)))
    return sorted(n for n in names if n)


@bp.get("/pushes")
@login_required("supervisor", "admin")
def pushes():
    from knowledge.models import PolicyDocument

    rows = g.db.scalars(select(PolicyPush).order_by(PolicyPush.id.desc())).all()
    moment = now()
    table = [(p, policy_push.push_document(g.db, p), reach.figures(g.db, p, moment)) for p in rows]
    g.db.commit()  # "asked afterwards" found now is kept
    pushed = {p.document_id for p in rows}
    documents = [
        d
        for d in g.db.scalars(
            select(PolicyDocument).where(PolicyDocument.status == "active").order_by(PolicyDocument.id.desc())
        )
        if d.id not in pushed
    ]
    return render_template(
        "console/pushes.html",
        table=table,
        documents=documents,
        regions=_regions(),
        sizes=policy_push.SIZES,
        describe=policy_push.describe,
        chosen=request.args.get("document", type=int),
    )


@bp.post("/pushes")
@login_required("supervisor", "admin")
def push_publish():
    """Publish: ingest the uploaded document (or take one already ingested), then push it."""
    from knowledge.ingest import ingest_bytes
    from knowledge.models import PolicyDocument

    f = request.form
    document: PolicyDocument | None = None
    upload = request.files.get("file")
    if upload is not None and upload.filename:
        name = upload.filename.replace("\\", "/").rsplit("/", 1)[-1][:200]
        outcome = ingest_bytes(g.db, name, upload.read())
        if outcome.status == "error":
            g.db.rollback()
            flash(f"{name}：{outcome.message}", "error")
            return redirect(url_for("console.pushes"))
        g.db.flush()
        document = g.db.scalars(select(PolicyDocument).where(PolicyDocument.source == name)).first()
    elif f.get("document", type=int):
        document = g.db.get(PolicyDocument, f.get("document", type=int))
    if document is None:
        flash("请上传政策文件，或选择已导入的文件。", "error")
        return redirect(url_for("console.pushes"))
    criteria = policy_push.criteria_from(
        f.get("industries"),
        f.getlist("regions"),
        f.getlist("sizes"),
        f.get("specialized") == "1",
        f.get("high_tech") == "1",
    )
    try:
        push = policy_push.publish(g.db, document, f.get("summary", ""), criteria, g.user.name, now(), _config())
    except UserError as exc:
        g.db.rollback()
        flash(str(exc), "error")
        return redirect(url_for("console.pushes"))
    g.db.commit()
    figures = reach.figures(g.db, push, now())
    flash(
        f"已发布《{document.title}》：符合条件 {figures['matched']} 家，其中 {figures['notified']} 家将收到推送。",
        "info",
    )
    return redirect(url_for("console.pushes"))
