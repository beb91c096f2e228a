"""Console pages for 无事不扰 and 一叫就到: inspection filings (file, approve, statistics) and contact cards."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import date

from flask import abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.console import bp, login_required, now
from contacts.models import ContactCard
from core.errors import UserError
from inspections import filings
from inspections.models import InspectionFiling, InspectionTarget
from tickets import access
from tickets.models import Department, Enterprise, Official, ServiceOfficer
from tickets.workdays import local_date

CARD_COLUMNS = ["部门", "事项", "联系人", "职务", "电话", "企业微信账号", "服务时间", "响应承诺（分钟）"]


@bp.get("/inspections")
@login_required()
def inspection_list():
    q = select(InspectionFiling).order_by(InspectionFiling.id.desc())
    if not access.supervises(g.user):
        q = q.where(InspectionFiling.department_id == g.user.department_id)
    rows = g.db.scalars(q.limit(200)).all()
    year = local_date(now()).year
    per_enterprise = Counter()
    for t in g.db.scalars(
        select(InspectionTarget)
        .join(InspectionFiling)
        .where(InspectionFiling.status == "approved", InspectionFiling.start_date >= date(year, 1, 1))
    ):
        per_enterprise[t.enterprise.name or t.enterprise.credit_code or "—"] += 1
    return render_template(
        "console/inspections.html",
        filings=rows,
        kinds=filings.KINDS,
        most=per_enterprise.most_common(10),
        year=year,
        ratings=filings.ratings_by_department(g.db, date(year, 1, 1)),
    )


@bp.post("/inspections")
@login_required()
def inspection_file():
    f = request.form
    try:
        start, end = date.fromisoformat(f.get("start", "")), date.fromisoformat(f.get("end", ""))
        filing = filings.file_inspection(
            g.db,
            g.user,
            enterprises=[e for e in f.get("enterprises", "").replace("，", "\n").splitlines() if e.strip()],
            kind=f.get("kind", ""),
            matters=f.get("matters", ""),
            legal_basis=f.get("legal_basis", ""),
            inspectors=f.get("inspectors", ""),
            start=start,
            end=end,
            today=local_date(now()),
            reason=f.get("reason") or None,
            config=_config(),
        )
        g.db.commit()
        flash(
            f"已提交备案 {filing.code}，待审批。"
            + ("提示：" + "；".join(_warning(w) for w in filing.warnings) if filing.warnings else ""),
            "info",
        )
    except ValueError:
        g.db.rollback()
        flash("请填写检查起止日期。", "error")
    except UserError as exc:
        g.db.rollback()
        flash(str(exc), "error")
    return redirect(url_for("console.inspection_list"))


def _config() -> dict:
    from bot.state import appstate

    return appstate().services.config


def _warning(w: dict) -> str:
    return {
        "joint": f"{w['enterprise']}近期已有其他检查，建议联合检查",
        "yearly_cap": f"本部门今年已检查{w['enterprise']} {w.get('count')} 次，超过年度上限",
        "a_tier": f"{w['enterprise']}为 A 级信用企业",
    }.get(w["type"], w["type"])


@bp.post("/inspections/<code>/<decision>")
@login_required("head", "supervisor", "admin")
def inspection_decide(code: str, decision: str):
    filing = filings.find_by_code(g.db, code)
    if filing is None or decision not in ("approve", "reject"):
        flash("没有这个备案。", "error")
        return redirect(url_for("console.inspection_list"))
    try:
        filings.decide(g.db, filing, g.user, decision == "approve", now(), request.form.get("note") or None)
        g.db.commit()
        flash(f"备案 {filing.code} 已{'批准' if decision == 'approve' else '驳回'}。", "info")
    except UserError as exc:
        g.db.rollback()
        flash(str(exc), "error")
    return redirect(url_for("console.inspection_list"))


# -- contact cards and service officers (administrators) ---------------------------------------


@bp.get("/admin/contacts")
@login_required("admin")
def contacts():
    return render_template(
        "console/contacts.html",
        cards=g.db.scalars(select(ContactCard).order_by(ContactCard.department_id, ContactCard.id)).all(),
        officers=g.db.scalars(select(ServiceOfficer)).all(),
        columns=CARD_COLUMNS,
        departments=g.db.scalars(select(Department).order_by(Department.id)).all(),
        officials=g.db.scalars(
            select(Official).where(Official.active).order_by(Official.department_id, Official.name)
        ).all(),
        enterprises=g.db.scalars(
            select(Enterprise.name).where(Enterprise.name.is_not(None)).distinct().order_by(Enterprise.name).limit(500)
        ).all(),
    )


@bp.post("/admin/contacts/import")
@login_required("admin")
def contacts_import():
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash("请选择 CSV 或 Excel 文件。", "error")
        return redirect(url_for("console.contacts"))
    try:
        rows = _read_rows(upload.filename, upload.read())
        cards = [_card(row, n) for n, row in enumerate(rows, 2)]
    except UserError as exc:
        flash(str(exc), "error")  # one bad row and nothing is imported
        return redirect(url_for("console.contacts"))
    # Re-importing the department's list updates its cards: one card per department and person.
    existing = {(c.department_id, c.person): c for c in g.db.scalars(select(ContactCard))}
    added = updated = 0
    for card in cards:
        same = existing.get((card.department.id, card.person))
        if same is None:
            g.db.add(card)
            existing[(card.department.id, card.person)] = card
            added += 1
        else:
            for name in CARD_FIELDS:
                setattr(same, name, getattr(card, name))
            updated += 1
    g.db.commit()
    flash(f"已导入 {len(cards)} 张联系卡：新增 {added} 张，更新 {updated} 张。", "info")
    return redirect(url_for("console.contacts"))


CARD_FIELDS = ("matters", "title", "phone", "wecom_user_id", "hours", "promise_minutes")


@bp.route("/admin/contacts/<int:card_id>", methods=["GET", "POST"])
@login_required("admin")
def contact_edit(card_id: int):
    card = g.db.get(ContactCard, card_id) or abort(404)
    if request.method == "GET":
        return render_template(
            "console/edit.html",
            what="card",
            item=card,
            title=f"修改联系卡：{card.person}",
            departments=g.db.scalars(select(Department).order_by(Department.id)).all(),
        )
    f = request.form
    row = {
        "部门": "",
        "事项": f.get("matters", "").strip(),
        "联系人": f.get("person", "").strip(),
        "职务": f.get("title", "").strip(),
        "电话": f.get("phone", "").strip(),
        "企业微信账号": f.get("wecom_user_id", "").strip(),
        "服务时间": f.get("hours", "").strip(),
        "响应承诺（分钟）": f.get("promise_minutes", "").strip(),
    }
    dept = g.db.get(Department, f.get("department", 0, type=int))
    try:
        if dept is None:
            raise UserError("请选择部门。")
        row["部门"] = dept.name
        fresh = _card(row, 0, department=dept)
    except UserError as exc:
        flash(str(exc).replace("第 0 行：", "").replace("，未导入任何数据", ""), "error")
        return redirect(url_for("console.contact_edit", card_id=card_id))
    card.department, card.person = dept, fresh.person
    for name in CARD_FIELDS:
        setattr(card, name, getattr(fresh, name))
    g.db.commit()
    flash(f"已保存联系卡：{card.person}", "info")
    return redirect(url_for("console.contacts"))


def _read_rows(filename: str, data: bytes) -> list[dict]:
    return _read_table(filename, data, CARD_COLUMNS)


def _read_table(filename: str, data: bytes, columns: list[str]) -> list[dict]:
    """Rows of a CSV or Excel upload whose first row is `columns` (the enterprise list uses it too)."""
    if filename.lower().endswith(".xlsx"):
        from openpyxl import load_workbook

        try:
            sheet = load_workbook(io.BytesIO(data), read_only=True).active
        except Exception:
            raise UserError("无法读取这个 Excel 文件。") from None
        values = [[("" if v is None else str(v)).strip() for v in row] for row in sheet.iter_rows(values_only=True)]
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = data.decode("gb18030", errors="strict") if data else ""
        values = [[v.strip() for v in row] for row in csv.reader(io.StringIO(text))]
    if not values or values[0][: len(columns)] != columns:
        raise UserError("第一行应为表头：" + "、".join(columns))
    # a row shorter than the header (a spreadsheet's trailing empty cells) leaves the last fields out
    return [dict(zip(columns, row, strict=False)) for row in values[1:] if any(row)]


def _card(row: dict, line: int, department: Department | None = None) -> ContactCard:
    dept = department or g.db.scalars(select(Department).where(Department.name == row.get("部门", ""))).first()
    if dept is None:
        raise UserError(f"第 {line} 行：没有部门“{row.get('部门', '')}”，未导入任何数据。")
    if not row.get("事项") or not row.get("联系人") or not row.get("电话"):
        raise UserError(f"第 {line} 行：事项、联系人、电话必填，未导入任何数据。")
    minutes = row.get("响应承诺（分钟）") or "120"
    if not minutes.isdigit() or not 1 <= int(minutes) <= 7 * 24 * 60:
        raise UserError(f"第 {line} 行：响应承诺应为 1 到 10080 之间的分钟数。")
    return ContactCard(
        department=dept,
        matters=row["事项"][:2000],
        person=row["联系人"][:64],
        title=row.get("职务", "")[:64],
        phone=row["电话"][:32],
        wecom_user_id=(row.get("企业微信账号") or None) and row["企业微信账号"][:64],
        hours=(row.get("服务时间") or "工作日 9:00-17:30")[:64],
        promise_minutes=int(minutes),
    )


@bp.route("/admin/contacts/<int:card_id>/delete", methods=["GET", "POST"])
@login_required("admin")
def contact_delete(card_id: int):
    card = g.db.get(ContactCard, card_id) or abort(404)
    if request.method == "GET":  # ask first: enterprises stop being given this person's number
        return render_template(
            "console/confirm.html",
            title="删除联系卡",
            question=f"确定删除{card.department.name}{card.person}（{card.phone}）的联系卡吗？"
            "删除后，企业询问这些事项时将不再收到这张卡片。",
            action=url_for("console.contact_delete", card_id=card_id),
            back=url_for("console.contacts"),
        )
    g.db.delete(card)
    g.db.commit()
    flash(f"已删除联系卡：{card.person}", "info")
    return redirect(url_for("console.contacts"))


@bp.post("/admin/officers")
@login_required("admin")
def officer_assign():
    ent = g.db.scalars(select(Enterprise).where(Enterprise.name == request.form.get("enterprise", "").strip())).first()
    official = g.db.get(Official, request.form.get("official", 0, type=int))
    if ent is None or official is None or not official.active:
        flash("请填写已登记的企业名称，并从列表中选择人员。", "error")
    else:
        g.db.add(ServiceOfficer(enterprise=ent, official=official, role=request.form.get("role") or "包联干部"))
        try:
            g.db.commit()
            flash(f"已为{ent.name}指定{official.name}。", "info")
        except IntegrityError:
            g.db.rollback()
            flash("该人员已是这家企业的联系人。", "error")
    return redirect(url_for("console.contacts"))


# -- policy documents (administrators) ----------------------------------------------------------


@bp.get("/admin/documents")
@login_required("admin")
def documents():
    from knowledge.models import PolicyDocument

    return render_template(
        "console/documents.html", documents=g.db.scalars(select(PolicyDocument).order_by(PolicyDocument.id)).all()
    )


@bp.post("/admin/documents")
@login_required("admin")
def documents_upload():
    from knowledge.ingest import ingest_bytes

    uploads = [f for f in request.files.getlist("files") if f and f.filename]
    if not uploads:
        flash("请选择要导入的政策文件。", "error")
    for upload in uploads:
        name = upload.filename.replace("\\", "/").rsplit("/", 1)[-1][:200]
        outcome = ingest_bytes(g.db, name, upload.read())
        g.db.commit()  # one file at a time: a bad file does not hold back the others
        if outcome.status == "error":
            flash(f"{name}：{outcome.message}", "error")
        else:
            flash(
                f"{name}：{ {'added': '已导入', 'updated': '已更新', 'unchanged': '内容未变'}[outcome.status] }"
                f"（{outcome.clauses} 条）",
                "info",
            )
    return redirect(url_for("console.documents"))


@bp.post("/admin/documents/<int:document_id>/retire")
@login_required("admin")
def document_retire(document_id: int):
    from knowledge.ingest import retire
    from knowledge.models import PolicyDocument

    doc = g.db.get(PolicyDocument, document_id)
    if doc is not None:
        retire(g.db, doc.source)  # the search index of every process follows
        g.db.commit()
        flash(f"已废止：{doc.title}（保留记录，不再检索）", "info")
    return redirect(url_for("console.documents"))


@bp.post("/admin/credit-tier")
@login_required("admin", "supervisor")
def credit_tier():
    ent = g.db.scalars(select(Enterprise).where(Enterprise.name == request.form.get("enterprise", "").strip())).first()
    tier = request.form.get("tier", "").strip().upper()[:8]
    if ent is None or not tier:
        flash("请填写已登记的企业名称和信用等级。", "error")
    else:
        ent.credit_tier = tier
        g.db.commit()
        flash(f"{ent.name}的信用等级已设为 {tier}。", "info")
    return redirect(url_for("console.inspection_list"))
