"""The dashboard and HTTP API (FastAPI): ``create_app(settings, repo_dsn, ...)``."""

from pgwarden.web.app import create_app

__all__ = ["create_app"]
