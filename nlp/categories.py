"""The taxonomy of DESIGN.md section 2: codes are a contract, names are what users read."""

APPEAL = {
    "gov_service": "政务服务",
    "operations": "生产经营",
    "social_security": "社会保障",
    "finance": "金融服务",
    "legal": "法律服务",
    "livelihood": "生活保障",
    "policy": "政策咨询",
    "coordination": "其他需协调事项",
}
COMPLAINT = {
    "arbitrary_charges": "四乱",
    "random_inspection": "随意检查",
    "coercive_measures": "强制措施",
    "appraisals": "考评评比",
    "paperwork": "材料报送",
    "forced_membership": "强制入会",
    "surveys_meetings": "调查研究",
    "other_interference": "其他干扰",
}
OTHER = {
    "contact_lookup": "一叫就到",
    "ticket_status": "我的诉求",
    "chitchat": "问候与帮助",
}
KIND_OF = {**{c: "appeal" for c in APPEAL}, **{c: "complaint" for c in COMPLAINT}, **{c: "other" for c in OTHER}}
LABELS = {**APPEAL, **COMPLAINT, **OTHER}
TICKET_CATEGORIES = [*APPEAL, *COMPLAINT]


def label(code: str) -> str:
    return LABELS.get(code, code)


def kind_of(code: str) -> str:
    return KIND_OF[code]
