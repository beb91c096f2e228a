"""The `appealbot` command. Each command builds what it needs from the same configuration."""

from __future__ import annotations

import logging

import click
from flask.cli import FlaskGroup, with_appcontext

from bot import config as settings
from bot.cli.context import flask_app
from core.errors import ConfigError

log = logging.getLogger("appealbot")


def _setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("jieba").setLevel(logging.WARNING)
    from bot import logmask

    logmask.install()


def _create_app():
    """Flask's ScriptInfo calls this once per command, when the command first needs the app."""
    from bot.app import create_app

    try:
        return create_app()
    except ConfigError as exc:
        raise click.ClickException(f"configuration error: {exc}") from None


# Flask's own group: each command runs inside the app's context (bot.cli.context.flask_app reads it).
# No default commands (flask run/shell/routes) and no .env loading: the configuration comes from
# APPEALBOT_* variables only, as the README's table says.
@click.group(
    cls=FlaskGroup,
    create_app=_create_app,
    add_default_commands=False,
    load_dotenv=False,
    set_debug_flag=False,
    add_version_option=False,
)
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
def main(verbose: bool) -> None:
    """appealbot: 有求必应、无事不扰 — the bot and back end."""
    _setup_logging(verbose)


# FlaskGroup adds --app, --env-file and --debug for generic Flask projects; this command has one app
# and one source of configuration, so they would only mislead.
main.params[:] = [p for p in main.params if p.name not in ("app", "env_file", "debug")]


@main.command()
@with_appcontext
def init() -> None:
    """Migrate the database, load the demo data and train the model where missing."""
    app = flask_app()
    _init(app)


def _init(app) -> None:
    from bot import setup

    for line in setup.initialise(app):
        click.echo(line)


@main.command()
@click.option("--host", default=None, help="Listen address (APPEALBOT_HOST).")
@click.option("--port", type=int, default=None, help="Port (APPEALBOT_PORT).")
@click.option("--threads", type=int, default=8, show_default=True)
@with_appcontext
def run(host: str | None, port: int | None, threads: int) -> None:
    """Serve the bot in the foreground (embedded mode: one process, SQLite)."""
    from waitress import serve

    from bot.production import settle_heap, waitress_options
    from nlp.tokenizer import warm_up

    app = flask_app()
    _init(app)
    warm_up()  # the dictionary now, not on the first message
    from knowledge.index import warm_up as warm_library

    warm_library(app.extensions["appealbot"].Session)
    settle_heap()
    host = host or app.config["HOST"]
    port = port or app.config["PORT"]
    click.echo(f"聊天页面 (chat page): http://{host}:{port}/")
    click.echo("Stop with Ctrl-C.")
    consumer = None
    if app.config["QUEUE"] == "sqlite":  # embedded: the job queue runs inside this process
        from delivery.queue import start_consumer

        consumer = start_consumer(app.extensions["appealbot"].huey)
    try:
        serve(app, host=host, port=port, **waitress_options(app.config, threads))
    finally:
        if consumer is not None:
            consumer.stop(graceful=True)


@main.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
@with_appcontext
def db_upgrade() -> None:
    """Migrate the database to the newest schema (idempotent)."""
    from bot.schema import upgrade

    app = flask_app()
    upgrade(app.config["DATABASE_URL"])
    click.echo("database: schema up to date")


@main.command()
@click.option("--prod", is_flag=True, help="Production mode: gunicorn workers, strict secrets.")
@click.option("--bind", default=None, help="host:port (default APPEALBOT_HOST:APPEALBOT_PORT).")
@click.option("--workers", type=int, default=None, help="gunicorn workers (default 2 x cores).")
@click.option("--threads", type=int, default=4, show_default=True, help="Threads per worker.")
@with_appcontext
def serve(prod: bool, bind: str | None, workers: int | None, threads: int) -> None:
    """Serve without set-up steps; with --prod, several gunicorn workers sharing one preloaded model."""
    app = flask_app()
    bind = bind or f"{app.config['HOST']}:{app.config['PORT']}"
    if not prod:
        from waitress import serve as waitress_serve

        from bot.production import waitress_options

        host, port = bind.rsplit(":", 1)
        waitress_serve(app, host=host, port=int(port), **waitress_options(app.config, threads))
        return
    from bot import production

    try:
        production.check_secrets(app.config)
        production.check_accounts(app.extensions["appealbot"].Session)
    except ConfigError as exc:
        raise click.ClickException(f"configuration error: {exc}") from None
    production.serve(app, bind=bind, workers=workers, threads=threads)


@main.group()
def wechat() -> None:
    """公众号 set-up commands."""


@wechat.command("menu")
@click.option("--show", is_flag=True, help="Print the menu that would be created, and do nothing.")
@with_appcontext
def wechat_menu(show: bool) -> None:
    """Create the 公众号 menu from the configuration (WECHAT_MENU or the default); idempotent."""
    import json

    from bot import wechat_menu as menus
    from delivery.platforms import WeChatClient, token_storage

    app = flask_app()
    cfg = app.config
    try:
        menu = menus.menu_from(cfg)
    except ConfigError as exc:
        app.extensions["appealbot"].engine.dispose()
        raise click.ClickException(f"configuration error: {exc}") from None
    if show:
        click.echo(json.dumps(menu, ensure_ascii=False, indent=2))
        return
    if not cfg.get("WECHAT_APPID") or not cfg.get("WECHAT_SECRET"):
        raise click.ClickException("APPEALBOT_WECHAT_APPID and APPEALBOT_WECHAT_SECRET are needed to create the menu")
    client = WeChatClient(
        cfg["WECHAT_APPID"],
        cfg["WECHAT_SECRET"],
        cfg["WECHAT_API_BASE"],
        token_storage(cfg, app.extensions["appealbot"].Session),
    )
    from wechatpy.exceptions import WeChatClientException

    try:
        outcome = menus.sync(client, menu)
    except WeChatClientException as exc:
        raise click.ClickException(f"公众号 refused the menu: {exc.errcode} {exc.errmsg}") from None
    finally:
        app.extensions["appealbot"].engine.dispose()
    click.echo({"created": "menu created", "unchanged": "menu unchanged (already as configured)"}[outcome])


@main.command("config-table")
def config_table() -> None:
    """Print the configuration keys as the README's Markdown table."""
    click.echo(settings.markdown_table())


def _register_package_commands() -> None:
    from bot.cli import classifier, library, operations

    for module in (classifier, library, operations):
        for command in module.COMMANDS:
            main.add_command(command)


_register_package_commands()


def entry() -> None:  # pragma: no cover
    main(prog_name="appealbot")
