/* The Load page: the stored load runs and elasticity results of the target, and one
   of them shown as the HTML report `pgwarden load run --format html` writes, in a
   sandboxed frame (no script runs in it). The admin stores a report file here. */
(function () {
  "use strict";
  const pw = window.pgwarden;
  const { el, fmt, pct } = pw;
  const BASE = "/api/admin/load/reports";
  const EMPTY = "No load test stored yet: run pgwarden load run --store (or " +
    "pgwarden load elasticity --store), or store a report file written with " +
    "--format json below (admin token).";
  const HEADERS = ["when", "kind", "scenario", "users / rate", "duration s",
    "throughput / s", "p50 ms", "p95 ms", "p99 ms", "errors", "bottleneck or advice"];
  /* the report shown; closed: the person closed it, so none opens by itself */
  const shown = { id: null, closed: false };

  function load(r) {
    return r.rate_per_s ? fmt(r.rate_per_s) + " / s arrivals" : fmt(r.users) + " users";
  }

  function errors(r) {
    if (r.errors === null || r.errors === undefined) return "–";
    return fmt(r.errors) + " (" + pct(r.error_rate, 2) + ")";
  }

  function verdict(r) {
    if (r.kind !== "elasticity") return r.bottleneck || "–";
    return "pool " + fmt(r.recommended_pool_size) + ", cache " +
      fmt(r.recommended_cache_size) + " recommended";
  }

  const COLUMNS = [
    [(r) => pw.when(r.created_at)], [(r) => r.kind],
    [(r) => r.scenario ? r.scenario + " (" + r.model + ")" : "–"],
    [load, "num"], [(r) => fmt(r.duration_s), "num"],
    [(r) => fmt(r.throughput_per_s), "num"], [(r) => fmt(r.p50_ms, 3), "num"],
    [(r) => fmt(r.p95_ms, 3), "num"], [(r) => fmt(r.p99_ms, 3), "num"],
    [errors, "num"], [verdict],
  ];

  function wanted() {
    const id = Number(new URLSearchParams(location.search).get("report"));
    return Number.isInteger(id) && id > 0 ? id : null;
  }

  async function open(root, id, chosen) {
    const r = await pw.api(BASE + "/" + id, true);
    const view = root.querySelector(".load-report");
    if (!r) {
      shown.id = null;
      view.hidden = true;
      return;
    }
    shown.id = r.id;
    shown.closed = false;
    if (chosen) history.replaceState({}, "", "/load?report=" + r.id);
    view.querySelector("h3").textContent = (r.kind === "elasticity"
      ? "Elasticity result " : "Load run ") + r.id + " · " + pw.when(r.created_at);
    view.querySelector(".summary").textContent = r.summary;
    view.querySelector(".frame").replaceChildren(el("iframe", {
      sandbox: "", srcdoc: r.html, title: "report " + r.id, "data-report": r.id,
    }));
    view.hidden = false;
    for (const row of root.querySelectorAll("#load-reports tbody tr")) {
      row.classList.toggle("open", row.dataset.id === String(r.id));
    }
  }

  function storeForm(root) {
    const file = el("input", { type: "file", id: "load-file", accept: ".json,application/json" });
    const note = el("span", { class: "quiet", role: "status" });
    const store = pw.adminButton("Store", "store-load-report", async () => {
      if (!file.files.length) { note.textContent = "Choose a report file first."; return; }
      let report;
      try {
        report = JSON.parse(await file.files[0].text());
      } catch (failed) {
        note.textContent = "Not a JSON file: " + failed.message;
        return;
      }
      try {
        const stored = await pw.post(BASE, report);
        note.textContent = "Stored as report " + stored.id + ".";
        file.value = "";
        shown.id = stored.id;
        await refresh(root);
      } catch (failed) {
        note.textContent = "Not stored: " + failed.message;
      }
    });
    if (!store) return null;
    return el("form", { class: "load-store", "data-admin": "",
      onsubmit: (e) => e.preventDefault() }, [
      el("label", { for: "load-file" }, "Store a report file (JSON of load run or " +
        "load elasticity)"), file, store, note,
    ]);
  }

  function mount(root) {
    const download = pw.button("Download HTML", "download-load-report", () => {
      if (!shown.id) return;
      pw.download(BASE + "/" + shown.id + "/html", "load-" + shown.id + ".html")
        .catch((failed) => {
          root.querySelector(".page-error").textContent = "could not download: " +
            failed.message;
        });
    });
    const close = pw.button("Close", "close-load-report", () => {
      shown.id = null;
      shown.closed = true;
      root.querySelector(".load-report").hidden = true;
      history.replaceState({}, "", "/load");
    });
    root.append(...[
      el("p", { class: "quiet" }, "Load runs and elasticity results stored for this " +
        "target, newest first; figures as pgwarden load run --format json reports them. " +
        "Choose a row to see its report."),
      storeForm(root),
      el("p", { class: "empty-state", hidden: true }, EMPTY),
      el("div", { class: "table-wrap" }, [pw.table("load-reports", HEADERS, "Stored load tests")]),
      el("section", { class: "load-report", hidden: true, "aria-live": "polite" }, [
        el("h3"), el("p", { class: "summary" }),
        el("div", { class: "actions" }, [download, close]),
        el("div", { class: "frame" }),
      ]),
    ].filter((part) => part !== null));
    shown.id = wanted();
    shown.closed = false;
  }

  async function refresh(root) {
    const found = await pw.api(BASE);
    const reports = found.reports || [];
    root.querySelector(".empty-state").hidden = reports.length > 0;
    root.querySelector(".table-wrap").hidden = reports.length === 0;
    const table = pw.fillTable("load-reports", reports, COLUMNS,
      (r) => open(root, r.id, true).catch((failed) => {
        root.querySelector(".page-error").textContent = "could not load: " + failed.message;
      }));
    table.querySelectorAll("tbody tr").forEach((row, i) => {
      row.dataset.id = String(reports[i].id);
      row.classList.toggle("open", reports[i].id === shown.id);
    });
    const framed = root.querySelector(".load-report iframe");
    const id = shown.id || (!shown.closed && reports[0] && reports[0].id);
    if (id && (!framed || framed.dataset.report !== String(id))) await open(root, id);
  }

  pw.page({ name: "load", title: "Load", match: /^\/load$/, mount, refresh });
})();
