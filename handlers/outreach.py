"""What an enterprise says about being reached: "不要再推送" / "恢复推送", "不要发短信", and what it
tells about itself that policy pushes are matched on ("我们是做棉花加工的", "我们是高新技术企业",
"公司在城东区").

Asked at any time (handlers/router.anytime). A profile statement inside a question or a request is
recorded and the message goes on to be answered as what it is; a message that only says it gets
an acknowledgement.
"""

from __future__ import annotations

import re

from handlers.context import Context
from handlers.messages import Reply
from tickets import service

_SELF = r"(?:我们|我司|本公司|我们公司|咱们|咱|我家|我们厂|我们店|本企业|我们企业)(?:公司|企业|厂|店)?"
STOP_PUSH = re.compile(
    r"(?:不要|别|不用|不想|停止|取消|退订|关闭|关掉|拒收)(?:再|继续)?(?:给我|给我们)?(?:发|推)?(?:送)?"
    r"(?:任何)?(?:政策)?(?:推送|政策消息|政策通知|推荐)"
)
RESUME_PUSH = re.compile(r"(?:恢复|重新|开启|打开|开通|继续)(?:接收)?(?:政策)?推送")
STOP_SMS = re.compile(
    r"(?:不要|别|不用|不想|停止|取消|退订|拒收)(?:再)?(?:给我|给我们)?(?:发|收)?短信|^(?:TD|退订)$", re.IGNORECASE
)
SHORT = 16  # an opt-out is said briefly; a longer message about someone's texts is a complaint, not this
FLAGS = re.compile(
    _SELF + r"(?:也|已经|已)?(?:是|属于|被认定为|认定为|评上了?|获评|拿到了?)(?:一家|个|一个)?"
    r"(?:国家级|省级|市级)?(专精特新|高新技术企业|高新企业|高企|小微企业|小型企业|微型企业|中型企业|大型企业|"
    r"个体户|个体工商户)"
)
INDUSTRY = re.compile(_SELF + r"(?:是)?(?:做|搞|从事|经营|开)([\u4e00-\u9fff]{2,12}?)(?:的|行业|生意|这一行)")
SIZE_OF = {
    "小微企业": "小型",
    "小型企业": "小型",
    "微型企业": "微型",
    "中型企业": "中型",
    "大型企业": "大型",
    "个体户": "个体户",
    "个体工商户": "个体户",
}


def preferences(u, ctx: Context) -> Reply | None:
    text = u.text.strip()
    if len(text) <= SHORT:
        if STOP_SMS.search(text):
            service.enterprise_for(ctx.session, ctx.channel, ctx.user_id, sms_opt_out=True)
            return Reply("好的，以后不再给您发送短信提醒。诉求的答复仍会在这里通知您。")
        if RESUME_PUSH.search(text):
            service.enterprise_for(ctx.session, ctx.channel, ctx.user_id, push_opt_out=False)
            return Reply("已恢复政策推送：有适合贵企业的新政策时会通知您。")
        if STOP_PUSH.search(text):
            service.enterprise_for(ctx.session, ctx.channel, ctx.user_id, push_opt_out=True)
            return Reply("好的，以后不再向您推送政策信息。需要时可随时发送“政策查询”，或回复“恢复推送”。")
    learned = profile_statement(text, ctx)
    if not learned or u.question or u.request or len(text) > 30:
        return None  # recorded (if anything); the message is answered as what it is
    return Reply(f"已记下：{'、'.join(learned)}。有适合贵企业的新政策时会推送给您（回复“不要再推送”可关闭）。")


def profile_statement(text: str, ctx: Context) -> list[str]:
    """Records what the message says about the enterprise; returns what was learned, in words."""
    fields: dict = {}
    learned: list[str] = []
    for m in FLAGS.finditer(text):
        if re.match(r"\s*(?:吗|么|嘛|不|没|？|\?)", text[m.end() :]):
            continue  # "我们是高新企业吗" asks, it does not tell
        word = m.group(1)
        if word == "专精特新":
            fields["specialized"] = True
            learned.append("专精特新企业")
        elif word in ("高新技术企业", "高新企业", "高企"):
            fields["high_tech"] = True
            learned.append("高新技术企业")
        elif word in SIZE_OF:
            fields["size"] = SIZE_OF[word]
            learned.append(word)
    industry = INDUSTRY.search(text)
    if industry and not re.search(r"什么|哪|怎么|吗|这|那|了", industry.group(1)):
        fields["industry"] = industry.group(1)[:64]
        learned.append(f"行业：{industry.group(1)}")
    if re.search(_SELF + r"(?:在|位于|地址在)", text):
        from handlers.media import region_of

        region = region_of(ctx.session, text)
        if region:
            fields["region"] = region
            learned.append(f"地区：{region}")
    if fields:
        service.enterprise_for(ctx.session, ctx.channel, ctx.user_id, **fields)
    return learned
