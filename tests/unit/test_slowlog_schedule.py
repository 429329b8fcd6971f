"""Collection cycles and activity samples at their own pace; hourly upkeep."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pgwarden.slowlog.capture import Capture, Upkeep, upkeep_due
from pgwarden.slowlog.schedule import Periodic, Scheduler


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _runs(
    clock: FakeClock, log: list[tuple[str, float]], name: str, seconds: float
) -> Periodic:
    return Periodic(name, seconds, lambda: log.append((name, clock())))


def test_samples_run_between_collection_cycles() -> None:
    clock, log = FakeClock(), []
    collect = _runs(clock, log, "collect", 60)
    sample = _runs(clock, log, "sample", 1)

    Scheduler([collect, sample], clock=clock, sleep=clock.sleep).run(max_seconds=125)

    cycles = [t for name, t in log if name == "collect"]
    samples = [t for name, t in log if name == "sample"]
    assert cycles == [0, 60, 120]
    assert samples == [float(n) for n in range(126)]
    assert log[:2] == [("collect", 0), ("sample", 0)]  # a cycle comes first


def test_a_slow_cycle_delays_samples_but_none_pile_up() -> None:
    clock, log = FakeClock(), []

    def cycle() -> None:
        log.append(("collect", clock()))
        clock.now += 3.5  # a cycle that takes several sample intervals

    tasks = [Periodic("collect", 60, cycle), _runs(clock, log, "sample", 1)]
    Scheduler(tasks, clock=clock, sleep=clock.sleep).run(max_seconds=6)

    assert [t for name, t in log if name == "sample"] == [3.5, 4.5, 5.5]


def test_stop_ends_the_loop() -> None:
    clock, log = FakeClock(), []
    sample = _runs(clock, log, "sample", 5)
    Scheduler([sample], clock=clock, sleep=clock.sleep).run(
        stopped=lambda: len(log) >= 3
    )
    assert [t for _, t in log] == [0, 5, 10]


def test_upkeep_is_hourly() -> None:
    now = datetime(2024, 5, 1, 12, tzinfo=UTC)
    assert upkeep_due(None, now)
    assert not upkeep_due(now, now + timedelta(minutes=59))
    assert upkeep_due(now, now + timedelta(hours=1))
    assert upkeep_due(now, now - timedelta(minutes=1))  # the clock went back


def test_capture_summary() -> None:
    assert Capture(0, 0).summary() is None
    assert (
        Capture(0, 0, Upkeep(created=("slow_query_log_p20240502",))).summary() is None
    )
    dropped = Upkeep(dropped=("slow_query_log_p20240301", "slow_query_log_p20240302"))
    assert Capture(2, 1, dropped).summary() == (
        "slow queries: 2 from the server log, 1 from activity; slow query log "
        "retention dropped slow_query_log_p20240301, slow_query_log_p20240302"
    )
