"""The HTTP API tried as an attacker and as bad luck would.

The token is checked on the headers before any body is read; every body, string and
number is bounded; a failing repository answers 503; one bad ingest record costs
only itself. Run against a real PostgreSQL (and, where the socket matters, a real
uvicorn server).
"""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import anyio
import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from psycopg import sql

from pgwarden import pg
from pgwarden.config import Settings
from pgwarden.embedded import free_port
from pgwarden.repository import migrate
from pgwarden.slowlog import partitions
from pgwarden.web import create_app
from tests.browser.conftest import served
from tests.conftest import TEMPLATE_EMPTY

TARGET = "hostile"
TOKEN = "hostile-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
JSON = {"Content-Type": "application/json"}
MiB = 1024 * 1024
#: the POST routes that take a body, with a body each would accept
POSTS = {
    "/api/admin/alerts/silences": {"comment": "c", "created_by": "ana", "minutes": 5},
    "/api/admin/alerts/1/ack": {"by": "ana"},
    "/api/ingest/app-metrics": {"pool_size": 10, "in_use": 2},
    "/api/ingest/app-cache": {"hits": 1, "misses": 1},
    "/api/ingest/slow-queries": {"ts": 0, "query": "SELECT 1", "duration_ms": 200},
    "/api/ingest/measures": [{"name": "csat", "value": 4}],
}


@pytest.fixture
def repo_dsn(empty_dsn: str) -> str:
    """A database holding pgwarden's repository schema (``pgwarden init``)."""
    with pg.connect(empty_dsn, autocommit=False, statement_timeout_ms=None) as conn:
        migrate(conn)
        conn.commit()
    return empty_dsn


def make_app(dsn: str, **dashboard: Any) -> FastAPI:
    settings = Settings.model_validate({"dashboard": dashboard})
    return create_app(settings, dsn, TARGET, TOKEN)


@pytest.fixture
def http(repo_dsn: str) -> Iterator[TestClient]:
    with TestClient(make_app(repo_dsn), raise_server_exceptions=False) as client:
        yield client


# -- the token comes before the body ---------------------------------------------


@dataclass
class Exchange:
    """What the app answered, and how many body bytes it had taken by then."""

    status: int
    headers: dict[str, str]
    body: bytes
    consumed: int


def drive(
    app: FastAPI, path: str, chunks: Iterable[bytes], headers: dict[str, str]
) -> Exchange:
    """POST ``chunks`` to the ASGI app as a streamed body, counting what it reads."""
    consumed = 0
    source = iter(chunks)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal consumed
        chunk = next(source, None)
        if chunk is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        consumed += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
        "method": "POST", "scheme": "http", "path": path, "raw_path": path.encode(),
        "query_string": b"", "root_path": "", "headers": [(b"host", b"t"), *raw],
        "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80), "state": {},
    }  # fmt: skip
    anyio.run(app, scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(
        m.get("body", b"") for m in sent if m["type"] == "http.response.body"
    )
    found = {k.decode(): v.decode() for k, v in start["headers"]}
    return Exchange(start["status"], found, body, consumed)


def big_body(total: int, chunk: int = 64 * 1024) -> Iterator[bytes]:
    """``total`` bytes made only as they are read."""
    for _ in range(total // chunk):
        yield b" " * chunk


@pytest.mark.parametrize("path", sorted(POSTS))
def test_300_mb_without_token_is_refused_unread(repo_dsn: str, path: str) -> None:
    declared = {"Content-Type": "application/json", "Content-Length": str(300 * MiB)}
    answer = drive(make_app(repo_dsn), path, big_body(300 * MiB), declared)
    assert answer.status == 401, answer.body
    assert answer.consumed == 0
    assert answer.headers["www-authenticate"] == "Bearer"
    assert answer.headers["connection"] == "close"


def test_chunked_body_without_token_is_refused_unread(repo_dsn: str) -> None:
    chunked = {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}
    path = "/api/admin/alerts/silences"
    answer = drive(make_app(repo_dsn), path, big_body(300 * MiB), chunked)
    assert (answer.status, answer.consumed) == (401, 0)


def _response_head(sock: socket.socket) -> bytes:
    """Read until the end of the response headers (or the connection closes)."""
    data = b""
    while b"\r\n\r\n" not in data:
        more = sock.recv(65536)
        if not more:
            break
        data += more
    return data


def test_real_server_answers_401_before_the_body_is_sent(repo_dsn: str) -> None:
    with served(make_app(repo_dsn)) as base:
        address = urlsplit(base)
        assert address.hostname and address.port
        for framing in (f"Content-Length: {300 * MiB}", "Transfer-Encoding: chunked"):
            with socket.create_connection((address.hostname, address.port), 30) as s:
                s.sendall(
                    b"POST /api/admin/alerts/silences HTTP/1.1\r\nHost: pgwarden\r\n"
                    b"Content-Type: application/json\r\n"
                    + framing.encode()
                    + b"\r\n\r\n"
                )
                head = _response_head(s)  # not one byte of the body was sent
            assert head.startswith(b"HTTP/1.1 401 "), head
            assert b"connection: close" in head.lower()


def test_malformed_json_without_token_is_401_not_422(http: TestClient) -> None:
    for path in POSTS:
        response = http.post(path, content=b'{"comment": [', headers=JSON)
        assert response.status_code == 401, path
        assert "JSON" not in response.text and "decode" not in response.text


def test_public_pages_stay_public_and_the_rest_needs_the_token(
    http: TestClient,
) -> None:
    for path in ("/", "/live", "/queries/123", "/static/core.js", "/docs",
                 "/openapi.json"):  # fmt: skip
        assert http.get(path).status_code == 200, path
    for path in ("/api/admin/alerts", "/api/admin/nothing-here", "/metrics", "/x"):
        response = http.get(path)
        assert response.status_code == 401, path
        assert response.headers["www-authenticate"] == "Bearer"
    assert http.get("/api/admin/alerts", headers=AUTH).status_code == 200


def test_anonymous_scrape_opens_metrics_only(repo_dsn: str) -> None:
    with TestClient(make_app(repo_dsn, anonymous_metrics=True)) as http:
        assert http.get("/metrics").status_code == 200
        assert http.get("/api/admin/alerts").status_code == 401


# -- bodies are bounded ----------------------------------------------------------


def test_declared_oversized_body_is_413_unread(repo_dsn: str) -> None:
    declared = {**AUTH, **JSON, "Content-Length": str(4 * MiB + 1)}
    for path in POSTS:
        answer = drive(make_app(repo_dsn), path, big_body(8 * MiB), declared)
        assert (answer.status, answer.consumed) == (413, 0), path
        assert "4194304 bytes" in json.loads(answer.body)["detail"]


def test_chunked_body_is_cut_off_at_the_limit(repo_dsn: str) -> None:
    app = make_app(repo_dsn, max_body_bytes=64 * 1024)
    chunked = {**AUTH, **JSON, "Transfer-Encoding": "chunked"}
    for path in POSTS:
        answer = drive(app, path, big_body(300 * MiB, chunk=16 * 1024), chunked)
        assert answer.status == 413, (path, answer.body)
        assert answer.consumed <= 64 * 1024 + 16 * 1024, path
        assert answer.headers["connection"] == "close"


def test_real_server_413_before_an_oversized_body_is_sent(repo_dsn: str) -> None:
    with served(make_app(repo_dsn)) as base:
        address = urlsplit(base)
        assert address.hostname and address.port
        with socket.create_connection((address.hostname, address.port), 30) as s:
            s.sendall(
                b"POST /api/ingest/slow-queries HTTP/1.1\r\nHost: pgwarden\r\n"
                + f"Authorization: Bearer {TOKEN}\r\n".encode()
                + f"Content-Length: {300 * MiB}\r\n\r\n".encode()
            )
            head = _response_head(s)
    assert head.startswith(b"HTTP/1.1 413 "), head


def test_a_body_within_the_limit_is_served(http: TestClient) -> None:
    body = {"comment": "x" * 1000, "created_by": "ana", "minutes": 5}
    response = http.post("/api/admin/alerts/silences", json=body, headers=AUTH)
    assert response.status_code == 201


# -- strings and numbers are bounded ---------------------------------------------

SILENCE = {"comment": "maintenance", "created_by": "ana", "minutes": 30}
LONG_STRINGS = [
    ("/api/admin/alerts/silences", {**SILENCE, "comment": "x" * 10_000}, "comment"),
    ("/api/admin/alerts/silences", {**SILENCE, "created_by": "a" * 1000}, "created_by"),
    ("/api/admin/alerts/silences", {**SILENCE, "rule": "r" * 1000}, "rule"),
    ("/api/admin/alerts/silences", {**SILENCE, "labels": {"k" * 1000: "v"}}, "labels"),
    ("/api/admin/alerts/silences", {**SILENCE, "labels": {"k": "v" * 5000}}, "labels"),
    ("/api/admin/alerts/silences",
     {**SILENCE, "labels": {f"k{i}": "v" for i in range(1000)}}, "labels"),
    ("/api/admin/alerts/silences", {**SILENCE, "comment": "a \u0000 b"}, "comment"),
    ("/api/admin/alerts/silences", {**SILENCE, "created_by": "\ud800"}, "created_by"),
    ("/api/admin/alerts/silences", {**SILENCE, "labels": {"k": "\u0000"}}, "labels"),
    ("/api/admin/alerts/1/ack", {"by": "b" * 1000}, "by"),
    ("/api/admin/alerts/1/resolve", {"by": "\ud800"}, "by"),
    ("/api/ingest/app-metrics", {"pool_size": 1, "in_use": 0, "source": "\u0000"},
     "source"),
    ("/api/ingest/app-cache", {"hits": 1, "misses": 0, "source": "s" * 1000}, "source"),
]  # fmt: skip


@pytest.mark.parametrize(("path", "body", "field"), LONG_STRINGS)
def test_long_or_broken_strings_are_422(
    http: TestClient, path: str, body: dict[str, Any], field: str
) -> None:
    # json.dumps escapes a lone surrogate, as any client that sends one would
    response = http.post(path, content=json.dumps(body), headers={**AUTH, **JSON})
    assert response.status_code == 422, response.text
    assert field in response.text
    assert len(response.content) < 2000  # the offending value is not echoed
    stored = http.get("/api/admin/alerts/silences", headers=AUTH).json()
    assert stored == []


EDGE_NUMBERS = [
    ("GET", "/api/admin/alerts?since_hours=inf", None),
    ("GET", "/api/admin/alerts?since_hours=nan", None),
    ("GET", "/api/admin/alerts?since_hours=1e308", None),
    ("GET", "/api/admin/alerts?since_hours=-1", None),
    ("GET", "/api/admin/alerts/9223372036854775808", None),
    ("GET", "/api/admin/alerts/-5", None),
    ("GET", f"/api/admin/alerts/{2**64}", None),
    ("POST", f"/api/admin/alerts/{2**63}/ack", {"by": "ana"}),
    ("GET", "/api/admin/queries/9223372036854775808", None),
    ("GET", "/api/admin/queries/-9223372036854775809", None),
    ("POST", "/api/admin/alerts/silences", b'{"comment":"c","created_by":"a",'
     b'"minutes":NaN}'),
    ("POST", "/api/admin/alerts/silences", b'{"comment":"c","created_by":"a",'
     b'"minutes":Infinity}'),
    ("POST", "/api/admin/alerts/silences", {**SILENCE, "minutes": 1e308}),
    ("POST", "/api/admin/alerts/silences", {**SILENCE, "minutes": -5}),
    ("POST", "/api/ingest/app-metrics", {"pool_size": 2**31, "in_use": 1}),
    ("POST", "/api/ingest/app-metrics", {"pool_size": 10, "in_use": 1e308}),
    ("POST", "/api/ingest/app-metrics", {"pool_size": 10, "in_use": 1, "waiting": -1}),
    ("POST", "/api/ingest/app-metrics",
     {"pool_size": 10, "in_use": 1, "cache_hits": 2**63, "cache_misses": 0}),
    ("POST", "/api/ingest/app-cache", {"hits": 2**64, "misses": 0}),
    ("POST", "/api/ingest/app-cache", b'{"hits": 1, "misses": NaN}'),
]  # fmt: skip


@pytest.mark.parametrize(("method", "url", "body"), EDGE_NUMBERS)
def test_numbers_at_the_edges_are_422(
    http: TestClient, method: str, url: str, body: Any
) -> None:
    content = body if isinstance(body, bytes | None) else json.dumps(body).encode()
    response = http.request(method, url, content=content, headers={**AUTH, **JSON})
    assert response.status_code == 422, response.text
    assert len(response.content) < 2000


def test_a_number_too_long_to_read_is_a_client_error(http: TestClient) -> None:
    body = b'{"hits": 1, "misses": ' + b"9" * 5000 + b"}"
    headers = {**AUTH, **JSON}
    response = http.post("/api/ingest/app-cache", content=body, headers=headers)
    assert response.status_code == 400
    assert response.json() == {"detail": "There was an error parsing the body"}


# -- a failing repository is 503 -------------------------------------------------


def test_unreachable_repository_is_503_from_the_first_request() -> None:
    nobody = f"host=127.0.0.1 port={free_port()} dbname=gone user=nobody"
    requests = [
        ("GET", "/api/admin/alerts", None),
        ("GET", "/api/admin/performance-metrics", None),
        ("GET", "/api/admin/top-queries", None),
        ("GET", "/metrics", None),
        ("POST", "/api/admin/alerts/silences", SILENCE),
        ("POST", "/api/ingest/app-cache", {"hits": 1, "misses": 1}),
    ]
    with TestClient(make_app(nobody), raise_server_exceptions=False) as http:
        for method, url, body in requests:
            response = http.request(method, url, json=body, headers=AUTH)
            assert response.status_code == 503, (url, response.text)
            assert "cannot connect" in response.json()["detail"]
            assert response.headers["cache-control"] == "no-store"


def test_repository_lost_under_the_app_is_503_never_500(
    pg_server: Any, repo_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("pgwarden.web.context.POOL_WAIT_S", 2.0)
    dbname = psycopg.conninfo.conninfo_to_dict(repo_dsn)["dbname"]
    with TestClient(make_app(repo_dsn), raise_server_exceptions=False) as http:
        assert http.get("/api/admin/alerts", headers=AUTH).status_code == 200
        with pg_server.admin() as admin:  # a restart, as the app sees it
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                [dbname],
            )
        for _ in range(3):
            assert http.get("/api/admin/alerts", headers=AUTH).status_code == 200
        pg_server.drop(dbname)  # gone
        for url in ("/api/admin/alerts", "/api/admin/alerts/silences", "/metrics"):
            response = http.get(url, headers=AUTH)
            assert response.status_code == 503, (url, response.text)
            assert response.json()["detail"]
        _recreate(pg_server, dbname)  # and back
        assert http.get("/api/admin/alerts", headers=AUTH).status_code == 200


def _recreate(server: Any, dbname: str) -> None:
    template = sql.Identifier(server.template(TEMPLATE_EMPTY))
    with server.admin() as admin:
        admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
            sql.Identifier(dbname), template))  # fmt: skip
    with pg.connect(server.dsn(dbname), autocommit=False) as conn:
        migrate(conn)
        conn.commit()


def test_repository_down_then_up_from_the_start(pg_server: Any) -> None:
    dbname = f"pgwarden_test_{uuid.uuid4().hex[:12]}"
    app = make_app(pg_server.dsn(dbname))
    try:
        with TestClient(app, raise_server_exceptions=False) as http:
            response = http.get("/api/admin/alerts", headers=AUTH)
            assert response.status_code == 503
            assert "does not exist" in response.json()["detail"]
            _recreate(pg_server, dbname)
            assert http.get("/api/admin/alerts", headers=AUTH).status_code == 200
    finally:
        pg_server.drop(dbname)


# -- ingest: one bad record costs only itself ------------------------------------


def _record(ts: datetime | str | float, **extra: Any) -> dict[str, Any]:
    stamp = ts.isoformat() if isinstance(ts, datetime) else ts
    return {"ts": stamp, "query": "SELECT * FROM t WHERE id = 1",
            "duration_ms": 250, **extra}  # fmt: skip


def _slow_rows(dsn: str) -> list[dict[str, Any]]:
    with pg.connect(dsn) as conn:
        return pg.fetch_all(
            conn, "SELECT query, caller FROM pgwarden.slow_query_log ORDER BY ts"
        )


def _partition_days(dsn: str) -> set[date]:
    with pg.connect(dsn) as conn:
        names = partitions.existing(conn)
    return {d for d in map(partitions.partition_day, names) if d is not None}


def test_mixed_batch_keeps_the_good_records(http: TestClient, repo_dsn: str) -> None:
    now = datetime.now(UTC)
    deep = '{"ts": 0, "query": "SELECT 1", "duration_ms": 200, "x": '
    lines = [
        json.dumps(_record(now, caller="first")),
        json.dumps(_record("9999-12-31T23:59:59Z")),
        json.dumps(_record(now, query="SELECT \ud800")),
        deep + "[" * 100_000 + "]" * 100_000 + "}",
        json.dumps(_record(now, caller="nul \u0000")),
        '{"ts": 0, "query": "SELECT 1", "duration_ms": Infinity}',
        "not json",
        json.dumps(_record(now + timedelta(days=30))),
        json.dumps(_record(now - timedelta(days=60))),
        json.dumps(_record(now, duration_ms=1e308)),
        "[]",
        '{"ts": ' + "1" * 5000 + ', "query": "SELECT 1", "duration_ms": 200}',
        json.dumps(_record(now, duration_ms=-3)),
        json.dumps(_record(now - timedelta(hours=1), caller="second")),
    ]
    body = "\n".join(lines).encode() + b"\n\xff\xfe not utf-8\n"
    response = http.post("/api/ingest/slow-queries", content=body, headers=AUTH)
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["accepted"], result["rejected"]) == (2, 13)
    reasons = {r["record"]: r["reason"] for r in result["reasons"]}
    assert sorted(reasons) == [*range(2, 14), 15]
    expected = {2: "ts", 3: "query", 4: "nest", 5: "caller", 6: "duration_ms",
                7: "not JSON", 8: "future", 9: "retention", 10: "duration_ms",
                11: "JSON object", 12: "not JSON", 13: "duration_ms",
                15: "UTF-8"}  # fmt: skip
    for record, word in expected.items():
        assert word in reasons[record], (record, reasons[record])
    assert all(len(r["reason"]) <= 200 for r in result["reasons"])
    assert [r["caller"] for r in _slow_rows(repo_dsn)] == ["second", "first"]


def test_far_future_timestamps_create_no_partition(
    http: TestClient, repo_dsn: str
) -> None:
    now = datetime.now(UTC)
    before = _partition_days(repo_dsn)
    future = [now + timedelta(days=3), now + timedelta(days=400),
              "9999-12-31T23:00:00+00:00", 253402300000]  # fmt: skip
    body = "".join(json.dumps(_record(ts)) + "\n" for ts in future).encode()
    response = http.post("/api/ingest/slow-queries", content=body, headers=AUTH)
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 0
    assert all("ts" in r["reason"] for r in response.json()["reasons"])
    assert _partition_days(repo_dsn) == before
    assert _slow_rows(repo_dsn) == []


def test_too_many_records_in_one_request_is_413(http: TestClient) -> None:
    body = b"{}\n" * 10_001
    response = http.post("/api/ingest/slow-queries", content=body, headers=AUTH)
    assert response.status_code == 413
    assert "10000 records" in response.json()["detail"]
