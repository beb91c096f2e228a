"""Off-topic messages in the bot (issue 15): how many start a ticket, how many appeals are lost to them.

    .venv/bin/python benchmarks/off_topic_eval.py [--set independent2] [--model var/model.joblib]
    .venv/bin/python benchmarks/off_topic_eval.py --candidates current "chars 1-4" …   (nlp/selection.py's)

Each line of the set is the first message of a new user, said to the whole bot in-process
(tests/dialogs/runner.Dialog on a fresh SQLite database with the demo data, the bundled policy
library and the trained classifier), as `assistant` in tests/conftest.py builds it.

- An off_topic line "starts a ticket" when the bot then asks for something only a ticket needs (the
  company name, anonymity, a category, a phone, a confirmation) or creates one. Target <= 0.10.
- A ticket line (one of the 16 categories) is "lost to off_topic" when the bot answers it with the
  off-topic reply (whom the account serves, 12345). Target <= 0.02.

Prints both shares, what the bot did with the off-topic lines (by what it asked next) and the
classifier's own figures on the same lines (argmax), so that the handlers' share can be told apart.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("APPEALBOT_JIEBA_CACHE_DIR", str(ROOT / "var"))

# What the bot asks only on the way to a ticket (handlers/appeal.py's form, handlers/clarify.py's menu).
TICKET_SLOTS = {"company_name", "anonymity", "category", "phone", "confirm"}
TARGET_STARTED = 0.10
TARGET_LOST = 0.02


def outcome(app, text: str) -> str:
    """What the bot did with `text` as a new user's first message: "ticket:<slot>" when it set off
    towards a ticket, "off_topic" when it gave the off-topic answer, else what it asked (or "answer")."""
    from tests.dialogs.runner import Dialog

    dialog = Dialog(app)
    reply = dialog.say(text)
    if dialog.new_tickets:
        return "ticket:created"
    asking = dialog.asking()
    if asking in TICKET_SLOTS:
        return f"ticket:{asking}"
    if (reply.data or {}).get("off_topic"):
        return "off_topic"
    return f"asks:{asking}" if asking else "answer"


def measure(app, examples: Iterable[Any]) -> dict[str, Any]:
    """The two figures over `examples` (objects with .text and .category; "other" intents but
    off_topic are skipped), with the outcomes counted."""
    from nlp.categories import TICKET_CATEGORIES

    off, tickets = Counter(), Counter()
    for e in examples:
        if e.category == "off_topic":
            off[outcome(app, e.text)] += 1
        elif e.category in TICKET_CATEGORIES:
            tickets[outcome(app, e.text)] += 1
    n_off, n_tickets = sum(off.values()), sum(tickets.values())
    started = sum(n for k, n in off.items() if k.startswith("ticket:"))
    return {
        "off_topic_lines": n_off,
        "off_topic_started_ticket": started,
        "started_share": started / n_off if n_off else 0.0,
        "ticket_lines": n_tickets,
        "ticket_lost_to_off_topic": tickets["off_topic"],
        "lost_share": tickets["off_topic"] / n_tickets if n_tickets else 0.0,
        "off_topic_outcomes": dict(off.most_common()),
        "ticket_outcomes": dict(tickets.most_common()),
    }


def classifier_figures(classifier, examples: list[Any]) -> dict[str, float]:
    """The model alone at argmax: off_topic lines taken for something else, ticket lines taken for off_topic."""
    from nlp.categories import TICKET_CATEGORIES

    off = [e for e in examples if e.category == "off_topic"]
    tickets = [e for e in examples if e.category in TICKET_CATEGORIES]
    p_off = classifier.predict_many([e.text for e in off])
    p_tickets = classifier.predict_many([e.text for e in tickets])
    return {
        "off_topic_argmax_missed": sum(p.category != "off_topic" for p in p_off) / max(len(off), 1),
        "off_topic_below_its_threshold": sum(
            p.category == "off_topic" and p.confidence < classifier.intent_threshold_for("off_topic") for p in p_off
        )
        / max(len(off), 1),
        "tickets_argmax_off_topic": sum(p.category == "off_topic" for p in p_tickets) / max(len(tickets), 1),
    }


def build_app(model_path: str):
    from bot.app import create_app
    from bot.demo import load_demo_data
    from bot.schema import upgrade
    from knowledge.bundled import ingest_bundled

    tmp = Path(tempfile.mkdtemp())
    config = {
        "DATABASE_URL": f"sqlite:///{tmp / 'off_topic.db'}",
        "VAR_DIR": str(tmp),
        "MODEL_PATH": model_path,
        "QUEUE": "memory",
        "TESTING": True,
    }
    upgrade(config["DATABASE_URL"])
    app = create_app(config)
    with app.extensions["appealbot"].Session() as s, s.begin():
        load_demo_data(s)
        ingest_bundled(s)
    return app


def compare_candidates(names, set_name: str) -> None:
    """The same figures for pipeline candidates, each trained as `appealbot train` trains (its
    thresholds read off its own out-of-fold curves), with macro-F1 on the set beside them."""
    from nlp.corpus import load_evaluation_sets, load_training
    from nlp.selection import CANDIDATES
    from nlp.training import train

    examples = load_evaluation_sets()[set_name]
    training = load_training()
    tmp = Path(tempfile.mkdtemp())
    for name in names or list(CANDIDATES):
        classifier, report = train(training, options=CANDIDATES[name])
        path = str(tmp / f"{len(list(tmp.iterdir()))}.joblib")
        classifier.save(path)
        figures = measure(build_app(path), examples)
        scores = classifier.metadata["scores"]
        print(
            f"{name:24} started {figures['started_share']:.3f} lost {figures['lost_share']:.3f} | "
            f"{set_name} macro-F1 {scores[set_name]['macro_f1']:.4f} cv {scores['cross_validation']['macro_f1']:.4f} | "
            f"threshold {classifier.threshold:.2f} intents {classifier.intent_threshold:.2f} "
            f"{classifier.intent_thresholds} | "
            + ", ".join(f"{k} {n}" for k, n in figures["off_topic_outcomes"].items()),
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--set", default="independent2", choices=["independent2", "independent"])
    parser.add_argument("--model", default=str(ROOT / "var" / "model.joblib"))
    parser.add_argument(
        "--candidates",
        nargs="*",
        default=None,
        help="train each of nlp/selection.py's candidates (thresholds included) and measure it",
    )
    args = parser.parse_args()
    if args.candidates is not None:
        compare_candidates(args.candidates or None, args.set)
        return

    from nlp.classifier import Classifier
    from nlp.corpus import load_evaluation_sets
    from nlp.training import ensure_model

    print(ensure_model({"MODEL_PATH": args.model}), file=sys.stderr)
    examples = load_evaluation_sets()[args.set]
    app = build_app(args.model)
    figures = measure(app, examples)
    model = classifier_figures(Classifier.load(args.model), examples)
    ok_started = "ok" if figures["started_share"] <= TARGET_STARTED else "MISSED"
    ok_lost = "ok" if figures["lost_share"] <= TARGET_LOST else "MISSED"
    print(f"set: {args.set}")
    print(
        f"off-topic lines that start a ticket: {figures['off_topic_started_ticket']}/{figures['off_topic_lines']} "
        f"= {figures['started_share']:.3f} (target <= {TARGET_STARTED}: {ok_started})"
    )
    print(
        f"ticket lines lost to off_topic: {figures['ticket_lost_to_off_topic']}/{figures['ticket_lines']} "
        f"= {figures['lost_share']:.3f} (target <= {TARGET_LOST}: {ok_lost})"
    )
    print(
        "what the bot did with the off-topic lines: "
        + ", ".join(f"{k} {n}" for k, n in figures["off_topic_outcomes"].items())
    )
    print(
        "what the bot did with the ticket lines: "
        + ", ".join(f"{k} {n}" for k, n in figures["ticket_outcomes"].items())
    )
    print("the classifier alone: " + ", ".join(f"{k} {v:.3f}" for k, v in model.items()))


if __name__ == "__main__":
    main()
