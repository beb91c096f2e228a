"""Personal data never reaches the logs: phone numbers, 统一社会信用代码, ID numbers, names after 联系人/姓名.

The log line, its arguments and its traceback are all masked; numbers are first read the way a
person writes them (full-width digits, +86, spaces and dashes between the groups).
"""

from __future__ import annotations

import logging
import re

# Full-width digits and signs as typed on a Chinese keyboard read as their ASCII twins.
_HALF_WIDTH = str.maketrans("０１２３４５６７８９＋－（）　", "0123456789+-() ")
_SEP = r"[\s\-]?"  # what people put between the groups of a number

_PATTERNS = [
    (re.compile(r"(?<!\d)(\d{6})\d{8}(\d{3}[\dXx])(?!\d)"), r"\1********\2"),  # 居民身份证号
    # 统一社会信用代码: 18 characters from the code's alphabet, starting with a registration-authority digit.
    (
        re.compile(
            r"(?<![0-9A-Z])([0-9A-HJ-NPQRTUWXY]{2})[0-9]{6}[0-9A-HJ-NPQRTUWXY]{9}[0-9A-HJ-NPQRTUWXY](?![0-9A-Z])"
        ),
        r"\1****************",
    ),
    # mobile, with or without +86, grouped 3-4-4 by spaces or dashes or not at all
    (re.compile(rf"(?<![\d+])((?:\+?86{_SEP})?1[3-9]\d){_SEP}\d{{4}}{_SEP}(\d{{4}})(?!\d)"), r"\1****\2"),
    # landline: area code (perhaps in brackets), then 7 or 8 digits, perhaps grouped
    (re.compile(rf"(?<!\d)(\(?0\d{{2,3}}\)?{_SEP})\d{{3,4}}{_SEP}(\d{{3,4}})(?!\d)"), r"\1****\2"),
    (re.compile(r"((?:联系人|姓名|法人|负责人)[:：\s]*)([\u4e00-\u9fff])[\u4e00-\u9fff]{1,3}"), r"\1\2**"),
]


def mask(text: str) -> str:
    text = text.translate(_HALF_WIDTH)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class MaskingFilter(logging.Filter):
    """Installed on the root handlers: masks the formatted message, its arguments and its traceback."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True
        masked = mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            # Formatted here, once, so that every handler prints the masked text (a Formatter reuses
            # exc_text when it is set). An exception's text can quote SQL parameters or user input.
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask(record.exc_text)
        if record.stack_info:
            record.stack_info = mask(record.stack_info)
        return True


def install() -> None:
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, MaskingFilter) for f in handler.filters):
            handler.addFilter(MaskingFilter())
