"""The asyncpg helper times statements and buffers slow ones with their caller."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any
from urllib.parse import quote

import pytest
from psycopg.conninfo import conninfo_to_dict

from pgwarden import pg
from pgwarden.repository import migrate
from pgwarden.slowlog import ensure_target, ingest_application_reports
from pgwarden.slowlog.client import SlowQueryRecorder

asyncpg = pytest.importorskip("asyncpg")
client_asyncpg = pytest.importorskip("pgwarden.slowlog.client_asyncpg")


@pytest.fixture
def uri(empty_dsn: str) -> str:
    """The test database as a URI (asyncpg takes URIs, not key=value strings)."""
    params = conninfo_to_dict(empty_dsn)
    user = quote(str(params.get("user", "")), safe="")
    password = quote(str(params.get("password", "")), safe="")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host, port = str(params.get("host", "localhost")), params.get("port", 5432)
    dbname = quote(str(params["dbname"]))
    if host.startswith("/"):  # a Unix socket directory
        return f"postgresql://{auth}/{dbname}?host={quote(host)}&port={port}"
    return f"postgresql://{auth}{host}:{port}/{dbname}"


def _line() -> int:
    return sys._getframe(1).f_lineno


async def _run_queries(dsn: str, recorder: SlowQueryRecorder) -> dict[str, int]:
    lines = {}
    conn = await asyncpg.connect(
        dsn,
        connection_class=client_asyncpg.timed_connection(recorder),
        server_settings={"application_name": "shop"},
    )
    try:
        await conn.execute("SELECT 1")
        assert await conn.fetchval("SELECT 2") == 2
        lines["fetchval"] = _line() + 1
        await conn.fetchval("SELECT pg_sleep($1), $2::text AS x", 0.15, "secret-123")
        lines["fetch"] = _line() + 1
        rows = await conn.fetch("SELECT pg_sleep(0.12) AS slept, 'secret-456' AS y")
        assert len(rows) == 1
        lines["fetchrow"] = _line() + 1
        await conn.fetchrow("SELECT pg_sleep($1)", 0.11)
        lines["execute"] = _line() + 1
        await conn.execute("SELECT pg_sleep(0.11)")
        await conn.execute("SELECT pg_sleep($1)", 0.01)
    finally:
        await conn.close()
    return lines


def test_slow_queries_are_buffered_with_their_caller(empty_dsn: str, uri: str) -> None:
    recorder = SlowQueryRecorder(threshold_ms=100)

    lines = asyncio.run(_run_queries(uri, recorder))

    reports = recorder.pending()
    assert len(reports) == 4
    where = f"{__name__}:_run_queries"
    assert [r["caller"] for r in reports] == [
        f"{where}:{lines[name]}"
        for name in ("fetchval", "fetch", "fetchrow", "execute")
    ]
    assert reports[0]["query"] == "SELECT pg_sleep($1), $2::text AS x"
    assert all(r["duration_ms"] >= 100 for r in reports)
    assert {r["application_name"] for r in reports} == {"shop"}
    assert {r["database"] for r in reports} == {conninfo_to_dict(uri)["dbname"]}
    assert "secret-123" not in json.dumps(reports)
    with pg.connect(empty_dsn) as repo:
        migrate(repo)
        target_id = ensure_target(repo, "app")
        result = ingest_application_reports(repo, target_id, reports)
        assert (result.accepted, result.rejected) == (4, 0)
        stored = repo.execute(
            "SELECT query FROM pgwarden.slow_query_log ORDER BY ts"
        ).fetchall()
    assert "secret" not in json.dumps(stored)  # literals are normalised on ingest


def test_a_pool_reports_the_application_frame_and_flushes(uri: str) -> None:
    sent: list[dict[str, Any]] = []
    recorder = SlowQueryRecorder(sent.extend, threshold_ms=50)

    async def main() -> tuple[int, int]:
        pool = await asyncpg.create_pool(
            uri,
            min_size=1,
            max_size=2,
            connection_class=client_asyncpg.timed_connection(recorder),
        )
        try:
            line = _line() + 1
            await pool.fetchval("SELECT pg_sleep(0.06)")
        finally:
            await pool.close()
        return line, await client_asyncpg.flush(recorder)

    line, flushed = asyncio.run(main())

    assert flushed == 1 and recorder.pending() == []
    [report] = sent
    assert report["caller"] == f"{__name__}:main:{line}"
