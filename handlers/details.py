"""The details a message carries, read before anything is decided: phones in every common form,
a company's name, a 统一社会信用代码, a ticket number, an inspection code, a rating, and the
short answers people give to a question (yes, no, cancel, go on, anonymous) in words or numbers.

Pure functions over text (no database, no classifier), so each is tested on its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from core.ticket_number import parse as parse_ticket_number
from nlp import rules
from tickets import credit_code

# -- phones ----------------------------------------------------------------------------------------
# A run of digits with the separators people type between them (spaces, dashes, brackets, dots);
# what it means is decided on its digits alone.
_DIGIT_RUN = re.compile(r"(?:\+|＋)?[\d(（][\d\s\-—–.()（）]{5,22}\d")


def phones(text: str) -> list[str]:
    """Mobile (11 digits, 1[3-9]…) and landline (0 + area code + 7–8 digits) numbers, digits only:
    13899912345, 138 9991 2345, 138-9991-2345, +86 138…, 0999-8123456, 0999 8123456, (0999)8123456."""
    found = []
    for m in _DIGIT_RUN.finditer(rules.normalise(text)):
        digits = re.sub(r"\D", "", m.group())
        if digits.startswith("86") and len(digits) == 13 and digits[2] == "1":
            digits = digits[2:]
        elif digits.startswith("860") and len(digits) in (12, 13, 14):
            digits = digits[2:]
        if re.fullmatch(r"1[3-9]\d{9}", digits) or re.fullmatch(r"0\d{2,3}\d{7,8}", digits) and 10 <= len(digits) <= 12:
            found.append(digits)
    return list(dict.fromkeys(found))


def mask_phone(phone: str) -> str:
    """138****5678: enough to recognise one's own number in a confirmation, not to read it off."""
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 8 else phone


# -- company names ---------------------------------------------------------------------------------
ORG_SUFFIX = (
    "有限责任公司",
    "股份有限公司",
    "有限公司",
    "分公司",
    "集团",
    "公司",
    "加工厂",
    "厂",
    "合作社",
    "农场",
    "牧场",
    "养殖场",
    "门市部",
    "经营部",
    "批发部",
    "商行",
    "商店",
    "超市",
    "便利店",
    "店",
    "酒店",
    "宾馆",
    "饭店",
    "餐厅",
    "餐馆",
    "饭馆",
    "工作室",
    "事务所",
    "诊所",
    "药店",
    "药房",
    "中心",
    "研究院",
    "学校",
    "幼儿园",
    "驾校",
    "车行",
    "工程队",
    "合伙企业",
    "个体工商户",
    "作坊",
    "面馆",
    "烧烤",
    "火锅",
    "茶楼",
    # a 个体户's shop is named by what it is: 拉条子馆, 裁缝铺, 豆腐坊
    "馆",
    "铺",
    "坊",
    "旅行社",
    "加油站",
)
_SUFFIX = "|".join(sorted(map(re.escape, ORG_SUFFIX), key=len, reverse=True))
_NAME_CHARS = r"[\u4e00-\u9fa5A-Za-z0-9（）()·&\-]"
# "我们是奎屯市某某机械厂", "企业名称：伊宁市某某有限公司", "公司叫某某", or a name standing alone.
_NAMED = re.compile(
    rf"(?:我们是|我是|我们这边是|我们公司是|我们公司叫|我们厂叫|我们店叫|公司名(?:称|字)?(?:是|叫|为)?|企业名(?:称|字)?(?:是|叫|为)?|"
    rf"单位(?:名称|是)|店名(?:是|叫)?|名称)[:：\s]*({_NAME_CHARS}{{2,40}}?(?:{_SUFFIX}))"
)
_STANDING = re.compile(rf"^({_NAME_CHARS}{{2,40}}?(?:{_SUFFIX}))$")
_EMBEDDED = re.compile(
    rf"((?:[\u4e00-\u9fa5]{{2,6}}(?:市|县|区|州|镇|乡|旗))?{_NAME_CHARS}{{2,30}}?(?:有限责任公司|股份有限公司|有限公司|合作社))"
)
# A whole message that is a place and a shop's name ("伊宁市王某拉条子馆"): a name even without 有限公司.
_PLACED = re.compile(
    rf"^((?:[\u4e00-\u9fa5]{{2,6}}(?:市|县|区|州|镇|乡|旗)){_NAME_CHARS}{{2,30}}?(?:{_SUFFIX}))(?:[\s,，、]+[\d\s\-]{{7,}})?$"
)
_NOT_A_NAME_START = (
    "我们",
    "我",
    "你们",
    "贵",
    "这家",
    "那家",
    "一家",
    "某家",
    "一个",
    "这个",
    "那个",
    "本",
    "该",
    "其他",
    "别的",
    "隔壁",
    "对方",
    "下游",
    "上游",
    "供电",
    "自来水",
    "燃气",
    "开",
    "做",
    "搞",
    "干",
    "卖",
    "经营",
    "在",
    "是",
    "个体",
    "小",
    "家",
    "的",
)
# Words that never stand in an organisation's name but do in a refusal, a question or a command.
_NOT_A_NAME_WORDS = re.compile(
    r"不想|不用|不要|不方便|不留|不告诉|算了|匿名|保密|不说|先不|为什么|干嘛|凭什么|怎么|什么|"
    r"吗|呢|吧|？|\?|哪|谁|多少|能不能|可以|可不可以|是否|帮我|请|谢谢|你好|您好|诉求|投诉|举报|"
    r"查询|进度|取消|继续|提交|确认|电话|手机|号码|等一下|等等|稍等|我的|我们的|我自己|大厅|有个|有家|有一家|"
    # acknowledgements and small talk
    r"知道了|明白|了解了|懂了|好的|好嘞|收到|没问题|没事|不客气|辛苦|再见|拜拜|哈哈|嗯|哦|噢"
)


def company_name_in(text: str) -> str | None:
    """A company's name the message states ("我们是…机械厂", "…有限公司"), or None."""
    clean = rules.normalise(text)
    for pattern in (_NAMED, _EMBEDDED, _PLACED):
        for m in pattern.finditer(clean):
            name = m.group(1).strip(" ，,。.:：")
            if _plausible_name(name):
                return name
    return None


def looks_like_company_name(text: str, *, asked: bool = True) -> bool:
    """An answer to "请告诉我们企业名称": an organisation's name, not a question, refusal or command.
    A name sent when none was asked (at the confirmation) must have an organisation's shape (…有限公司,
    …超市, a place and a shop's name): "知道了" there is an acknowledgement, not a new name."""
    if one_of(text, YES + NO + CANCEL + CONTINUE):
        return False
    name = strip_name(text)
    if not _plausible_name(name):
        return False
    return bool(_STANDING.match(name) or _PLACED.match(name)) or (asked and len(name) <= 20)


def strip_name(text: str) -> str:
    """What is left of an answer once its politeness and labels are taken off: "我们是X" → "X"."""
    clean = rules.normalise(text).strip(" ，,。.!！~～:：")
    clean = re.sub(
        r"^(?:我们是|我是|我们这边是|是|叫|名称是|企业名称[:：]?|公司名称[:：]?|公司名[:：]?|单位名称[:：]?|就是)",
        "",
        clean,
    )
    return clean.strip(" ，,。.!！~～:：")


def _plausible_name(name: str) -> bool:
    if not (2 <= len(name) <= 60) or name.startswith(_NOT_A_NAME_START) or _NOT_A_NAME_WORDS.search(name):
        return False
    if not re.search(r"[\u4e00-\u9fa5A-Za-z]", name) or re.search(r"\d{6,}", name):
        return False
    return not re.search(r"[，,。！!；;]", name)


# -- other identifiers -----------------------------------------------------------------------------
CREDIT = re.compile(r"(?<![0-9A-Z])[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}(?![0-9A-Z])")
INSPECTION_CODE = re.compile(r"(?<![A-Za-z0-9])([A-HJ-NP-Z]{3}[2-9]{3})(?![A-Za-z0-9])")


def credit_codes(text: str) -> list[str]:
    """Well-formed 统一社会信用代码 (validity of the check digit is a separate question)."""
    return CREDIT.findall(rules.normalise(text).upper())


def valid_credit_code(code: str) -> bool:
    return credit_code.is_valid(code)


def ticket_number(text: str) -> str | None:
    return parse_ticket_number(rules.normalise(text))


# -- ratings ---------------------------------------------------------------------------------------
_RATING_WORDS = [  # longest first: 非常不满意 before 满意
    ("非常不满意", 1),
    ("很不满意", 1),
    ("特别不满意", 1),
    ("极不满意", 1),
    ("太差了", 1),
    ("差评", 1),
    ("很差", 1),
    ("不太满意", 2),
    ("不满意", 2),
    ("不怎么满意", 2),
    ("没解决", 2),
    ("没有解决", 2),
    ("基本满意", 3),
    ("一般般", 3),
    ("一般", 3),
    ("还行", 3),
    ("凑合", 3),
    ("马马虎虎", 3),
    ("还可以", 3),
    ("比较满意", 4),
    ("挺满意", 4),
    ("满意", 4),
    ("不错", 4),
    ("挺好", 4),
    ("非常满意", 5),
    ("很满意", 5),
    ("特别满意", 5),
    ("十分满意", 5),
    ("太满意了", 5),
    ("好评", 5),
    ("非常好", 5),
    ("五星", 5),
]
_RATING_WORDS.sort(key=lambda x: -len(x[0]))
_SCORE = re.compile(r"(?:给|打|评|评价)?\s*(?:个|一个)?\s*([1-5一二三四五])\s*(?:分|星|颗星)")
_CN_DIGIT = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5}


def rating_in(text: str) -> int | None:
    """A rating in words or as "4分" (a bare digit is not one here: it may answer another question)."""
    clean = rules.normalise(text).replace(" ", "")
    if len(clean) > 20:
        return None  # a long message is a story, not a rating
    m = _SCORE.search(clean)
    if m:
        value = m.group(1)
        return _CN_DIGIT.get(value) or int(value)
    for word, value in _RATING_WORDS:
        if word in clean:
            return value
    return None


# -- short answers ---------------------------------------------------------------------------------
YES = (
    "确认提交",
    "确认",
    "确定",
    "提交",
    "提交吧",
    "好的提交吧",
    "好的",
    "好",
    "好吧",
    "是",
    "是的",
    "对",
    "对的",
    "可以",
    "行",
    "没问题",
    "嗯",
    "嗯嗯",
    "ok",
    "OK",
    "yes",
    "就这样",
    "就这样吧",
    "麻烦了",
    "麻烦你们了",
    "辛苦了",
    "要",
    "需要",
    "反映",
    "帮我提交",
)
# An acknowledgement: neither yes nor no. At an open question it gets the question again, not a guess.
ACKNOWLEDGED = ("知道了", "知道", "明白", "明白了", "了解", "了解了", "懂了", "收到", "哦", "噢", "晓得了", "清楚了")
NO = (
    "不用",
    "不用了",
    "不需要",
    "不要",
    "不要了",
    "不了",
    "没有",
    "没事了",
    "不提交",
    "不提交了",
    "先不提交",
    "先不了",
    "不反映了",
    "否",
    "no",
    "不是",
)
CANCEL = (
    "取消",
    "算了",
    "算了吧",
    "不提交了",
    "先不提交了",
    "不用了",
    "不要了",
    "不办了",
    "撤销",
    "撤回",
    "放弃",
    "不反映了",
    "取消提交",
)
CONTINUE = (
    "继续",
    "继续提交",
    "接着提交",
    "接着",
    "继续吧",
    "接着办",
    "刚才的",
    "刚才那个",
    "回到刚才",
    "提交刚才的诉求",
)
ANONYMOUS = re.compile(
    r"匿名|不想留名|不留名|不愿意?留名|不想透露|不想让(他们|部门|别人)知道|保密|不要暴露|别暴露|不想暴露"
)
NOT_ANONYMOUS = re.compile(r"不(用|要|需要|必)?匿名|无需匿名|没必要匿名")
NAMED = re.compile(r"实名|可以留名|不用匿名|不匿名|不要匿名|公开也行|可以公开")


def bare(text: str) -> str:
    """The message as a short answer: normalised, without spaces, trailing punctuation or emoji."""
    clean = rules.normalise(text).strip()
    clean = re.sub(r"[\s。.!！~～,，、…]+$", "", clean)
    clean = re.sub(r"^[\s。.!！~～,，、]+", "", clean)
    return re.sub(r"[\U0001F300-\U0001FAFF\u2600-\u27BF]", "", clean).strip()


def number(text: str) -> int | None:
    """A bare option number: "1", "1.", "１", "选1", "第一个", "一"."""
    clean = bare(text).replace(" ", "")
    m = re.fullmatch(r"(?:选|选择|回复|第)?\s*([0-9]|[一二三四五六七八九])\s*(?:个|项|号|条)?", clean)
    if not m:
        return None
    value = m.group(1)
    return int(value) if value.isdigit() else "一二三四五六七八九".index(value) + 1


def one_of(text: str, words) -> bool:
    return bare(text).lower() in {w.lower() for w in words}


@dataclass
class Details:
    """Everything a message carries besides what it is about."""

    phones: list[str] = field(default_factory=list)
    company: str | None = None
    credit_codes: list[str] = field(default_factory=list)
    ticket: str | None = None
    inspection_code: str | None = None
    rating: int | None = None
    anonymous: bool = False
    named: bool = False

    @property
    def contact(self) -> bool:
        return bool(self.phones or self.company or self.credit_codes)


def read(text: str) -> Details:
    clean = rules.normalise(text)
    code = (
        INSPECTION_CODE.search(clean.upper())
        if re.search(r"备案码|核验码|检查码", clean) or INSPECTION_CODE.fullmatch(clean.strip().upper())
        else None
    )
    return Details(
        phones=phones(clean),
        company=company_name_in(clean),
        credit_codes=credit_codes(clean),
        ticket=ticket_number(clean),
        inspection_code=code.group(1) if code else None,
        rating=rating_in(clean),
        anonymous=bool(ANONYMOUS.search(NOT_ANONYMOUS.sub("", clean))),
        named=bool(NAMED.search(clean)),
    )


def without_contact(text: str, details: Details) -> str:
    """The message with the company's name, phones and codes taken out: what is left says what it is
    about, and a classifier trained on problems is not swayed by "有限公司" or eleven digits."""
    clean = rules.normalise(text)
    if details.company:
        clean = clean.replace(details.company, " ")
    clean = _DIGIT_RUN.sub(lambda m: " " if re.sub(r"\D", "", m.group()) and phones(m.group()) else m.group(), clean)
    clean = CREDIT.sub(" ", clean)
    clean = re.sub(
        r"(?:我们是|我是|企业名称[:：]?|公司名称[:：]?|联系电话[:：]?|电话[:：]?|手机[:：]?|手机号[:：]?)\s*(?=\s|$|[，,。])",
        " ",
        clean,
    )
    return " ".join(clean.split())
