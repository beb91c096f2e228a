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


def digits_of(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


PHONES = [
    "+86 138 9991 2345",
    "+8613899912346",
    "138-9991-2347",
    "１３８９９９１２３４８",
    "0991-8881234",
    "(0991) 888 1235",
    "138 9991 2349",
]


def test_plus_86_dashed_spaced_and_full_width_numbers_are_masked():
    for phone in PHONES:
        masked = mask(f"电话：{phone}。")
        assert digits_of(phone)[-8:-4] not in digits_of(masked), (phone, masked)


def masked_log():
    """A handler as `appealbot` installs it: the masking filter on the root's handlers."""
    import io

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(MaskingFilter())
    return handler, stream


def test_a_traceback_does_not_carry_personal_data_into_the_log_or_the_inbox(app, wechat, monkeypatch):
    # The audit: SQL parameters with phone numbers reached the log through tracebacks.
    from sqlalchemy import select, text

    from handlers.models import InboundMessage
    from handlers.registry import INTENTS

    def failing(message, ctx):
        ctx.session.execute(text("INSERT INTO no_such_table (phone) VALUES (:phone)"), {"phone": "13899912345"})

    def shouting(message, ctx):
        raise ValueError(f"bad contact {message.text}")

    handler, stream = masked_log()
    logging.getLogger().addHandler(handler)
    try:
        monkeypatch.setitem(INTENTS, "appeal", failing)
        wechat.say("我的电话 13899912345 请回电", user="oLog1")
        monkeypatch.setitem(INTENTS, "appeal", shouting)
        wechat.say("厂里停电了 联系电话 +86 138-9991-2345 或 １３８９９９１２３４５", user="oLog2")
    finally:
        logging.getLogger().removeHandler(handler)
    output = stream.getvalue()
    assert "Traceback" in output and "no_such_table" in output  # the traceback is kept, masked
    for secret in ("99912345", "9991-2345", "９９９１２３４５"):
        assert secret not in output, output
    with app.extensions["appealbot"].Session() as s:
        errors = [m.error for m in s.scalars(select(InboundMessage))]
    assert len(errors) == 2 and all(errors)
    assert not any(secret in e for e in errors for secret in ("99912345", "9991-2345", "９９９１２３４５")), errors


def test_the_database_error_itself_hides_its_parameters(app):
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    engine = app.extensions["appealbot"].engine
    try:
        with engine.connect() as conn:
            conn.execute(text("INSERT INTO no_such_table (phone) VALUES (:phone)"), {"phone": "13899912345"})
    except DBAPIError as exc:
        assert "13899912345" not in str(exc) and "hidden" in str(exc)
    else:
        raise AssertionError("the statement should have failed")
