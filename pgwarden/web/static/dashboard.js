/* pgwarden dashboard: asks for the admin token once (sessionStorage), then polls. */
(function () {
  "use strict";
  const KEY = "pgwarden.token";
  const WHO = "pgwarden.acknowledger";
  const SHOWN = ["firing", "pending", "acknowledged"];
  const state = { charts: {}, timer: null, refresh: 60, lastMetrics: null };
  window.pgwarden = state;
  const $ = (id) => document.getElementById(id);
  const COLORS = ["#2563eb", "#16a34a", "#d97706", "#dc2626", "#7c3aed"];
  const RANGE_S = { "1h": 3600, "6h": 21600, "24h": 86400, "7d": 604800 };

  function token() { return sessionStorage.getItem(KEY); }

  function showLogin(message) {
    sessionStorage.removeItem(KEY);
    clearInterval(state.timer);
    $("dashboard").hidden = true;
    $("alerts").querySelector("tbody").replaceChildren();
    $("login").hidden = false;
    $("login-error").textContent = message || "";
  }

  /* GET a JSON resource; with orNone, a 404 (no history for the target yet) is null. */
  async function api(path, orNone) {
    const response = await fetch(path, {
      headers: { Authorization: "Bearer " + token() },
      cache: "no-store",
    });
    if (response.status === 401) {
      showLogin("The token was refused.");
      throw new Error("unauthorized");
    }
    if (orNone && response.status === 404) return null;
    if (!response.ok) {
      throw new Error(path + ": " + response.status);
    }
    return response.json();
  }

  async function post(path, body) {
    const response = await fetch(path, {
      method: "POST",
      headers: { Authorization: "Bearer " + token(), "Content-Type": "application/json" },
      body: JSON.stringify(body),
      cache: "no-store",
    });
    if (response.status === 401) {
      showLogin("The token was refused.");
      throw new Error("unauthorized");
    }
    if (!response.ok) {
      const detail = await response.json().then((b) => b.detail, () => "");
      throw new Error(typeof detail === "string" && detail ? detail : path + ": " +
        response.status);
    }
    return response.json();
  }

  function fmt(value, digits) {
    if (value === null || value === undefined) return "–";
    if (typeof value !== "number") return String(value);
    return value.toLocaleString(undefined, { maximumFractionDigits: digits ?? 2 });
  }

  function bytes(value) {
    if (value === null || value === undefined) return "–";
    const units = ["B", "kB", "MB", "GB", "TB"];
    let n = value, i = 0;
    while (Math.abs(n) >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return fmt(n, 1) + " " + units[i];
  }

  function cell(row, text, cls) {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    row.appendChild(td);
    return td;
  }

  function fillTable(id, items, columns, onClick) {
    const body = $(id).querySelector("tbody");
    body.replaceChildren();
    for (const item of items) {
      const row = document.createElement("tr");
      for (const [get, cls] of columns) cell(row, get(item), cls);
      if (onClick) row.addEventListener("click", () => onClick(item));
      body.appendChild(row);
    }
  }

  function card(label, value) {
    const div = document.createElement("div");
    div.className = "card";
    const b = document.createElement("b");
    b.textContent = value;
    div.append(b, label);
    return div;
  }

  function renderCards(m) {
    const c = m.active_connections || {};
    const slow = m.slow_queries_per_minute;
    const ratio = (v) => (v === null || v === undefined ? "–" : fmt(v * 100, 1) + " %");
    $("cards").replaceChildren(
      card("queries / s", fmt(m.queries_per_second)),
      card("mean latency ms", fmt(m.mean_latency_ms, 3)),
      card("cache hit (db)", ratio(m.cache_hit_ratio.database)),
      card("cache hit (app)", ratio(m.cache_hit_ratio.application)),
      card("connections", fmt(c.total) + " / " + fmt(c.max)),
      card("utilisation", ratio(c.utilisation)),
      card("slow queries / min", fmt(slow.total)),
      card("unused indexes", fmt(m.unused_indexes)),
    );
    const own = m.own_statements || {};
    const left = own.excluded && own.statements
      ? [own.statements + " of pgwarden's own statements left out of the figures."]
      : [];
    $("notes").textContent = [...(m.notes || []), ...left].join(" ");
    $("target").textContent = m.target || "";
    $("updated").textContent = "updated " + new Date(m.generated_at).toLocaleTimeString();
  }

  const hasValue = (values) => (values || []).some((v) => v !== null && v !== undefined);

  /* The empty-state line of a chart: shown, with its text, or hidden. */
  function emptyNote(element, text) {
    let note = element.parentElement.querySelector(".empty");
    if (!note) {
      note = document.createElement("p");
      note.className = "empty";
      element.before(note);
    }
    note.textContent = text || "";
    note.hidden = !text;
  }

  /* One uPlot chart over the selected window [since, until] (epoch seconds).
     Without two distinct times (no point, or one) the time axis spans the window,
     not uPlot's padding of years around one instant. */
  function draw(name, element, chart, names, view) {
    const data = [chart.t, ...names.map((n) => chart[n] || [])];
    const old = state.charts[name];
    if (old) old.destroy();
    const empty = !names.some((n) => hasValue(chart[n]));
    emptyNote(element, empty ? view.emptyText : "");
    const width = Math.max(element.clientWidth || 500, 300);
    const series = [{}, ...names.map((n, i) => ({
      label: n, stroke: COLORS[i % COLORS.length], width: 2,
      points: { show: true, size: 4 }, spanGaps: false,
    }))];
    const span = (u, min, max) => (new Set((u.data || [[]])[0]).size < 2 ||
      min === null || max === null || min === max ? [view.since, view.until]
      : [min, max]);
    const scales = { x: { time: true, range: span } };
    if (empty) scales.y = { range: [0, 1] };
    const config = { width, height: 200, series, scales };
    if (view.yFormat) {
      config.axes = [{}, { size: 80, values: (u, vals) => vals.map(view.yFormat) }];
    }
    state.charts[name] = new uPlot(config, data, element);
  }

  /* The window shown: the one the API answered for, else the selected range. */
  function viewOf(ts, range) {
    const until = ts ? Date.parse(ts.until) / 1000 : Date.now() / 1000;
    const since = ts ? Date.parse(ts.since) / 1000 : until - RANGE_S[range];
    const every = (state.lastMetrics || {}).collect_interval_seconds || 60;
    return { since, until,
      emptyText: "No data yet for this range — pgwarden collects every " + every + " s" };
  }

  const NO_CHARTS = { t: [] };

  function renderCharts(ts, range) {
    const c = ts ? ts.charts : {};
    const view = viewOf(ts, range);
    const collected = hasValue((c.connections || NO_CHARTS).total);
    const slowView = { ...view,
      emptyText: collected ? "No slow queries in this range" : view.emptyText };
    draw("qps", $("chart-qps"), c.queries_per_second || NO_CHARTS, ["qps"], view);
    draw("latency", $("chart-latency"), c.mean_latency_ms || NO_CHARTS, ["mean_ms"],
      view);
    draw("cache", $("chart-cache"), c.cache_hit_ratio || NO_CHARTS, ["ratio"], view);
    draw("connections", $("chart-connections"), c.connections || NO_CHARTS,
      ["total", "active", "idle", "idle_in_transaction"], view);
    draw("slow", $("chart-slow"), c.slow_queries_per_minute || NO_CHARTS,
      ["warning", "critical", "emergency"], slowView);
    draw("size", $("chart-size"), c.table_size_bytes || NO_CHARTS, ["total_size_bytes"],
      { ...view, yFormat: bytes });
  }

  async function renderTop() {
    const top = await api("/api/admin/top-queries?by=" + $("top-by").value, true) || [];
    fillTable("top-queries", top, [
      [(q) => q.query.replace(/\s+/g, " "), "query"], [(q) => fmt(q.calls)],
      [(q) => fmt(q.mean_ms, 3)], [(q) => fmt(q.max_ms, 3)],
      [(q) => fmt(q.total_ms, 1)], [(q) => fmt(q.share_of_total_time * 100, 1) + " %"],
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
    const q = await api("/api/admin/queries/" + encodeURIComponent(queryid) +
      "?range=" + range);
    $("drilldown").hidden = false;
    $("drill-id").textContent = q.queryid;
    $("drill-text").textContent = q.query;
    draw("query", $("chart-query"), q.series, ["mean_ms", "calls_per_second"],
      viewOf(q, range));
    fillTable("drill-slow", q.slow_executions, [
      [(s) => new Date(s.ts).toLocaleString()], [(s) => fmt(s.duration_ms, 1)],
      [(s) => s.severity], [(s) => s.source], [(s) => s.caller || ""],
    ]);
    state.drilled = q;
  }

  /* Alerts: firing, pending and acknowledged, with acknowledge, resolve, silence. */
  function who() {
    let name = sessionStorage.getItem(WHO);
    if (!name) {
      name = (window.prompt("Your name, recorded with the acknowledgement:") || "").trim();
      if (!name) return null;
      sessionStorage.setItem(WHO, name);
    }
    return name;
  }

  function since(a) {
    const at = new Date(a.fired_at || a.started_at);
    const minutes = Math.max(0, Math.round((Date.now() - at.getTime()) / 60000));
    const ago = minutes < 90 ? minutes + " min" : fmt(minutes / 60, 1) + " h";
    return at.toLocaleString() + " (" + ago + ")";
  }

  function button(text, action, onClick) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = text;
    b.dataset.action = action;
    b.addEventListener("click", onClick);
    return b;
  }

  function runbook(row, a) {
    const td = cell(row, "");
    const link = document.createElement("a");
    link.textContent = a.runbook;
    if (/^https?:\/\//.test(a.runbook)) link.href = a.runbook;
    else link.title = "in the pgwarden documentation";
    link.rel = "noreferrer";
    link.target = "_blank";
    td.appendChild(link);
  }

  function alertRow(a) {
    const row = document.createElement("tr");
    row.className = a.severity + " " + a.state;
    row.dataset.alertId = String(a.id);
    row.dataset.state = a.state;
    cell(row, a.severity, "sev");
    const state = a.muted_by ? a.state + " (muted)" : a.state;
    cell(row, a.acked_by ? state + " by " + a.acked_by : state);
    cell(row, a.rule);
    const text = cell(row, a.description || a.summary);
    if (a.value !== null && a.value !== undefined) text.title = "value " + a.value;
    cell(row, since(a));
    runbook(row, a);
    const actions = cell(row, "", "actions");
    if (a.state === "firing" || a.state === "pending") {
      actions.appendChild(button("Acknowledge", "ack", () => change(a, "ack")));
    }
    actions.appendChild(button("Resolve", "resolve", () => change(a, "resolve")));
    actions.appendChild(button("Silence", "silence", () => openSilence(a)));
    return row;
  }

  async function loadAlerts() {
    const found = await api("/api/admin/alerts?state=open");
    const shown = found.filter((a) => SHOWN.includes(a.state));
    state.alerts = shown;
    $("alerts").querySelector("tbody").replaceChildren(...shown.map(alertRow));
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

  async function change(a, action) {
    const by = who();
    if (!by) return;
    try {
      await post("/api/admin/alerts/" + a.id + "/" + action, { by });
    } catch (error) {
      $("alerts-error").textContent = error.message;
      return;
    }
    await refreshAlerts();
  }

  function openSilence(a) {
    state.silencing = a;
    const labels = Object.entries(a.labels || {}).map(([k, v]) => k + "=" + v);
    $("silence-what").textContent = a.rule + (labels.length ? " " + labels.join(" ") : "");
    $("silence-form").hidden = false;
    $("silence-comment").focus();
  }

  async function silence(event) {
    event.preventDefault();
    const a = state.silencing;
    const comment = $("silence-comment").value.trim();
    if (!a || !comment) return;
    const by = who();
    if (!by) return;
    const body = {
      comment, created_by: by, minutes: Number($("silence-minutes").value),
      rule: a.rule, labels: a.labels || {},
    };
    try {
      await post("/api/admin/alerts/silences", body);
    } catch (error) {
      $("alerts-error").textContent = error.message;
      return;
    }
    $("silence-comment").value = "";
    $("silence-form").hidden = true;
    state.silencing = null;
    await refreshAlerts();
  }

  async function load() {
    const alerts = refreshAlerts();
    try {
      const range = $("range").value;
      const [m, ts] = await Promise.all([
        api("/api/admin/performance-metrics"),
        api("/api/admin/timeseries?range=" + range, true),
      ]);
      state.lastMetrics = m;
      renderCards(m);
      renderCharts(ts, range);
      renderTables(m);
      await renderTop();
      await alerts;
      schedule(m.refresh_seconds);
      document.body.dataset.loaded = String(Date.now());
    } catch (error) {
      if (String(error.message) !== "unauthorized") {
        $("notes").textContent = "could not load: " + error.message;
      }
    }
  }

  function schedule(seconds) {
    if (state.timer && seconds === state.refresh) return;
    state.refresh = seconds;
    clearInterval(state.timer);
    state.timer = setInterval(load, seconds * 1000);
  }

  function start() {
    $("login").hidden = true;
    $("dashboard").hidden = false;
    load();
  }

  $("login").addEventListener("submit", (event) => {
    event.preventDefault();
    const value = $("token").value.trim();
    if (!value) return;
    sessionStorage.setItem(KEY, value);
    $("token").value = "";
    start();
  });
  $("logout").addEventListener("click", () => showLogin(""));
  $("range").addEventListener("change", load);
  $("top-by").addEventListener("change", renderTop);
  $("silence-form").addEventListener("submit", silence);
  $("silence-cancel").addEventListener("click", () => { $("silence-form").hidden = true; });
  $("drill-close").addEventListener("click", () => { $("drilldown").hidden = true; });

  if (token()) start(); else showLogin("");
})();
