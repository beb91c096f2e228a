"""From text to an intent: the rule layer first, then the classifier with its confidence threshold."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Optional

from handlers.context import Classifier
from nlp import rules


@dataclass
class Understanding:
    intent: str  # a key of handlers.registry.INTENTS
    kind: str = "other"
    category: str = ""
    confidence: float = 1.0
    alternatives: list[tuple[str, str, float]] = field(default_factory=list)  # (kind, category, p)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def understand(text: str, classifier: Optional[Classifier]) -> Understanding:
    ruled = rules.match(text)
    if ruled is not None:
        return Understanding(intent=ruled, kind="other", category=ruled)
    if classifier is None:
        # No trained model yet: every free text is treated as an appeal for a person to sort.
        return Understanding(intent="appeal", kind="appeal", category="coordination", confidence=0.0)
    p = classifier.predict(text)
    alternatives = [tuple(a) for a in p.alternatives]
    base = dict(kind=p.kind, category=p.category, confidence=p.confidence, alternatives=alternatives)
    if p.kind == "other":
        return Understanding(intent=p.category, **base)
    if p.confidence < getattr(classifier, "threshold", 0.0):
        return Understanding(intent="clarify", **base)
    if p.kind == "appeal" and p.category == "policy":
        return Understanding(intent="policy", **base)
    return Understanding(intent=p.kind, **base)
