/* The Space page: tables (heap, TOAST, indexes, total, growth per day) and indexes
   with their sizes and bloat, estimated and, where the stored report measured it,
   measured. Sortable; the choices survive the refresh. */
(function () {
  "use strict";
  const pw = window.pgwarden;
  const { el, fmt, bytes } = pw;
  const DASH = "–";

  const perDay = (g) => (g && g.per_day !== null && g.per_day !== undefined
    ? bytes(g.per_day) + " / day" : DASH);
  const pctOf = (v) => (v === null || v === undefined ? DASH : fmt(v, 1) + " %");
  const bloatBytes = (b) => (b && b.bloat_bytes ? bytes(b.bloat_bytes) : DASH);
  const measured = (b) => (b && b.measured_pct !== null && b.measured_pct !== undefined
    ? pctOf(b.measured_pct) + (b.measured_by ? " (" + b.measured_by + ")" : "") : DASH);
  const num = (v) => (v === null || v === undefined ? -Infinity : v);

  const TABLE_ORDER = {
    total: (t) => num(t.total_bytes ?? t.heap_bytes),
    growth: (t) => num(t.size_growth && t.size_growth.per_day),
    bloat: (t) => num(t.bloat.bloat_bytes),
    toast: (t) => num(t.toast_bytes),
  };
  const INDEX_ORDER = {
    size: (i) => num(i.size_bytes),
    bloat: (i) => num(i.bloat.bloat_bytes),
    scans: (i) => -num(i.scans),
  };

  function sortSelect(id, label, options) {
    const select = el("select", { id }, options.map(([value, text]) =>
      el("option", { value }, text)));
    select.addEventListener("change", () => render());
    return el("label", { class: "sort" }, [label + " ", select]);
  }

  function mount(root) {
    root.append(
      el("p", { class: "notes", id: "space-notes" }),
      el("section", { class: "cards", id: "space-cards", "aria-label": "totals" }),
      el("section", { "aria-labelledby": "space-tables-title" }, [
        el("h3", { id: "space-tables-title" }, "Tables"),
        el("div", { class: "controls" }, [
          sortSelect("space-table-sort", "Sort by", [["total", "total size"],
            ["growth", "growth per day"], ["bloat", "bloat"], ["toast", "TOAST"]]),
          el("label", {}, ["Find ", el("input", { id: "space-find", type: "search",
            placeholder: "table or index", oninput: () => render() })]),
        ]),
        el("p", { class: "quiet empty-state", id: "space-tables-empty", hidden: true }),
        el("div", { class: "table-wrap" }, [pw.table("space-tables", ["table", "total",
          "heap", "TOAST", "indexes", "rows", "growth", "evidence", "bloat est.",
          "bloat measured", "reclaimable"])]),
      ]),
      el("section", { "aria-labelledby": "space-indexes-title" }, [
        el("h3", { id: "space-indexes-title" }, "Indexes"),
        el("div", { class: "controls" }, [sortSelect("space-index-sort", "Sort by",
          [["size", "size"], ["bloat", "bloat"], ["scans", "fewest scans"]])]),
        el("p", { class: "quiet empty-state", id: "space-indexes-empty", hidden: true }),
        el("div", { class: "table-wrap" }, [pw.table("space-indexes", ["index", "table",
          "size", "scans", "unused", "bloat est.", "bloat measured", "reclaimable"])]),
      ]),
      el("p", { class: "quiet", id: "space-measured" }),
    );
  }

  function cards(s) {
    const db = s.database || {};
    const storage = s.storage || {};
    pw.$("space-cards").replaceChildren(
      pw.card("database size", bytes(db.size_bytes)),
      pw.card("database growth", perDay(db.growth)),
      pw.card("heap", bytes(storage.heap_bytes)),
      pw.card("indexes", bytes(storage.index_bytes)),
      pw.card("tables", fmt(s.tables.length)),
      pw.card("indexes (count)", fmt(s.indexes.length)),
    );
  }

  const matches = (text, ...names) => !text || names.some((n) =>
    String(n || "").toLowerCase().includes(text));

  function sorted(items, order) {
    return [...items].sort((a, b) => (order(b) - order(a)) || 0);
  }

  function fill(id, emptyId, items, columns, emptyText) {
    pw.fillTable(id, items, columns);
    const empty = pw.$(emptyId);
    empty.textContent = emptyText;
    empty.hidden = items.length > 0;
    pw.$(id).hidden = items.length === 0;
  }

  function renderTables(s, text) {
    const order = TABLE_ORDER[pw.$("space-table-sort").value];
    const shown = sorted(s.tables.filter((t) => matches(text, t.schema + "." + t.table)),
      order);
    fill("space-tables", "space-tables-empty", shown, [
      [(t) => t.schema + "." + t.table, "name"], [(t) => bytes(t.total_bytes)],
      [(t) => bytes(t.heap_bytes)], [(t) => bytes(t.toast_bytes)],
      [(t) => bytes(t.index_bytes)], [(t) => fmt(t.rows, 0)],
      [(t) => perDay(t.size_growth)],
      [(t) => (t.size_growth ? t.size_growth.method : DASH), "quiet"],
      [(t) => pctOf(t.bloat.estimated_pct)], [(t) => measured(t.bloat)],
      [(t) => bloatBytes(t.bloat)],
    ], text ? "No table matches." : "No tables.");
    for (const [i, row] of [...pw.$("space-tables").tBodies[0].rows].entries()) {
      const g = shown[i].size_growth;
      if (g && g.note) row.cells[7].title = g.note;
    }
  }

  function renderIndexes(s, text) {
    const order = INDEX_ORDER[pw.$("space-index-sort").value];
    const shown = sorted(s.indexes.filter((i) => matches(text, i.index,
      i.schema + "." + i.table)), order);
    fill("space-indexes", "space-indexes-empty", shown, [
      [(i) => i.index, "name"], [(i) => i.schema + "." + i.table],
      [(i) => bytes(i.size_bytes)], [(i) => fmt(i.scans, 0)],
      [(i) => (i.unused ? "unused" : "")], [(i) => pctOf(i.bloat.estimated_pct)],
      [(i) => measured(i.bloat)], [(i) => bloatBytes(i.bloat)],
    ], text ? "No index matches." : "No indexes.");
  }

  function notes(s) {
    const history = s.history && s.history.note ? [s.history.note] : [];
    pw.$("space-notes").textContent = [...s.notes, ...history].join(" ");
    pw.$("space-measured").textContent = "Sizes and estimates read " +
      pw.when(s.generated_at) + ". " + (s.measured_at
      ? "Measured bloat (pgstattuple) as the index-health report of " +
        pw.when(s.measured_at) + " recorded it; other bloat figures are estimates."
      : "No stored index-health report: bloat is estimated only.");
  }

  function render() {
    const s = pw.spaceData;
    if (!s) return;
    const text = pw.$("space-find").value.trim().toLowerCase();
    renderTables(s, text);
    renderIndexes(s, text);
  }

  async function refresh() {
    const s = await pw.api("/api/admin/space");
    pw.spaceData = s;
    cards(s);
    notes(s);
    render();
  }

  pw.page({ name: "space", title: "Space", match: /^\/space$/, mount, refresh });
})();
