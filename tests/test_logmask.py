import logging

from bot.logmask import MaskingFilter, mask


def test_personal_data_is_masked():
    text = "电话13912345678 代码91650000MA7ABCDE1X 身份证650102199001011234 联系人：张三丰"
    masked = mask(text)
    for secret in ("13912345678", "91650000MA7ABCDE1X", "650102199001011234", "张三丰"):
        assert secret not in masked
    assert "139****5678" in masked and "联系人：张**" in masked


def test_ordinary_numbers_are_left_alone():
    assert mask("工单 YQ-20261122-0007，金额 20000 元") == "工单 YQ-20261122-0007，金额 20000 元"


def test_filter_masks_formatted_arguments(caplog):
    logger = logging.getLogger("appealbot.test")
    caplog.handler.addFilter(MaskingFilter())
    with caplog.at_level(logging.INFO):
        logger.info("enterprise phone %s", "13800001111")
    assert "13800001111" not in caplog.text and "138****1111" in caplog.text
