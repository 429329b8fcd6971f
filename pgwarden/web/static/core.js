/* pgwarden dashboard core: the token (sessionStorage), the role, the pages and their
   router, the refresh timer, and the helpers every page uses (window.pgwarden). */
(function () {
  "use strict";
  const KEY = "pgwarden.token";
  const WHO = "pgwarden.acknowledger";
  const COLORS = ["#2563eb", "#16a34a", "#d97706", "#dc2626", "#7c3aed"];
  const RANGE_S = { "1h": 3600, "6h": 21600, "24h": 86400, "7d": 604800 };
  const NO_CHARTS = { t: [] };
  const state = { charts: {}, timer: null, refreshSeconds: 60, lastMetrics: null,
    session: null, current: null, pages: [], target: null, targets: null };
  const $ = (id) => document.getElementById(id);

  /* The target shown: the URL's ?target=NAME (absent: the dashboard's default). */
  function urlTarget() {
    return new URLSearchParams(location.search).get("target") || null;
  }

  /* A same-origin path or URL with ?target=NAME of the target shown (unless it
     names one already); any other URL as it is. */
  function withTarget(url) {
    if (!state.target || url === null || url === undefined) return url;
    const found = new URL(String(url), location.href);
    if (found.origin !== location.origin || found.searchParams.has("target")) return url;
    found.searchParams.set("target", state.target);
    return found.pathname + found.search + found.hash;
  }

  /* Every history entry a page makes keeps the target in its URL. */
  for (const method of ["pushState", "replaceState"]) {
    const original = history[method].bind(history);
    history[method] = (data, unused, url) => original(data, unused, withTarget(url));
  }

  function token() { return sessionStorage.getItem(KEY); }

  function showLogin(message) {
    sessionStorage.removeItem(KEY);
    clearInterval(state.timer);
    state.timer = null;
    state.session = null;
    $("dashboard").hidden = true;
    $("page").hidden = true;
    $("nav").hidden = true;
    $("alerts").querySelector("tbody").replaceChildren();
    $("page").replaceChildren();
    $("login").hidden = false;
    $("login-error").textContent = message || "";
  }

  async function failure(response, path) {
    if (response.status === 401) {
      showLogin("The token was refused.");
      throw new Error("unauthorized");
    }
    const detail = await response.json().then((b) => b.detail, () => "");
    const error = new Error(typeof detail === "string" && detail ? detail
      : path + ": " + response.status);
    error.status = response.status;
    throw error;
  }

  /* GET a JSON resource; with orNone, a 404 (nothing recorded yet) is null. */
  async function api(path, orNone) {
    const response = await fetch(withTarget(path), {
      headers: { Authorization: "Bearer " + token() }, cache: "no-store",
    });
    if (orNone && response.status === 404) return null;
    if (!response.ok) await failure(response, path);
    return response.json();
  }

  async function post(path, body) {
    const response = await fetch(withTarget(path), {
      method: "POST",
      headers: { Authorization: "Bearer " + token(), "Content-Type": "application/json" },
      body: JSON.stringify(body || {}), cache: "no-store",
    });
    if (!response.ok) await failure(response, path);
    return response.json();
  }

  /* A file download that needs the token (an <a href> cannot send it). */
  async function download(path, filename) {
    const response = await fetch(withTarget(path), {
      headers: { Authorization: "Bearer " + token() }, cache: "no-store",
    });
    if (!response.ok) await failure(response, path);
    const url = URL.createObjectURL(await response.blob());
    const link = el("a", { href: url, download: filename });
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }

  function fmt(value, digits) {
    if (value === null || value === undefined || Number.isNaN(value)) return "–";
    if (typeof value !== "number") return String(value);
    return value.toLocaleString(undefined, { maximumFractionDigits: digits ?? 2 });
  }

  function bytes(value) {
    if (value === null || value === undefined || Number.isNaN(value)) return "–";
    const units = ["B", "kB", "MB", "GB", "TB"];
    let n = value, i = 0;
    while (Math.abs(n) >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return fmt(n, 1) + " " + units[i];
  }

  /* A ratio 0..1 as a percentage. */
  function pct(value, digits) {
    return value === null || value === undefined ? "–" : fmt(value * 100, digits ?? 1) + " %";
  }

  function when(iso) {
    return iso ? new Date(iso).toLocaleString() : "–";
  }

  /* An element: el("a", {href: "/x", class: "y"}, "text" or [children]). */
  function el(tag, attrs, content) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") node.className = value;
      else if (name === "text") node.textContent = value;
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else if (name in node && typeof value !== "string") node[name] = value;
      else node.setAttribute(name, value === true ? "" : value);
    }
    if (Array.isArray(content)) node.append(...content.filter((c) => c !== null));
    else if (content !== undefined && content !== null) node.textContent = String(content);
    return node;
  }

  function cell(row, text, cls) {
    const td = document.createElement("td");
    if (text instanceof Node) td.appendChild(text); else td.textContent = text;
    if (cls) td.className = cls;
    row.appendChild(td);
    return td;
  }

  /* Rows of a table (by id or element): columns are [get, class] pairs. */
  function fillTable(table, items, columns, onClick) {
    const element = typeof table === "string" ? $(table) : table;
    const body = element.querySelector("tbody");
    body.replaceChildren();
    for (const item of items) {
      const row = document.createElement("tr");
      for (const [get, cls] of columns) cell(row, get(item), cls);
      if (onClick) {
        row.tabIndex = 0;
        row.addEventListener("click", () => onClick(item));
        row.addEventListener("keydown", (e) => { if (e.key === "Enter") onClick(item); });
      }
      body.appendChild(row);
    }
    return element;
  }

  /* A table with its header row; fill it with fillTable. */
  function table(id, headers, caption) {
    const head = el("tr", {}, headers.map((h) => el("th", { scope: "col" }, h)));
    return el("table", { id }, [caption ? el("caption", {}, caption) : null,
      el("thead", {}, [head]), el("tbody")]);
  }

  /* A table in a box that scrolls sideways on a narrow screen. */
  function wrap(node) { return el("div", { class: "table-wrap" }, [node]); }

  /* A titled part of a page. */
  function section(id, title, children) {
    return el("section", { id, "aria-label": title }, [el("h3", {}, title), ...children]);
  }

  function card(label, value, id) {
    return el("div", { class: "card", id }, [el("b", {}, value), label]);
  }

  function button(text, action, onClick) {
    return el("button", { type: "button", "data-action": action, onclick: onClick }, text);
  }

  /* A control only the admin may use: null for the viewer (never rendered). */
  function adminButton(text, action, onClick) {
    if (!isAdmin()) return null;
    const control = button(text, action, onClick);
    control.dataset.admin = "";
    return control;
  }

  /* Who acts, asked once per tab and recorded with an acknowledgement or action. */
  function who() {
    let name = sessionStorage.getItem(WHO);
    if (!name) {
      name = (window.prompt("Your name, recorded with the action:") || "").trim();
      if (!name) return null;
      sessionStorage.setItem(WHO, name);
    }
    return name;
  }

  const hasValue = (values) => (values || []).some((v) => v !== null && v !== undefined);

  /* The empty-state line of a chart: shown, with its text, or hidden. */
  function emptyNote(element, text) {
    let note = element.parentElement.querySelector(".empty");
    if (!note) {
      note = el("p", { class: "empty" });
      element.before(note);
    }
    note.textContent = text || "";
    note.hidden = !text;
  }

  /* One uPlot chart over the window [view.since, view.until] (epoch seconds).
     Without two distinct times (no point, or one) the time axis spans the window,
     not uPlot's padding of years around one instant. */
  function draw(name, element, chart, names, view) {
    chart = chart || NO_CHARTS;
    const data = [chart.t, ...names.map((n) => chart[n] || [])];
    const old = state.charts[name];
    if (old) old.destroy();
    const empty = !names.some((n) => hasValue(chart[n]));
    emptyNote(element, empty ? view.emptyText : "");
    const width = Math.max(Math.min(element.clientWidth || 500, 900), 280);
    const series = [{}, ...names.map((n, i) => ({
      label: n, stroke: COLORS[i % COLORS.length], width: 2,
      points: { show: true, size: 4 }, spanGaps: false,
    }))];
    const span = (u, min, max) => (new Set((u.data || [[]])[0]).size < 2 ||
      min === null || max === null || min === max ? [view.since, view.until]
      : [min, max]);
    const scales = { x: { time: view.time !== false, range: view.time === false
      ? undefined : span } };
    if (empty) scales.y = { range: [0, 1] };
    else if (view.yRange) scales.y = { range: view.yRange };  // a ratio: 0 to 1
    const config = { width, height: 200, series, scales };
    if (view.yFormat) {
      config.axes = [{}, { size: 80, values: (u, vals) => vals.map(view.yFormat) }];
    }
    state.charts[name] = new uPlot(config, data, element);
    return state.charts[name];
  }

  /* The window shown: the one the API answered for, else the selected range. */
  function viewOf(ts, range) {
    range = range || $("range").value;
    const until = ts && ts.until ? Date.parse(ts.until) / 1000 : Date.now() / 1000;
    const since = ts && ts.since ? Date.parse(ts.since) / 1000 : until - RANGE_S[range];
    const every = (state.lastMetrics || {}).collect_interval_seconds || 60;
    return { since, until,
      emptyText: "No data yet for this range — pgwarden collects every " + every + " s" };
  }

  /* Pages: {name, title, match: RegExp on the path, mount(root, params),
     refresh(root, params) -> Promise}. The overview uses the static #dashboard. */
  function page(definition) { state.pages.push(definition); }

  function find(path) {
    for (const definition of state.pages) {
      const found = definition.match.exec(path);
      if (found) return { definition, params: found.slice(1).map(decodeURIComponent) };
    }
    return null;
  }

  function navigate(path, replace) {
    if (replace) history.replaceState({}, "", path); else history.pushState({}, "", path);
    route();
  }

  function markNav(name) {
    for (const link of $("nav").querySelectorAll("a")) {
      const url = new URL(link.href, location.href);
      url.searchParams.delete("target");
      link.setAttribute("href", withTarget(url.pathname));
      if (link.dataset.page === name) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
  }

  async function route() {
    const found = find(location.pathname) || find("/");
    const { definition, params } = found;
    for (const chart of Object.keys(state.charts)) {
      if (chart.includes(".")) {  // a page's chart ("page.name"): rebuilt on mount
        state.charts[chart].destroy();
        delete state.charts[chart];
      }
    }
    state.current = definition;
    markNav(definition.nav || definition.name);
    document.title = definition.title + " · pgwarden";
    const own = definition.name === "overview";
    $("dashboard").hidden = !own;
    $("page").hidden = own;
    if (!own) {
      const root = el("section", { class: "page", "data-page": definition.name }, [
        el("h2", { class: "page-title" }, definition.title),
        el("p", { class: "error page-error", role: "alert" }),
      ]);
      $("page").replaceChildren(root);
      state.root = root;
      definition.mount(root, params);
    } else {
      state.root = $("dashboard");
    }
    state.params = params;
    await refresh();
  }

  /* Refresh the page shown; marks <body data-loaded data-page> when done. */
  async function refresh() {
    const definition = state.current;
    if (!definition) return;
    const root = state.root;
    const error = root.querySelector(".page-error");
    try {
      await definition.refresh(root, state.params);
      if (error) error.textContent = "";
    } catch (failed) {
      if (String(failed.message) === "unauthorized") return;
      if (error) error.textContent = "could not load: " + failed.message;
      else $("notes").textContent = "could not load: " + failed.message;
    }
    if (definition !== state.current) return;
    document.body.dataset.page = definition.name;
    document.body.dataset.loaded = String(Date.now());
    schedule(state.refreshSeconds);
  }

  function schedule(seconds) {
    if (state.timer && seconds === state.refreshSeconds) return;
    state.refreshSeconds = seconds;
    clearInterval(state.timer);
    state.timer = setInterval(refresh, seconds * 1000);
  }

  function isAdmin() { return Boolean(state.session && state.session.admin); }

  /* Shows statement text, or says that it is hidden for this role. */
  function queryText(text) {
    return text === null || text === undefined ? "" : String(text);
  }

  /* The session of the target in the URL; an unknown target is dropped from the
     URL (the default one is shown) with a note saying so. */
  async function session() {
    state.target = urlTarget();
    try {
      return await api("/api/admin/session");
    } catch (error) {
      if (error.status !== 404 || !state.target) throw error;
      const unknown = state.target;
      state.target = null;
      const url = new URL(location.href);
      url.searchParams.delete("target");
      history.replaceState({}, "", url.pathname + url.search + url.hash);
      const found = await api("/api/admin/session");
      found.note = "No target named " + unknown + " here: showing " + found.target + ".";
      return found;
    }
  }

  async function start() {
    $("login").hidden = true;
    try {
      state.session = await session();
      state.targets = await api("/api/admin/fleet/targets").catch(() => null);
    } catch (error) {
      if (String(error.message) !== "unauthorized") showLogin(error.message);
      return;
    }
    state.refreshSeconds = state.session.refresh_seconds || 60;
    document.body.dataset.role = state.session.role;
    document.body.dataset.target = state.session.target || "";
    $("role").textContent = state.session.role;
    switcher();
    $("target-note").textContent = state.session.note || "";
    $("target-note").hidden = !state.session.note;
    $("nav").hidden = false;
    await route();
  }

  /* The target switcher: every target of the dashboard, the one shown chosen. */
  function switcher() {
    const select = $("target");
    const shown = state.session.target || "";
    const names = ((state.targets || {}).targets || []).map((t) => t.name);
    if (!names.includes(shown)) names.unshift(shown);
    select.replaceChildren(...names.map((name) =>
      el("option", { value: name, selected: name === shown }, name)));
    select.disabled = names.length < 2;
  }

  /* Show another target: the same page, ?target=NAME in its URL. */
  async function switchTo(name) {
    const url = new URL(location.href);
    url.searchParams.set("target", name);
    history.pushState({}, "", url.pathname + url.search + url.hash);
    await start();
  }

  function boot() {
    $("login").addEventListener("submit", (event) => {
      event.preventDefault();
      const value = $("token").value.trim();
      if (!value) return;
      sessionStorage.setItem(KEY, value);
      $("token").value = "";
      start();
    });
    $("logout").addEventListener("click", () => showLogin(""));
    $("range").addEventListener("change", refresh);
    $("nav").addEventListener("click", (event) => {
      const link = event.target.closest("a[data-page]");
      if (!link || event.ctrlKey || event.metaKey || event.shiftKey) return;
      event.preventDefault();
      navigate(link.getAttribute("href"));
    });
    window.addEventListener("popstate", () => {
      if (!token()) return;
      if (urlTarget() !== state.target) start(); else route();
    });
    $("target").addEventListener("change", (event) => switchTo(event.target.value));
    /* a link inside the dashboard keeps the target shown */
    for (const kind of ["click", "auxclick"]) {
      document.addEventListener(kind, (event) => {
        const link = event.target.closest && event.target.closest("a[href]");
        if (!link || !state.target || link.target || link.hasAttribute("download")) return;
        const href = link.getAttribute("href");
        if (href && !href.startsWith("#")) link.setAttribute("href", withTarget(href));
      }, true);
    }
    if (token()) start(); else showLogin("");
  }

  Object.assign(state, {
    $, el, api, post, download, fmt, bytes, pct, when, cell, fillTable, table, wrap,
    section, card,
    button, adminButton, who, hasValue, emptyNote, draw, viewOf, page, navigate, refresh,
    isAdmin, queryText, showLogin, withTarget, NO_CHARTS, RANGE_S,
  });
  window.pgwarden = state;
  document.addEventListener("DOMContentLoaded", boot);
})();
