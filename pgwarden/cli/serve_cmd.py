"""``pgwarden serve``: the dashboard, the admin API and /metrics."""

from __future__ import annotations

import secrets
from typing import Annotated

import typer

from pgwarden.cli.options import listen_port
from pgwarden.cli.output import err
from pgwarden.cli.runtime import Runtime, runtime
from pgwarden.embedded import port_free
from pgwarden.errors import ConfigurationError, PgwardenError


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
    """Serve the dashboard and API; prints a generated admin token once if unset.

    Without --dsn (or PGWARDEN_DSN), every registered target is served (the first
    by name by default); with it, that target, plus the registry's if it has any.
    """
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
    if anonymous_metrics is None:
        anonymous_metrics = dashboard.anonymous_metrics
    name, target_dsn, fleet = _served(rt)
    app = create_app(
        rt.settings, rt.repository_dsn(), name, token, target_dsn=target_dsn or None,
        anonymous_metrics=anonymous_metrics, fleet=fleet,
    )  # fmt: skip
    make_server(app, host, port).run()


REGISTRY = "the target registry (run pgwarden init)"


def _served(rt: Runtime) -> tuple[str, str, bool]:
    """The default target (name, DSN) and whether the registry is served too."""
    from pgwarden import fleet, pg

    given = rt.target is not None or rt.settings.dsn is not None
    try:
        with pg.connect(rt.repository_dsn()) as repo, pg.guarded(REGISTRY):
            enrolled = fleet.registered(repo)
    except PgwardenError:
        if not given:
            raise
        enrolled = []  # the repository is not installed yet: the one target
    if given or not enrolled:
        return rt.target_name(), rt.target_dsn(), bool(enrolled)
    first = enrolled[0]
    return first.name, fleet.connect_dsn(first), True


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
