"""`appealbot ingest | search | evaluate-search | retire`; bot/cli.py registers everything in COMMANDS."""
from __future__ import annotations

import json

import click


def _app():
    from bot.cli import _app as make

    return make()


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
def ingest(paths) -> None:
    """Ingest policy documents (.txt .md .docx .pdf .html), files or folders; changed files are updated."""
    from knowledge.ingest import files, ingest_bytes

    app = _app()
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
        click.echo(f"{o.status:9} {o.source}" + (f"  {o.clauses} clauses" if o.clauses else "") + (f"  {o.message}" if o.message else ""))
    if failed:
        raise SystemExit(1)


@click.command()
@click.argument("question")
@click.option("-k", default=3, show_default=True, help="How many clauses.")
@click.option("--region", default=None, help="Only documents of this region.")
@click.option("--json", "as_json", is_flag=True, help="A JSON list of hits, best first.")
def search(question: str, k: int, region, as_json: bool) -> None:
    """Search the policy clauses."""
    from knowledge.search import search as run

    app = _app()
    with app.extensions["appealbot"].Session() as session:
        hits = [h.to_dict() for h in run(session, question, k=k, region=region)]
    if as_json:
        click.echo(json.dumps(hits, ensure_ascii=False))
        return
    if not hits:
        click.echo("（没有找到相关条款）")
    for h in hits:
        click.echo(f"{h['score']:8.3f}  {h['doc_title']} {h['clause']}  [{' '.join(h['matched'])}]\n          {h['text'][:120]}")


@click.command("evaluate-search")
@click.option("--questions", default=None, help="JSON-lines question set (default: the project's own).")
@click.option("--json", "as_json", is_flag=True)
def evaluate_search(questions, as_json: bool) -> None:
    """Recall@1, Recall@3 and MRR of the search over a question set."""
    from knowledge.evaluation import evaluate, load_questions

    app = _app()
    with app.extensions["appealbot"].Session() as session:
        result = evaluate(session, load_questions(questions))
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False))
        return
    click.echo(f"questions {result['n']}  Recall@1 {result['recall@1']:.3f}  Recall@3 {result['recall@3']:.3f}  "
               f"MRR {result['mrr']:.3f}")
    for miss in result["misses"]:
        click.echo(f"  miss: {miss['question']}  (want {miss['want']}, got {miss['got']})")


@click.command()
@click.argument("source")
def retire(source: str) -> None:
    """Retire a document (by the file name it was ingested from): kept, no longer searched."""
    from knowledge.ingest import retire as run

    app = _app()
    with app.extensions["appealbot"].Session() as session, session.begin():
        if not run(session, source):
            raise click.ClickException(f"no document ingested from {source!r}")
    click.echo(f"retired {source}")


COMMANDS: list[click.Command] = [ingest, search, evaluate_search, retire]
