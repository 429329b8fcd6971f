/* The Overview page: KPI cards, a health summary per track, alerts, six charts,
   top queries with a drill-down, tables and indexes (the static #dashboard). */
(function () {
  "use strict";
  const pw = window.pgwarden;
  const { $, fmt, bytes, pct, cell, fillTable, card, draw, viewOf } = pw;
  const SHOWN = ["firing", "pending", "acknowledged"];
  const NO = pw.NO_CHARTS;

  function renderCards(m) {
    const c = m.active_connections || {};
    const slow = m.slow_queries_per_minute;
    $("cards").replaceChildren(
      card("queries / s", fmt(m.queries_per_second)),
      card("mean latency ms", fmt(m.mean_latency_ms, 3)),
      card("cache hit (db)", pct(m.cache_hit_ratio.database)),
      card("cache hit (app)", pct(m.cache_hit_ratio.application)),
      card("connections", fmt(c.total) + " / " + fmt(c.max)),
      card("utilisation", pct(c.utilisation)),
      card("slow queries / min", fmt(slow.total)),
      card("unused indexes", fmt(m.unused_indexes)),
    );
    const own = m.own_statements || {};
    const left = own.excluded && own.statements
      ? [own.statements + " of pgwarden's own statements left out of the figures."]
      : [];
    $("notes").textContent = [...(m.notes || []), ...left].join(" ");
    $("updated").textContent = "updated " + new Date(m.generated_at).toLocaleTimeString();
  }

  /* The error rate card: the health summary's "errors per minute" item (the
     figure pgwarden metrics prints), its classes on hover. */
  function renderErrors(h) {
    const items = (h ? h.tracks || [] : []).flatMap((t) => t.items || []);
    const item = items.find((i) => i.label === "errors per minute");
    if (!item) return;
    const shown = card("errors / min", fmt(item.value, 2), "errors-card");
    shown.title = [item.display, item.note].filter(Boolean).join("; ");
    shown.dataset.status = item.status || "ok";
    $("cards").append(shown);
  }

  function renderCharts(ts, range) {
    const c = ts ? ts.charts : {};
    const view = viewOf(ts, range);
    const collected = pw.hasValue((c.connections || NO).total);
    const slowView = { ...view,
      emptyText: collected ? "No slow queries in this range" : view.emptyText };
    draw("qps", $("chart-qps"), c.queries_per_second, ["qps"], view);
    draw("latency", $("chart-latency"), c.mean_latency_ms, ["mean_ms"], view);
    draw("cache", $("chart-cache"), c.cache_hit_ratio, ["ratio"],
      { ...view, yRange: [0, 1] });
    draw("connections", $("chart-connections"), c.connections,
      ["total", "active", "idle", "idle_in_transaction"], view);
    draw("slow", $("chart-slow"), c.slow_queries_per_minute,
      ["warning", "critical", "emergency"], slowView);
    draw("size", $("chart-size"), c.table_size_bytes, ["total_size_bytes"],
      { ...view, yFormat: bytes });
  }

  async function renderTop() {
    const top = await pw.api("/api/admin/top-queries?by=" + $("top-by").value, true) || [];
    fillTable("top-queries", top, [
      [(q) => pw.queryText(q.query).replace(/\s+/g, " "), "query"],
      [(q) => fmt(q.calls)], [(q) => fmt(q.mean_ms, 3)], [(q) => fmt(q.max_ms, 3)],
      [(q) => fmt(q.total_ms, 1)], [(q) => pct(q.share_of_total_time)],
      [(q) => q.caller || ""],
    ], (q) => drill(q.queryid));
  }

  function renderTables(m) {
    fillTable("tables", m.table_sizes, [
      [(t) => t.schema + "." + t.table], [(t) => bytes(t.total_size_bytes)],
      [(t) => fmt(t.rows)], [(t) => bytes(t.growth_bytes_per_day)],
    ]);
    fillTable("indexes", m.index_usage, [
      [(i) => i.index], [(i) => i.table || ""], [(i) => fmt(i.scans)],
      [(i) => bytes(i.size_bytes)],
      [(i) => (i.unused === null ? "unknown" : i.unused ? "unused" : "")],
    ]);
    $("indexes-summary").textContent = m.unused_indexes === null ||
      m.unused_indexes === undefined ? "" : "(" + m.unused_indexes +
      " unused: no scan in " + m.index_window_days + " days)";
  }

  async function drill(queryid) {
    const range = $("range").value;
    const q = await pw.api("/api/admin/queries/" + encodeURIComponent(queryid) +
      "?range=" + range);
    $("drilldown").hidden = false;
    $("drill-id").textContent = q.queryid;
    $("drill-link").href = "/queries/" + encodeURIComponent(q.queryid);
    $("drill-text").textContent = pw.queryText(q.query);
    draw("query", $("chart-query"), q.series, ["mean_ms", "calls_per_second"],
      viewOf(q, range));
    fillTable("drill-slow", q.slow_executions, [
      [(s) => new Date(s.ts).toLocaleString()], [(s) => fmt(s.duration_ms, 1)],
      [(s) => s.severity], [(s) => s.source], [(s) => s.caller || ""],
    ]);
    pw.drilled = q;
  }

  /* The health summary from /api/admin/overview: a block per track, its status the
     worst of its items; each item links to the page that shows it in full. */
  function renderHealth(h) {
    const box = $("health");
    if (!h) { box.replaceChildren(); return; }
    const known = (i) => i.value !== null && i.value !== undefined;
    const link = (href, text) => (href && href !== location.pathname
      ? pw.el("a", { href, "data-page-link": "" }, text) : pw.el("span", {}, text));
    const detail = (i) => [i.note, i.as_of ? "as of " + pw.when(i.as_of) : null]
      .filter(Boolean).join("; ");
    const line = (i) => pw.el("li", { class: i.status || "ok",
      "data-label": i.label }, [
      link(i.page, i.label),
      pw.el("b", { class: known(i) ? "" : "unknown" }, i.display || (known(i)
        ? fmt(i.value) : "–")),
      detail(i) ? pw.el("small", {}, detail(i)) : null,
    ]);
    box.replaceChildren(...(h.tracks || []).map((t) => pw.el("div", {
      class: "track " + (t.status || ""), "data-track": t.track,
      "data-status": t.status || "" }, [
      pw.el("h3", {}, [link(t.page, t.title)]),
      pw.el("ul", {}, (t.items || []).map(line)),
    ])));
  }

  /* Alerts: firing, pending and acknowledged; acknowledge, resolve, silence for
     the admin role only. */
  function since(a) {
    const at = new Date(a.fired_at || a.started_at);
    const minutes = Math.max(0, Math.round((Date.now() - at.getTime()) / 60000));
    const ago = minutes < 90 ? minutes + " min" : fmt(minutes / 60, 1) + " h";
    return at.toLocaleString() + " (" + ago + ")";
  }

  function runbook(row, a) {
    const link = pw.el("a", { rel: "noreferrer", target: "_blank" }, a.runbook);
    if (/^https?:\/\//.test(a.runbook)) link.href = a.runbook;
    else link.title = "in the pgwarden documentation";
    cell(row, link);
  }

  function alertRow(a, onChange) {
    const row = pw.el("tr", { class: a.severity + " " + a.state,
      "data-alert-id": String(a.id), "data-state": a.state });
    cell(row, a.severity, "sev");
    const shown = a.muted_by ? a.state + " (muted)" : a.state;
    cell(row, a.acked_by ? shown + " by " + a.acked_by : shown);
    cell(row, a.rule);
    const text = cell(row, a.description || a.summary);
    if (a.value !== null && a.value !== undefined) text.title = "value " + a.value;
    cell(row, since(a));
    runbook(row, a);
    const actions = cell(row, "", "actions");
    if (a.state !== "resolved") {
      const ack = a.state === "firing" || a.state === "pending";
      actions.append(...[
        ack ? pw.adminButton("Acknowledge", "ack", () => change(a, "ack", onChange)) : null,
        pw.adminButton("Resolve", "resolve", () => change(a, "resolve", onChange)),
        pw.adminButton("Silence", "silence", () => openSilence(a, onChange)),
      ].filter((b) => b !== null));
    }
    return row;
  }

  async function loadAlerts() {
    const found = await pw.api("/api/admin/alerts?state=open");
    const shown = found.filter((a) => SHOWN.includes(a.state));
    $("alerts").querySelector("tbody").replaceChildren(
      ...shown.map((a) => alertRow(a, refreshAlerts)));
    const firing = shown.filter((a) => a.state === "firing").length;
    $("alerts-count").textContent = shown.length ? "(" + firing + " firing)" : "";
    $("alerts-empty").hidden = shown.length > 0;
    $("alerts").hidden = shown.length === 0;
    $("alerts-error").textContent = "";
  }

  async function refreshAlerts() {
    try {
      await loadAlerts();
    } catch (error) {
      if (String(error.message) !== "unauthorized") {
        $("alerts-error").textContent = "could not load alerts: " + error.message;
      }
    }
  }

  /* An action's error, on the page it was taken from. */
  function report(message) {
    const shown = document.body.dataset.page === "overview" ? $("alerts-error")
      : document.querySelector("#page .page-error");
    if (shown) shown.textContent = message;
  }

  async function change(a, action, onChange) {
    const by = pw.who();
    if (!by) return;
    try {
      await pw.post("/api/admin/alerts/" + a.id + "/" + action, { by });
    } catch (error) {
      report(error.message);
      return;
    }
    await onChange();
  }

  /* The silence dialog, opened from any page's alert row. */
  function openSilence(a, onChange) {
    pw.silencing = a;
    pw.afterSilence = onChange;
    const labels = Object.entries(a.labels || {}).map(([k, v]) => k + "=" + v);
    $("silence-what").textContent = a.rule + (labels.length ? " " + labels.join(" ") : "");
    $("silence-dialog").showModal();
    $("silence-comment").focus();
  }

  function closeSilence() {
    pw.silencing = null;
    $("silence-dialog").close();
  }

  async function silence(event) {
    event.preventDefault();
    const a = pw.silencing;
    const comment = $("silence-comment").value.trim();
    if (!a || !comment) return;
    const by = pw.who();
    if (!by) return;
    const body = {
      comment, created_by: by, minutes: Number($("silence-minutes").value),
      rule: a.rule, labels: a.labels || {},
    };
    try {
      await pw.post("/api/admin/alerts/silences", body);
    } catch (error) {
      closeSilence();
      report(error.message);
      return;
    }
    $("silence-comment").value = "";
    closeSilence();
    await (pw.afterSilence || refreshAlerts)();
  }

  async function refresh() {
    const alerts = refreshAlerts();
    const range = $("range").value;
    const [m, ts, health] = await Promise.all([
      pw.api("/api/admin/performance-metrics"),
      pw.api("/api/admin/timeseries?range=" + range, true),
      pw.api("/api/admin/overview", true).catch(() => null),
    ]);
    pw.lastMetrics = m;
    renderCards(m);
    renderHealth(health);
    renderErrors(health);
    renderCharts(ts, range);
    renderTables(m);
    await renderTop();
    await alerts;
  }

  pw.alertRow = alertRow;
  pw.page({ name: "overview", title: "Overview", match: /^\/$/, mount() {}, refresh });
  document.addEventListener("DOMContentLoaded", () => {
    $("top-by").addEventListener("change", renderTop);
    $("silence-form").addEventListener("submit", silence);
    $("silence-cancel").addEventListener("click", closeSilence);
    $("drill-close").addEventListener("click", () => { $("drilldown").hidden = true; });
    $("health").addEventListener("click", (event) => {
      const link = event.target.closest("a[data-page-link]");
      if (!link) return;
      event.preventDefault();
      pw.navigate(link.getAttribute("href"));
    });
  });
})();
