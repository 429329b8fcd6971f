/* The Live page: pg_stat_activity now (what `pgwarden activity` prints): counts,
   the blocking tree, sessions not idle with cancel and terminate for the admin,
   long transactions, what holds back vacuum, replication, the recent actions. */
(function () {
  "use strict";
  const pw = window.pgwarden;
  const { el, fmt, bytes } = pw;
  const API = "/api/admin/live";
  let last = null;

  /* A duration in seconds as people read it. */
  function dur(s) {
    if (s === null || s === undefined || Number.isNaN(s)) return "–";
    if (s < 60) return fmt(s, 1) + " s";
    if (s < 3600) return Math.floor(s / 60) + " min " + Math.round(s % 60) + " s";
    if (s < 86400) return Math.floor(s / 3600) + " h " + Math.round((s % 3600) / 60) + " min";
    return fmt(s / 86400, 1) + " d";
  }

  const dash = (value) => (value === null || value === undefined || value === "" ? "–"
    : String(value));
  const oneLine = (text) => pw.queryText(text).replace(/\s+/g, " ").trim();
  const wait = (s) => [s.wait_event_type, s.wait_event].filter(Boolean).join(": ") || "–";

  function queryCell(text) {
    const shown = oneLine(text);
    return el("span", { title: shown || null }, shown || "–");
  }

  function appCell(s) {
    return el("span", {}, [dash(s.application_name), s.own
      ? el("span", { class: "live-own", title: "a connection of pgwarden" }, "pgwarden")
      : null]);
  }

  /* A section: heading, optional controls, empty-state line, scrolling table. */
  function section(id, title, headers, extra) {
    return el("section", { id: "live-" + id + "-section" }, [
      el("h3", {}, title), ...(extra || []),
      el("p", { class: "quiet live-empty", id: "live-" + id + "-empty", hidden: true }),
      el("div", { class: "table-wrap" }, [pw.table("live-" + id, headers)]),
    ]);
  }

  /* Rows, or the empty-state sentence in place of the table. */
  function fill(id, items, columns, empty) {
    const table = pw.$("live-" + id);
    pw.fillTable(table, items, columns);
    table.hidden = items.length === 0;
    const note = pw.$("live-" + id + "-empty");
    note.textContent = items.length ? "" : empty;
    note.hidden = items.length > 0;
  }

  function mount(root) {
    const filter = el("input", { id: "live-filter", type: "search",
      placeholder: "pid, user, application, state or statement",
      oninput: () => last && renderSessions(last) });
    root.append(
      el("p", { class: "notes", id: "live-notes" }),
      el("p", { class: "live-status", id: "live-status", role: "status" }),
      el("p", { class: "error", id: "live-action-error", role: "alert" }),
      el("div", { class: "cards", id: "live-cards" }),
      el("section", { id: "live-blocking-section" }, [
        el("h3", {}, "Blocking"),
        el("p", { class: "quiet", id: "live-blocking-empty" }),
        el("ul", { class: "live-tree", id: "live-blocking" }),
      ]),
      section("sessions", "Sessions not idle", ["pid", "user", "application", "client",
        "state", "wait", "statement for", "transaction for", "backend", "statement",
        pw.isAdmin() ? "actions" : null].filter(Boolean),
      [el("label", { class: "live-filter" }, ["Filter ", filter]),
        el("p", { class: "quiet", id: "live-more" })]),
      section("waits", "What working sessions wait on", ["wait type", "wait event",
        "sessions"]),
      section("long", "Long transactions", ["pid", "user", "application", "state",
        "transaction for", "xmin age", "statement"]),
      section("xmin", "What holds back vacuum (oldest xmin first)", ["kind", "name",
        "pid", "xmin age", "since"]),
      section("replicas", "Replication", ["replica", "client", "state", "sync",
        "write lag", "flush lag", "replay lag", "behind"],
      [el("p", { id: "live-replication-role" })]),
      section("standby", "This standby", ["replay lag", "received, not replayed",
        "last replayed commit"]),
      section("slots", "Replication slots", ["slot", "type", "database", "active",
        "WAL status", "WAL retained"]),
      section("apps", "Client sessions by application", ["application", "state",
        "sessions"]),
      section("audit", "Recent cancel and terminate", ["at", "by", "role", "action",
        "pid", "outcome", "user", "application", "reason"]),
    );
  }

  function renderCards(d) {
    const c = d.counts;
    const s = c.by_state;
    pw.$("live-cards").replaceChildren(
      pw.card("client sessions", fmt(c.total)),
      pw.card("active", fmt(s.active)),
      pw.card("idle", fmt(s.idle)),
      pw.card("idle in transaction", fmt(s["idle in transaction"])),
      pw.card("idle in transaction (aborted)", fmt(s["idle in transaction (aborted)"])),
      pw.card("waiting on locks", fmt(c.waiting_on_locks)),
      pw.card("longest transaction", dur(c.longest_transaction_s)),
      pw.card("server", d.replication.role),
    );
    pw.$("live-notes").textContent = (d.privileges.notes || []).join(" ");
  }

  /* The blocking tree: each blocker, then the sessions waiting on it, nested. */
  function node(n) {
    const line = [el("b", {}, "pid " + n.pid), " " + dash(n.user), " · ", appCell(n),
      " · " + dash(n.state)];
    if (n.lock) {
      line.push(" · waits " + dur(n.lock.wait_s) + " for " + n.lock.waiting_for);
    } else {
      line.push(" · transaction open " + dur(n.xact_s) + " · blocks " +
        count(n) + (count(n) === 1 ? " session" : " sessions"));
    }
    const actions = actionButtons(n);
    return el("li", { "data-pid": String(n.pid) }, [
      el("div", { class: "live-node" }, [...line, ...(actions.length ? [" ", ...actions]
        : [])]),
      el("code", { class: "live-query" }, oneLine(n.query) || "–"),
      n.blocked.length ? el("ul", {}, n.blocked.map(node)) : null,
    ]);
  }

  function count(n) {
    return n.blocked.reduce((total, b) => total + 1 + count(b), 0);
  }

  function renderBlocking(d) {
    pw.$("live-blocking").replaceChildren(...d.blocking.map(node));
    pw.$("live-blocking-empty").textContent = d.blocking.length ? ""
      : "No session is blocked.";
    pw.$("live-blocking-empty").hidden = d.blocking.length > 0;
  }

  function matches(s, words) {
    const hay = [s.pid, s.user, s.application_name, s.state, s.query].join(" ")
      .toLowerCase();
    return words.every((w) => hay.includes(w));
  }

  function renderSessions(d) {
    const words = pw.$("live-filter").value.toLowerCase().split(/\s+/).filter(Boolean);
    const shown = d.sessions.filter((s) => matches(s, words));
    const columns = [
      [(s) => String(s.pid)], [(s) => dash(s.user)], [appCell], [(s) => dash(s.client)],
      [(s) => dash(s.state)], [wait], [(s) => dur(s.query_s)], [(s) => dur(s.xact_s)],
      [(s) => dash(s.backend_type)], [(s) => queryCell(s.query), "query"],
    ];
    if (pw.isAdmin()) {
      columns.push([(s) => el("span", {}, actionButtons(s)), "actions"]);
    }
    const empty = words.length ? "No session matches the filter."
      : "No session is working: every client session is idle.";
    fill("sessions", shown, columns, empty);
    for (const [i, row] of [...pw.$("live-sessions").tBodies[0].rows].entries()) {
      row.dataset.pid = String(shown[i].pid);
    }
    pw.$("live-more").textContent = d.more_sessions
      ? d.more_sessions + " more sessions not listed (the oldest are shown)." : "";
  }

  /* Cancel (a running statement) and terminate, for the admin only, on client
     backends that are not pgwarden's own. */
  function actionButtons(s) {
    if (!pw.isAdmin() || s.backend_type !== "client backend" || s.own) return [];
    return [
      s.state === "active" ? pw.adminButton("Cancel", "cancel", () => act(s, "cancel"))
        : null,
      pw.adminButton("Terminate", "terminate", () => act(s, "terminate")),
    ].filter((b) => b !== null);
  }

  function question(s, action) {
    const who = "pid " + s.pid + " (user " + dash(s.user) + ", application " +
      dash(s.application_name) + ")";
    return action === "cancel"
      ? "Cancel the statement of " + who + " started " + pw.when(s.query_start) + "?"
      : "Terminate the session of " + who + ", statement started " +
        pw.when(s.query_start) + "? Its open transaction is rolled back.";
  }

  async function act(s, action) {
    const session = last.sessions.find((x) => x.pid === s.pid) || s;
    if (!window.confirm(question(session, action))) return;
    const by = pw.who();
    if (!by) return;
    const body = { by, backend_start: session.backend_start || null };
    if (action === "cancel") body.query_start = session.query_start || null;
    const error = pw.$("live-action-error");
    error.textContent = "";
    try {
      const done = await pw.post(API + "/" + s.pid + "/" + action, body);
      pw.$("live-status").textContent = done.reason + " (recorded in the audit log).";
    } catch (failed) {
      if (String(failed.message) !== "unauthorized") {
        error.textContent = action + " of pid " + s.pid + " refused: " + failed.message;
      }
    }
    try {
      await refresh();  // this page only: core's timer keeps its own schedule
    } catch (failed) {
      error.textContent = "could not reload: " + failed.message;
    }
  }

  function renderTables(d) {
    fill("waits", d.counts.by_wait, [[(w) => w.wait_event_type], [(w) => w.wait_event],
      [(w) => fmt(w.sessions)]], "No working session waits on anything.");
    const minutes = fmt(d.long_transaction_seconds / 60, 1);
    pw.$("live-long-section").querySelector("h3").textContent =
      "Long transactions (open over " + minutes + " min)";
    fill("long", d.long_transactions, [[(s) => String(s.pid)], [(s) => dash(s.user)],
      [appCell], [(s) => dash(s.state)], [(s) => dur(s.xact_s)],
      [(s) => fmt(s.xmin_age)], [(s) => queryCell(s.query), "query"]],
    "No long transactions.");
    fill("xmin", d.xmin_holders, [[(h) => h.kind], [(h) => dash(h.name)],
      [(h) => dash(h.pid)], [(h) => fmt(h.xmin_age)], [(h) => pw.when(h.since)]],
    "Nothing holds back vacuum: no transaction, prepared transaction or slot holds an xmin.");
    fill("apps", d.counts.by_application, [[(a) => a.application_name || "(none)"],
      [(a) => a.state], [(a) => fmt(a.sessions)]], "No client session.");
  }

  function renderReplication(r) {
    const standby = r.role === "standby";
    pw.$("live-replication-role").textContent = standby
      ? "This server is a standby: its lag is measured here."
      : "This server is a primary.";
    fill("replicas", r.replicas, [[(x) => dash(x.application_name)],
      [(x) => dash(x.client_addr)], [(x) => dash(x.state)], [(x) => dash(x.sync_state)],
      [(x) => dur(x.write_lag_s)], [(x) => dur(x.flush_lag_s)],
      [(x) => dur(x.replay_lag_s)], [(x) => bytes(x.lag_bytes)]],
    "No replicas: no standby streams from this server.");
    pw.$("live-standby-section").hidden = !standby;
    fill("standby", r.standby ? [r.standby] : [], [[(x) => dur(x.replay_lag_s)],
      [(x) => bytes(x.lag_bytes)], [(x) => pw.when(x.last_replay_at)]],
    "Not a standby.");
    fill("slots", r.slots, [[(x) => x.slot_name], [(x) => x.slot_type],
      [(x) => dash(x.database)], [(x) => (x.active ? "yes (pid " + x.active_pid + ")"
        : "no")], [(x) => dash(x.wal_status)], [(x) => bytes(x.retained_bytes)]],
    "No replication slots.");
  }

  function renderAudit(entries) {
    fill("audit", entries, [[(e) => pw.when(e.at)], [(e) => dash(e.actor)],
      [(e) => e.role], [(e) => e.action], [(e) => dash(e.subject)], [(e) => e.outcome],
      [(e) => dash((e.detail || {}).usename)],
      [(e) => dash((e.detail || {}).application_name)],
      [(e) => dash((e.detail || {}).reason)]],
    "No cancel or terminate recorded yet.");
  }

  async function refresh() {
    const [d, entries] = await Promise.all([pw.api(API), pw.api(API + "/audit")]);
    last = d;
    renderCards(d);
    renderBlocking(d);
    renderSessions(d);
    renderTables(d);
    renderReplication(d.replication);
    renderAudit(entries);
  }

  pw.page({ name: "live", title: "Live", match: /^\/live$/, mount, refresh });
})();
