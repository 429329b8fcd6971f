"""``pgwarden demo`` run twice on one data directory, as a newcomer runs it.

The demo runs as a subprocess (the embedded server, the reference data, the worker,
the dashboard and the workload); the dashboard is read in Chromium with the token
the demo prints, and its figures are compared with the API, ``/metrics`` and the
command line. Every check is recorded and all of them are reported together at the
end, so that one failing check does not hide the others.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pgwarden import pg
from pgwarden.embedded import EmbeddedServer, free_port
from pgwarden.sqltext import is_marked, is_own
from tests.browser.conftest import BROWSER_MARKS
from tests.cli_helpers import clean_env, pgwarden

pytestmark = BROWSER_MARKS

#: the default scale: its load takes long enough to reach the server log if it were
#: logged, which the check of the slow query log needs
SCALE = "small"
COLLECT_INTERVAL_S = 3
CYCLES_FIRST_RUN = 4
#: the demo stops itself after this even if the test could not interrupt it
DURATION_S = 240
START_TIMEOUT_S = 150
STOP_TIMEOUT_S = 60
SLOW_RULES = ("slow_query", "slow_query_spike")
#: statements of the reference data load, which the workload never sends; pgwarden's
#: own (its schema, its maintenance) may look alike and are told apart first
LOADER_RE = re.compile(
    r"\bgenerate_series\s*\(|^\s*create\s+(?:unique\s+)?index\b|^\s*create\s+table\b"
    r"|^\s*create\s+schema\b|^\s*analyze\b|\bpg_get_serial_sequence\b|\bsetseed\b"
    r"|^\s*comment\s+on\b",
    re.IGNORECASE | re.MULTILINE,
)
CHARTS_JS = """() => [...document.querySelectorAll('#dashboard figure')].map((fig) => {
  const div = fig.querySelector('div[id^="chart-"]');
  const name = div ? div.id.slice('chart-'.length) : '?';
  const chart = window.pgwarden.charts[name];
  const data = chart ? chart.data : [];
  const drawn = Boolean(chart) && Boolean(div.querySelector('canvas')) &&
    data.slice(1).some((s) => (s || []).some((v) => v !== null && v !== undefined));
  const note = fig.querySelector('p.empty');
  const shown = Boolean(note) && !note.hidden && note.offsetParent !== null &&
    note.textContent.trim() !== '';
  return { name, drawn, note: shown ? note.textContent.trim() : null,
           times: data.length ? data[0].length : 0 };
})"""
CARD_JS = """() => {
  const card = [...document.querySelectorAll('#cards .card')]
    .find((c) => c.textContent.trim().endsWith('unused indexes'));
  return card ? card.querySelector('b').textContent : null;
}"""


@dataclass
class Checks:
    """Every check with its outcome; the test fails at the end if one failed."""

    results: list[tuple[str, bool, str]] = field(default_factory=list)

    def expect(self, name: str, ok: bool, detail: str = "") -> None:
        self.results.append((name, bool(ok), detail))

    def failures(self) -> list[str]:
        return [f"FAILED {n}: {d}" for n, ok, d in self.results if not ok]

    def report(self) -> str:
        return "\n".join(
            f"{'ok    ' if ok else 'FAILED'} {n}: {d if not ok else d[:300]}"
            for n, ok, d in self.results
        )


class Demo:
    """One ``pgwarden demo`` process, its output read line by line as it comes."""

    def __init__(self, data_dir: Path, cwd: Path) -> None:
        args = [
            sys.executable, "-m", "pgwarden", "demo", "--data-dir", str(data_dir),
            "--scale", SCALE, "--duration", str(DURATION_S),
            "--collect-interval", str(COLLECT_INTERVAL_S), "--port", str(free_port()),
        ]  # fmt: skip
        self.launched_at = datetime.now(UTC)
        self.process = subprocess.Popen(
            args,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            cwd=cwd,
            env=clean_env(PYTHONUNBUFFERED="1"),
        )
        self.lines: dict[str, list[tuple[datetime, str]]] = {"out": [], "err": []}
        assert self.process.stdout is not None and self.process.stderr is not None
        self.readers = [
            threading.Thread(target=self._read, args=(name, stream), daemon=True)
            for name, stream in (
                ("out", self.process.stdout),
                ("err", self.process.stderr),
            )
        ]
        for reader in self.readers:
            reader.start()

    def _read(self, name: str, stream: Any) -> None:
        for line in stream:
            self.lines[name].append((datetime.now(UTC), line.rstrip("\n")))

    def output(self) -> str:
        def text(name: str) -> str:
            return "\n".join(line for _at, line in list(self.lines[name]))

        return f"--- stdout\n{text('out')}\n--- stderr\n{text('err')}"

    def find(self, name: str, pattern: str) -> tuple[datetime, re.Match[str]] | None:
        for at, line in list(self.lines[name]):
            found = re.search(pattern, line)
            if found:
                return at, found
        return None

    def wait_for(
        self, name: str, pattern: str, timeout: float = START_TIMEOUT_S
    ) -> tuple[datetime, re.Match[str]]:
        """The first line of ``name`` matching ``pattern`` and when it was read."""
        deadline = time.monotonic() + timeout
        while True:
            ended = self.process.poll() is not None
            if ended:
                self._join()
            found = self.find(name, pattern)
            if found is not None:
                return found
            assert not ended, (
                f"the demo exited ({self.process.returncode}) before printing "
                f"{pattern!r}:\n{self.output()}"
            )
            assert time.monotonic() < deadline, (
                f"no line {pattern!r} after {timeout} s:\n{self.output()}"
            )
            time.sleep(0.1)

    def interrupt(self) -> int | None:
        """Ctrl-C: SIGINT to the demo; its exit code, None if it did not exit."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            code = self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            return None
        self._join()
        return code

    def _join(self) -> None:
        for reader in self.readers:
            reader.join(timeout=10)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=30)
        self._join()
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


@contextmanager
def running(data_dir: Path, cwd: Path) -> Iterator[Demo]:
    """A demo, killed if still running at the end, and its server stopped."""
    demo = Demo(data_dir, cwd)
    try:
        yield demo
    finally:
        try:
            demo.close()
        finally:
            server = EmbeddedServer(data_dir)
            if server.status().running:
                server.stop()


@dataclass(frozen=True)
class Session:
    """What the demo printed: where to reach it."""

    url: str
    token: str
    dsn: str
    pg_port: int
    launched_at: datetime
    workload_at: datetime


def session(demo: Demo) -> Session:
    workload_at, _ = demo.wait_for("out", r"Worker and workload running")
    _, url = demo.wait_for("out", r"^Dashboard: (http://\S+?)/?$")
    _, token = demo.wait_for("out", r"^Admin token: (\S+)$")
    _, dsn = demo.wait_for("out", r"^DSN: (\S+)$")
    _, port = demo.wait_for("err", r"^PostgreSQL \d+ on 127\.0\.0\.1:(\d+)\b")
    return Session(
        url[1], token[1], dsn[1], int(port[1]), demo.launched_at, workload_at
    )


# -- reading the surfaces ------------------------------------------------------------


def http_get(s: Session, path: str) -> tuple[int, str]:
    request = urllib.request.Request(
        s.url + path, headers={"Authorization": f"Bearer {s.token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read().decode()


def api(s: Session, path: str) -> Any:
    status, body = http_get(s, path)
    assert status == 200, (path, status, body[:500])
    return json.loads(body)


def cli(s: Session, *args: str) -> Any:
    """``pgwarden --dsn DSN ARGS``' JSON output."""
    result = pgwarden("--dsn", s.dsn, *args, timeout=120)
    assert result.returncode == 0, (args, result.returncode, result.stderr[-2000:])
    return json.loads(result.stdout)


def sql(s: Session, query: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    """Rows of the repository (the demo database), read on a marked connection."""
    with pg.connect(s.dsn) as conn:
        return pg.fetch_all(conn, query, params)


def cycles_by_target(s: Session) -> dict[int, tuple[int, datetime | None]]:
    rows = sql(
        s,
        "SELECT t.id, count(c.ts) AS n, max(c.ts) AS last FROM pgwarden.target t"
        " LEFT JOIN pgwarden.collect_cycle c ON c.target_id = t.id GROUP BY t.id",
    )
    return {int(r["id"]): (int(r["n"]), r["last"]) for r in rows}


def wait_until(what: str, ready: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def sign_in(page: Any, s: Session) -> None:
    page.goto(s.url + "/")
    page.fill("#token", s.token)
    page.click("#login button[type=submit]")
    page.wait_for_selector("body[data-loaded]", timeout=30_000)


def reload(page: Any) -> None:
    """F5: the token stays in the tab's session storage."""
    page.reload()
    page.wait_for_selector("body[data-loaded]", timeout=30_000)


# -- the checks ------------------------------------------------------------------------


def check_charts(
    page: Any, checks: Checks, moment: str, drawn: tuple[str, ...] = ()
) -> None:
    """1. Every chart has drawn data or its empty-state message, never neither."""
    charts = page.evaluate(CHARTS_JS)
    blank = [c["name"] for c in charts if not c["drawn"] and not c["note"]]
    both = [c["name"] for c in charts if c["drawn"] and c["note"]]
    undrawn = [c["name"] for c in charts if c["name"] in drawn and not c["drawn"]]
    checks.expect(
        f"1 no blank chart without an empty-state message ({moment})",
        len(charts) >= 6 and not blank and not both and not undrawn,
        f"{len(charts)} charts; blank: {blank}; message over data: {both}; "
        f"still without data: {undrawn}; charts: {charts}",
    )
    waiting = [c["note"] for c in charts if (c["note"] or "").startswith("No data yet")]
    if waiting:
        every = f"collects every {COLLECT_INTERVAL_S} s"
        checks.expect(
            f"1 the empty-state message names the demo's interval ({moment})",
            all(every in note for note in waiting),
            f"demo run with --collect-interval {COLLECT_INTERVAL_S}; "
            f"messages: {sorted(set(waiting))}",
        )


def unused_counts(s: Session, page: Any) -> dict[str, int | None]:
    reload(page)
    card = page.evaluate(CARD_JS)
    summary = re.search(r"\((\d+) unused", page.text_content("#indexes-summary") or "")
    metrics = api(s, "/api/admin/performance-metrics")
    status, exposition = http_get(s, "/metrics")
    gauge = re.search(
        r"^pgwarden_unused_indexes(?:\{[^}]*\})?\s+(\S+)$", exposition, re.MULTILINE
    )
    health = cli(s, "indexes", "health", "--format", "json")
    cli_metrics = cli(s, "metrics", "--format", "json")
    digits = re.sub(r"\D", "", card or "")
    return {
        "dashboard card": int(digits) if digits else None,
        "dashboard indexes summary": int(summary[1]) if summary else None,
        "API performance-metrics": metrics["unused_indexes"],
        "/metrics pgwarden_unused_indexes": (
            int(float(gauge[1])) if status == 200 and gauge else None
        ),
        "indexes health (kind unused)": sum(f["kind"] == "unused" for f in health),
        "metrics --format json": cli_metrics["unused_indexes"],
    }


def check_unused_indexes(s: Session, page: Any, checks: Checks) -> None:
    """2. One unused-index count on every surface.

    The surfaces are read one after the other, and the command line reads the live
    statistics: a collection in between may move one of them, so they are read
    again until they agree or the time is up.
    """
    deadline = time.monotonic() + 60
    while True:
        counts = unused_counts(s, page)
        agree = len(set(counts.values())) == 1 and None not in counts.values()
        if agree or time.monotonic() > deadline:
            break
        time.sleep(COLLECT_INTERVAL_S)
    checks.expect("2 the same unused-index count on every surface", agree, str(counts))


def own(text: str) -> bool:
    """Carries the ``/* pgwarden */`` marker or reads the ``pgwarden`` schema."""
    return is_marked(text) or is_own(text)


def check_top_queries(s: Session, page: Any, checks: Checks) -> None:
    """3. No statement of pgwarden's in the top queries of the API and the CLI."""
    lists: dict[str, list[str]] = {}
    for by in ("total", "mean", "calls"):
        top = api(s, f"/api/admin/top-queries?by={by}&limit=100")
        lists[f"API top-queries by {by}"] = [q["query"] for q in top]
        top = cli(s, "queries", "top", "--by", by, "--limit", "100", "--format", "json")
        lists[f"queries top --by {by}"] = [q["query"] for q in top]
    metrics = api(s, "/api/admin/performance-metrics")
    lists["API slowest_queries"] = [q["query"] for q in metrics["slowest_queries"]]
    lists["dashboard top queries"] = page.locator(
        "#top-queries tbody td.query"
    ).all_inner_texts()
    found = {name: [t[:200] for t in texts if own(t)] for name, texts in lists.items()}
    checks.expect(
        "3 the top queries list the workload",
        bool(lists["API top-queries by total"] and lists["queries top --by total"]),
        str({name: len(texts) for name, texts in lists.items()}),
    )
    checks.expect(
        "3 no pgwarden statement in the top queries",
        not any(found.values()),
        str({name: texts for name, texts in found.items() if texts}),
    )


def alert_evaluated(s: Session) -> None:
    """Queue one evaluation of the alert rules and wait for the demo's worker."""
    queued = pgwarden("--dsn", s.dsn, "jobs", "defer", "alerts", timeout=120)
    assert queued.returncode == 0, queued.stderr
    job = re.search(r"queued job alerts\[(\d+)\]", queued.stderr)
    wanted = int(job[1]) if job else None
    status: list[str] = []

    def done() -> bool:
        jobs = cli(s, "jobs", "list", "--limit", "100", "--format", "json")
        status[:] = [
            j["status"]
            for j in jobs
            if j["task"] == "alerts" and (wanted is None or j["id"] == wanted)
        ][:1]
        return bool(status) and status[0] not in ("todo", "doing")

    wait_until("the alert rules to be evaluated", done, timeout=90)
    assert status == ["succeeded"], status


def check_slow_log_and_alerts(s: Session, checks: Checks, moment: str) -> None:
    """4. Nothing of the reference data load in the slow query log or the alerts.

    Also (with 3): none of pgwarden's own statements in the slow query log, nor an
    alert raised by one.
    """
    slow = cli(s, "slow-queries", "--since", "1h", "--min-ms", "0", "--format", "json")
    alerts = cli(s, "alerts", "list", "--state", "all", "--since", "1h", "--format",
                 "json")  # fmt: skip
    mine = [r for r in slow if r["application_name"] == pg.APPLICATION_NAME
            or own(r["query"])]  # fmt: skip
    loader = [r for r in slow if r not in mine and LOADER_RE.search(r["query"])]
    by_loader = {r["fingerprint"] for r in loader}
    by_pgwarden = {r["fingerprint"] for r in mine}

    def brief(rows: list[dict[str, Any]]) -> list[str]:
        return [f"{r['application_name']} {r['duration_ms']} ms {r['source']}: "
                f"{' '.join(r['query'].split())[:160]}" for r in rows]  # fmt: skip

    def statement(alert: dict[str, Any]) -> str:
        text = str(alert["description"] or "")
        return text.split(" ms: ", 1)[1] if " ms: " in text else ""

    def when(alert: dict[str, Any]) -> datetime:
        return datetime.fromisoformat(alert["fired_at"] or alert["started_at"])

    before = [
        a for a in alerts
        if a["rule"] in SLOW_RULES and s.launched_at <= when(a) < s.workload_at
    ]  # fmt: skip
    own_alerts = [
        a for a in alerts
        if a["labels"].get("query") in by_pgwarden
        or (a["rule"] == "slow_query" and own(statement(a)))
    ]  # fmt: skip
    loader_alerts = [
        a for a in alerts
        if a["labels"].get("query") in by_loader
        or (a["rule"] == "slow_query" and a not in own_alerts
            and LOADER_RE.search(statement(a)))
    ]  # fmt: skip

    def rules(found: list[dict[str, Any]]) -> list[str]:
        return [f"{a['rule']} {a['state']} {a['fired_at']}: {a['description']}"
                for a in found]  # fmt: skip

    checks.expect(
        f"4 no statement of the reference data load in the slow query log ({moment})",
        not loader,
        str(brief(loader)),
    )
    checks.expect(
        f"4 no slow-query alert fired before the workload started ({moment})",
        not before,
        f"demo started {s.launched_at.isoformat()}, workload "
        f"{s.workload_at.isoformat()}: {rules(before)}",
    )
    checks.expect(
        f"4 no alert pointing at the reference data load ({moment})",
        not loader_alerts,
        str(rules(loader_alerts)),
    )
    checks.expect(
        f"3 no pgwarden statement in the slow query log ({moment})",
        not mine,
        str(brief(mine)),
    )
    checks.expect(
        f"3 no alert raised by a pgwarden statement ({moment})",
        not own_alerts,
        str(rules(own_alerts)),
    )


def check_stopped(demo: Demo, checks: Checks, run: str) -> datetime:
    """5. Ctrl-C stops the demo cleanly, with its server."""
    stopped_at = datetime.now(UTC)
    code = demo.interrupt()
    said = demo.find("err", r"embedded server stopped") is not None
    checks.expect(
        f"5 {run} stops on Ctrl-C with exit 0 and the server stopped",
        code == 0 and said,
        f"exit {code}; output tail:\n{demo.output()[-1500:]}",
    )
    return stopped_at


@dataclass(frozen=True)
class FirstRun:
    pg_port: int
    cycles: dict[int, tuple[int, datetime | None]]
    stopped_at: datetime


def first_run(demo: Demo, browser: Any, checks: Checks) -> FirstRun:
    s = session(demo)
    page = browser.new_page()
    sign_in(page, s)
    check_charts(page, checks, "first run, as soon as the dashboard is up")
    wait_until(
        f"{CYCLES_FIRST_RUN} collection cycles",
        lambda: sum(n for n, _ in cycles_by_target(s).values()) >= CYCLES_FIRST_RUN,
        timeout=90,
    )
    reload(page)
    check_charts(
        page, checks, f"first run, after {CYCLES_FIRST_RUN} collections",
        drawn=("qps", "latency", "cache", "connections", "size"),
    )  # fmt: skip
    check_unused_indexes(s, page, checks)
    check_top_queries(s, page, checks)
    alert_evaluated(s)
    check_slow_log_and_alerts(s, checks, "first run")
    page.close()
    cycles = cycles_by_target(s)
    return FirstRun(s.pg_port, cycles, check_stopped(demo, checks, "first run"))


def second_run(demo: Demo, browser: Any, checks: Checks, first: FirstRun) -> None:
    s = session(demo)
    checks.expect(
        "5 the second run finds the reference data loaded",
        demo.find("err", r"reference data already loaded") is not None,
        demo.output()[-1500:],
    )
    checks.expect(
        "5 PostgreSQL on the same port as the first run",
        s.pg_port == first.pg_port,
        f"first run {first.pg_port}, second run {s.pg_port}",
    )
    before = sum(n for n, _ in first.cycles.values())
    wait_until(
        "two collection cycles of the second run",
        lambda: sum(n for n, _ in cycles_by_target(s).values()) >= before + 2,
        timeout=90,
    )
    targets = sql(s, "SELECT id, name, system_identifier FROM pgwarden.target")
    checks.expect(
        "5 one target row for the demo database", len(targets) == 1, str(targets)
    )
    cycles = cycles_by_target(s)
    grown = [t for t, (n, _) in first.cycles.items() if cycles.get(t, (0, None))[0] > n]
    checks.expect(
        "5 the first run's history goes on: its target collects again",
        bool(first.cycles) and grown == list(first.cycles),
        f"cycles per target: first run {first.cycles}, second run {cycles}",
    )
    series = api(s, "/api/admin/timeseries?range=1h")["charts"]["connections"]
    earlier = [
        t
        for t, v in zip(series["t"], series["total"], strict=True)
        if v is not None and t <= first.stopped_at.timestamp()
    ]
    checks.expect(
        "5 the first run's samples are still on the dashboard's charts",
        bool(earlier),
        f"first run stopped at {first.stopped_at.timestamp()}; chart times "
        f"{series['t']}",
    )
    page = browser.new_page()
    sign_in(page, s)
    check_charts(
        page, checks, "second run",
        drawn=("qps", "latency", "cache", "connections", "size"),
    )  # fmt: skip
    page.close()
    check_slow_log_and_alerts(s, checks, "second run")
    check_stopped(demo, checks, "second run")


def test_a_newcomer_runs_the_demo_twice(browser: Any, tmp_path: Path) -> None:
    checks = Checks()
    data_dir = tmp_path / "demo"
    with running(data_dir, tmp_path) as demo:
        first = first_run(demo, browser, checks)
    with running(data_dir, tmp_path) as demo:
        second_run(demo, browser, checks, first)
    print(checks.report())
    assert not checks.failures(), "\n".join(checks.failures())
