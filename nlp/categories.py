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
    "off_topic": "非企业事项",
}
KIND_OF = {**{c: "appeal" for c in APPEAL}, **{c: "complaint" for c in COMPLAINT}, **{c: "other" for c in OTHER}}
LABELS = {**APPEAL, **COMPLAINT, **OTHER}
TICKET_CATEGORIES = [*APPEAL, *COMPLAINT]


def label(code: str) -> str:
    return LABELS.get(code, code)


def kind_of(code: str) -> str:
    return KIND_OF[code]


# One-line scopes shown when the bot asks the user to choose (DESIGN.md section 2, shortened).
HINTS = {
    "gov_service": "审批、执照、资质、年检、知识产权",
    "operations": "用地、水电气、安全生产、环保手续",
    "social_security": "公积金、用工、社保、医保",
    "finance": "贷款、融资担保、转贷、上市发债",
    "legal": "法院、检察院、司法等法律服务",
    "livelihood": "人才医疗、子女入学、住房",
    "policy": "涉企政策咨询与解读",
    "coordination": "需要政府协调的其他事项",
    "arbitrary_charges": "乱罚款、乱收费、乱查封",
    "random_inspection": "未经批准的检查、选择性执法",
    "coercive_measures": "扣押、停发发票、强行补税、停工停产",
    "appraisals": "无益的考评、评比、排名",
    "paperwork": "无依据的报表、材料报送",
    "forced_membership": "强制加入协会、学会",
    "surveys_meetings": "无意义的调研、会议、观摩",
    "other_interference": "其他干扰正常经营的行为",
}
