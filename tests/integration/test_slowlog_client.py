"""The psycopg helper times statements and posts slow ones as JSON lines."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import psycopg
import pytest

from pgwarden import pg
from pgwarden.repository import migrate
from pgwarden.slowlog import ensure_target, ingest_application_reports
from pgwarden.slowlog.client import SlowQueryRecorder, post_json_lines


def _collector(received: list[dict[str, Any]]) -> type[BaseHTTPRequestHandler]:
    class Collector(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            assert self.headers["Content-Type"] == "application/x-ndjson"
            received.extend(json.loads(line) for line in body.splitlines())
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Collector


@pytest.fixture
def endpoint() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []
    server = HTTPServer(("127.0.0.1", 0), _collector(received))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/api/ingest/slow-queries", received
    server.shutdown()
    server.server_close()


def test_slow_query_is_reported_with_its_caller(
    empty_dsn: str, endpoint: tuple[str, list[dict[str, Any]]]
) -> None:
    url, received = endpoint
    recorder = SlowQueryRecorder(post_json_lines(url), threshold_ms=100)
    factory = recorder.cursor_factory()
    with psycopg.connect(
        empty_dsn, autocommit=True, cursor_factory=factory, application_name="shop"
    ) as conn:
        conn.execute("SELECT 1")
        with conn.cursor() as cur:
            line = _line() + 1
            cur.execute("SELECT pg_sleep(%s), %s::text AS x", [0.15, "secret-123"])
    assert len(recorder.pending()) == 1

    assert recorder.flush() == 1
    assert recorder.flush() == 0

    [report] = received
    assert (
        report["caller"]
        == f"{__name__}:test_slow_query_is_reported_with_its_caller:{line}"
    )
    assert report["query"] == "SELECT pg_sleep($1), $2::text AS x"
    assert report["duration_ms"] >= 150 and report["application_name"] == "shop"
    assert "secret" not in json.dumps(report)
    with pg.connect(empty_dsn) as repo:
        migrate(repo)
        target_id = ensure_target(repo, "app")
        result = ingest_application_reports(repo, target_id, received)
        assert (result.accepted, result.rejected) == (1, 0)


def test_failed_flush_keeps_the_records(empty_dsn: str) -> None:
    def broken(records: list[dict[str, Any]]) -> None:
        raise OSError("endpoint down")

    recorder = SlowQueryRecorder(broken, threshold_ms=0)
    with psycopg.connect(empty_dsn, autocommit=True) as conn:
        recorder.instrument(conn)
        conn.execute("SELECT 1")
    with pytest.raises(OSError):
        recorder.flush()
    assert len(recorder.pending()) == 1


def _line() -> int:
    import sys

    return sys._getframe(1).f_lineno
