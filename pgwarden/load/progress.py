"""Live progress of a run on stderr: elapsed, throughput, percentiles, pool use."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from rich.console import Console
from rich.live import Live
from rich.text import Text

from pgwarden.load.engine import Tick
from pgwarden.load.run import Progress


def describe(ticks: Mapping[int, Tick]) -> str:
    """One line from the workers' latest ticks (percentiles: the worst worker)."""
    if not ticks:
        return "starting…"
    all_ticks = list(ticks.values())
    first = all_ticks[0]
    rate = sum(t.last_second for t in all_ticks)
    errors = sum(t.errors for t in all_ticks)
    in_use = sum(t.pool_in_use for t in all_ticks)
    size = sum(t.pool_size for t in all_ticks)
    waiting = sum(t.pool_waiting for t in all_ticks)
    p50, p95, p99 = (
        max(getattr(t, f"{p}_ms") for t in all_ticks) for p in ("p50", "p95", "p99")
    )
    return (
        f"{first.elapsed_s:6.1f} s {first.phase:<9} {rate:6d}/s  "
        f"p50 {p50:7.1f}  p95 {p95:7.1f}  p99 {p99:7.1f} ms  "
        f"errors {errors}  pool {in_use}/{size} (waiting {waiting})"
    )


@contextmanager
def live_progress(console: Console | None = None) -> Iterator[Progress]:
    """A progress callback drawing on stderr while the block runs."""
    console = console or Console(stderr=True)
    with Live(Text("starting…"), console=console, refresh_per_second=4) as live:

        def update(ticks: Mapping[int, Tick]) -> None:
            live.update(Text(describe(ticks)))

        yield update
