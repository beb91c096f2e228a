"""What `make run` needs on a fresh machine, each step skipped when already done."""

from __future__ import annotations

from collections.abc import Iterator

from bot.schema import upgrade
from bot.state import AppState


def initialise(app) -> Iterator[str]:
    """Yield one line of progress per step. Each package owns its step's function."""
    from bot import demo
    from knowledge import bundled
    from nlp import training

    state: AppState = app.extensions["appealbot"]
    upgrade(app.config["DATABASE_URL"])
    yield "database: schema up to date"
    with state.Session() as session, session.begin():
        yield demo.load_demo_data(session)
    yield demo.accounts_text()
    with state.Session() as session, session.begin():
        yield bundled.ingest_bundled(session)
    yield training.ensure_model(app.config)
    from nlp.classifier import load_if_present

    state.services.classifier = load_if_present(app.config["MODEL_PATH"])  # a model trained just now
