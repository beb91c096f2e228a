"""无事不扰: inspection filings (凡检必报) — file, approve, verify at the door."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from core import settings
from core.errors import UserError
from inspections.models import InspectionFiling, InspectionTarget
from tickets.credit_code import is_valid
from tickets.models import Department, Enterprise, Official
from tickets.workdays import local_date

KINDS = {"random": "双随机抽查", "special": "专项检查", "complaint": "投诉举报核查", "assigned": "上级交办"}
ROUTINE = ("random", "special")  # what an A-tier enterprise is spared
EXEMPT_FIELDS = ("危化品", "危险化学品", "特种设备", "食品", "药品", "消防", "安全生产", "疫苗", "医疗器械")
LETTERS, DIGITS = "ABCDEFGHJKLMNPQRSTUVWXYZ", "23456789"  # no 0/O, 1/I: read aloud at the door


def _code() -> str:
    """Three letters and three digits (KPQ274): easy to read out, never an English word."""
    return "".join(secrets.choice(LETTERS) for _ in range(3)) + "".join(secrets.choice(DIGITS) for _ in range(3))


_CODE_IN_TEXT = re.compile(r"(?<![0-9A-Z])[0-9A-HJ-NP-RTUWXY]{18}(?![0-9A-Z])")
REGISTRY = "registry"  # enterprises known from a filing (by credit code), not from a chat


def find_enterprise(session: Session, ref: str) -> Enterprise | None:
    ref = (ref or "").strip()
    if not ref:
        return None
    if len(ref) == 18 and is_valid(ref.upper()):
        return session.scalars(select(Enterprise).where(Enterprise.credit_code == ref.upper())).first()
    return session.scalars(select(Enterprise).where(Enterprise.name == ref)).first()


def enterprise_for_filing(session: Session, ref: str) -> Enterprise:
    """The enterprise a filing line names: a known name, a known credit code, or — for an enterprise
    that has never written to the bot — "名称 统一社会信用代码" (or the code alone) with a valid code,
    which registers it, so that the inspection can be filed before the enterprise is known."""
    ref = " ".join((ref or "").split())
    found = find_enterprise(session, ref)
    if found is not None:
        return found
    m = _CODE_IN_TEXT.search(ref.upper())
    if m is None:
        raise UserError(f"找不到企业：{ref}（请填写已登记的企业全称，或“企业名称 统一社会信用代码”）")
    code = m.group(0)
    if not is_valid(code):
        raise UserError(f"统一社会信用代码 {code} 校验位不正确，请核对")
    name = (ref[: m.start()] + ref[m.end() :]).strip(" ，,、") or None
    known = session.scalars(select(Enterprise).where(Enterprise.credit_code == code)).first()
    if known is not None:
        return known
    if name:
        named = session.scalars(select(Enterprise).where(Enterprise.name == name)).first()
        if named is not None and not named.credit_code:
            named.credit_code = code
            return named
    ent = Enterprise(channel=REGISTRY, user_id=code, credit_code=code, name=name)
    session.add(ent)
    session.flush()
    return ent


def file_inspection(
    session: Session,
    official: Official,
    *,
    enterprises: Iterable[str],
    kind: str,
    matters: str,
    legal_basis: str,
    inspectors: str,
    start: date,
    end: date,
    today: date,
    reason: str | None = None,
    config: dict | None = None,
) -> InspectionFiling:
    """Validates everything before writing anything; returns the pending filing with its warnings."""
    config = config or {}
    if kind not in KINDS:
        raise UserError("检查类型应为：" + "、".join(KINDS.values()))
    for value, name in ((matters, "检查事项"), (legal_basis, "执法依据"), (inspectors, "执法人员")):
        if not (value or "").strip():
            raise UserError(f"请填写{name}")
    if start < today or end < start:
        raise UserError("检查日期不能早于今天，结束日期不能早于开始日期")
    if (end - start).days > 31:
        raise UserError("一次备案的检查时段不能超过 31 天")
    targets: list[Enterprise] = []
    for ref in enterprises:
        ent = enterprise_for_filing(session, ref)
        if ent not in targets:
            targets.append(ent)
    if not targets:
        raise UserError("请至少填写一家被检查企业")
    warnings: list[dict[str, Any]] = []
    exempt = any(field in matters for field in EXEMPT_FIELDS)
    for ent in targets:
        if ent.credit_tier == "A" and kind in ROUTINE and not exempt:
            if not (reason or "").strip():
                raise UserError(f"{ent.name}为 A 级信用企业，常规检查原则上免检；确需检查请写明理由")
            warnings.append({"type": "a_tier", "enterprise": ent.name})
        window = int(settings.value(config, "JOINT_WINDOW_DAYS"))
        nearby = session.scalars(
            select(InspectionFiling)
            .join(InspectionTarget)
            .where(
                InspectionTarget.enterprise_id == ent.id,
                InspectionFiling.status != "rejected",
                InspectionFiling.start_date <= end + timedelta(days=window),
                InspectionFiling.end_date >= start - timedelta(days=window),
            )
        ).all()
        if nearby:
            warnings.append(
                {"type": "joint", "enterprise": ent.name, "with": [f"{f.department.name} {f.code}" for f in nearby]}
            )
        year_start = date(start.year, 1, 1)
        count = session.execute(
            select(func.count())
            .select_from(InspectionFiling)
            .join(InspectionTarget)
            .where(
                InspectionTarget.enterprise_id == ent.id,
                InspectionFiling.department_id == official.department_id,
                InspectionFiling.status != "rejected",
                InspectionFiling.start_date >= year_start,
            )
        ).scalar_one()
        cap = int(settings.value(config, "INSPECTION_YEARLY_CAP"))
        if count >= cap:
            warnings.append({"type": "yearly_cap", "enterprise": ent.name, "count": count, "cap": cap})
    filing = InspectionFiling(
        code=_unique_code(session),
        department_id=official.department_id,
        filed_by=official,
        kind=kind,
        matters=matters.strip(),
        legal_basis=legal_basis.strip(),
        inspectors=inspectors.strip(),
        start_date=start,
        end_date=end,
        reason=reason,
        warnings=warnings,
    )
    session.add(filing)
    for ent in targets:
        session.add(InspectionTarget(filing=filing, enterprise=ent))
    session.flush()
    return filing


def _unique_code(session: Session) -> str:
    while True:
        code = _code()
        if session.scalars(select(InspectionFiling.id).where(InspectionFiling.code == code)).first() is None:
            return code


def decide(
    session: Session,
    filing: InspectionFiling,
    approver: Official,
    approve: bool,
    now: datetime,
    note: str | None = None,
) -> InspectionFiling:
    if filing.status != "pending":
        raise UserError(f"备案 {filing.code} 已{'批准' if filing.status == 'approved' else '驳回'}，不能重复审批")
    if approver.id == filing.filed_by_id:
        raise UserError("不能审批自己提交的检查备案")
    if approver.role not in ("head", "supervisor", "admin"):
        raise UserError("只有指定的审批人（部门负责人或营商办）可以审批")
    if approver.role == "head" and approver.department_id != filing.department_id:
        raise UserError("部门负责人只能审批本部门的备案")
    if approve and filing.end_date < local_date(now):
        raise UserError("检查时段已过，不能再批准")
    note = (note or "").strip() or None
    if not approve and note is None:
        raise UserError("驳回检查备案须写明理由，以便执法部门改正后重新提交")
    filing.status = "approved" if approve else "rejected"
    filing.approver, filing.decided_at, filing.decision_note = approver, now, note[:2000] if note else None
    return filing


def find_by_code(session: Session, code: str) -> InspectionFiling | None:
    return session.scalars(select(InspectionFiling).where(InspectionFiling.code == code.strip().upper())).first()


def covering(
    session: Session, enterprise: Enterprise, today: date, department_name: str | None = None
) -> list[InspectionFiling]:
    """Approved filings that cover this enterprise today (optionally for a department named in the text).
    A filing made for the enterprise's credit code or name before it wrote to the bot covers it too."""
    same = [Enterprise.id == enterprise.id]
    if enterprise.credit_code:
        same.append(Enterprise.credit_code == enterprise.credit_code)
    if enterprise.name:
        same.append(Enterprise.name == enterprise.name)
    q = (
        select(InspectionFiling)
        .join(InspectionTarget)
        .join(Enterprise, InspectionTarget.enterprise_id == Enterprise.id)
        .where(
            or_(*same),
            InspectionFiling.status == "approved",
            InspectionFiling.start_date <= today,
            InspectionFiling.end_date >= today,
        )
    )
    filings = list(dict.fromkeys(session.scalars(q)))
    if department_name:
        filings = [f for f in filings if department_name in f.department.name]
    return filings


def ratings_by_department(session: Session, since: date) -> list[dict]:
    """How enterprises rated the inspections at their door (扫码入企), per inspecting department."""
    rows = session.execute(
        select(
            InspectionFiling.department_id,
            func.count(InspectionTarget.id),
            func.count(InspectionTarget.scanned_at),
            func.count(InspectionTarget.rating),
            func.avg(InspectionTarget.rating),
            func.sum(case((InspectionTarget.rating <= 2, 1), else_=0)),
        )
        .join(InspectionTarget)
        .where(InspectionFiling.status == "approved", InspectionFiling.start_date >= since)
        .group_by(InspectionFiling.department_id)
    ).all()
    names = dict(session.execute(select(Department.id, Department.name)).all())
    return sorted(
        (
            {
                "department": names.get(d, "?"),
                "inspections": n,
                "confirmed": scanned,
                "rated": rated,
                "average": round(float(avg), 2) if avg is not None else None,
                "unsatisfied": int(bad or 0),
            }
            for d, n, scanned, rated, avg, bad in rows
        ),
        key=lambda r: (-(r["average"] or 0), r["department"]),
    )


def describe(filing: InspectionFiling) -> str:
    return (
        f"备案编号 {filing.code}（{KINDS[filing.kind]}）\n执法部门：{filing.department.name}\n"
        f"检查时段：{filing.start_date:%m月%d日}—{filing.end_date:%m月%d日}\n执法人员：{filing.inspectors}\n"
        f"检查事项：{filing.matters}\n执法依据：{filing.legal_basis}"
    )


__all__ = ["file_inspection", "decide", "find_by_code", "covering", "describe", "ratings_by_department", "KINDS"]
