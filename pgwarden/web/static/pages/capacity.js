/* The Capacity page: the baseline and its evidence, the projection over the horizons
   with its thresholds, the pool and memory, per table growth, the spreadsheet. */
(function () {
  "use strict";
  const pw = window.pgwarden;
  const { el, fmt, bytes, pct, when, table, fillTable } = pw;
  const API = "/api/admin/capacity/";
  const DAY_S = 86400;

  function figure(id, caption) {
    return el("figure", {}, [el("figcaption", {}, caption), el("div", { id })]);
  }

  const perDay = (value, format) =>
    value === null || value === undefined ? "–" : format(value) + "/day";

  function mount(root) {
    const months = el("input", { id: "cap-months", type: "text", inputmode: "numeric",
      size: 8, placeholder: "6,12" });
    const users = el("input", { id: "cap-users", type: "number", min: "0.1",
      step: "any", placeholder: "10" });
    for (const input of [months, users]) input.addEventListener("change", pw.refresh);
    root.append(
      el("div", { id: "cap-cards", class: "cards" }),
      el("form", { class: "cap-controls", onsubmit: (e) => { e.preventDefault(); pw.refresh(); } }, [
        el("label", {}, ["horizons (months) ", months]),
        el("label", {}, ["users × ", users]),
        el("button", { type: "submit" }, "Project"),
        pw.button("Download spreadsheet (xlsx)", "spreadsheet", () => download(root)),
        el("span", { id: "cap-download", class: "quiet", role: "status" }),
      ]),
      pw.section("cap-evidence", "Growth and its evidence", [
        el("dl", { id: "cap-evidence-list" }),
        el("p", { id: "cap-notes", class: "notes" }),
      ]),
      el("section", { class: "charts" }, [
        figure("cap-chart-history", "Database size per day (collected history)"),
        figure("cap-chart-projection", "Projected database size by months ahead, " +
          "with the size thresholds"),
      ]),
      pw.section("cap-horizons", "Horizons", [
        pw.wrap(table("cap-horizons-table", ["months", "days", "database", "lowest–highest " +
          "rate", "at users ×", "index bytes at users ×"])),
        el("p", { id: "cap-empty", class: "quiet", hidden: true }),
      ]),
      pw.section("cap-thresholds", "Thresholds", [
        pw.wrap(table("cap-thresholds-table", ["threshold", "now", "limit", "when",
          "trend"])),
      ]),
      pw.section("cap-resources", "Pool and memory", [
        pw.wrap(table("cap-resources-table", ["figure", "value", "how"])),
      ]),
      pw.section("cap-tables", "Tables", [
        pw.wrap(table("cap-tables-table", ["table", "size", "rows", "size growth",
          "row growth", "method", "scales with", "evidence"])),
      ]),
    );
  }

  function params(root) {
    const query = new URLSearchParams();
    const months = root.querySelector("#cap-months").value.trim();
    const users = root.querySelector("#cap-users").value.trim();
    if (months) query.set("months", months);
    if (users) query.set("users_x", users);
    const text = query.toString();
    return text ? "?" + text : "";
  }

  async function download(root) {
    const status = root.querySelector("#cap-download");
    status.textContent = "preparing…";
    try {
      await pw.download(API + "spreadsheet" + params(root),
        "pgwarden-capacity-" + (pw.session.target || "target").replace(/[^A-Za-z0-9._-]+/g,
          "-") + ".xlsx");
      status.textContent = "downloaded";
    } catch (error) {
      status.textContent = "";
      root.querySelector(".page-error").textContent = "could not download: " + error.message;
    }
  }

  function renderCards(root, b) {
    const c = b.connections || {};
    root.querySelector("#cap-cards").replaceChildren(
      pw.card("database size", bytes(b.database.size_bytes), "cap-size"),
      pw.card("growth", perDay(b.database.growth.per_day, bytes), "cap-growth"),
      pw.card("history", fmt(b.history.days, 1) + " days, " + fmt(b.history.samples) +
        (b.history.samples === 1 ? " sample" : " samples")),
      pw.card("peak statements / s", fmt(b.peak_qps, 1)),
      pw.card("mean statement ms", fmt(b.mean_statement_ms, 3)),
      pw.card("peak connections", fmt(c.peak) + " / " + fmt(c.usable)),
      pw.card("cache hit", pct(b.memory.cache_hit_ratio)),
      pw.card("users / tenants", fmt(b.users) + " / " + fmt(b.tenants)),
    );
  }

  function term(list, name, value) {
    list.append(el("dt", {}, name), el("dd", {}, value));
  }

  function renderEvidence(root, b) {
    const g = b.database.growth;
    const list = root.querySelector("#cap-evidence-list");
    list.replaceChildren();
    term(list, "method", g.method);
    term(list, "based on", g.note || "–");
    term(list, "rate", perDay(g.per_day, bytes) + (g.low !== null && g.low !== undefined
      ? " (lowest " + perDay(g.low, bytes) + ", highest " + perDay(g.high, bytes) + ")"
      : ""));
    term(list, "fit", g.r2 === null || g.r2 === undefined ? "no regression (R² –)"
      : "R² " + fmt(g.r2, 2) + " over " + fmt(g.points) + " days");
    term(list, "history", b.history.usable ? "usable for a trend"
      : "not yet usable: " + b.history.note);
    term(list, "computed", when(b.generated_at) + " (kept " + fmt(b.keep_seconds) +
      " s)");
    root.querySelector("#cap-notes").textContent = (b.notes || []).join(" · ");
  }

  function renderHistory(b) {
    const daily = b.daily || [];
    const t = daily.map((d) => Date.parse(d.day) / 1000);
    const until = Date.parse(b.generated_at) / 1000;
    const since = t.length ? Math.min(t[0], until - 7 * DAY_S) : until - 7 * DAY_S;
    pw.draw("capacity.history", pw.$("cap-chart-history"),
      { t, size: daily.map((d) => d.size_bytes) }, ["size"],
      { since, until, yFormat: bytes, emptyText: "No database size collected yet" });
  }

  /* The projection as a chart over months ahead: the database size on trend, its
     range, at more users, and each size threshold as a flat line. */
  function renderProjection(p) {
    const h = p.horizons;
    const size = p.size_now;
    const limits = p.thresholds.filter((x) => x.unit === "bytes");
    const chart = { t: [0, ...h.map((x) => x.months)],
      database: [size, ...h.map((x) => x.database_bytes)],
      lowest: [size, ...h.map((x) => x.database_bytes_low)],
      highest: [size, ...h.map((x) => x.database_bytes_high)] };
    const usersName = "at " + fmt(p.assumptions.users_x) + "× users";
    chart[usersName] = [size, ...h.map((x) => x.database_bytes_at_users_x)];
    for (const limit of limits) chart[limit.threshold] = chart.t.map(() => limit.limit);
    pw.draw("capacity.projection", pw.$("cap-chart-projection"), chart,
      ["database", "lowest", "highest", usersName, ...limits.map((x) => x.threshold)],
      { time: false, yFormat: bytes, emptyText: "No projection" });
  }

  function amount(value, unit) {
    return unit === "bytes" ? bytes(value) : fmt(value) + " " + unit;
  }

  function renderTables(p) {
    fillTable("cap-horizons-table", p.horizons, [
      [(x) => fmt(x.months)], [(x) => fmt(x.days, 1)], [(x) => bytes(x.database_bytes)],
      [(x) => bytes(x.database_bytes_low) + " – " + bytes(x.database_bytes_high)],
      [(x) => bytes(x.database_bytes_at_users_x)],
      [(x) => bytes(x.index_bytes_at_users_x)],
    ]);
    fillTable("cap-thresholds-table", p.thresholds, [
      [(x) => x.threshold], [(x) => amount(x.current, x.unit)],
      [(x) => amount(x.limit, x.unit)], [(x) => x.when, "when"], [(x) => x.trend],
    ]);
  }

  function renderResources(p) {
    const pool = p.pool || {};
    const m = p.memory || {};
    const x = fmt(p.assumptions.users_x) + "× users";
    const rows = [
      ["pool now", fmt(pool.pool), pool.formula || pool.note || ""],
      ["pool at " + x, fmt(pool.pool_at_users_x), "peak " +
        fmt(pool.peak_qps_at_users_x, 1) + " statements/s"],
      ["usable connections", fmt(pool.usable_connections), ""],
      ["RAM", bytes(m.ram_bytes), m.ram_source || ""],
      ["shared_buffers", bytes(m.shared_buffers_bytes), "25 % of RAM: " +
        bytes(m.shared_buffers_25pct_bytes)],
      ["working set", bytes(m.working_set_bytes), m.note || ""],
      ["shared_buffers needed", bytes(m.shared_buffers_needed_bytes), "working set at " +
        "the last horizon and " + x + ", with headroom"],
      ["RAM needed", bytes(m.ram_needed_bytes), ""],
      ["work_mem, all connections", bytes(m.work_mem_all_connections_bytes),
        bytes(m.work_mem_per_connection_bytes) + " × " + fmt(m.work_mem_connections)],
    ];
    if (pool.usl && pool.usl.note) rows.push(["load test (USL)", "", pool.usl.note]);
    fillTable("cap-resources-table", rows, [[(r) => r[0]], [(r) => r[1]], [(r) => r[2]]]);
  }

  function renderTablesOfBaseline(b) {
    fillTable("cap-tables-table", b.tables, [
      [(t) => t.schema + "." + t.table], [(t) => bytes(t.total_bytes)],
      [(t) => fmt(t.rows)], [(t) => perDay(t.size_growth.per_day, bytes)],
      [(t) => perDay(t.row_growth.per_day, (v) => fmt(v, 1) + " rows")],
      [(t) => t.size_growth.method], [(t) => t.scales_with || ""],
      [(t) => t.size_growth.note || ""],
    ]);
  }

  function clearProjection(root, reason) {
    const note = root.querySelector("#cap-empty");
    note.textContent = reason || "";
    note.hidden = !reason;
    if (!reason) return;
    for (const id of ["cap-horizons-table", "cap-thresholds-table", "cap-resources-table"]) {
      fillTable(id, [], []);
    }
    pw.draw("capacity.projection", pw.$("cap-chart-projection"), { t: [] }, ["database"],
      { time: false, emptyText: reason });
  }

  async function projection(root, b) {
    try {
      const p = await pw.api(API + "projection" + params(root));
      p.size_now = b.database.size_bytes;
      clearProjection(root, "");
      renderProjection(p);
      renderTables(p);
      renderResources(p);
      if (!root.querySelector("#cap-months").value) {
        root.querySelector("#cap-months").placeholder = p.assumptions.months.join(",");
        root.querySelector("#cap-users").placeholder = String(p.assumptions.users_x);
      }
    } catch (error) {
      if (error.status !== 404) throw error;
      clearProjection(root, error.message);
    }
  }

  async function refresh(root) {
    const b = await pw.api(API + "baseline", true);
    if (!b) {
      root.querySelector("#cap-cards").replaceChildren(el("p", { class: "quiet" },
        "No collected history yet: run pgwarden collect (capacity planning needs days " +
        "of history)."));
      clearProjection(root, "Nothing to project yet.");
      return;
    }
    renderCards(root, b);
    renderEvidence(root, b);
    renderHistory(b);
    renderTablesOfBaseline(b);
    await projection(root, b);
  }

  pw.page({ name: "capacity", title: "Capacity", match: /^\/capacity$/, mount, refresh });
})();
