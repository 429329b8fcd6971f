"""``pgwarden load run|compare|elasticity``: workload simulation and elasticity."""

from __future__ import annotations

import json
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Any

import typer

from pgwarden.cli.output import emit_json, emit_rows, err
from pgwarden.cli.runtime import Runtime, runtime
from pgwarden.errors import ConfigurationError

app = typer.Typer(
    help="Workload simulation, run comparison and elasticity tests.",
    no_args_is_help=True,
)

Scenario = Annotated[
    str,
    typer.Option(
        "--scenario",
        help="'reference', a .toml/.yaml file of SQL, or a Python module (.py file "
        "or dotted name).",
    ),
]
Fmt = Annotated[str | None, typer.Option("--format", help="json, html, table or md.")]
Output = Annotated[
    Path | None, typer.Option("--output", "-o", help="Write the report to FILE.")
]
Seed = Annotated[int | None, typer.Option("--seed", help="Random seed.")]
Workers = Annotated[
    int | None, typer.Option("--workers", min=1, help="Generator processes.")
]
Quiet = Annotated[bool, typer.Option("--no-progress", help="No live progress.")]
Store = Annotated[
    bool,
    typer.Option(
        "--store/--no-store",
        help="Keep the report in the repository too (the dashboard's Load page).",
    ),
]
AllowUnmarked = Annotated[
    bool,
    typer.Option(
        "--allow-unmarked",
        help="Run the reference scenario on reference tables pgwarden did not load "
        "(it writes test rows into them).",
    ),
]


@app.command("run")
def run(
    ctx: typer.Context,
    scenario: Scenario = "reference",
    users: Annotated[int | None, typer.Option("--users", min=1)] = None,
    preset: Annotated[
        str | None, typer.Option("--preset", help="normal, peak or stress.")
    ] = None,
    duration: Annotated[
        float | None, typer.Option("--duration", help="Measured seconds.")
    ] = None,
    rate: Annotated[
        float | None,
        typer.Option("--rate", help="Open model: arrivals per second (else closed)."),
    ] = None,
    pool: Annotated[int | None, typer.Option("--pool", min=1)] = None,
    cache: Annotated[int | None, typer.Option("--cache", min=1)] = None,
    think_ms: Annotated[float | None, typer.Option("--think-ms", min=0)] = None,
    ramp_up: Annotated[float | None, typer.Option("--ramp-up", min=0)] = None,
    warmup: Annotated[float | None, typer.Option("--warmup", min=0)] = None,
    workers: Workers = None,
    seed: Seed = None,
    fmt: Fmt = None,
    output: Output = None,
    no_progress: Quiet = False,
    allow_unmarked: AllowUnmarked = False,
    store: Store = False,
    distributed: Annotated[
        int | None,
        typer.Option(
            "--distributed",
            min=1,
            help="Split the run into N shards that pgwarden workers sharing the "
            "repository run (see docs/scaling-playbook.md).",
        ),
    ] = None,
    start_in: Annotated[
        float | None,
        typer.Option(
            "--start-in",
            help="With --distributed: seconds until the shards' agreed start "
            "(default 10).",
        ),
    ] = None,
) -> None:
    """Run a scenario with virtual users and report latencies and the bottleneck.

    With --distributed N the run is split into N shards on the job queue; any
    pgwarden worker on the same repository takes them, they start together and
    their histograms are merged exactly. A shard that dies is listed in the report
    and the command exits 1.
    """
    from pgwarden.load import build_report, run_load
    from pgwarden.load.progress import live_progress

    rt = runtime(ctx)
    if distributed is None and start_in is not None:
        raise ConfigurationError("--start-in goes with --distributed")
    if distributed is not None and workers is not None:
        raise ConfigurationError(
            "--workers is for local generator processes; with --distributed each "
            "shard is one process on a worker"
        )
    spec = _spec(
        rt,
        scenario,
        _users(rt, users, preset),
        duration,
        rate,
        pool,
        cache,
        think_ms,
        ramp_up,
        warmup,
        workers,
        seed,
        allow_unmarked=allow_unmarked,
    )
    chosen = rt.output_format(fmt)
    show = nullcontext(None) if no_progress else live_progress(err)
    if distributed is not None:
        _run_distributed(rt, spec, distributed, start_in, chosen, output, store, show)
        return
    with show as progress:
        result = run_load(spec, progress)
    report = build_report(result, rt.target_name())
    _emit_report(chosen, report, output)
    if store:
        _store(rt, "load", report)


def _run_distributed(
    rt: Runtime,
    spec: Any,
    shards: int,
    start_in: float | None,
    chosen: str,
    output: Path | None,
    store: bool,
    show: Any,
) -> None:
    """Queue the shards, wait, merge; the report even when shards were lost."""
    from pgwarden import pg
    from pgwarden.cli.collect_cmd import prepare_repository
    from pgwarden.jobs.shards import JobShardQueue
    from pgwarden.load import build_report
    from pgwarden.load.distributed import (
        START_IN_S,
        check_complete,
        check_plan,
        run_distributed,
    )

    start_in = START_IN_S if start_in is None else start_in
    check_plan(spec, shards, start_in)  # before anything is written
    prepare_repository(rt.repository_dsn(), rt.settings)  # as the workers do
    target = rt.target_name()
    queue = JobShardQueue(rt.settings, rt.repository_dsn())
    where = pg.describe(rt.repository_dsn())
    err.print(f"{shards} shards for the workers of the repository {where}")
    with show as progress:
        result = run_distributed(
            spec, shards, target=target, repository_dsn=rt.repository_dsn(),
            queue=queue, start_in=start_in, progress=progress,
        )  # fmt: skip
    report = build_report(result.run, target)
    report["distributed"] = result.section()
    _emit_report(chosen, report, output)
    if store:
        _store(rt, "load", report)
    for shard in result.shards:
        if shard.late:
            err.print(
                f"shard {shard.shard} started {shard.late_s} s late, after the "
                "measured window opened: it covers less of the window"
            )
    check_complete(result)


@app.command("compare")
def compare(
    ctx: typer.Context,
    a: Annotated[Path, typer.Argument(help="Baseline report (JSON).")],
    b: Annotated[Path, typer.Argument(help="New report (JSON).")],
    threshold: Annotated[
        float | None,
        typer.Option("--threshold", help="Percent change that fails (exit 1)."),
    ] = None,
    fmt: Fmt = None,
) -> None:
    """Per-action p95 and throughput change of B against A; exit 1 on regression."""
    from pgwarden.load.compare import as_rows, compare, read_report

    rt = runtime(ctx)
    limit = rt.settings.load.regression_pct if threshold is None else threshold
    changes = compare(read_report(a), read_report(b), limit)
    rows = as_rows(changes)
    chosen = rt.output_format(fmt)
    if chosen == "json":
        emit_json({"threshold_pct": limit, "changes": rows})
    else:
        columns = ["subject", "metric", "a", "b", "change_pct", "regression"]
        emit_rows(
            chosen,
            f"B against A (fail above {limit:g} %)",
            columns,
            [[r[c] for c in columns] for r in rows],
        )
    if any(c.regression for c in changes):
        err.print(
            f"regression: {sum(c.regression for c in changes)} change(s) above "
            f"{limit:g} %"
        )
        raise typer.Exit(1)


@app.command("elasticity")
def elasticity(
    ctx: typer.Context,
    scenario: Scenario = "reference",
    users: Annotated[int | None, typer.Option("--users", min=1)] = None,
    pool_sizes: Annotated[
        str | None,
        typer.Option("--pool-sizes", help="e.g. 10,20,50 (default: settings)."),
    ] = None,
    cache_sizes: Annotated[
        str | None, typer.Option("--cache-sizes", help="e.g. 10,100,1000.")
    ] = None,
    step_seconds: Annotated[float | None, typer.Option("--step-seconds")] = None,
    think_ms: Annotated[float | None, typer.Option("--think-ms", min=0)] = None,
    ramp_up: Annotated[float | None, typer.Option("--ramp-up", min=0)] = None,
    warmup: Annotated[float | None, typer.Option("--warmup", min=0)] = None,
    skip_cache: Annotated[
        bool, typer.Option("--skip-cache", help="No application cache sweep.")
    ] = False,
    skip_pool: Annotated[
        bool,
        typer.Option("--skip-pool", help="No pool sweep: the other steps use --pool."),
    ] = False,
    pool: Annotated[
        int | None, typer.Option("--pool", min=1, help="Pool size with --skip-pool.")
    ] = None,
    shared_buffers: Annotated[
        bool,
        typer.Option(
            "--shared-buffers",
            help="Sweep shared_buffers (embedded server only: restarts it).",
        ),
    ] = False,
    shared_buffers_sizes: Annotated[
        str | None,
        typer.Option("--shared-buffers-sizes", help="e.g. 16MB,128MB (implies it)."),
    ] = None,
    replica: Annotated[
        bool,
        typer.Option(
            "--replica", help="Compare with a streaming standby built of the target."
        ),
    ] = False,
    replica_dsn: Annotated[
        str | None,
        typer.Option("--replica-dsn", help="Compare with this existing read replica."),
    ] = None,
    workers: Workers = None,
    seed: Seed = None,
    fmt: Fmt = None,
    output: Output = None,
    allow_unmarked: AllowUnmarked = False,
    store: Store = False,
) -> None:
    """Pool, cache, shared_buffers and read-replica steps, and the playbook."""
    from pgwarden.load.buffers import size_bytes
    from pgwarden.load.elasticity import Plan, check_plan, run_elasticity
    from pgwarden.load.elasticity import sizes_between as between

    rt = runtime(ctx)
    el = rt.settings.elasticity
    if pool is not None and not skip_pool:
        raise ConfigurationError("--pool goes with --skip-pool")
    buffer_sizes: list[str] = []
    if shared_buffers or shared_buffers_sizes:
        buffer_sizes = _texts(shared_buffers_sizes) or list(el.shared_buffers_sizes)
        for size in buffer_sizes:
            size_bytes(size)
    spec = _spec(
        rt,
        scenario,
        users or el.users,
        step_seconds or el.step_seconds,
        None,
        pool,
        None,
        think_ms,
        ramp_up,
        warmup,
        workers,
        seed,
        allow_unmarked=allow_unmarked,
    )
    plan = Plan(
        pool_sizes=()
        if skip_pool
        else _sizes(pool_sizes) or between(el.pool_min, el.pool_max, el.pool_step),
        cache_sizes=() if skip_cache else _sizes(cache_sizes) or el.cache_sizes,
        buffer_sizes=buffer_sizes,
        replica=replica,
        replica_dsn=replica_dsn,
        scale_pool_pct=el.scale_pool_pct,
        scale_cache_hit_pct=el.scale_cache_hit_pct,
        read_only=spec.scenario.resolve().read_only,
    )
    target = rt.target_name()
    chosen = rt.output_format(fmt)
    check_plan(spec, plan, target)

    def done(kind: str, size: object, report: dict[str, Any]) -> None:
        err.print(
            f"{kind} {size}: {report['throughput_per_s']} actions/s, "
            f"p95 {report['overall']['p95_ms']} ms, pool use "
            f"{report['pool']['utilisation']:.0%}, app cache hit "
            f"{report['app_cache']['hit_ratio']}, db cache hit "
            f"{report['server']['cache_hit_ratio']}"
        )

    result = run_elasticity(spec, plan, target, done)
    _emit_elasticity(chosen, result, output)
    if store:
        _store(rt, "elasticity", result)


# -- helpers ---------------------------------------------------------------------
def _users(rt: Runtime, users: int | None, preset: str | None) -> int:
    if users is not None and preset is not None:
        raise ConfigurationError("give --users or --preset, not both")
    if preset is None:
        return users or rt.settings.load.normal_users
    presets = {
        "normal": rt.settings.load.normal_users,
        "peak": rt.settings.load.peak_users,
        "stress": rt.settings.load.stress_users,
    }
    if preset not in presets:
        raise ConfigurationError(
            f"--preset: {preset!r} is not one of normal, peak, stress"
        )
    return presets[preset]


def _spec(
    rt: Runtime,
    scenario: str,
    users: int,
    duration: float | None,
    rate: float | None,
    pool: int | None,
    cache: int | None,
    think_ms: float | None,
    ramp_up: float | None,
    warmup: float | None,
    workers: int | None,
    seed: int | None,
    *,
    allow_unmarked: bool = False,
) -> Any:
    from pgwarden.load import LoadSpec, ScenarioRef

    s = rt.settings.load
    ref = ScenarioRef(scenario)
    ref.resolve()  # a malformed scenario file fails here, before anything starts
    if rate is not None and rate <= 0:
        raise ConfigurationError("--rate must be above 0")
    ramp = s.ramp_up_seconds if ramp_up is None else ramp_up
    return LoadSpec(
        dsn=rt.target_dsn(),
        scenario=ref,
        users=users,
        duration_s=duration or s.duration_seconds,
        rate=rate,
        think_ms=(None if not ref.is_reference else s.think_ms)
        if think_ms is None
        else think_ms,
        ramp_up_s=ramp,
        warmup_s=max(ramp, s.warmup_seconds) if warmup is None else warmup,
        pool_size=pool or s.pool_size,
        pool_timeout_s=s.pool_timeout_seconds,
        cache_size=cache or s.cache_size,
        statement_timeout_ms=s.statement_timeout_ms,
        workers=workers or s.workers,
        seed=seed,
        allowed_targets=tuple(s.allowed_targets),
        allow_unmarked=allow_unmarked,
    )


def _sizes(text: str | None) -> list[int]:
    if not text:
        return []
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        raise ConfigurationError(f"sizes must be integers: {text!r}") from exc
    if any(size < 1 for size in sizes):
        raise ConfigurationError(f"sizes must be at least 1: {text!r}")
    return sizes


def _texts(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def _store(rt: Runtime, kind: str, report: dict[str, Any]) -> None:
    """Keep the report in the repository, under the target it ran against."""
    from pgwarden import pg
    from pgwarden.load import stored
    from pgwarden.reports import register_target

    needs = "stored reports (pgwarden init creates them)"
    with pg.connect(rt.repository_dsn()) as repo, pg.guarded(needs):
        target = register_target(repo, rt.target_dsn())
        report_id = stored.store(repo, target.id, kind, report)
    err.print(f"stored as report {report_id}")


def _emit_report(fmt: str, report: dict[str, Any], output: Path | None) -> None:
    from pgwarden.load.html import render_html

    if fmt == "json":
        text = json.dumps(report, indent=2, default=str) + "\n"
    elif fmt == "html":
        text = render_html(report)
    else:
        _print_report(fmt, report)
        if output is not None:
            output.write_text(json.dumps(report, indent=2, default=str) + "\n")
        return
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text)
        err.print(f"report written to {output}")


def _print_report(fmt: str, r: dict[str, Any]) -> None:
    o, pool, bn = r["overall"], r["pool"], r["bottleneck"]
    summary = [
        ("throughput per s", r["throughput_per_s"]),
        (
            "p50 / p95 / p99 / max ms",
            f"{o['p50_ms']} / {o['p95_ms']} / {o['p99_ms']} / {o['max_ms']}",
        ),
        ("errors", f"{r['errors']['total']} ({r['errors']['rate']:.2%})"),
        ("pool utilisation", f"{pool['utilisation']:.0%} of {pool['size']}"),
        ("pool wait p95 ms", pool["wait"]["p95_ms"]),
        ("app cache hit ratio", r["app_cache"]["hit_ratio"]),
        ("db cache hit ratio", r["server"]["cache_hit_ratio"]),
        ("bottleneck", f"{bn['resource']}: {bn['evidence']}"),
        *_generator_rows(r.get("generator")),
    ]
    emit_rows(
        fmt, f"load run: {r['scenario']} ({r['model']})", ["metric", "value"], summary
    )
    columns = ["action", "count", "p50_ms", "p95_ms", "p99_ms", "max_ms", "errors"]
    rows = [[name, *(a[c] for c in columns[1:])] for name, a in r["actions"].items()]
    emit_rows(fmt, "actions", columns, rows)
    if r.get("distributed"):
        _print_shards(fmt, r["distributed"])


def _generator_rows(g: dict[str, Any] | None) -> list[tuple[str, Any]]:
    """The generator's own cost (none in reports stored before it was measured)."""
    if g is None:
        return []
    state = (
        f"SATURATED: figures are a lower bound; {g['reason']}"
        if g["saturated"]
        else f"not saturated, busiest worker {g['cpu_share_max']:.0%} of a core"
    )
    return [("generator CPU per action ms", g["cpu_per_action_ms"]),
            ("generator", state)]  # fmt: skip


SHARD_COLUMNS = ["shard", "status", "worker", "actions", "throughput_per_s",
                 "p50_ms", "p95_ms", "p99_ms", "errors", "cpu_per_action_ms",
                 "late_s", "reason"]  # fmt: skip


def _print_shards(fmt: str, d: dict[str, Any]) -> None:
    title = f"shards: {d['merged']} of {d['shards']} merged"
    if d["lost"]:
        title += f", {d['lost']} LOST (not in the figures above)"
    rows = [[s.get(c) for c in SHARD_COLUMNS] for s in d["per_shard"]]
    emit_rows(fmt, title, SHARD_COLUMNS, rows)


def _emit_elasticity(fmt: str, result: dict[str, Any], output: Path | None) -> None:
    from pgwarden.load.html import render_elasticity_html

    if fmt == "html":
        text = render_elasticity_html(result)
        if output is None:
            typer.echo(text, nl=False)
        else:
            output.write_text(text)
            err.print(f"report written to {output}")
        return
    if output is not None:
        output.write_text(json.dumps(result, indent=2, default=str) + "\n")
    if fmt == "json":
        emit_json(result)
        return
    _print_elasticity(fmt, result)


STEP_COLUMNS = {
    "pool": [
        "size",
        "throughput_per_s",
        "p95_ms",
        "pool_utilisation",
        "cache_hit_ratio",
        "error_rate",
        "generator_saturated",
    ],
    "shared_buffers": [
        "size",
        "throughput_per_s",
        "p95_ms",
        "p99_ms",
        "db_cache_hit_ratio",
        "blocks_read",
        "error_rate",
        "generator_saturated",
    ],
}
STEP_COLUMNS["cache"] = STEP_COLUMNS["pool"]


def _print_elasticity(fmt: str, result: dict[str, Any]) -> None:
    for kind, columns in STEP_COLUMNS.items():
        if kind in result:
            rows = [[s[c] for c in columns] for s in result[kind]["steps"]]
            emit_rows(fmt, f"{kind} sweep", columns, rows)
    if "replica" in result:
        _print_replica(fmt, result["replica"])
    lines: list[tuple[str, Any]] = []
    if "pool" in result:
        lines.append(("recommended pool size", result["pool"]["recommended_pool_size"]))
        lines += [(f"USL {k}", v) for k, v in (result["pool"]["usl"] or {}).items()]
    if "cache" in result:
        lines.append(
            ("recommended cache size", result["cache"]["recommended_cache_size"])
        )
    if "shared_buffers" in result:
        sb = result["shared_buffers"]
        lines.append(("recommended shared_buffers", sb["recommended_shared_buffers"]))
        lines.append(("shared_buffers restored to", sb["original"]))
    if lines:
        emit_rows(fmt, "elasticity", ["item", "value"], lines)
    book = result["playbook"]
    columns = ["signal", "threshold", "measured", "scale", "step"]
    emit_rows(
        fmt,
        "scaling playbook",
        columns,
        [[r[c] for c in columns] for r in book["rules"]],
    )
    emit_rows(fmt, "steps to take", ["step"], [[line] for line in book["steps"]])


def _print_replica(fmt: str, r: dict[str, Any]) -> None:
    before, after = r["before"], r["after"]
    rows: list[list[Any]] = [
        [k, before[k], after[k]]
        for k in ("throughput_per_s", "p95_ms", "p99_ms", "error_rate")
    ]
    rows += [
        [f"primary {k}", before["primary"][k], after["primary"][k]]
        for k in ("load_connections_max", "commits_per_s", "cpu_cores")
    ]
    served = after.get("replica") or {}
    rows += [[f"replica {k}", None, v] for k, v in served.items()]
    emit_rows(fmt, f"read replica {r['replica']}", ["metric", "without", "with"], rows)
    columns = ["action", "read_only", "p95_before_ms", "p95_after_ms"]
    columns += ["p99_before_ms", "p99_after_ms"]
    emit_rows(
        fmt,
        "read replica: actions",
        columns,
        [[a[c] for c in columns] for a in r["actions"]],
    )
