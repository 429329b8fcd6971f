/* The Maintenance page: the window, what is due now and why, what runs now with its
   progress, stale statistics, the history of runs, freeze ages per table. */
(function () {
  "use strict";
  const pw = window.pgwarden;
  const { el, fmt, bytes, when, table, fillTable } = pw;
  const API = "/api/admin/maintenance/";
  const SINCE = [["1d", "1 day"], ["7d", "7 days"], ["30d", "30 days"]];

  /* "2026-12-07T02:00:00+01:00" as the wall time of the window's zone. */
  function wall(iso) { return iso ? iso.slice(0, 16).replace("T", " ") : "–"; }

  function empty(id) { return el("p", { id, class: "quiet empty-state", hidden: true }); }

  function showEmpty(root, id, shown, text) {
    const note = root.querySelector("#" + id);
    note.textContent = text;
    note.hidden = !shown;
  }

  function mount(root) {
    const all = el("input", { type: "checkbox", id: "mnt-all" });
    const since = el("select", { id: "mnt-since" },
      SINCE.map(([v, t]) => el("option", { value: v, selected: v === "7d" }, t)));
    all.addEventListener("change", pw.refresh);
    since.addEventListener("change", pw.refresh);
    root.append(
      el("p", { id: "mnt-window", class: "window" }),
      el("div", { id: "mnt-cards", class: "cards" }),
      pw.section("mnt-plan", "Due now, and why", [
        el("div", { class: "mnt-controls" }, [
          el("label", { class: "toggle" }, [all, " also what is not due"]),
          pw.adminButton("Run what is due now", "maintenance-run", () => runDue(root)),
          el("span", { id: "mnt-run-status", role: "status" }),
        ]),
        pw.wrap(table("mnt-plan-table", ["table", "index", "operation", "due", "reason"])),
        empty("mnt-plan-empty"), el("p", { id: "mnt-notes", class: "notes" }),
      ]),
      pw.section("mnt-running", "Running now", [
        pw.wrap(table("mnt-progress", ["pid", "operation", "table", "phase", "progress",
          "by", "since", "waiting for"])),
        empty("mnt-progress-empty"),
        pw.wrap(table("mnt-runs", ["run", "table", "index", "operation", "trigger",
          "started", "heartbeat"], "Runs pgwarden records as running")),
      ]),
      pw.section("mnt-stale", "Stale statistics", [
        pw.wrap(table("mnt-stale-table", ["table", "rows modified since analyze",
          "last analyzed"])),
        empty("mnt-stale-empty"),
      ]),
      pw.section("mnt-history", "History", [
        el("label", {}, ["started within ", since]),
        pw.wrap(table("mnt-history-table", ["started", "table", "index", "operation",
          "trigger", "status", "duration", "live rows", "dead rows", "size",
          "reason"])),
        empty("mnt-history-empty"),
      ]),
      pw.section("mnt-freeze", "Freeze age and wraparound", [
        el("p", { id: "mnt-database" }),
        pw.wrap(table("mnt-freeze-table", ["table", "xid age", "of freeze max",
          "mxid age", "of mxid freeze max", "dead rows", "last vacuum",
          "last autovacuum", "last analyze", "last autoanalyze"])),
        empty("mnt-freeze-empty"),
      ]),
    );
  }

  /* The admin runs what is due now, as pgwarden maintain run would (audited). */
  async function runDue(root) {
    const by = pw.who();
    if (!by) return;
    const status = root.querySelector("#mnt-run-status");
    const control = root.querySelector("button[data-action=maintenance-run]");
    control.disabled = true;
    status.textContent = "running what is due…";
    try {
      const done = await pw.post(API + "run", { by });
      status.textContent = done.summary;
    } catch (error) {
      status.textContent = "";
      root.querySelector(".page-error").textContent = "could not run: " + error.message;
      return;
    } finally {
      control.disabled = false;
    }
    await pw.refresh();
  }

  function renderWindow(root, w, plan, status, freeze) {
    const state = w.open ? "open now, closes " + wall(w.closes_at)
      : "closed, opens " + wall(w.opens_at) + ", closes " + wall(w.closes_at);
    root.querySelector("#mnt-window").replaceChildren(
      el("b", {}, "Maintenance window " + w.span + ": "), state + " (" + w.timezone + ")");
    const oldest = (freeze.tables || [])[0];
    root.querySelector("#mnt-cards").replaceChildren(
      pw.card("due now", fmt(plan.due), "mnt-due"),
      pw.card("items planned", fmt(plan.planned)),
      pw.card("running now", fmt((status.progress || []).length), "mnt-running-count"),
      pw.card("pgwarden runs running", fmt((status.running || []).length)),
      pw.card("stale statistics", fmt(status.stale_tables.length)),
      pw.card("oldest table xid age", oldest ? fmt(oldest.pct_of_freeze_max_age, 3) +
        " %" : "–", "mnt-oldest"),
    );
  }

  function renderPlan(root, plan) {
    const items = plan.items || [];
    fillTable("mnt-plan-table", items, [
      [(i) => i.schema + "." + i.table], [(i) => i.index || ""], [(i) => i.operation],
      [(i) => (i.due ? "yes" : "no"), "due"], [(i) => i.reason],
    ]);
    const all = root.querySelector("#mnt-all").checked;
    showEmpty(root, "mnt-plan-empty", !items.length, all ? "No table to plan."
      : "Nothing is due now, and nothing waits for the window.");
    root.querySelector("#mnt-notes").textContent = (plan.notes || []).join(" · ");
  }

  function progressText(p) {
    if (p.total === null || p.total === undefined || !p.total) return "–";
    return fmt(p.done) + " / " + fmt(p.total) + " " + p.unit + " (" +
      fmt(100 * p.done / p.total, 0) + " %)";
  }

  function by(p) {
    if (p.run_id !== null && p.run_id !== undefined) return "pgwarden run " + p.run_id;
    return p.autovacuum ? "autovacuum" : p.application_name || "another session";
  }

  function renderRunning(root, status) {
    const rows = status.progress || [];
    fillTable("mnt-progress", rows, [
      [(p) => String(p.pid)], [(p) => p.command],
      [(p) => (p.schema ? p.schema + "." + p.table : "–")], [(p) => p.phase],
      [progressText], [by], [(p) => when(p.started_at)],
      [(p) => (p.wait_event ? p.wait_event_type + ": " + p.wait_event : "")],
    ]);
    showEmpty(root, "mnt-progress-empty", !rows.length,
      "No VACUUM, ANALYZE, REINDEX or CLUSTER is running in this database.");
    const runs = status.running || [];
    const runsTable = root.querySelector("#mnt-runs");
    runsTable.hidden = !runs.length;
    fillTable(runsTable, runs, [
      [(r) => String(r.id)], [(r) => r.schema_name + "." + r.table_name],
      [(r) => r.index_name || ""], [(r) => r.operation], [(r) => r.trigger],
      [(r) => when(r.started_at)], [(r) => when(r.heartbeat_at)],
    ]);
  }

  function renderStale(root, status) {
    fillTable("mnt-stale-table", status.stale_tables, [
      [(t) => t.table], [(t) => fmt(t.modified_since_analyze)],
      [(t) => when(t.last_analyzed)],
    ]);
    showEmpty(root, "mnt-stale-empty", !status.stale_tables.length,
      "No table has stale statistics: no manual ANALYZE is needed.");
  }

  function pair(before, after, format) {
    if ((before === null || before === undefined) && (after === null ||
      after === undefined)) return "–";
    return format(before) + " → " + format(after);
  }

  function duration(ms) {
    if (ms === null || ms === undefined) return "–";
    return ms < 1000 ? fmt(ms, 0) + " ms" : fmt(ms / 1000, 1) + " s";
  }

  function renderHistory(root, runs) {
    fillTable("mnt-history-table", runs.slice().reverse(), [
      [(r) => when(r.started_at)], [(r) => r.schema_name + "." + r.table_name],
      [(r) => r.index_name || ""], [(r) => r.operation], [(r) => r.trigger],
      [(r) => r.status, "status"], [(r) => duration(r.duration_ms)],
      [(r) => pair(r.live_rows_before, r.live_rows_after, fmt)],
      [(r) => pair(r.dead_rows_before, r.dead_rows_after, fmt)],
      [(r) => pair(r.size_before, r.size_after, bytes)],
      [(r) => [r.reason, r.error].filter(Boolean).join(": ")],
    ]);
    const since = root.querySelector("#mnt-since");
    showEmpty(root, "mnt-history-empty", !runs.length, "No maintenance run in the last " +
      since.options[since.selectedIndex].text + ".");
  }

  function renderFreeze(root, freeze) {
    const d = freeze.database;
    root.querySelector("#mnt-database").textContent = d ? "Database " + d.database +
      ": age(datfrozenxid) " + fmt(d.xid_age) + " = " + fmt(d.pct_of_freeze_max_age, 3) +
      " % of autovacuum_freeze_max_age " + fmt(d.freeze_max_age) + " (" +
      fmt(d.pct_of_wraparound, 4) + " % of the way to wraparound); multixact age " +
      fmt(d.mxid_age) + ". pgwarden plans VACUUM (FREEZE) above " +
      fmt(freeze.freeze_age_pct) + " % of freeze_max_age." : "";
    const rows = freeze.tables || [];
    fillTable("mnt-freeze-table", rows, [
      [(t) => t.schema + "." + t.table], [(t) => fmt(t.xid_age)],
      [(t) => fmt(t.pct_of_freeze_max_age, 3) + " %"], [(t) => fmt(t.mxid_age)],
      [(t) => fmt(t.pct_of_multixact_freeze_max_age, 3) + " %"],
      [(t) => fmt(t.dead_rows)], [(t) => when(t.last_vacuum)],
      [(t) => when(t.last_autovacuum)], [(t) => when(t.last_analyze)],
      [(t) => when(t.last_autoanalyze)],
    ]);
    showEmpty(root, "mnt-freeze-empty", !rows.length, "No table to freeze.");
    const shown = rows.length < freeze.count ? " (the " + rows.length + " oldest of " +
      freeze.count + ")" : "";
    root.querySelector("#mnt-freeze h3").textContent = "Freeze age and wraparound" + shown;
  }

  async function refresh(root) {
    const all = root.querySelector("#mnt-all").checked;
    const since = root.querySelector("#mnt-since").value;
    const [w, plan, status, runs, freeze] = await Promise.all([
      pw.api(API + "window"),
      pw.api(API + "plan" + (all ? "?all=true" : ""), true),
      pw.api(API + "status"),
      pw.api(API + "history?since=" + encodeURIComponent(since)),
      pw.api(API + "wraparound"),
    ]);
    const planned = plan || { due: null, planned: null, items: [],
      notes: ["No history for this target yet: run pgwarden collect."] };
    renderWindow(root, w, planned, status, freeze);
    renderPlan(root, planned);
    renderRunning(root, status);
    renderStale(root, status);
    renderHistory(root, runs);
    renderFreeze(root, freeze);
  }

  pw.page({ name: "maintenance", title: "Maintenance", match: /^\/maintenance$/,
    mount, refresh });
})();
