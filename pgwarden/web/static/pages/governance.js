/* The Governance page (read only): change requests with their votes and quorum,
   the decision log and its check, who is on call now and next, post-launch reviews
   and release rehearsals. Votes and approvals stay in the CLI, where the voter's
   identity and the log's key are handled. */
(function () {
  "use strict";
  const pw = window.pgwarden;
  const { el, fmt, when } = pw;
  const API = "/api/admin/governance/";
  const EMPTY = {
    ccb: "No change requests: draft one with pgwarden ccb request new --title … " +
      "(see docs/CHANGE_CONTROL_BOARD.md).",
    log: "The decision log is empty: every pgwarden ccb command that changes a " +
      "request appends to it.",
    schedule: "No shift in the next weeks.",
    reviews: "No post-launch review started yet.",
    rehearsals: "No rehearsal stored: run pgwarden rehearse run --plan release.toml " +
      "(see docs/RELEASE_REHEARSAL.md).",
  };

  function section(id, title, parts) {
    return el("section", { id: "gov-" + id, "aria-labelledby": "gov-" + id + "-title" },
      [el("h3", { id: "gov-" + id + "-title" }, title), ...parts]);
  }

  const wrap = (table) => el("div", { class: "table-wrap" }, [table]);
  const empty = (name) => el("p", { class: "empty-state quiet", "data-empty": name, hidden: true });
  const note = (name) => el("p", { class: "gov-note", "data-note": name });

  function show(root, name, items, text) {
    const line = root.querySelector('[data-empty="' + name + '"]');
    line.textContent = text || EMPTY[name];
    line.hidden = items.length > 0;
    const table = root.querySelector("#gov-" + name + "-table");
    if (table) table.closest(".table-wrap").hidden = items.length === 0;
  }

  function mount(root) {
    const ics = pw.button("Download the calendar (.ics, 8 weeks)", "oncall-ics",
      () => pw.download(API + "oncall.ics?weeks=8", "oncall.ics").catch((failed) => {
        root.querySelector(".page-error").textContent = failed.message;
      }));
    ics.id = "gov-ics";
    root.append(
      el("p", { class: "quiet" }, "Read only: votes, approvals and deployments are " +
        "recorded with pgwarden ccb, where the voter's identity and the decision " +
        "log's key are handled."),
      section("ccb", "Change requests", [note("rules"), empty("ccb"),
        wrap(pw.table("gov-ccb-table", ["#", "title", "status", "risk", "owner",
          "window", "for / against / abstain", "votes", "quorum"]))]),
      section("log", "Decision log", [el("p", { class: "verify", role: "status" }),
        empty("log"), wrap(pw.table("gov-log-table",
          ["seq", "when", "request", "what", "by", "detail"]))]),
      section("oncall", "On call", [note("oncall"),
        wrap(pw.table("gov-now-table", ["layer", "on call now", "until"])),
        el("h4", {}, "Schedule"), ics, empty("schedule"),
        wrap(pw.table("gov-schedule-table", ["layer", "person", "from", "to", "note"]))]),
      section("reviews", "Post-launch reviews", [note("reviews"), empty("reviews"),
        wrap(pw.table("gov-reviews-table",
          ["review", "from", "to", "due", "state", "generated"]))]),
      section("rehearsals", "Release rehearsals", [empty("rehearsals"),
        wrap(pw.table("gov-rehearsals-table", ["#", "when", "plan", "verdict",
          "release s", "rollback s", "window min", "change request"]))]),
    );
  }

  const tally = (r) => r.tally.approve + " / " + r.tally.reject + " / " + r.tally.abstain;
  const votes = (r) => r.votes.map((v) => v.voter + ": " + v.vote).join(", ") || "–";
  const windowOf = (r) => r.window_start
    ? when(r.window_start) + (r.window_end ? " – " + when(r.window_end) : "") : "–";
  const quorumOf = (r) => r.status === "submitted" ? r.quorum.reason : "–";

  function renderCcb(root, found) {
    const rules = found.rules;
    const voters = rules.binding_voters.length
      ? rules.binding_voters.join(", ") : "every voter";
    const veto = rules.oncall_veto
      ? "; the on-call engineer (" + (found.on_call || "no roster") + ") may veto" : "";
    root.querySelector('[data-note="rules"]').textContent = "Approved with " +
      rules.min_approvals + " binding approvals (binding: " + voters + ")" + veto + ".";
    pw.fillTable("gov-ccb-table", found.requests, [
      [(r) => "#" + r.id], [(r) => r.title], [(r) => r.status, "status"],
      [(r) => r.risk_class || "–"], [(r) => r.owner || "–"], [windowOf],
      [tally, "num"], [votes], [quorumOf],
    ]);
    show(root, "ccb", found.requests);
  }

  function detail(value) {
    if (value === null || value === undefined) return "";
    if (typeof value !== "object") return String(value);
    return Object.entries(value).filter(([, v]) => v !== null && v !== "")
      .map(([k, v]) => k + "=" + (typeof v === "object" ? JSON.stringify(v) : v))
      .join(" ");
  }

  function verifyLine(v) {
    if (v.status === "broken") {
      return "Decision log BROKEN at entry " + v.broken_seq + ": " + v.reason;
    }
    if (v.status === "not verified") return "Decision log not verified: " + v.reason;
    const signed = v.signed ? "signatures checked" : "not signed (no ccb.log_key)";
    return "Decision log intact: " + v.entries + " entries verified, " + signed +
      (v.head ? "; head " + v.head.slice(0, 24) : "") + ".";
  }

  function renderLog(root, found) {
    const line = root.querySelector("#gov-log .verify");
    line.textContent = verifyLine(found.verify);
    line.dataset.status = found.verify.status;
    line.className = "verify " + found.verify.status.replace(" ", "-");
    pw.fillTable("gov-log-table", found.entries, [
      [(e) => fmt(e.seq)], [(e) => when(e.ts)],
      [(e) => e.request_id === null ? "–" : "#" + e.request_id], [(e) => e.kind],
      [(e) => e.actor], [(e) => detail(e.detail), "detail"],
    ]);
    show(root, "log", found.entries);
  }

  function renderOncall(root, found) {
    const line = root.querySelector('[data-note="oncall"]');
    const ics = root.querySelector("#gov-ics");
    for (const part of root.querySelectorAll("#gov-oncall .table-wrap, #gov-oncall h4")) {
      part.hidden = !found.configured;
    }
    ics.hidden = !found.configured;
    if (!found.configured) {
      line.textContent = found.note;
      root.querySelector('[data-empty="schedule"]').hidden = true;
      return;
    }
    const chain = found.escalation.map((e) => e.layer + " " + (e.person || "not set"));
    line.textContent = "Times in " + found.timezone + " on the calendar; escalation " +
      "after the layers: " + chain.join(", ") + ".";
    pw.fillTable("gov-now-table", found.now, [
      [(s) => s.layer], [(s) => s.person || "nobody (gap)"], [(s) => when(s.end)],
    ]);
    pw.fillTable("gov-schedule-table", found.schedule, [
      [(s) => s.layer], [(s) => s.person || "nobody (gap)"], [(s) => when(s.start)],
      [(s) => when(s.end)], [(s) => s.override ? "override" : ""],
    ]);
    show(root, "schedule", found.schedule);
  }

  function renderReviews(root, found) {
    const line = root.querySelector('[data-note="reviews"]');
    if (!found.launch) {
      line.textContent = "";
      const text = found.note || "";
      show(root, "reviews", [], text.charAt(0).toUpperCase() + text.slice(1) + ".");
      return;
    }
    const share = found.on_time_pct === null ? "no review counted yet"
      : fmt(found.on_time_pct, 1) + " % on time (" + found.on_time + " of " +
        found.counted + ")";
    line.textContent = "Launched " + found.launch.launch_date + " (" +
      found.launch.timezone + "); " + share + "; " + found.overdue + " overdue, " +
      found.due + " due.";
    pw.fillTable("gov-reviews-table", found.reviews, [
      [(r) => r.label], [(r) => when(r.start)], [(r) => when(r.end)],
      [(r) => when(r.due_at)], [(r) => r.state.replace("_", " "), "state"],
      [(r) => when(r.generated_at)],
    ]);
    root.querySelectorAll("#gov-reviews-table tbody tr").forEach((row, i) => {
      row.dataset.state = found.reviews[i].state;
    });
    show(root, "reviews", found.reviews);
  }

  function renderRehearsals(root, found) {
    const items = found.rehearsals;
    pw.fillTable("gov-rehearsals-table", items, [
      [(r) => "#" + r.id], [(r) => when(r.started_at)], [(r) => r.title],
      [(r) => r.verdict, "verdict"], [(r) => fmt(r.release_s, 1), "num"],
      [(r) => fmt(r.rollback_s, 1), "num"], [(r) => fmt(r.window_minutes), "num"],
      [(r) => r.change_request_id === null ? "–" : "#" + r.change_request_id],
    ]);
    root.querySelectorAll("#gov-rehearsals-table tbody tr").forEach((row, i) => {
      row.dataset.verdict = items[i].verdict;
    });
    show(root, "rehearsals", items);
  }

  async function refresh(root) {
    const [ccb, log, oncall, reviews, rehearsals] = await Promise.all([
      pw.api(API + "ccb"), pw.api(API + "log"), pw.api(API + "oncall"),
      pw.api(API + "reviews"), pw.api(API + "rehearsals"),
    ]);
    renderCcb(root, ccb);
    renderLog(root, log);
    renderOncall(root, oncall);
    renderReviews(root, reviews);
    renderRehearsals(root, rehearsals);
  }

  pw.page({ name: "governance", title: "Governance", match: /^\/governance$/, mount, refresh });
})();
