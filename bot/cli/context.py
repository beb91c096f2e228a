"""The application a command runs in, as the real object rather than Flask's `current_app` proxy.

The proxy resolves only inside the command's app context; a server started by the command
(waitress, gunicorn) calls the app from its own threads and forked workers, outside that context,
where the proxy raises "Working outside of application context"."""

from __future__ import annotations

from typing import cast

from flask import Flask, current_app


def flask_app() -> Flask:
    return cast(Flask, current_app._get_current_object())  # type: ignore[attr-defined]
