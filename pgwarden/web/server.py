"""Running the app under uvicorn, with an access log that never carries secrets."""

from __future__ import annotations

import logging

import uvicorn
from fastapi import FastAPI


class StripQueryString(logging.Filter):
    """uvicorn logs the request path; drop its query string, which may hold secrets.

    Headers (and so ``Authorization``) are never part of uvicorn's access log.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], args[2].split("?", 1)[0], *args[3:])
        return True


def make_server(
    app: FastAPI, host: str, port: int, *, access_log: bool = True
) -> uvicorn.Server:
    config = uvicorn.Config(
        app, host=host, port=port, access_log=access_log, log_level="info",
        server_header=False, proxy_headers=False,
    )  # fmt: skip
    logging.getLogger("uvicorn.access").addFilter(StripQueryString())
    return uvicorn.Server(config)
