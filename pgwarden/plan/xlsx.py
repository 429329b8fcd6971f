"""The capacity spreadsheet: a working model, not a dump.

``Inputs`` holds every assumption in editable cells (users multiplier, headroom,
growth rates and their range, horizons) and says where the growth comes from.
``Tables`` and ``Database`` compute the projections with formulas that reference
those cells, so changing an input recomputes the model in any spreadsheet
application. ``Baseline`` holds the measured data the inputs came from; two charts
show the projected sizes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from openpyxl import Workbook  # type: ignore[import-untyped, unused-ignore]
from openpyxl.chart import BarChart, LineChart, Reference  # type: ignore[import-untyped, unused-ignore]
from openpyxl.utils import get_column_letter  # type: ignore[import-untyped, unused-ignore]

from pgwarden.errors import ConfigurationError
from pgwarden.plan.project import DAYS_PER_MONTH, Projection

#: the Inputs sheet's cells, by meaning (column B holds the values)
CELLS = {
    "users_x": "B2",
    "headroom_pct": "B3",
    "database_bytes": "B4",
    "database_growth_per_day": "B5",
    "peak_qps": "B6",
    "mean_statement_ms": "B7",
    "working_set_bytes": "B8",
    "work_mem_bytes": "B9",
    "ram_bytes": "B10",
    "index_overhead": "B11",
    "days_per_month": "B12",
    "database_growth_low_per_day": "B13",
    "database_growth_high_per_day": "B14",
}
#: how the growth was measured, and on what evidence (text, not inputs)
METHOD_CELL = "B15"
EVIDENCE_CELL = "B16"
LABELS = {
    "users_x": ("Users multiplier", "x"),
    "headroom_pct": ("Headroom", "%"),
    "database_bytes": ("Database size now", "bytes"),
    "database_growth_per_day": ("Database growth", "bytes/day"),
    "peak_qps": ("Peak statements per second", "1/s"),
    "mean_statement_ms": ("Mean statement time", "ms"),
    "working_set_bytes": ("Working set", "bytes"),
    "work_mem_bytes": ("work_mem", "bytes"),
    "ram_bytes": ("RAM", "bytes"),
    "index_overhead": ("Index bytes per heap byte", "ratio"),
    "days_per_month": ("Days per month", "days"),
    "database_growth_low_per_day": ("Database growth, lowest rate seen", "bytes/day"),
    "database_growth_high_per_day": ("Database growth, highest rate seen", "bytes/day"),
}
HORIZON_ROW = 19
TABLE_HEADER_ROW = 21
SHEETS = ("Inputs", "Tables", "Database", "Baseline")


def _abs(cell: str) -> str:
    """``B2`` → ``Inputs!$B$2``."""
    col = "".join(c for c in cell if c.isalpha())
    row = "".join(c for c in cell if c.isdigit())
    return f"Inputs!${col}${row}"


def ref(name: str) -> str:
    return _abs(CELLS[name])


def horizon_ref(i: int) -> str:
    return f"Inputs!${get_column_letter(2 + i)}${HORIZON_ROW}"


def _spread(value: float | None, growth: float | None) -> float:
    return (growth or 0.0) if value is None else value


def _inputs(ws: Any, p: Projection) -> None:
    b, pool, mem = p.baseline, p.pool, p.memory
    db = b.database
    values = {
        "users_x": p.assumptions.users_x,
        "headroom_pct": p.assumptions.headroom_pct,
        "database_bytes": b.database_bytes,
        "database_growth_per_day": b.database.per_day or 0.0,
        "peak_qps": pool.get("peak_qps") or 0.0,
        "mean_statement_ms": pool.get("mean_statement_ms") or 0.0,
        "working_set_bytes": b.working_set_bytes or 0,
        "work_mem_bytes": b.work_mem_bytes,
        "ram_bytes": mem["ram_bytes"],
        "index_overhead": round(b.index_overhead or 0.0, 6),
        "days_per_month": DAYS_PER_MONTH,
        "database_growth_low_per_day": _spread(db.low, db.per_day),
        "database_growth_high_per_day": _spread(db.high, db.per_day),
    }
    ws.append(["Input", "Value", "Unit", "Edit the values in column B"])
    for name, cell in CELLS.items():
        label, unit = LABELS[name]
        ws[f"A{cell[1:]}"], ws[cell], ws[f"C{cell[1:]}"] = label, values[name], unit
    spread = (
        "the range of the rates the evidence shows"
        if db.low is not None and db.high is not None
        else f"{db.method} gives one rate: the range is the growth itself"
    )
    for name in ("database_growth_low_per_day", "database_growth_high_per_day"):
        ws[f"D{CELLS[name][1:]}"] = spread
    ws[f"A{METHOD_CELL[1:]}"], ws[METHOD_CELL] = "Growth method", db.method
    ws[f"A{EVIDENCE_CELL[1:]}"], ws[EVIDENCE_CELL] = "Growth evidence", db.note
    ws.cell(HORIZON_ROW - 1, 1, "Horizons")
    ws.cell(HORIZON_ROW, 1, "Months ahead")
    for i, months in enumerate(p.assumptions.months):
        ws.cell(HORIZON_ROW, 2 + i, months)
    header = [
        "Table",
        "Size now (bytes)",
        "Growth (bytes/day)",
        "Grows with users (1/0)",
        "Rows now",
        "Row growth (rows/day)",
        "Growth method",
        "Growth, lowest rate (bytes/day)",
        "Growth, highest rate (bytes/day)",
    ]
    for col, text in enumerate(header, 1):
        ws.cell(TABLE_HEADER_ROW, col, text)
    for r, t in enumerate(b.tables, TABLE_HEADER_ROW + 1):
        row = [
            t.name,
            t.total_bytes,
            t.size.per_day or 0.0,
            1 if t.scales_with else 0,
            t.rows,
            t.row_growth.per_day or 0.0,
            t.size.method,
            t.size.low,
            t.size.high,
        ]
        for col, value in enumerate(row, 1):
            ws.cell(r, col, value)
    ws.column_dimensions["A"].width = 32
    ws.column_dimensions["D"].width = 24


def _tables(ws: Any, p: Projection) -> None:
    months = p.assumptions.months
    header = ["Table"]
    for m in months:
        header += [f"{m} months on trend (bytes)", f"{m} months at users x (bytes)"]
    ws.append(header)
    for i, _t in enumerate(p.baseline.tables):
        r = TABLE_HEADER_ROW + 1 + i
        row: list[Any] = [f"=Inputs!$A${r}"]
        for h in range(len(months)):
            trend = (
                f"MAX(0,Inputs!$B${r}+Inputs!$C${r}*{horizon_ref(h)}"
                f"*{ref('days_per_month')})"
            )
            row += [f"={trend}", f"={trend}*IF(Inputs!$D${r}=1,{ref('users_x')},1)"]
        ws.append(row)
    ws.column_dimensions["A"].width = 32
    if p.baseline.tables and months:
        chart = BarChart()
        chart.title = f"Tables at {months[-1]} months, users x"
        chart.y_axis.title = "bytes"
        col = 1 + 2 * len(months)
        last = 1 + len(p.baseline.tables)
        chart.add_data(
            Reference(ws, min_col=col, min_row=1, max_row=last), titles_from_data=True
        )
        chart.set_categories(Reference(ws, min_col=1, min_row=2, max_row=last))
        ws.add_chart(chart, f"{get_column_letter(col + 2)}2")


DATABASE_HEADER = [
    "Months ahead",
    "Database on trend (bytes)",
    "Database at users x (bytes)",
    "Index storage at users x (bytes)",
    "Working set at users x (bytes)",
    "shared_buffers needed (bytes)",
    "RAM needed (bytes)",
    "Database at the lowest rate (bytes)",
    "Database at the highest rate (bytes)",
]


def _database(ws: Any, p: Projection) -> None:
    ws.append(DATABASE_HEADER)
    n = len(p.baseline.tables)
    first, last = 2, 1 + n
    for h in range(len(p.assumptions.months)):
        r = 2 + h
        on = get_column_letter(2 + 2 * h)
        at = get_column_letter(3 + 2 * h)
        tables_on = f"SUM(Tables!{on}{first}:{on}{last})" if n else "0"
        tables_at = f"SUM(Tables!{at}{first}:{at}{last})" if n else "0"
        ws.append(
            [
                f"={horizon_ref(h)}",
                f"=MAX(0,{ref('database_bytes')}+{ref('database_growth_per_day')}"
                f"*A{r}*{ref('days_per_month')})",
                f"=MAX(0,B{r}-{tables_on})+{tables_at}",
                f"=C{r}*{ref('index_overhead')}/(1+{ref('index_overhead')})",
                f"={ref('working_set_bytes')}*B{r}/MAX(1,{ref('database_bytes')})"
                f"*{ref('users_x')}",
                f"=E{r}*(1+{ref('headroom_pct')}/100)",
                f"=F{r}/0.25",
                _at_rate("database_growth_low_per_day", r),
                _at_rate("database_growth_high_per_day", r),
            ]
        )
    rows = len(p.assumptions.months)
    base = rows + 3
    pool = (
        f"MAX(1,ROUNDUP({ref('peak_qps')}*{{x}}*{ref('mean_statement_ms')}/1000"
        f"*(1+{ref('headroom_pct')}/100),0))"
    )
    extra = [
        ("Pool now (Little's law)", "=" + pool.format(x="1")),
        ("Pool at users x (Little's law)", "=" + pool.format(x=ref("users_x"))),
        ("shared_buffers by the 25 % rule (bytes)", f"={ref('ram_bytes')}*0.25"),
        (
            "work_mem, all pooled connections (bytes)",
            f"=B{base + 1}*{ref('work_mem_bytes')}",
        ),
    ]
    for i, (label, formula) in enumerate(extra):
        ws.cell(base + i, 1, label)
        ws.cell(base + i, 2, formula)
    for col in "ABCDEFGHI":
        ws.column_dimensions[col].width = 30
    if rows:
        chart = LineChart()
        chart.title = "Database size"
        chart.x_axis.title = "months ahead"
        chart.y_axis.title = "bytes"
        chart.add_data(
            Reference(ws, min_col=2, max_col=3, min_row=1, max_row=1 + rows),
            titles_from_data=True,
        )
        chart.set_categories(Reference(ws, min_col=1, min_row=2, max_row=1 + rows))
        ws.add_chart(chart, "I2")


def _at_rate(name: str, r: int) -> str:
    """The database at row ``r``'s horizon, growing at the rate in ``name``."""
    return f"=MAX(0,{ref('database_bytes')}+{ref(name)}*A{r}*{ref('days_per_month')})"


def _baseline(ws: Any, p: Projection) -> None:
    b = p.baseline
    db = b.database
    ws.append(["Measured", "Value"])
    for label, value in (
        ("Target", b.target),
        ("Generated at", b.generated_at.isoformat()),
        ("Growth method", db.method),
        ("Growth (bytes/day)", db.per_day),
        ("Growth, lowest rate seen (bytes/day)", db.low),
        ("Growth, highest rate seen (bytes/day)", db.high),
        ("Growth R²", db.r2),
        ("Days of evidence", round(db.span_days, 2)),
        ("Growth", db.note),
        ("pgwarden history", b.history_note),
        ("Peak statements per second", b.peak_qps),
        ("Mean statement time (ms)", b.mean_statement_ms),
        ("Peak connection utilisation", b.peak_connection_utilisation),
        ("Cache hit ratio", b.cache_hit_ratio),
        ("shared_buffers (bytes)", b.shared_buffers_bytes),
    ):
        ws.append([label, value])
    ws.append([])
    ws.append(["Day", "Database size (bytes)"])
    for day, size in b.daily:
        ws.append([day.date().isoformat(), size])
    ws.append([])
    ws.append(
        [
            "Table",
            "Total bytes",
            "Heap bytes",
            "Index bytes",
            "Rows",
            "Growth bytes/day",
            "Growth, lowest rate (bytes/day)",
            "Growth, highest rate (bytes/day)",
            "Growth method",
            "R²",
            "Grows with",
            "Growth evidence",
        ]
    )
    for t in b.tables:
        ws.append(
            [
                t.name,
                t.total_bytes,
                t.heap_bytes,
                t.index_bytes,
                t.rows,
                t.size.per_day,
                t.size.low,
                t.size.high,
                t.size.method,
                t.size.r2,
                t.scales_with or "",
                t.size.note,
            ]
        )
    ws.column_dimensions["A"].width = 32


def workbook(p: Projection) -> Any:
    wb = Workbook()
    inputs = wb.active
    inputs.title = "Inputs"
    _inputs(inputs, p)
    _tables(wb.create_sheet("Tables"), p)
    _database(wb.create_sheet("Database"), p)
    _baseline(wb.create_sheet("Baseline"), p)
    return wb


def write(path: Path, p: Projection) -> None:
    """Save the model, or fail in one line naming the file."""
    wb = workbook(p)
    try:
        wb.save(path)
    except OSError as exc:
        raise ConfigurationError(
            f"--xlsx {path}: cannot write: {exc.strerror or exc}"
        ) from exc
