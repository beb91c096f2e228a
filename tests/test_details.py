"""What a message carries, read before anything is decided (handlers/details.py), and how a reply
picks a numbered option (handlers/conversation.py)."""

from __future__ import annotations

import pytest

from handlers.conversation import Option, pick
from handlers.details import company_name_in, looks_like_company_name, number, phones, rating_in, read, without_contact


@pytest.mark.parametrize(
    "text, expected",
    [
        ("13899912345", ["13899912345"]),
        ("138 9991 2345", ["13899912345"]),
        ("138-9991-2345", ["13899912345"]),
        ("+86 138 9991 2345", ["13899912345"]),
        ("8613899912345", ["13899912345"]),
        ("１３８９９９１２３４５", ["13899912345"]),
        ("0999-8123456", ["09998123456"]),
        ("0999 8123456", ["09998123456"]),
        ("(0999)8123456", ["09998123456"]),
        ("（0999）8123456", ["09998123456"]),
        ("电话0999—8123456谢谢", ["09998123456"]),
        ("合同号2024123456789", []),
        ("123456", []),
        ("报装了2个月", []),
    ],
)
def test_phones_in_every_common_form(text, expected):
    assert phones(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "等一下，办环评找谁？",
        "我的诉求",
        "不想留名字",
        "不用了，我自己去大厅办",
        "好的",
        "确认提交",
        "你们能不能快点",
        "13899912345",
        "我们厂的变压器坏了",
        "知道了",
        "明白了 谢谢",
        "收到",
    ],
)
def test_what_is_not_a_company_name(text):
    assert not looks_like_company_name(text)


def test_a_name_sent_unasked_must_have_an_organisations_shape():
    # at the confirmation nothing asks for a name: a short word is not taken as one
    assert looks_like_company_name("老王烧烤")
    assert not looks_like_company_name("老王家", asked=False)
    assert looks_like_company_name("伊宁市某某商贸有限公司", asked=False)
    assert looks_like_company_name("伊宁市王某拉条子馆", asked=False)


@pytest.mark.parametrize(
    "text, name",
    [
        ("伊宁市某某商贸有限公司", "伊宁市某某商贸有限公司"),
        ("我们是奎屯市某某机械厂 新上了两台设备", "奎屯市某某机械厂"),
        ("企业名称：伊宁市好运来餐饮有限公司", "伊宁市好运来餐饮有限公司"),
        ("我是开小饭馆的个体户", None),
        ("下游一家公司欠我们货款", None),
        ("伊宁市王某拉条子馆", "伊宁市王某拉条子馆"),  # a shop's name with its place, alone
        ("霍城县某某裁缝铺 138 9991 2300", "霍城县某某裁缝铺"),
        ("伊宁市有个饭馆", None),
    ],
)
def test_a_company_name_stated_in_a_message(text, name):
    assert company_name_in(text) == name


@pytest.mark.parametrize(
    "text, value",
    [
        ("满意", 4),
        ("非常满意", 5),
        ("给个4分", 4),
        ("不满意", 2),
        ("非常不满意", 1),
        ("一般", 3),
        ("打5星", 5),
        ("1", None),
        ("我对处理结果非常满意但还有个新问题要反映一下关于用电", None),
    ],
)
def test_ratings_in_words_and_scores(text, value):
    assert rating_in(text) == value


def test_anonymity_is_read_with_its_negation():
    assert read("我要匿名反映").anonymous and not read("不用匿名").anonymous and read("不用匿名").named


def test_contact_details_are_taken_out_before_classifying():
    text = "我们是奎屯市某某机械厂 电话138 9991 2302 新上了两台设备要增容"
    assert without_contact(text, read(text)) == "新上了两台设备要增容"


MENU = [
    Option("confirm", "确认提交", ("确认", "提交", "好的")),
    Option("change", "不是这一类，重新选择", ("重新选择",)),
    Option("cancel", "取消", ("不提交了", "算了")),
]


@pytest.mark.parametrize(
    "text, key",
    [
        ("1", "confirm"),
        ("３", "cancel"),
        ("确认提交", "confirm"),
        ("好的，确认提交吧", "confirm"),
        ("不提交了", "cancel"),
        ("重新选择一下", "change"),
        ("4", None),
        ("天气不错", None),
        ("第二个", "change"),
    ],
)
def test_an_option_is_picked_by_number_label_or_word(text, key):
    assert pick(text, MENU) == key


def test_a_bare_number():
    assert [number(t) for t in ("1", "1.", "选2", "第三个", "12", "1个")] == [1, 1, 2, 3, None, 1]
