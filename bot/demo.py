"""Demo data for `make run`: a sample prefecture's departments, routing rules and officials.

Every one of the 16 categories has a default rule; keyword rules send the common special cases
(用电 → 供电公司, 公积金 → 公积金中心 …) straight to the department that owns them.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from nlp.categories import TICKET_CATEGORIES
from tickets.models import Department, Official, RoutingRule

# code, name, parent code, region, level
DEPARTMENTS = [
    ("yingshang", "市营商环境建设局", None, "", 1),
    ("shenpi", "市行政审批服务局", None, "", 1),
    ("scjg", "市市场监督管理局", None, "", 1),
    ("zrzy", "市自然资源局", None, "", 1),
    ("sthj", "市生态环境局", None, "", 1),
    ("rsj", "市人力资源和社会保障局", None, "", 1),
    ("gjj", "市住房公积金中心", None, "", 1),
    ("ybj", "市医疗保障局", None, "", 1),
    ("jrb", "市地方金融管理局", None, "", 1),
    ("sfj", "市司法局", None, "", 1),
    ("fy", "市中级人民法院", None, "", 1),
    ("jyj", "市教育局", None, "", 1),
    ("wjw", "市卫生健康委员会", None, "", 1),
    ("fgw", "市发展和改革委员会", None, "", 1),
    ("gxj", "市工业和信息化局", None, "", 1),
    ("swj", "市税务局", None, "", 1),
    ("yjj", "市应急管理局", None, "", 1),
    ("zjj", "市住房和城乡建设局", None, "", 1),
    ("mzj", "市民政局", None, "", 1),
    ("jjz", "市纪委监委驻营商局纪检监察组", None, "", 1),
    ("gdgs", "国网市供电公司", None, "", 1),
    ("swgs", "市水务集团", None, "", 1),
    ("cd_shenpi", "城东区行政审批局", "shenpi", "城东区", 2),
    ("cd_scjg", "城东区市场监督管理局", "scjg", "城东区", 2),
]

# category, department code, working days, keywords (None: the category's default), region
RULES = [
    ("gov_service", "shenpi", 5, None, None),
    ("gov_service", "cd_shenpi", 5, None, "城东区"),
    ("gov_service", "scjg", 10, "商标 专利 侵权 仿冒 知识产权 山寨", None),
    ("operations", "gxj", 5, None, None),
    ("operations", "gdgs", 3, "电 停电 跳闸 电压 增容 变压器", None),
    ("operations", "swgs", 3, "水压 停水 供水 自来水 水管", None),
    ("operations", "zjj", 3, "燃气 天然气 用气 管道气", None),
    ("operations", "zrzy", 10, "用地 土地 地块 不动产 厂房手续", None),
    ("operations", "sthj", 10, "环评 排污 危废 污水 环保 VOCs 废气", None),
    ("operations", "yjj", 5, "安全生产 隐患 应急预案 特种设备 安评", None),
    ("social_security", "rsj", 5, None, None),
    ("social_security", "gjj", 5, "公积金", None),
    ("social_security", "ybj", 5, "医保 报销 门诊 住院", None),
    ("finance", "jrb", 10, None, None),
    ("legal", "sfj", 10, None, None),
    ("legal", "fy", 10, "起诉 立案 判决 执行 法院 开庭 诉讼", None),
    ("livelihood", "rsj", 10, None, None),
    ("livelihood", "jyj", 10, "入学 上学 转学 学校 幼儿园 学位", None),
    ("livelihood", "wjw", 5, "就医 看病 医院 体检 就诊", None),
    ("policy", "fgw", 5, None, None),
    ("policy", "gxj", 5, "专精特新 技改 数字化 工业 小巨人", None),
    ("policy", "swj", 5, "税 加计扣除 留抵 退税 发票", None),
    ("coordination", "yingshang", 10, None, None),
    # 无事不扰: complaints go to 营商办, never to the department complained about; 四乱 and 强制措施
    # go to the discipline inspection body.
    ("arbitrary_charges", "jjz", 5, None, None),
    ("random_inspection", "yingshang", 5, None, None),
    ("coercive_measures", "jjz", 5, None, None),
    ("appraisals", "yingshang", 5, None, None),
    ("paperwork", "yingshang", 5, None, None),
    ("forced_membership", "yingshang", 5, None, None),
    ("surveys_meetings", "yingshang", 5, None, None),
    ("other_interference", "yingshang", 5, None, None),
]

# One account per role for the console; each also has a WeCom user id so the chat commands work.
ACCOUNTS = [
    ("admin", "系统管理员", "yingshang", "admin"),
    ("yingshang", "营商办督办员", "yingshang", "supervisor"),
    ("scjg_head", "市场监管局科长", "scjg", "head"),
    ("scjg", "市场监管局经办人", "scjg", "official"),
]


def demo_password(login: str) -> str:
    """Known demo passwords, printed by `make run`; production mode refuses to start while one is in use."""
    return f"{login}-demo-2026"


def accounts_text() -> str:
    return "console accounts (demo): " + ", ".join(f"{login} / {demo_password(login)}" for login, *_ in ACCOUNTS)


def load_demo_data(session: Session) -> str:
    existing = session.scalar(select(func.count()).select_from(Department))
    if existing:
        return f"demo data: present ({existing} departments)"
    by_code: dict[str, Department] = {}
    for code, name, parent, region, level in DEPARTMENTS:
        dept = Department(
            code=code,
            name=name,
            region=region,
            level=level,
            is_office=code == "yingshang",
            parent=by_code.get(parent) if parent else None,
        )
        session.add(dept)
        by_code[code] = dept
    session.flush()
    for category, rule_code, days, keywords, rule_region in RULES:
        session.add(
            RoutingRule(
                category=category,
                department=by_code[rule_code],
                deadline_days=days,
                keywords=keywords,
                region=rule_region,
            )
        )
    for code, dept in by_code.items():
        if code not in {a[2] for a in ACCOUNTS}:
            session.add(Official(name=f"{dept.name}经办人", wecom_user_id=code, department=dept, role="official"))
    from tickets.accounts import hash_password

    for login, name, code, role in ACCOUNTS:
        session.add(
            Official(
                name=name,
                wecom_user_id=login,
                login=login,
                department=by_code[code],
                role=role,
                password_hash=hash_password(demo_password(login)),
            )
        )
    session.flush()
    from contacts.book import load_demo_cards

    load_demo_cards(session)
    assert {r[0] for r in RULES} == set(TICKET_CATEGORIES)
    return f"demo data: loaded {len(DEPARTMENTS)} departments, {len(RULES)} routing rules, {len(ACCOUNTS)} accounts"
