/* The Fleet page: one row per target of the dashboard, with the figures of its
   Overview (`pgwarden --target NAME metrics --format json`), sortable and filtered
   by group; each name opens that target's Overview. */
(function () {
  "use strict";
  const pw = window.pgwarden;
  const { $, el, fmt, pct, when } = pw;
  /* [key, header, value for sorting, cell] */
  const COLUMNS = [
    ["name", "target", (r) => r.name, (r) => link(r)],
    ["group", "group", (r) => r.group || "", (r) => r.group || "–"],
    ["qps", "queries / s", (r) => r.queries_per_second, (r) => fmt(r.queries_per_second)],
    ["latency", "mean latency ms", (r) => r.mean_latency_ms,
      (r) => fmt(r.mean_latency_ms, 3)],
    ["cache", "cache hit", (r) => r.cache_hit_ratio, (r) => pct(r.cache_hit_ratio, 2)],
    ["slow", "slow / min", (r) => r.slow_queries_per_minute,
      (r) => fmt(r.slow_queries_per_minute, 0)],
    ["alerts", "firing alerts", (r) => r.firing_alerts, (r) => fmt(r.firing_alerts, 0)],
    ["collected", "last collection", (r) => r.last_collected_at || "",
      (r) => when(r.last_collected_at)],
    ["status", "status", (r) => statusText(r), (r) => statusText(r)],
  ];
  const sort = { key: "name", descending: false };

  function statusText(r) {
    if (r.status === null || r.status === undefined) return "not registered (history only)";
    if (r.status === "failing") return "failing: " + (r.status_reason || "unknown reason");
    if (r.status === "new") return "registered, no worker cycle yet";
    return r.status;
  }

  /* The target's Overview: /?target=NAME (a real link, keyboard included). */
  function link(r) {
    const href = "/?target=" + encodeURIComponent(r.name);
    return el("a", { href, "data-target": r.name }, r.name);
  }

  function compare(a, b) {
    const column = COLUMNS.find(([key]) => key === sort.key);
    const [x, y] = [column[2](a), column[2](b)];
    const missing = (v) => v === null || v === undefined;
    if (missing(x) || missing(y)) return missing(x) - missing(y);  // unknown last
    const order = typeof x === "number" ? x - y : String(x).localeCompare(String(y));
    return sort.descending ? -order : order;
  }

  function header() {
    return el("tr", {}, COLUMNS.map(([key, text]) => {
      const chosen = sort.key === key;
      return el("th", { scope: "col",
        "aria-sort": chosen ? (sort.descending ? "descending" : "ascending") : "none" }, [
        el("button", { type: "button", class: "sort", "data-sort": key,
          onclick: () => { sort.descending = chosen && !sort.descending; sort.key = key;
            fill(); } }, text + (chosen ? (sort.descending ? " ▼" : " ▲") : "")),
      ]);
    }));
  }

  function mount(root) {
    root.append(
      el("p", { class: "quiet" }, "Every target of this dashboard, with the figures of " +
        "its Overview (pgwarden --target NAME metrics --format json) over its last " +
        "collected interval. Choose a name to open that target's Overview; the " +
        "switcher above moves every page to another target."),
      el("form", { class: "fleet-filters", onsubmit: (e) => e.preventDefault() }, [
        el("label", {}, ["Group ", el("select", { id: "fleet-group", onchange: fill },
          [el("option", { value: "" }, "all groups")])]),
      ]),
      el("p", { class: "quiet", id: "fleet-summary", role: "status" }),
      pw.wrap(el("table", { id: "fleet-table" }, [
        el("caption", {}, "Targets: choose a column's name to sort by it"),
        el("thead"), el("tbody")])),
    );
  }

  let found = null;

  function fill() {
    if (!found || !$("fleet-table")) return;
    const group = $("fleet-group").value;
    const rows = found.targets.filter((r) => !group || r.group === group).sort(compare);
    $("fleet-table").querySelector("thead").replaceChildren(header());
    pw.fillTable("fleet-table", rows, COLUMNS.map(([key, , , get]) =>
      [get, key === "status" ? "status" : null]));
    const body = $("fleet-table").querySelector("tbody");
    rows.forEach((r, i) => {
      const row = body.children[i];
      row.dataset.target = r.name;
      row.classList.add("status-" + (r.status || "unregistered"));
      if (r.name === (pw.session || {}).target) row.setAttribute("aria-current", "true");
    });
    const failing = found.targets.filter((r) => r.status === "failing").length;
    $("fleet-summary").textContent = rows.length + " of " + found.targets.length +
      " targets" + (failing ? ", " + failing + " failing" : "") + "; figures read " +
      when(found.generated_at) + ".";
  }

  function groups() {
    const select = $("fleet-group");
    const chosen = select.value;
    select.replaceChildren(el("option", { value: "" }, "all groups"),
      ...found.groups.map((g) => el("option", { value: g, selected: g === chosen }, g)));
  }

  async function refresh() {
    found = await pw.api("/api/admin/fleet");
    groups();
    fill();
  }

  pw.page({ name: "fleet", title: "Fleet", match: /^\/fleet$/, mount, refresh });
})();
