import pytest

from nlp.rules import match, normalise


@pytest.mark.parametrize(
    "text,intent",
    [
        ("我要反映问题", "appeal_start"),
        ("政策查询", "policy"),
        ("一叫就到", "contact_lookup"),
        ("我的诉求", "ticket_status"),
        ("YQ-20261122-0007 怎么样了", "ticket_status"),
        ("yq-20261122-0007", "ticket_status"),
        ("你好", "chitchat"),
        ("在吗", "chitchat"),
        ("谢谢！", "chitchat"),
        ("", "chitchat"),
        ("   ", "chitchat"),
        ("😀😀😀", "chitchat"),
        ("12345", "chitchat"),
        ("\x00\x07\x1b", "chitchat"),
    ],
)
def test_unambiguous_messages_are_decided_by_rules(text, intent):
    assert match(text) == intent


@pytest.mark.parametrize(
    "text", ["你好，请问办环评找谁", "电费太贵了", "被罚了两千块没给单子", "I need a loan for my factory"]
)
def test_everything_else_goes_to_the_model(text):
    assert match(text) is None


def test_normalise_folds_width_whitespace_and_control_characters():
    assert normalise("ＡＢＣ\t 电费\x00贵") == "ABC 电费 贵"
