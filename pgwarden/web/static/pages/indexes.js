/* The Indexes page: health findings by severity with their evidence and whole DDL
   (copyable), the advisor's latest stored run (workload, partial and special kinds)
   and the latest weekly index-health report. Running either now is the admin's. */
(function () {
  "use strict";
  const pw = window.pgwarden;
  const { el, fmt, bytes } = pw;
  const DASH = "–";
  const SEVERITIES = ["critical", "warning", "info"];
  const HIDDEN_EVIDENCE = new Set(["note"]);

  /* Copy a <pre>'s text; where the clipboard is refused, select it instead. */
  async function copy(pre, button) {
    const done = (text) => {
      button.textContent = text;
      setTimeout(() => { button.textContent = "Copy"; }, 2000);
    };
    try {
      await navigator.clipboard.writeText(pre.textContent);
      done("Copied");
    } catch (refused) {
      const range = document.createRange();
      range.selectNodeContents(pre);
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      done("Selected: press Ctrl+C");
    }
  }

  function ddlBlock(ddl) {
    const pre = el("pre", { class: "ddl" }, ddl);
    const button = el("button", { type: "button", class: "copy",
      "aria-label": "Copy the DDL" }, "Copy");
    button.addEventListener("click", () => copy(pre, button));
    return el("div", { class: "ddl-block" }, [pre, button]);
  }

  function plain(value) {
    if (value === null || value === undefined) return DASH;
    if (Array.isArray(value)) return value.map(plain).join("; ") || DASH;
    if (typeof value === "object") {
      return Object.entries(value).map(([k, v]) => k + " " + plain(v)).join(", ");
    }
    return typeof value === "number" ? fmt(value) : String(value);
  }

  function evidenceList(evidence) {
    const items = Object.entries(evidence || {})
      .filter(([k, v]) => v !== null && v !== undefined && !HIDDEN_EVIDENCE.has(k));
    if (!items.length) return null;
    return el("dl", { class: "evidence" }, items.flatMap(([k, v]) => [
      el("dt", {}, k.replace(/_/g, " ")),
      el("dd", { class: /definition/.test(k) ? "sql" : "" }, plain(v)),
    ]));
  }

  const relation = (f) => f.schema + "." + f.table + (f.index ? " / " + f.index : "");

  function findingItem(f) {
    const tags = [el("span", { class: "sev sev-" + f.severity }, f.severity),
      el("span", { class: "kind" }, f.kind.replace(/_/g, " "))];
    if (f.provisional) tags.push(el("span", { class: "quiet" }, "provisional"));
    return el("article", { class: "finding", "data-kind": f.kind,
      "data-severity": f.severity }, [
      el("h5", {}, [...tags, el("span", { class: "rel" }, relation(f)),
        el("span", { class: "quiet" }, bytes(f.size_bytes))]),
      el("p", {}, f.recommendation),
      evidenceList(f.evidence),
      f.ddl ? ddlBlock(f.ddl) : null,
    ]);
  }

  /* Critical and warning groups start open, info closed; a toggle is kept. */
  const OPEN = { critical: true, warning: true, info: false };

  function severityGroup(severity, items, filtered) {
    const group = el("details", { class: "sev-group", "data-severity": severity,
      open: filtered || OPEN[severity] }, [
      el("summary", {}, severity[0].toUpperCase() + severity.slice(1) + " (" +
        items.length + ")"),
      ...items.map(findingItem),
    ]);
    group.addEventListener("toggle", () => {
      if (!filtered) OPEN[severity] = group.open;
    });
    return group;
  }

  function kindOptions(findings) {
    const select = pw.$("ix-kind");
    const chosen = select.value;
    const kinds = [...new Set(findings.map((f) => f.kind))].sort();
    select.replaceChildren(el("option", { value: "" }, "all kinds"),
      ...kinds.map((k) => el("option", { value: k }, k.replace(/_/g, " "))));
    select.value = kinds.includes(chosen) ? chosen : "";
  }

  function renderFindings() {
    const h = pw.indexHealth;
    if (!h) return;
    const severity = pw.$("ix-severity").value;
    const kind = pw.$("ix-kind").value;
    const text = pw.$("ix-find").value.trim().toLowerCase();
    const shown = h.findings.filter((f) => (!severity || f.severity === severity) &&
      (!kind || f.kind === kind) && (!text || relation(f).toLowerCase().includes(text)));
    const groups = SEVERITIES.map((s) => [s, shown.filter((f) => f.severity === s)])
      .filter(([, items]) => items.length);
    pw.$("ix-findings").replaceChildren(...groups.map(([s, items]) =>
      severityGroup(s, items, Boolean(severity || kind || text))));
    const empty = pw.$("ix-findings-empty");
    empty.hidden = shown.length > 0;
    empty.textContent = h.findings.length ? "No finding matches the filter."
      : "No index health findings.";
  }

  function renderHealth(h) {
    pw.indexHealth = h;
    const e = h.efficiency || {};
    const by = h.summary.by_severity || {};
    pw.$("ix-cards").replaceChildren(
      pw.card("findings", fmt(h.summary.total), "ix-total"),
      pw.card("critical", fmt(by.critical)), pw.card("warning", fmt(by.warning)),
      pw.card("info", fmt(by.info)),
      pw.card("unused indexes", fmt(e.unused) + " / " + fmt(e.indexes), "ix-unused"),
      pw.card("reclaimable", bytes(h.summary.reclaimable_bytes)),
    );
    pw.$("ix-health-notes").textContent = "Read " + pw.when(h.generated_at) + "; " +
      h.notes.join("; ") + ".";
    kindOptions(h.findings);
    renderFindings();
  }

  function queriesTable(queries) {
    if (!queries || !queries.length) {
      return el("p", { class: "quiet" }, "No affected query listed.");
    }
    const table = pw.table(null, ["query id", "calls", "cost before", "cost after",
      "statement"], "Affected queries");
    pw.fillTable(table, queries, [
      [(q) => (q.queryid === null || q.queryid === undefined ? DASH
        : el("a", { href: "/queries/" + encodeURIComponent(q.queryid),
          onclick: (event) => { event.preventDefault();
            pw.navigate("/queries/" + encodeURIComponent(q.queryid)); } },
        String(q.queryid)))],
      [(q) => fmt(q.calls, 0)], [(q) => fmt(q.cost_before, 1)],
      [(q) => fmt(q.cost_after, 1)], [(q) => pw.queryText(q.text), "query"],
    ]);
    return el("div", { class: "table-wrap" }, [table]);
  }

  function fact(label, value) {
    return value === null || value === undefined || value === "" ? null
      : [el("dt", {}, label), el("dd", {}, value)];
  }

  function recommendationItem(r) {
    const facts = [
      fact("method", r.method + (r.opclass ? " (" + r.opclass + ")" : "")),
      fact("expression", r.expression), fact("where", r.where),
      fact("estimated size", bytes(r.estimated_size_bytes)),
      r.full_index_size_bytes ? fact("full index size", bytes(r.full_index_size_bytes))
        : null,
      r.size_savings_bytes ? fact("saves", bytes(r.size_savings_bytes)) : null,
      fact("workload cost", r.workload_cost_reduction_pct === null ? "not costed"
        : "-" + fmt(r.workload_cost_reduction_pct) + " %"),
      fact("confidence", r.confidence),
      r.makes_redundant && r.makes_redundant.length
        ? fact("makes redundant", r.makes_redundant.join(", ")) : null,
    ].filter((f) => f !== null).flat();
    return el("article", { class: "advice", "data-method": r.method }, [
      el("h5", {}, [el("span", { class: "kind" }, r.method),
        el("span", { class: "rel" }, r.schema + "." + r.table)]),
      ddlBlock(r.ddl),
      el("dl", { class: "evidence" }, facts),
      r.reasoning ? el("p", {}, r.reasoning) : null,
      queriesTable(r.affected_queries),
    ]);
  }

  function adviceList(id, items, emptyText) {
    pw.$(id).replaceChildren(...(items.length ? items.map(recommendationItem)
      : [el("p", { class: "quiet" }, emptyText)]));
  }

  function renderAdvice(a) {
    const status = pw.$("ix-advice-status");
    const advice = a.advice;
    if (!advice) {
      status.textContent = "No stored advisor run yet: " + (pw.isAdmin()
        ? "run the advisor now, or " : "the admin can run it now, or run ")
        + "pgwarden report optimization --store.";
      pw.$("ix-advice-notes").replaceChildren();
      pw.$("ix-recommendations").replaceChildren();
      pw.$("ix-partial").replaceChildren();
      return;
    }
    const mode = advice.verified
      ? "Verified with hypopg: each index costed by the planner."
      : "Heuristic: hypopg is not installed in the target database, so this advice "
        + "is unverified (not checked by the planner).";
    status.replaceChildren(el("b", {}, "Advisor run of " + pw.when(a.generated_at)),
      " (optimisation report " + a.report_id + "): " + (a.summary || DASH) + ". ",
      el("span", { class: advice.verified ? "verified" : "unverified" }, mode));
    pw.$("ix-advice-notes").replaceChildren(...(advice.notes || []).map((n) =>
      el("li", {}, n)));
    adviceList("ix-recommendations", advice.recommendations || [],
      "The advisor recommends no new index for this workload.");
    adviceList("ix-partial", advice.partial || [], "No partial-index opportunity.");
  }

  function renderReport(r) {
    pw.indexReport = r;
    const line = pw.$("ix-report-status");
    pw.$("ix-report-download").hidden = !r.report_id;
    if (!r.report_id) {
      line.textContent = "No stored index-health report yet: the worker builds it "
        + "every index_health.report_schedule (weekly), or run "
        + "pgwarden report index-health --store.";
      return;
    }
    const t = r.trend || {};
    const trend = t.previous_at ? " Since " + pw.when(t.previous_at) + ": " +
      fmt(t.total_delta) + " findings, " + bytes(t.reclaimable_delta) +
      " reclaimable; new " + (t.new || []).length + ", resolved " +
      (t.resolved || []).length + "." : " No earlier report to compare with.";
    line.replaceChildren(el("b", {}, "Report of " + pw.when(r.generated_at)),
      " (report " + r.report_id + "): " + (r.summary ? r.summary.line : DASH) + "." +
      trend);
  }

  /* An admin action: asks who, posts, shows the outcome, refreshes. */
  function action(path, statusId, busyText) {
    return async (event) => {
      const button = event.currentTarget;
      const by = pw.who();
      if (!by) return;
      const status = pw.$(statusId);
      button.disabled = true;
      status.textContent = busyText;
      status.className = "quiet";
      try {
        await pw.post(path, { by });
        status.textContent = "";
        await refresh();
      } catch (failed) {
        status.textContent = failed.message;
        status.className = "error";
      } finally {
        button.disabled = false;
      }
    };
  }

  async function download() {
    const status = pw.$("ix-report-run");
    try {
      const day = (pw.indexReport && pw.indexReport.generated_at || "").slice(0, 10);
      await pw.download("/api/admin/indexes/report.html",
        "index-health" + (day ? "-" + day : "") + ".html");
    } catch (failed) {
      status.textContent = failed.message;
      status.className = "error";
    }
  }

  function filterControls() {
    const severity = el("select", { id: "ix-severity" }, [
      el("option", { value: "" }, "all severities"),
      ...SEVERITIES.map((s) => el("option", { value: s }, s))]);
    const kind = el("select", { id: "ix-kind" }, [el("option", { value: "" },
      "all kinds")]);
    const find = el("input", { id: "ix-find", type: "search",
      placeholder: "table or index" });
    severity.addEventListener("change", renderFindings);
    kind.addEventListener("change", renderFindings);
    find.addEventListener("input", renderFindings);
    return el("div", { class: "controls" }, [el("label", {}, ["Severity ", severity]),
      el("label", {}, ["Kind ", kind]), el("label", {}, ["Find ", find])]);
  }

  function mount(root) {
    root.append(
      el("section", { class: "cards", id: "ix-cards", "aria-label": "health totals" }),
      el("section", { "aria-labelledby": "ix-health-title" }, [
        el("h3", { id: "ix-health-title" }, "Health findings"),
        el("p", { class: "notes", id: "ix-health-notes" }),
        filterControls(),
        el("p", { class: "quiet", id: "ix-findings-empty", hidden: true }),
        el("div", { id: "ix-findings" }),
      ]),
      el("section", { "aria-labelledby": "ix-advice-title" }, [
        el("h3", { id: "ix-advice-title" }, "Index advice"),
        el("p", { id: "ix-advice-status" }),
        el("div", { class: "actions" }, [pw.adminButton("Run the advisor now",
          "advise", action("/api/admin/indexes/advice/run", "ix-advice-run",
            "Running the advisor…")),
          el("span", { id: "ix-advice-run", role: "status" })]),
        el("ul", { class: "notes", id: "ix-advice-notes" }),
        el("h4", {}, "Workload indexes (B-tree, expression, GIN, GiST, BRIN)"),
        el("div", { id: "ix-recommendations" }),
        el("h4", {}, "Partial indexes"),
        el("div", { id: "ix-partial" }),
      ]),
      el("section", { "aria-labelledby": "ix-report-title" }, [
        el("h3", { id: "ix-report-title" }, "Weekly index-health report"),
        el("p", { id: "ix-report-status" }),
        el("div", { class: "actions" }, [
          el("button", { type: "button", id: "ix-report-download", hidden: true,
            onclick: download }, "Download the report (HTML)"),
          pw.adminButton("Build the report now", "health-report",
            action("/api/admin/indexes/report/run", "ix-report-run",
              "Building the report (pgstattuple confirms bloat)…")),
          el("span", { id: "ix-report-run", role: "status" })]),
      ]),
    );
  }

  async function refresh() {
    const [health, advice, report] = await Promise.all([
      pw.api("/api/admin/indexes/health"),
      pw.api("/api/admin/indexes/advice"),
      pw.api("/api/admin/indexes/report"),
    ]);
    renderHealth(health);
    renderAdvice(advice);
    renderReport(report);
  }

  pw.page({ name: "indexes", title: "Indexes", match: /^\/indexes$/, mount, refresh });
})();
