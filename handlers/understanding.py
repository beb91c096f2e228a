"""From text to an intent: the classifier (rule layer included) and its confidence threshold."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Optional

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


def understand(text: str, classifier: Optional[Any]) -> Understanding:
    if classifier is None:
        ruled = rules.match(text)
        if ruled is not None:
            return Understanding(intent=ruled, kind="other", category=ruled)
        # No trained model yet: every free text is treated as an appeal for a person to sort.
        return Understanding(intent="appeal", kind="appeal", category="coordination", confidence=0.0)
    p = classifier.predict(text)
    base = dict(kind=p.kind, category=p.category, confidence=p.confidence, alternatives=list(p.alternatives))
    if p.source == "rule" or p.kind == "other":
        return Understanding(intent=p.category, **base)
    if p.confidence < classifier.threshold:
        return Understanding(intent="clarify", **base)
    if p.kind == "appeal" and p.category == "policy":
        return Understanding(intent="policy", **base)
    return Understanding(intent=p.kind, **base)
