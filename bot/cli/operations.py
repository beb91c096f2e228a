"""`appealbot worker | jobs | notifications`; bot/cli registers everything in COMMANDS."""

from __future__ import annotations

import json

import click
from flask.cli import with_appcontext

from bot.cli.context import flask_app


@click.command()
@click.option("--workers", type=int, default=2, show_default=True, help="Worker threads.")
@with_appcontext
def worker(workers: int) -> None:
    """Run a job-queue consumer (notifications, deadline sweep) until stopped."""
    from bot.production import settle_heap

    app = flask_app()
    huey = app.extensions["appealbot"].huey
    if app.config["QUEUE"] == "memory":
        raise click.ClickException("APPEALBOT_QUEUE=memory has no separate worker")
    settle_heap()
    # A worker killed mid-job loses the job it held; what it was sending is still pending in the
    # outbox, so a (re)starting worker delivers it at once instead of at the next periodic sweep.
    app.extensions["appealbot"].tasks["deliver"]()
    huey.create_consumer(workers=workers, worker_type="thread", periodic=True).run()


@click.command()
@with_appcontext
def sweep() -> None:
    """Run the deadline sweep and notification delivery once, now (for cron or a manual check)."""
    from delivery import queue
    from delivery.deliver import deliver_pending
    from delivery.sender import Sender

    app = flask_app()
    state = app.extensions["appealbot"]
    now = state.services.clock()
    click.echo(
        json.dumps(
            {
                "sweep": queue.sweep(state.Session, app.config, now),
                "delivery": deliver_pending(
                    state.Session, Sender(app.config, state.Session), now, app.config["PUBLIC_URL"]
                ),
            },
            ensure_ascii=False,
        )
    )


@click.command()
@click.option("--status", default="failed", show_default=True, help="pending, held, failed or sent.")
@with_appcontext
def notifications(status: str) -> None:
    """List notifications by status, newest first (failed sends are kept, never lost)."""
    from sqlalchemy import select

    from tickets.models import Notification

    app = flask_app()
    with app.extensions["appealbot"].Session() as s:
        for n in s.scalars(
            select(Notification).where(Notification.status == status).order_by(Notification.id.desc()).limit(100)
        ):
            click.echo(
                json.dumps(
                    {
                        "id": n.id,
                        "channel": n.channel,
                        "recipient": n.recipient,
                        "title": n.title,
                        "attempts": n.attempts,
                        "error": n.last_error,
                    },
                    ensure_ascii=False,
                )
            )


@click.command("api-token")
@click.argument("login")
@click.option("--revoke", is_flag=True, help="Revoke the official's token instead of issuing one.")
@with_appcontext
def api_token(login: str, revoke: bool) -> None:
    """Issue a new REST API token for an official (by console login or WeCom user id); prints it once.

    The token acts with the official's role and department; issuing a new one revokes the old one."""
    import secrets

    from sqlalchemy import or_, select

    from tickets.accounts import token_hash
    from tickets.models import Official

    app = flask_app()
    token = secrets.token_urlsafe(32)
    with app.extensions["appealbot"].Session() as s, s.begin():
        official = s.scalars(
            select(Official).where(or_(Official.login == login, Official.wecom_user_id == login))
        ).first()
        if official is None:
            raise click.ClickException(f"no official with login or WeCom id {login!r}")
        official.api_token_hash = None if revoke else token_hash(token)
    click.echo(f"token of {login} revoked" if revoke else token)


@click.command("create-user")
@click.argument("login")
@click.option("--name", help="Display name (default: the login).")
@click.option("--department", default="yingshang", show_default=True, help="Department code or name.")
@click.option(
    "--role", type=click.Choice(["official", "head", "supervisor", "admin"]), default="admin", show_default=True
)
@click.option("--wecom-user-id", help="The official's 企业微信 user id, for chat commands.")
@click.option("--reset", is_flag=True, help="Set a new password for an existing account.")
@click.password_option(help="At least 10 characters; asked for when not given.")
@with_appcontext
def create_user(login, name, department, role, wecom_user_id, reset, password) -> None:
    """Create a console account (the first administrator, say), or reset its password."""
    from sqlalchemy import select

    from tickets.accounts import end_sessions, hash_password
    from tickets.models import Official
    from tickets.service import department_by_name

    if len(password) < 10:
        raise click.ClickException("the password must have at least 10 characters")
    app = flask_app()
    with app.extensions["appealbot"].Session() as s, s.begin():
        existing = s.scalars(select(Official).where(Official.login == login)).first()
        if existing is not None:
            if not reset:
                raise click.ClickException(f"{login!r} exists; use --reset to set a new password")
            existing.password_hash, existing.failed_logins, existing.locked_until = hash_password(password), 0, None
            end_sessions(s, existing.id)  # whoever was signed in with the old password is signed out
            click.echo(f"password of {login} reset")
            return
        dept = department_by_name(s, department)
        if dept is None:
            raise click.ClickException(f"no department {department!r}")
        s.add(
            Official(
                login=login,
                name=name or login,
                department=dept,
                role=role,
                wecom_user_id=wecom_user_id,
                password_hash=hash_password(password),
            )
        )
    click.echo(f"created {role} {login} in {dept.name}")


COMMANDS: list[click.Command] = [worker, sweep, notifications, api_token, create_user]
