"""`appealbot ingest | search | evaluate-search | tune-search | retire`; bot/cli registers everything in COMMANDS."""

from __future__ import annotations

import json

import click
from flask.cli import with_appcontext

from bot.cli.context import flask_app


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@with_appcontext
def ingest(paths) -> None:
    """Ingest policy documents (.txt .md .docx .pdf .html), files or folders; changed files are updated."""
    from knowledge.ingest import files, ingest_bytes

    app = flask_app()
    todo = list(files(paths))
    failed = 0
    with app.extensions["appealbot"].Session() as session:
        with click.progressbar(todo, label="ingesting", item_show_func=lambda p: p.name if p else "") as bar:
            outcomes = []
            for path in bar:
                try:
                    outcome = ingest_bytes(session, path.name, path.read_bytes())
                except OSError as exc:
                    from knowledge.ingest import Outcome

                    outcome = Outcome(path.name, "error", f"无法读取文件：{exc.strerror}")
                session.commit()  # one file at a time: a later failure keeps what went in
                outcomes.append(outcome)
    for o in outcomes:
        failed += o.status == "error"
        click.echo(
            f"{o.status:9} {o.source}"
            + (f"  {o.clauses} clauses" if o.clauses else "")
            + (f"  {o.message}" if o.message else "")
        )
    if failed:
        raise SystemExit(1)


@click.command()
@click.argument("question")
@click.option("-k", default=3, show_default=True, help="How many clauses.")
@click.option("--region", default=None, help="Only documents of this region.")
@click.option("--json", "as_json", is_flag=True, help="A JSON list of hits, best first.")
@click.option("--all", "everything", is_flag=True, help="Also when the library most likely does not answer it.")
@with_appcontext
def search(question: str, k: int, region, as_json: bool, everything: bool) -> None:
    """Search the policy clauses: none when the library most likely does not answer the question."""
    from knowledge.search import rank
    from knowledge.search import search as run

    app = flask_app()
    with app.extensions["appealbot"].Session() as session:
        found = (
            rank(session, question, k=k, region=region) if everything else run(session, question, k=k, region=region)
        )
        hits = [h.to_dict() for h in found]
    if as_json:
        click.echo(json.dumps(hits, ensure_ascii=False))
        return
    if not hits:
        click.echo("（没有找到相关条款）")
    for h in hits:
        click.echo(
            f"{h['confidence']:.2f} {h['score']:8.3f}  {h['citation']}  [{' '.join(h['matched'])}]\n"
            f"          {h['text'][:120]}"
        )


@click.command("evaluate-search")
@click.option(
    "--questions",
    "sets",
    multiple=True,
    help="A JSON-lines question file or a named set (tune, independent); default both sets.",
)
@click.option("--json", "as_json", is_flag=True)
@click.option("--misses", is_flag=True, help="List the questions ranked wrong and the false answers.")
@with_appcontext
def evaluate_search(sets, as_json: bool, misses: bool) -> None:
    """Recall@1, Recall@3, MRR and the abstention figures of the library's search."""
    from knowledge.evaluation import figures, load_questions, run

    app = flask_app()
    results = {}
    with app.extensions["appealbot"].Session() as session:
        for name in sets or ("tune", "independent"):
            results[name] = figures(run(session, load_questions(name)))
    if as_json:
        click.echo(json.dumps(results, ensure_ascii=False))
        return
    database = app.extensions["appealbot"].engine.dialect.name
    for name, f in results.items():
        click.echo(
            f"{name} ({database}): {f['answerable']} answerable, {f['unanswerable']} unanswerable\n"
            f"  ranking: Recall@1 {f['recall@1']:.3f}  Recall@3 {f['recall@3']:.3f}  MRR {f['mrr']:.3f}\n"
            f"  search (floor {f['search_floor']:.2f}): Recall@1 {f['search_recall@1']:.3f}  "
            f"Recall@3 {f['search_recall@3']:.3f}  unanswerable with no hit {f['search_abstained']:.3f}\n"
            f"  answer() (threshold {f['threshold']:.2f}): unanswerable with no clause {f['unanswerable_abstained']:.3f}  "
            f"answerable answered with the right clause {f['answered_right']:.3f}  precision {f['precision']:.3f}"
        )
        if misses:
            for miss in f["misses"]:
                click.echo(f"  miss: {miss['question']}  (want {miss['want']}, got {miss['got']}, rank {miss['rank']})")
            for false in f["false_answers"]:
                click.echo(f"  false answer: {false['question']}  (got {false['got']}, {false['confidence']})")


@click.command("tune-search")
@click.option(
    "--questions", default="tune", show_default=True, help="The tuning question set (never the independent one)."
)
@with_appcontext
def tune_search(questions: str) -> None:
    """Fit the ranking weights and the confidence curve; writes knowledge/data/ranking.json."""
    from knowledge.evaluation import load_questions
    from knowledge.search import DATA
    from knowledge.tuning import tune

    if questions == "independent":
        raise click.ClickException("the independent set only measures; tune on the tuning set")
    app = flask_app()
    with app.extensions["appealbot"].Session() as session:
        ranking = tune(session, load_questions(questions), log=click.echo)
    (DATA / "ranking.json").write_text(ranking.to_json() + "\n", encoding="utf-8")
    click.echo(f"wrote {DATA / 'ranking.json'}")


@click.command()
@click.argument("source")
@with_appcontext
def retire(source: str) -> None:
    """Retire a document (by the file name it was ingested from): kept, no longer searched."""
    from knowledge.ingest import retire as run

    app = flask_app()
    with app.extensions["appealbot"].Session() as session, session.begin():
        if not run(session, source):
            raise click.ClickException(f"no document ingested from {source!r}")
    click.echo(f"retired {source}")


COMMANDS: list[click.Command] = [ingest, search, evaluate_search, tune_search, retire]
