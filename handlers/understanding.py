"""What a message means, read once, before any open question or flow decides what to do with it.

- the details it carries (handlers/details.py): phones, a company name, codes, a rating, yes/no words;
- whether it asks something (a question) and whether it asks the government to act (a request);
- its intent with a confidence: the rule layer, then the classifier on the text with the contact
  details taken out; ticket categories and the other intents each have a threshold below which the
  bot does not act on the guess;
- whether the policy library answers it (knowledge.answer), asked only when it is a question.
The classifier and the library are consulted lazily: a phone number typed at the phone prompt costs
neither.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from handlers.details import Details, read, without_contact
from nlp import rules
from nlp.categories import KIND_OF, TICKET_CATEGORIES

# What asks something. A complaint phrased with one ("搞什么评比") is looked up too: the library answers
# it only when it is sure, and the offer to report it follows the answer.
QUESTION = re.compile(
    r"吗|[?？]|怎么|怎样|如何|多少|多久|多长|几天|几个|几年|几级|几点|几号|哪天|在哪|哪些|哪个|哪里|哪一|哪类|"
    r"是否|能否|能不能|可不可以|行不行|有没有|算不算|要不要|该不该|会不会|是不是|谁来|谁管|找谁|向谁|咋|呢$|"
    # "这钱谁出", "得谁同意", "归哪边管", "复议找哪一级"
    r"谁(出|付|掏|承担|负责|赔|批|同意|点头|说了算|举证|拿证据)|哪边|哪一级|哪级|哪方|哪家|"
    # "告我们还是告派遣公司" (not "还是没解决"); "合规不", "有说法没", "有时间要求没有"
    r"\S{2}还是(?!没|不(?!用|需要|要|是|给|算|交|缴)|一样|老样子|那样|很|太|要|得|会|希望|想|请|麻烦)|(合规|合法|违法|合理|正常|行|可以|对|算|有说法)(不|没|没有)$|"
    r"有.{1,20}没有?$|"
    r"(?<!搞)(?<!弄)(?<!参加)(?<!整)(?<!填)(?<!交)(?<!开)什么(?!都|也)|啥(?!事没有|事也没有|也|都|事都)"
)
# Asking the government to do something: an appeal even when phrased as a question ("能不能帮忙协调").
REQUEST = re.compile(
    r"帮忙|帮帮|帮我|帮一下|协调|催一下|催促|督促|过问|给个说法|解决一下|处理一下|尽快|抓紧|赶紧|"
    r"请.{0,8}(解决|处理|帮|落实|推动|跟进|核查|调查|查处|管管|出面)|麻烦.{0,8}(解决|处理|帮|跟进|问问)|"
    r"反映|投诉|举报|要求|希望.{0,10}(解决|处理|尽快|帮)"
)
# "办环评找谁", "公积金中心电话多少": whom to contact is asked in a few fixed ways.
CONTACT = re.compile(
    r"找谁|向谁|跟谁|找哪个|找哪里|找哪|去哪(里|儿)?办|哪个部门|哪个单位|谁负责|谁管|归谁管|归哪|电话多少|电话是多少|"
    r"电话号码|联系方式|怎么联系|联系电话|联系人|对接人|负责人是谁"
)
CALL_ME = re.compile(
    r"^(请|麻烦|你们)?.{0,4}(联系我|给我回(个)?电话|回个电话|派(个)?人(过来|来)|来一趟|上门(一趟)?)"
    r"[吧。!！，,\s]*(有(点)?(急事|事)|急事|很急|比较急|挺急的|尽快|快点)?[吧。!！]*$"
)
# "水压太低 找谁反映": asks whom to report to — a contact question, though it says 反映.
ASKS_WHERE_TO_REPORT = re.compile(r"(找谁|向谁|跟谁|找哪个部门|找哪里|去哪(里|儿)?)(反映|投诉|举报|说|问)")
OFFICIAL_COMMAND = re.compile(r"^(签收|办结|答复|退回|退单|提级|办不了|补充材料|延期|备注|查看|待办)(\s|$|YQ|yq)")


@dataclass
class Understanding:
    text: str  # the message, normalised
    classifier: Any = field(default=None, repr=False)

    @cached_property
    def details(self) -> Details:
        return read(self.text)

    @cached_property
    def topic(self) -> str:
        """What the message is about: the text without its contact details."""
        return without_contact(self.text, self.details)

    @property
    def only_details(self) -> bool:
        """Nothing but a name, a phone or a code ("伊宁市某某有限公司 13899912345")."""
        return self.details.contact and len(re.sub(r"[\s\W_]", "", self.topic)) <= 2

    @cached_property
    def question(self) -> bool:
        return bool(QUESTION.search(self.text))

    @cached_property
    def request(self) -> bool:
        return bool(REQUEST.search(self.text))

    @cached_property
    def asks_contact(self) -> bool:
        return bool(CONTACT.search(self.topic))

    # -- the intent ---------------------------------------------------------------------------------
    @cached_property
    def _prediction(self):
        ruled = rules.match(self.topic or self.text)
        if ruled is not None:
            return ("rule", "other" if ruled != "policy" else "appeal", ruled, 1.0, [])
        if self.classifier is None:
            # No trained model yet: free text is an appeal for a person to sort.
            return ("none", "appeal", "coordination", 0.0, [])
        p = self.classifier.predict(self.topic or self.text)
        return (getattr(p, "source", "model"), p.kind, p.category, p.confidence, list(p.alternatives))

    @property
    def source(self) -> str:
        return self._prediction[0]

    @property
    def kind(self) -> str:
        return self._prediction[1]

    @property
    def category(self) -> str:
        return self._prediction[2]

    @property
    def confidence(self) -> float:
        return self._prediction[3]

    @property
    def alternatives(self) -> list[tuple[str, str, float]]:
        return self._prediction[4]

    @cached_property
    def intent(self) -> str:
        """The handler to use. Below its threshold a ticket category becomes "clarify" (ask which) and
        another intent "unsure" (answer from the library if it can, else ask)."""
        source, kind, category, confidence, _ = self._prediction
        if source == "rule":
            return category
        if (self.asks_contact and (not self.request or ASKS_WHERE_TO_REPORT.search(self.text))) or CALL_ME.search(
            self.text
        ):
            return "contact_lookup"
        if source == "none":
            return "appeal"
        if kind == "other":
            return category if confidence >= self.intent_threshold_for(category) else "unsure"
        if confidence < self.threshold:
            return "clarify"
        return "policy" if category == "policy" else kind

    @property
    def threshold(self) -> float:
        return getattr(self.classifier, "threshold", 0.5)

    @property
    def intent_threshold(self) -> float:
        return getattr(self.classifier, "intent_threshold", None) or self.threshold

    def intent_threshold_for(self, category: str) -> float:
        """An intent's own threshold when the model has one (nlp/training.py), else the shared one."""
        own = getattr(self.classifier, "intent_thresholds", None) or {}
        return own[category] if category in own else self.intent_threshold

    def confident(self, intents: tuple[str, ...]) -> bool:
        """The message is surely one of these intents (not a guess below the thresholds)."""
        return self.intent in intents

    def ticket_guess(self) -> str | None:
        """The likeliest ticket category, even below the threshold (for "clarify" and offers)."""
        codes = [self.category] + [c for _, c, _ in self.alternatives]
        return next((c for c in codes if c in TICKET_CATEGORIES), None)

    @property
    def ticket_kind(self) -> str:
        guess = self.ticket_guess()
        return KIND_OF[guess] if guess else "appeal"

    # -- the library --------------------------------------------------------------------------------
    _answer: Any = field(default=None, init=False, repr=False)
    _answered: bool = field(default=False, init=False, repr=False)

    def answer(self, session) -> Any | None:
        """knowledge.answer for this message, asked once."""
        if not self._answered:
            from knowledge.answer import answer

            self._answer = answer(session, self.topic or self.text)
            self._answered = True
        return self._answer


def understand(text: str, classifier: Any | None) -> Understanding:
    return Understanding(rules.normalise(text or ""), classifier)
