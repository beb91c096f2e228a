"""A stand-in for the trained classifier: the real rule layer in front, then fixed answers by substring."""

from __future__ import annotations

from dataclasses import dataclass, field

from nlp import rules
from nlp.classifier import Prediction


@dataclass
class StubClassifier:
    answers: dict = field(default_factory=dict)  # substring of the text -> Prediction
    default: Prediction | None = None  # when nothing matches (None: chitchat)
    threshold: float = 0.5

    def predict(self, text):
        ruled = rules.match(text)
        if ruled:
            return Prediction("other", ruled, 1.0, source="rule")
        for key, prediction in self.answers.items():
            if key in text:
                return prediction
        return self.default or Prediction("other", "chitchat", 1.0, source="rule")
