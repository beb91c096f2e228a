"""一叫就到: find the contact card for a matter from free text ("办环评找谁", "公积金中心电话多少").

Cards are few (hundreds), so scoring is done here on jieba tokens with the project's synonyms:
a matter's words found in the question count most, the department's name next. No match scores 0
and the bot says so rather than handing out a wrong phone number.
"""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.orm import Session

from contacts.models import ContactCard
from nlp.tokenizer import cut, cut_for_search
from tickets.models import Department

STOP = {
    "找",
    "谁",
    "电话",
    "多少",
    "号码",
    "联系",
    "联系人",
    "怎么",
    "哪个",
    "部门",
    "办",
    "请问",
    "的",
    "是",
    "问",
    "一下",
    "我",
    "我们",
    "想",
    "要",
    "哪里",
    "负责",
    "管",
    "吗",
    "呢",
    "啊",
    "人",
    "有",
    "没有",
    "什么",
    "在",
    "去",
}


@lru_cache(maxsize=4096)
def _tokens(text: str) -> frozenset[str]:
    return frozenset(
        t for t in cut_for_search(text) if t.strip() and t not in STOP and len(t) > 1 or t in ("税", "电", "水", "气")
    )


# Words that name a kind of step, not a matter: "消防验收" must not find the card for 环保验收.
GENERIC = {
    "验收",
    "许可",
    "登记",
    "办理",
    "审批",
    "申请",
    "服务",
    "管理",
    "手续",
    "问题",
    "事项",
    "业务",
    "证",
    "报告",
    "评价",
    "变更",
    "设立",
    "缴存",
    "提取",
    "开户",
    "保护",
    "监督",
    "投诉",
    "咨询",
    "政策",
    "项目",
    "企业",
    "市场",
}


def lookup(session: Session, text: str, limit: int = 2) -> list[ContactCard]:
    """The cards whose matters the question names, best first; none when only generic words match."""
    query = frozenset(t for t in cut(text) if t.strip() and t not in STOP) | _tokens(text)
    if not query:
        return []
    scored = []
    for card in session.scalars(select(ContactCard).join(Department)):
        matters = _tokens(card.matters)
        dept = _tokens(card.department.name) | _tokens(card.department.name.removeprefix("市"))
        specific = (query & matters) - GENERIC
        named = [m for m in card.matters.replace("，", "、").replace(",", "、").split("、") if m and m in text]
        if not specific and not named and not ((query & dept) - GENERIC):
            continue  # a generic word in common is no match
        score = 3 * len(specific) + len((query & matters) & GENERIC) + 2 * len((query & dept) - GENERIC)
        score += 2 * len(named)
        scored.append((score, card.id, card))
    scored.sort(key=lambda x: (-x[0], x[1]))
    return [card for _, _, card in scored[:limit]]


def duty_card(session: Session) -> ContactCard | None:
    """营商办's card: whom to call when no card fits."""
    return session.scalars(
        select(ContactCard).join(Department).where(Department.is_office).order_by(ContactCard.id)
    ).first()


def card_text(card: ContactCard) -> str:
    return (
        f"【{card.department.name}】{card.person}（{card.title}）\n电话：{card.phone}\n"
        f"负责：{card.matters}\n时间：{card.hours}\n一叫就到：{card.promise_minutes // 60 if card.promise_minutes >= 60 else card.promise_minutes}"
        f"{'小时' if card.promise_minutes >= 60 else '分钟'}内回应"
    )


# department code, matters, person, title, phone (demo numbers), promise minutes
DEMO_CARDS = [
    (
        "shenpi",
        "营业执照、设立登记、变更登记、注销、食品经营许可、施工许可、项目审批",
        "王敏",
        "政务服务科科长",
        "0571-8800-1001",
        60,
    ),
    (
        "scjg",
        "商标、专利、知识产权保护、质量监督、特种设备、价格投诉",
        "李强",
        "知识产权科副科长",
        "0571-8800-1002",
        120,
    ),
    ("zrzy", "建设用地、土地证、不动产登记、规划许可、厂房用地", "赵立", "用地保障科科长", "0571-8800-1003", 120),
    ("sthj", "环评、排污许可、危废处置、环保验收、污水排放", "陈洁", "环评审批科科长", "0571-8800-1004", 120),
    (
        "rsj",
        "社保、招工、劳动合同、工资、最低工资、劳动用工、职业技能培训、稳岗返还、职称、人才引进、工伤认定",
        "孙浩",
        "就业促进科科长",
        "0571-8800-1005",
        120,
    ),
    ("gjj", "住房公积金、公积金缴存、公积金提取、公积金贷款、开户", "周琳", "归集管理科科长", "0571-8800-1006", 60),
    ("ybj", "医保、职工医保、异地就医、医保报销", "吴霞", "待遇保障科科长", "0571-8800-1007", 120),
    ("jrb", "贷款、融资、转贷、应急周转、融资担保、上市、发债", "郑凯", "金融服务科科长", "0571-8800-1008", 120),
    ("sfj", "法律服务、法律援助、公证、行政执法监督、合规", "冯磊", "法律服务科科长", "0571-8800-1009", 180),
    (
        "swj",
        "发票、纳税申报、退税、留抵退税、研发费用加计扣除、税收优惠",
        "何静",
        "纳税服务科科长",
        "0571-8800-1010",
        60,
    ),
    ("gdgs", "用电、报装、增容、停电、电费", "高远", "客户服务中心主任", "95598", 30),
    ("swgs", "用水、报装、停水、水压、排水接管", "林峰", "客户服务部经理", "0571-8800-1012", 60),
    ("gxj", "专精特新、技术改造、数字化转型、工业项目、小巨人", "黄婷", "中小企业科科长", "0571-8800-1013", 120),
    ("yingshang", "营商环境、投诉、涉企检查、无事不扰、诉求督办", "刘洋", "营商办督办科科长", "0571-8800-1000", 60),
]


def load_demo_cards(session: Session) -> int:
    if session.scalars(select(ContactCard.id)).first() is not None:
        return 0
    departments = {d.code: d for d in session.scalars(select(Department))}
    for code, matters, person, title, phone, minutes in DEMO_CARDS:
        session.add(
            ContactCard(
                department=departments[code],
                matters=matters,
                person=person,
                title=title,
                phone=phone,
                wecom_user_id=code,
                promise_minutes=minutes,
            )
        )
    return len(DEMO_CARDS)
