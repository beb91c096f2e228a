"""`appealbot train | evaluate | classify`; bot/cli registers everything in COMMANDS."""

from __future__ import annotations

import json
import sys
import time

import click
from flask.cli import with_appcontext

from bot.cli.context import flask_app
from nlp.categories import label


def _config():
    app = flask_app()
    return app, app.config


def _model(config):
    from nlp.classifier import load_if_present

    model = load_if_present(config["MODEL_PATH"])
    if model is None:
        raise click.ClickException(f"no trained model at {config['MODEL_PATH']}: run `appealbot train` first")
    return model


@click.command()
@click.option("--include-corrections", is_flag=True, help="Add officials' category corrections to the training data.")
@click.option("--seed", type=int, default=None, help="Random seed (default: the project's fixed seed).")
@with_appcontext
def train(include_corrections: bool, seed: int | None) -> None:
    """Train the classifier (deterministic) and write it with its metadata."""
    from nlp import training
    from nlp.corpus import load_training

    app, config = _config()
    extra = []
    if include_corrections:
        with app.extensions["appealbot"].Session() as session:
            extra = training.load_corrections(session)
        click.echo(f"corrections: {len(extra)}")
    examples = load_training()
    started = time.perf_counter()
    classifier, report = training.train(examples, seed=seed or training.SEED, extra=extra)
    classifier.save(config["MODEL_PATH"])
    click.echo(
        f"trained on {len(examples)} examples (+{len(extra)} corrections) in {time.perf_counter() - started:.1f} s"
    )
    own = ", ".join(f"{code} {t:.2f}" for code, t in sorted(classifier.intent_thresholds.items()))
    click.echo(
        f"thresholds: clarify {classifier.threshold:.2f}, other intents {classifier.intent_threshold:.2f} ({own}); "
        f"model written to {config['MODEL_PATH']}"
    )
    for name, s in classifier.metadata["scores"].items():
        click.echo(f"{name:17} macro-F1 {s['macro_f1']:.3f}  accuracy {s['accuracy']:.3f}  (n={s['n']})")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the full report as JSON.")
def evaluate(as_json: bool) -> None:
    """Per-category precision/recall/F1, macro-F1 and confusion matrices (cross-validation, held-out,
    the independent set and the second independent set)."""
    from nlp import training
    from nlp.corpus import load_training

    examples = load_training()
    _, report = training.train(examples)
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, indent=1))
        return
    for name in ("cross_validation", "heldout", "independent", "independent2"):
        if name in report:
            click.echo(format_scores(name, report[name]))
    click.echo("coverage/accuracy curve (out-of-fold):")
    for point in report["curve"][::5]:
        click.echo(
            f"  p >= {point['threshold']:.2f}: coverage {point['coverage']:.3f}, accuracy {point['accuracy']:.3f}"
        )


def format_scores(name: str, scores: dict) -> str:
    lines = [
        f"\n== {name}: n={scores['n']}, macro-F1 (16 categories) {scores['macro_f1']:.3f}, "
        f"accuracy {scores['accuracy']:.3f}",
        f"{'category':20} {'name':8} {'P':>6} {'R':>6} {'F1':>6} {'n':>5}",
    ]
    for code in scores["labels"]:
        r = scores["report"].get(code)
        if r:
            lines.append(
                f"{code:20} {label(code):8} {r['precision']:6.3f} {r['recall']:6.3f} {r['f1-score']:6.3f} {int(r['support']):5}"
            )
    lines.append("confusion matrix (rows: true, columns: predicted, in the order above):")
    for code, row in zip(scores["labels"], scores["confusion"], strict=True):
        lines.append(f"{code:20} " + " ".join(f"{v:3}" for v in row))
    return "\n".join(lines)


@click.command()
@click.argument("text", required=False)
@click.option("--jsonl", is_flag=True, help='Read {"id": ..., "text": ...} lines on stdin, write one result line each.')
@with_appcontext
def classify(text: str | None, jsonl: bool) -> None:
    """Classify TEXT (one JSON object), or stdin lines with --jsonl."""
    _, config = _config()
    model = _model(config)
    if not jsonl:
        if text is None:
            raise click.UsageError("give TEXT or --jsonl")
        click.echo(json.dumps(model.predict(text).to_dict(), ensure_ascii=False))
        return
    out = sys.stdout
    batch: list[tuple[object, str]] = []
    for number, line in enumerate(sys.stdin, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            batch.append((row.get("id"), str(row.get("text") or "")))
        except (json.JSONDecodeError, AttributeError):
            out.write(json.dumps({"id": None, "line": number, "error": "not a JSON object"}, ensure_ascii=False) + "\n")
        if len(batch) >= 256:
            _write_batch(model, batch, out)
            batch = []
    _write_batch(model, batch, out)


def _write_batch(model, batch, out) -> None:
    if not batch:
        return
    for (ident, _), p in zip(batch, model.predict_many([t for _, t in batch]), strict=True):
        out.write(
            json.dumps(
                {"id": ident, "kind": p.kind, "category": p.category, "confidence": round(p.confidence, 4)},
                ensure_ascii=False,
            )
            + "\n"
        )
    out.flush()


COMMANDS = [train, evaluate, classify]
