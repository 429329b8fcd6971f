"""``pgwarden serve``: the dashboard, the admin API and /metrics."""

from __future__ import annotations

import secrets
from typing import Annotated

import typer

from pgwarden.cli.options import listen_port
from pgwarden.cli.output import err
from pgwarden.cli.runtime import runtime
from pgwarden.embedded import port_free
from pgwarden.errors import ConfigurationError


def serve(
    ctx: typer.Context,
    host: Annotated[
        str | None, typer.Option("--host", help="Listen address (dashboard.host).")
    ] = None,
    port: Annotated[
        int | None, typer.Option("--port", help="Listen port (dashboard.port).")
    ] = None,
    anonymous_metrics: Annotated[
        bool | None,
        typer.Option(
            "--anonymous-metrics/--no-anonymous-metrics",
            help="Serve /metrics without the admin token "
            "(dashboard.anonymous_metrics).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve the dashboard and API; prints a generated admin token once if unset."""
    from pgwarden.web import create_app
    from pgwarden.web.server import make_server

    rt = runtime(ctx)
    dashboard = rt.settings.dashboard
    host = host or dashboard.host
    source = "dashboard.port" if port is None else "--port"
    port = listen_port(dashboard.port if port is None else port, source)
    if not port_free(port, host):
        raise ConfigurationError(
            f"{source} {port}: already in use on {host}; "
            "choose another port or stop what listens there"
        )
    token = _token(rt.settings.dashboard.admin_token, f"http://{host}:{port}/")
    target_dsn = rt.target_dsn()
    if anonymous_metrics is None:
        anonymous_metrics = dashboard.anonymous_metrics
    app = create_app(
        rt.settings, rt.repository_dsn(), rt.target_name(), token,
        target_dsn=target_dsn or None, anonymous_metrics=anonymous_metrics,
    )  # fmt: skip
    make_server(app, host, port).run()


def _token(configured: object, url: str) -> str:
    """The configured token, or a new one printed once to stderr."""
    from pydantic import SecretStr

    if isinstance(configured, SecretStr) and configured.get_secret_value():
        return configured.get_secret_value()
    token = secrets.token_urlsafe(32)
    err.print(f"dashboard: {url}")
    err.print(f"admin token (shown once; set PGWARDEN_DASHBOARD__ADMIN_TOKEN to keep "
              f"one): {token}", markup=False)  # fmt: skip
    return token
