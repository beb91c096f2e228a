"""The `appealbot` command. Each command builds what it needs from the same configuration."""
from __future__ import annotations

import logging
import sys

import click

from bot import config as settings
from bot.errors import ConfigError

log = logging.getLogger("appealbot")


def _setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("jieba").setLevel(logging.WARNING)


def _app():
    from bot.app import create_app

    try:
        return create_app()
    except ConfigError as exc:
        raise click.ClickException(f"configuration error: {exc}") from None


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
def main(verbose: bool) -> None:
    """appealbot: 有求必应、无事不扰 — the bot and back end."""
    _setup_logging(verbose)


@main.command()
def init() -> None:
    """Migrate the database, load the demo data and train the model where missing."""
    app = _app()
    _init(app)


def _init(app) -> None:
    from bot import setup

    for line in setup.initialise(app):
        click.echo(line)


@main.command()
@click.option("--host", default=None, help="Listen address (APPEALBOT_HOST).")
@click.option("--port", type=int, default=None, help="Port (APPEALBOT_PORT).")
@click.option("--threads", type=int, default=8, show_default=True)
def run(host: str | None, port: int | None, threads: int) -> None:
    """Serve the bot in the foreground (embedded mode: one process, SQLite)."""
    from waitress import serve

    app = _app()
    _init(app)
    host = host or app.config["HOST"]
    port = port or app.config["PORT"]
    click.echo(f"聊天页面 (chat page): http://{host}:{port}/")
    click.echo("Stop with Ctrl-C.")
    serve(app, host=host, port=port, threads=threads, ident="appealbot")


@main.command("config-table")
def config_table() -> None:
    """Print the configuration keys as the README's Markdown table."""
    click.echo(settings.markdown_table())


def _register_package_commands() -> None:
    import knowledge.cli
    import nlp.cli
    import tickets.cli

    for module in (nlp.cli, knowledge.cli, tickets.cli):
        for command in module.COMMANDS:
            main.add_command(command)


_register_package_commands()


def entry() -> None:  # pragma: no cover
    main(prog_name="appealbot")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
