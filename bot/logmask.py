"""Personal data never reaches the logs: phone numbers, 统一社会信用代码, ID numbers, names after 联系人/姓名."""
from __future__ import annotations

import logging
import re

_PATTERNS = [
    (re.compile(r"(?<!\d)(\d{6})\d{8}(\d{3}[\dXx])(?!\d)"), r"\1********\2"),  # 居民身份证号
    # 统一社会信用代码: 18 characters from the code's alphabet, starting with a registration-authority digit.
    (re.compile(r"(?<![0-9A-Z])([0-9A-HJ-NPQRTUWXY]{2})[0-9]{6}[0-9A-HJ-NPQRTUWXY]{9}[0-9A-HJ-NPQRTUWXY](?![0-9A-Z])"),
     r"\1****************"),
    (re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)"), r"\1****\2"),  # mobile
    (re.compile(r"(?<!\d)(0\d{2,3}-?)\d{4}(\d{3,4})(?!\d)"), r"\1****\2"),  # landline
    (re.compile(r"((?:联系人|姓名|法人|负责人)[:：\s]*)([\u4e00-\u9fff])[\u4e00-\u9fff]{1,3}"), r"\1\2**"),
]


def mask(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class MaskingFilter(logging.Filter):
    """Installed on the root handlers: masks the formatted message and its arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True
        masked = mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def install() -> None:
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, MaskingFilter) for f in handler.filters):
            handler.addFilter(MaskingFilter())
