/* The Alerts page: the open alerts (acknowledge, resolve, silence: admin only),
   the statistics and the resolved alerts of the chosen range, the silences. */
(function () {
  "use strict";
  const pw = window.pgwarden;
  const { $, el, fmt, when } = pw;
  const OPEN = ["firing", "pending", "acknowledged"];
  const HOURS = { "1h": 1, "6h": 6, "24h": 24, "7d": 168 };
  const HISTORY_LIMIT = 500;

  /* Seconds as "40 s", "12 min", "3.5 h" or "2.1 days"; "–" when unknown. */
  function span(seconds) {
    if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "–";
    if (seconds < 90) return fmt(seconds, 0) + " s";
    if (seconds < 5400) return fmt(seconds / 60, 0) + " min";
    if (seconds < 172800) return fmt(seconds / 3600, 1) + " h";
    return fmt(seconds / 86400, 1) + " days";
  }

  function between(start, end) {
    return start && end ? (Date.parse(end) - Date.parse(start)) / 1000 : null;
  }

  function section(id, title, table, empty) {
    return el("section", { id }, [
      el("h3", {}, title),
      el("p", { class: "quiet empty-state", hidden: true }, empty),
      el("div", { class: "table-wrap" }, [table]),
    ]);
  }

  /* Shows the table, or its empty-state sentence when there are no rows. */
  function shown(id, count) {
    const box = $(id);
    box.querySelector(".empty-state").hidden = count > 0;
    box.querySelector(".table-wrap").hidden = count === 0;
  }

  function mount(root) {
    const history = section("alerts-history", "Resolved",
      pw.table("alerts-history-table", ["fired", "severity", "rule", "summary",
        "lasted", "acknowledged", "resolved by"],
      "Resolved alerts last seen in the range, newest first"),
      "No alert resolved in this range.");
    history.append(el("p", { id: "alerts-history-limit", class: "quiet", hidden: true },
      "Showing the newest " + HISTORY_LIMIT + " alerts of the range."));
    root.append(
      el("p", { class: "quiet" }, "The range chosen above sets the statistics and " +
        "the resolved alerts."),
      section("alerts-open", "Open alerts",
        pw.table("alerts-open-table", ["severity", "state", "rule", "description",
          "since", "runbook", ""], "Firing, pending and acknowledged alerts"),
        "No open alerts."),
      section("alerts-stats", "Statistics",
        pw.table("alerts-stats-table", ["severity", "fired", "MTTA", "TTA p50",
          "TTA p90", "MTTR", "TTR p50", "TTR p90", "acked in time"],
        "Time to acknowledge (TTA) and to resolve (TTR) of the alerts fired in the range"),
        "No alert fired in this range."),
      history,
      section("alerts-silences", "Silences in effect",
        pw.table("alerts-silences-table", ["rule", "labels", "until", "by",
          "comment"]),
        "No silence in effect."),
    );
  }

  /* Each row's class is its severity (for its colour). */
  function classify(id, items) {
    $(id).querySelectorAll("tbody tr").forEach((row, i) => {
      row.className = items[i].severity;
    });
  }

  function fillOpen(found) {
    const open = found.filter((a) => OPEN.includes(a.state));
    $("alerts-open-table").querySelector("tbody").replaceChildren(
      ...open.map((a) => pw.alertRow(a, pw.refresh)));
    shown("alerts-open", open.length);
  }

  function fillStats(stats) {
    const rows = stats.by_severity || [];
    pw.fillTable("alerts-stats-table", rows, [
      [(s) => s.severity, "sev"], [(s) => fmt(s.count)],
      [(s) => span(s.mtta_s)], [(s) => span(s.tta_p50_s)], [(s) => span(s.tta_p90_s)],
      [(s) => span(s.mttr_s)], [(s) => span(s.ttr_p50_s)], [(s) => span(s.ttr_p90_s)],
      [(s) => (s.acked_within_target_pct === null ? "–"
        : fmt(s.acked_within_target_pct, 1) + " % within " +
          fmt(stats.ack_target_minutes) + " min")],
    ]);
    classify("alerts-stats-table", rows);
    shown("alerts-stats", rows.length);
  }

  function acknowledged(a) {
    if (!a.acked_at) return "–";
    const after = span(between(a.fired_at || a.started_at, a.acked_at));
    return (a.acked_by || "someone") + " after " + after;
  }

  function fillHistory(found) {
    const done = found.filter((a) => a.state === "resolved");
    pw.fillTable("alerts-history-table", done, [
      [(a) => when(a.fired_at || a.started_at)], [(a) => a.severity, "sev"],
      [(a) => a.rule], [(a) => a.summary || a.description || "–"],
      [(a) => span(between(a.fired_at || a.started_at, a.resolved_at))],
      [acknowledged], [(a) => a.resolved_by || "–"],
    ]);
    classify("alerts-history-table", done);
    $("alerts-history-limit").hidden = found.length < HISTORY_LIMIT;
    shown("alerts-history", done.length);
  }

  function fillSilences(found) {
    pw.fillTable("alerts-silences-table", found, [
      [(s) => s.rule || "any rule"],
      [(s) => Object.entries(s.labels || {}).map(([k, v]) => k + "=" + v).join(" ")
        || "any labels"],
      [(s) => when(s.ends_at)], [(s) => s.created_by], [(s) => s.comment],
    ]);
    shown("alerts-silences", found.length);
  }

  async function refresh() {
    const hours = HOURS[$("range").value] || 24;
    const [open, stats, history, silences] = await Promise.all([
      pw.api("/api/admin/alerts?state=open"),
      pw.api("/api/admin/alert-stats?since_hours=" + hours),
      pw.api("/api/admin/alerts?state=resolved&limit=" + HISTORY_LIMIT +
        "&since_hours=" + hours),
      pw.api("/api/admin/alerts/silences"),
    ]);
    fillOpen(open);
    fillStats(stats);
    fillHistory(history);
    fillSilences(silences);
  }

  pw.page({ name: "alerts", title: "Alerts", match: /^\/alerts$/, mount, refresh });
})();
