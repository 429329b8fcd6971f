/* The Queries pages: the statements of the range (the numbers of `pgwarden queries
   top`), searched and sorted; and one statement's page: history charts, slow
   executions, logged plans, stored advice and EXPLAIN for the admin. */
(function () {
  "use strict";
  const pw = window.pgwarden;
  const { el, fmt, pct } = pw;
  const API = "/api/admin/queries";
  const SORTS = [["total", "total time"], ["mean", "mean time"], ["calls", "calls"],
    ["rows", "rows"], ["blks_read", "shared blocks read"],
    ["blks_hit", "shared blocks hit"]];
  const LIMITS = ["50", "100", "500"];

  const dash = (value) => (value === null || value === undefined || value === "" ? "–"
    : String(value));
  const oneLine = (text) => pw.queryText(text).replace(/\s+/g, " ").trim();
  const pageOf = (queryid) => "/queries/" + encodeURIComponent(queryid);

  /* A link that moves inside the dashboard (a real <a href>, keyboard included). */
  function link(href, text, attrs) {
    return el("a", { href, ...attrs, onclick: (event) => {
      if (event.ctrlKey || event.metaKey || event.shiftKey || event.button) return;
      event.preventDefault();
      pw.navigate(href);
    } }, text);
  }

  /* The empty-state line before a table, shown with its text, or hidden. */
  function empty(id, text) {
    const note = pw.$(id);
    note.textContent = text || "";
    note.hidden = !text;
  }

  function tableBox(id, headers, caption) {
    return el("div", { class: "table-wrap" }, [pw.table(id, headers, caption)]);
  }

  /* ---- the list ---- */

  function control(label, input) { return el("label", {}, [label + " ", input]); }

  function options(pairs, chosen) {
    return pairs.map(([value, text]) => el("option", { value, selected: value === chosen },
      text));
  }

  function mountList(root) {
    const given = new URLSearchParams(location.search);
    const by = SORTS.some(([v]) => v === given.get("by")) ? given.get("by") : "total";
    const limit = LIMITS.includes(given.get("limit")) ? given.get("limit") : "50";
    const hidden = Boolean(pw.session && pw.session.hide_query_text);
    let timer = null;
    const later = () => { clearTimeout(timer); timer = setTimeout(reload, 250); };
    const reload = () => {
      if (!pw.$("queries-list")) return;  // the page was left meanwhile
      remember();
      loadList().then(() => shown(null), shown);
    };
    root.append(
      el("form", { class: "queries-filters", role: "search",
        onsubmit: (event) => { event.preventDefault(); reload(); } }, [
        /* the viewer may not search a text hidden from it: the box is left out */
        hidden ? null : control("Statement text", el("input", { id: "queries-search",
          type: "search", value: given.get("search") || "", placeholder: "e.g. Assessment",
          maxlength: "200", oninput: later })),
        control("Caller", el("input", { id: "queries-caller", type: "search",
          value: given.get("caller") || "", placeholder: "action, route or file",
          maxlength: "200", oninput: later })),
        control("Sort by", el("select", { id: "queries-by", onchange: reload },
          options(SORTS, by))),
        control("Show", el("select", { id: "queries-limit", onchange: reload },
          options(LIMITS.map((n) => [n, n + " statements"]), limit))),
      ]),
      el("p", { class: "quiet", id: "queries-summary", role: "status" }),
      el("p", { class: "quiet", id: "queries-empty", hidden: true }),
      tableBox("queries-list", ["statement", "caller", "calls", "total ms", "mean ms",
        "max ms", "share of time", "rows", "blocks hit", "blocks read", "cache hit"]),
    );
  }

  /* The outcome of a reload the filters asked for, in the page's error line. */
  function shown(error) {
    const line = document.querySelector(".page-error");
    if (!line || (error && String(error.message) === "unauthorized")) return;
    line.textContent = error ? "could not load: " + error.message : "";
  }

  const typed = (id) => (pw.$(id) ? pw.$(id).value.trim() : "");

  /* The filters in the address, so that a search can be linked to. */
  function remember() {
    const params = new URLSearchParams();
    for (const [name, id] of [["search", "queries-search"], ["caller", "queries-caller"]]) {
      const value = typed(id);
      if (value) params.set(name, value);
    }
    if (pw.$("queries-by").value !== "total") params.set("by", pw.$("queries-by").value);
    if (pw.$("queries-limit").value !== "50") params.set("limit", pw.$("queries-limit").value);
    const query = params.toString();
    history.replaceState({}, "", "/queries" + (query ? "?" + query : ""));
  }

  let asking = 0;

  async function loadList() {
    const params = new URLSearchParams({
      range: pw.$("range").value, by: pw.$("queries-by").value,
      limit: pw.$("queries-limit").value,
      search: typed("queries-search"), caller: typed("queries-caller"),
    });
    const asked = ++asking;
    const found = await pw.api(API + "?" + params, true);
    if (asked !== asking || !pw.$("queries-list")) return;  // a newer answer fills it
    const items = found ? found.items : [];
    pw.fillTable("queries-list", items, [
      [(q) => link(pageOf(q.queryid), oneLine(q.query) || "statement " + q.queryid,
        { class: "query", title: oneLine(q.query) || null, "data-queryid": q.queryid }),
        "query"],
      [(q) => dash(q.caller || q.comment_caller)],
      [(q) => fmt(q.calls), "num calls"], [(q) => fmt(q.total_ms, 1), "num"],
      [(q) => fmt(q.mean_ms, 3), "num"], [(q) => fmt(q.max_ms, 3), "num"],
      [(q) => pct(q.share_of_total_time), "num"], [(q) => fmt(q.rows), "num"],
      [(q) => fmt(q.shared_blks_hit), "num"], [(q) => fmt(q.shared_blks_read), "num"],
      [(q) => pct(q.cache_hit_ratio), "num"],
    ]);
    pw.$("queries-list").hidden = items.length === 0;
    empty("queries-empty", !found ? "No history yet: pgwarden has not collected this target."
      : items.length ? "" : found.statements ? "No statement matches the search."
        : "No statements collected in this range.");
    pw.$("queries-summary").textContent = found ? summary(found) : "";
    pw.$("queries-list").dataset.shown = String(items.length);
  }

  function summary(found) {
    const own = found.own_statements_left_out;
    const range = found.since ? " from " + pw.when(found.since) + " to " +
      pw.when(found.until) : "";
    const shownCount = found.items.length;
    const matching = found.matched === found.statements ? ""
      : "; " + found.matched + " match";
    return found.statements + " statements" + range + matching + "; " + shownCount +
      " shown" + (own ? "; " + own + " of pgwarden's own statements left out." : ".");
  }

  /* ---- one statement ---- */

  function mountOne(root, params) {
    const queryid = params[0];
    const chart = (name, caption) => el("figure", {}, [el("figcaption", {}, caption),
      el("div", { id: "query-chart-" + name })]);
    const explain = pw.adminButton("EXPLAIN", "explain", () => runExplain(queryid));
    root.append(
      el("p", {}, [link("/queries", "← all statements")]),
      el("h3", {}, ["Statement ", el("code", { id: "query-id" }, queryid)]),
      el("pre", { class: "query-text", id: "query-text" }),
      el("section", { class: "charts" }, [
        chart("calls", "Calls per second"),
        chart("latency", "Mean and estimated p95 (ms)"),
        chart("rows", "Rows per call"),
        chart("cache", "Shared buffer cache hit ratio"),
      ]),
      el("p", { class: "quiet", id: "query-p95" }),
      el("section", {}, [el("h3", {}, "Slow executions"),
        el("p", { class: "quiet", id: "query-slow-empty", hidden: true }),
        tableBox("query-slow", ["time", "ms", "severity", "source", "caller"])]),
      el("section", {}, [el("h3", {}, "Logged plans"),
        el("p", { class: "quiet", id: "query-plans-empty", hidden: true }),
        el("div", { id: "query-plans" })]),
      el("section", {}, [el("h3", {}, "Advice"),
        el("p", { class: "quiet", id: "query-advice-note" }),
        el("ul", { class: "query-findings", id: "query-findings" }),
        el("div", { id: "query-indexes" })]),
      explain ? el("section", { id: "query-explain" }, [el("h3", {}, "Plan now"),
        el("p", { class: "quiet" }, "EXPLAIN of the stored text on the target: planned " +
          "in a read-only transaction, never run (no ANALYZE); recorded in the audit log."),
        explain,
        el("p", { class: "quiet", id: "query-explain-status", role: "status" }),
        el("pre", { class: "query-plan", id: "query-explain-plan", hidden: true })])
        : null,
    );
  }

  async function loadOne(root, params) {
    const queryid = params[0];
    const range = pw.$("range").value;
    const found = await pw.api(API + "/" + encodeURIComponent(queryid) +
      "/detail?range=" + range);
    pw.$("query-text").textContent = pw.queryText(found.query) || "–";
    const view = pw.viewOf(found, range);
    const c = found.charts;
    pw.draw("query.calls", pw.$("query-chart-calls"), c, ["calls_per_second"], view);
    pw.draw("query.latency", pw.$("query-chart-latency"), c, ["mean_ms", "p95_ms"], view);
    pw.draw("query.rows", pw.$("query-chart-rows"), c, ["rows_per_call"], view);
    pw.draw("query.cache", pw.$("query-chart-cache"), c, ["cache_hit_ratio"],
      { ...view, yFormat: (v) => pct(v, 0), yRange: [0, 1] });
    const basis = found.p95_basis || {};
    pw.$("query-p95").textContent = "One point per collection interval (per hour over " +
      "more than two days). p95 is estimated per point as a log-normal time " +
      "with the point's mean and a stddev/mean of " + fmt(basis.cv, 2) + " (" +
      dash(basis.source) + ").";
    renderSlow(found.slow_executions);
    renderPlans(found.plans, found.plans_note);
    renderAdvice(found.advice);
  }

  function renderSlow(slow) {
    pw.fillTable("query-slow", slow, [
      [(s) => pw.when(s.ts)], [(s) => fmt(s.duration_ms, 1), "num"], [(s) => dash(s.severity)],
      [(s) => dash(s.source)], [(s) => dash(s.caller)],
    ]);
    pw.$("query-slow").hidden = slow.length === 0;
    empty("query-slow-empty", slow.length ? "" : "No slow execution recorded in this range.");
  }

  function renderPlans(plans, note) {
    const box = pw.$("query-plans");
    const open = new Set([...box.querySelectorAll("details[open]")].map((d) => d.dataset.ts));
    box.replaceChildren(...plans.map((p) => el("details", { "data-ts": p.ts,
      open: open.has(p.ts) }, [
      el("summary", {}, pw.when(p.ts) + " · " + fmt(p.duration_ms, 1) + " ms · " +
        dash(p.caller) + " · " + dash(p.source)),
      el("pre", { class: "query-plan" }, pw.queryText(p.plan) || "–"),
    ])));
    empty("query-plans-empty", plans.length ? "" : note || "No plan logged.");
  }

  /* One evidence value as text: numbers formatted, lists and objects as JSON. */
  function evidence(value) {
    if (value === null || value === undefined) return "–";
    if (typeof value === "number") return fmt(value, 2);
    if (typeof value === "object") return JSON.stringify(value);
    return String(value);
  }

  function renderAdvice(advice) {
    const findings = advice.findings || [];
    const indexes = advice.indexes || [];
    pw.$("query-advice-note").textContent = advice.note ? advice.note
      : "From the optimisation report of " + pw.when(advice.generated_at) +
        (findings.length || indexes.length ? "." : ": nothing to change for this statement.");
    pw.$("query-findings").replaceChildren(...findings.map((f) => el("li", {
      class: "query-finding " + dash(f.severity) }, [
      el("b", {}, dash(f.kind).replace(/_/g, " ")), " (" + dash(f.severity) + ", saves ~" +
        fmt(f.saved_ms, 0) + " ms): " + dash(f.fix),
      el("ul", {}, Object.entries(f.evidence || {}).map(([k, v]) =>
        el("li", { class: "quiet" }, k.replace(/_/g, " ") + ": " + evidence(v)))),
    ])));
    pw.$("query-indexes").replaceChildren(...indexes.map((r) => el("div", {
      class: "query-index" }, [
      el("pre", { class: "ddl" }, dash(r.ddl)),
      el("p", { class: "quiet" }, "confidence " + dash(r.confidence) + "; workload cost −" +
        fmt(r.workload_cost_reduction_pct, 1) + " %. " + dash(r.reasoning)),
    ])));
  }

  async function runExplain(queryid) {
    const by = pw.who();
    if (!by) return;
    const status = pw.$("query-explain-status");
    const out = pw.$("query-explain-plan");
    status.className = "quiet";
    status.textContent = "Planning…";
    try {
      const found = await pw.post(API + "/" + encodeURIComponent(queryid) + "/explain",
        { by });
      out.textContent = pw.queryText(found.plan) || "–";
      out.hidden = false;
      status.textContent = "Planned " + new Date().toLocaleTimeString() + " (" +
        found.method.replace(/_/g, " ") + ", statement timeout " +
        fmt(found.statement_timeout_ms) + " ms).";
    } catch (error) {
      if (String(error.message) === "unauthorized") return;
      out.hidden = true;
      status.className = "error";
      status.textContent = "EXPLAIN not run: " + error.message;
    }
  }

  pw.page({ name: "queries", title: "Queries", match: /^\/queries$/,
    mount: mountList, refresh: loadList });
  pw.page({ name: "query", nav: "queries", title: "Query", match: /^\/queries\/([^/]+)$/,
    mount: mountOne, refresh: loadOne });
})();
