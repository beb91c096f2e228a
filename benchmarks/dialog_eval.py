"""Run scripted conversations against the bot (in-process, no HTTP) and report how many pass.

    .venv/bin/python benchmarks/dialog_eval.py [tests/dialogs/independent.jsonl …] [--show-failures] [--only ID]

Each conversation runs as a new user on one fresh SQLite database holding the demo data, the bundled
policy library and the trained classifier (var/model.joblib, trained if missing). Prints the share of
conversations that pass, the share that reach the right ticket without a wrong slot stored, and each
failure with its transcript.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("APPEALBOT_JIEBA_CACHE_DIR", str(ROOT / "var"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("files", nargs="*", default=[str(ROOT / "tests/dialogs/independent.jsonl")])
    parser.add_argument("--show-failures", action="store_true")
    parser.add_argument("--only", default=None)
    parser.add_argument(
        "--policy-questions",
        default=None,
        metavar="SET",
        help="instead: type each question of a search question set (tune, independent) into the chat",
    )
    args = parser.parse_args()

    from bot.app import create_app
    from bot.demo import load_demo_data
    from bot.schema import upgrade
    from knowledge.bundled import ingest_bundled
    from nlp.training import ensure_model
    from tests.dialogs import runner

    tmp = Path(tempfile.mkdtemp())
    model = str(ROOT / "var" / "model.joblib")
    config = {
        "DATABASE_URL": f"sqlite:///{tmp / 'dialogs.db'}",
        "VAR_DIR": str(tmp),
        "MODEL_PATH": model,
        "QUEUE": "memory",
        "TESTING": True,
    }
    print(ensure_model(config), file=sys.stderr)
    upgrade(config["DATABASE_URL"])
    app = create_app(config)
    state = app.extensions["appealbot"]
    with state.Session() as s, s.begin():
        load_demo_data(s)
        ingest_bundled(s)
    if args.policy_questions:
        return policy_questions(app, args.policy_questions, args.show_failures)
    scenarios = [s for f in args.files for s in runner.load(f) if not args.only or s["id"] == args.only]
    outcomes = [runner.run(app, s) for s in scenarios]
    passed = sum(o.passed for o in outcomes)
    ticket_ok = [o for o in outcomes if any("ticket" in (t.get("expect") or {}) for t in o.scenario["turns"])]
    clean = sum(not any("ticket" in p or "stored" in p for p in o.problems) for o in ticket_ok)
    print(f"conversations: {len(outcomes)}, passed {passed} ({passed / max(len(outcomes), 1):.2f})")
    print(
        f"conversations ending in a ticket: {len(ticket_ok)}, right ticket and no wrong slot stored: "
        f"{clean} ({clean / max(len(ticket_ok), 1):.2f})"
    )
    if args.show_failures:
        for o in outcomes:
            if o.passed:
                continue
            print(f"\n== {o.scenario['id']}: {o.scenario.get('about', '')}")
            for p in o.problems:
                print(f"   ! {p}")
            for said, answered in o.transcript:
                print(f"   > {said}\n     {answered.replace(chr(10), chr(10) + '     ')}")


def policy_questions(app, name: str, show: bool) -> None:
    """Each question as a new enterprise's first message: does the reply show the right clause first
    (answerable), or no clause (unanswerable)?"""
    from knowledge.evaluation import is_right, load_questions
    from tests.dialogs import runner

    questions = load_questions(name)
    right = wrong = none = abstained = shown_unanswerable = 0
    for q in questions:
        citations = runner.Dialog(app).say(q["question"]).data.get("citations") or []
        if q.get("source"):
            if not citations:
                none += 1
            elif is_right(citations[0]["source"], citations[0]["clause"], q):
                right += 1
            else:
                wrong += 1
                if show:
                    print(f"wrong: {q['question']} -> {citations[0]['title']} {citations[0]['clause']}")
        elif citations:
            shown_unanswerable += 1
        else:
            abstained += 1
    answerable = right + wrong + none
    print(
        f"{name}: {answerable} answerable questions typed into the chat: right clause first {right} "
        f"({right / max(answerable, 1):.2f}), another clause {wrong} ({wrong / max(answerable, 1):.2f}), "
        f"no clause {none} ({none / max(answerable, 1):.2f})"
    )
    print(
        f"{name}: {abstained + shown_unanswerable} unanswerable: no clause {abstained} "
        f"({abstained / max(abstained + shown_unanswerable, 1):.2f})"
    )


if __name__ == "__main__":
    main()
