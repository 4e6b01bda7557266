// teal's dashboard: renders the snapshots the server streams at
// /dashboard/events, and sends the operator's actions with the API token.
// Everything from the server is put in the page as text, never as HTML.
"use strict";

(function () {
  const TOKEN_KEY = "teal.token";
  const LABELS = {
    "promote": "Promote",
    "abort": "Abort",
    "deployment/pause": "Pause",
    "deployment/resume": "Resume",
    "rollback": "Roll back",
  };
  const $ = (id) => document.getElementById(id);

  // el makes an element with a class and children (nodes or text).
  function el(tag, cls, ...children) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    for (const c of children) {
      if (c === null || c === undefined || c === false) continue;
      e.append(c instanceof Node ? c : String(c));
    }
    return e;
  }

  function clock(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    return isNaN(d) ? "" : d.toLocaleTimeString([], { hour12: false });
  }

  function duration(from, to) {
    const ms = Date.parse(to) - Date.parse(from);
    if (!(ms >= 0)) return "";
    return ms < 1000 ? ms + "ms" : ms < 120000 ? (ms / 1000).toFixed(1) + "s" : Math.round(ms / 60000) + "m";
  }

  // --- the token -----------------------------------------------------------

  function token() {
    return localStorage.getItem(TOKEN_KEY) || "";
  }

  function showToken() {
    const set = token() !== "";
    $("token").value = "";
    $("token").placeholder = set ? "saved" : "the file token in the data directory";
    $("token-state").textContent = set ? "saved in this browser" : "the buttons need it";
    $("token-forget").disabled = !set;
  }

  $("token-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const v = $("token").value.trim();
    if (v) localStorage.setItem(TOKEN_KEY, v);
    showToken();
  });
  $("token-forget").addEventListener("click", () => {
    localStorage.removeItem(TOKEN_KEY);
    showToken();
  });
  showToken();

  // --- services ------------------------------------------------------------

  const cards = new Map(); // "env/name" -> card
  const sections = new Map(); // env -> section
  const pending = new Map(); // "env/name" -> the action being sent
  let last = null; // the last snapshot

  function keyOf(svc) {
    return svc.env + "/" + svc.name;
  }

  function running(svc) {
    return !!svc.deployment && svc.deployment.status === "running";
  }

  // card returns the card of a service, made once with its buttons, so
  // that a click is never lost to a re-render.
  function card(svc) {
    const key = keyOf(svc);
    let c = cards.get(key);
    if (c) return c;
    c = { root: el("article", "service"), sig: {} };
    c.root.dataset.env = svc.env;
    c.root.dataset.service = svc.name;
    c.head = el("header");
    c.slots = el("div");
    c.deployment = el("div", "deployment");
    c.result = el("span", "result");
    c.result.setAttribute("role", "status");
    const actions = el("div", "actions");
    c.buttons = {};
    for (const a of Object.keys(LABELS)) {
      const b = el("button", a === "promote" ? "primary" : "", LABELS[a]);
      b.type = "button";
      b.dataset.action = a;
      b.addEventListener("click", () => act(c.svc, a));
      c.buttons[a] = b;
      actions.append(b);
    }
    actions.append(c.result);
    c.root.append(c.head, c.slots, c.deployment, actions);
    cards.set(key, c);
    return c;
  }

  // update sets part to what make returns, only when data changed.
  function update(c, part, data, make) {
    const sig = JSON.stringify(data);
    if (c.sig[part] === sig) return;
    c.sig[part] = sig;
    c[part].replaceChildren(...make().filter((n) => n));
  }

  function renderService(svc) {
    const c = card(svc);
    c.svc = svc;
    const live = svc.slots.find((s) => s.role === "live");
    const d = svc.deployment;
    const hold = holding(d);
    c.root.dataset.liveRevision = live ? live.revision : "";
    c.root.dataset.deploymentStatus = d ? d.status : "";
    c.root.dataset.holding = hold ? "true" : "false";

    update(c, "head", [svc.name, svc.env, svc.version, svc.gate], () => [
      el("h3", "", svc.name),
      svc.version ? el("span", "badge", svc.version) : null,
      svc.gate ? el("span", "badge gate", svc.gate.maintenance ? "in maintenance" : "paused (requests held)") : null,
    ]);
    update(c, "slots", svc.slots, () => [slotsTable(svc.slots)]);
    update(c, "deployment", d || null, () => (d ? deployment(d, hold) : []));
    updateButtons(c);
  }

  function slotsTable(slots) {
    if (slots.length === 0) return el("p", "empty", "No revision runs.");
    const head = el("tr", "");
    for (const h of ["", "slot", "revision", "version", "weight", "instances", "req/s", "errors"]) head.append(el("th", "", h));
    head.lastChild.title = "share of the requests of the last 5 s answered 5xx or not at all";
    head.lastChild.previousSibling.title = "requests per second over the last 5 s, as the load balancer counted them";
    const body = el("tbody");
    for (const s of slots) {
      const tr = el("tr", "slot role-" + s.role);
      tr.dataset.role = s.role;
      tr.dataset.slot = s.slot;
      const role = s.role === "previous" ? "warm" + (s.warm_until ? " until " + clock(s.warm_until) : "") : s.role;
      const bar = el("span", "bar", el("span"));
      bar.firstChild.style.width = s.weight + "%";
      const healthy = s.instances.filter((i) => i.health === "healthy" && !i.exit).length;
      const dots = el("span", "instances");
      for (const i of s.instances) {
        const dot = el("span", "dot " + (i.exit ? "exited" : i.health));
        dot.title = i.id + " " + i.addr + ": " + (i.exit || i.health) + (i.last_check ? " (" + i.last_check + ")" : "");
        dots.append(dot);
      }
      const errs = s.error_rate === null ? "–" : (s.error_rate * 100).toFixed(1) + "%";
      tr.append(
        el("td", "role", role),
        el("td", "", el("span", "chip " + s.slot, s.slot)),
        el("td", "mono", "r" + s.revision),
        el("td", "", s.version || "—"),
        el("td", "weight", bar, s.weight + "%"),
        el("td", "", dots, healthy + "/" + s.instances.length + " healthy"),
        el("td", "num rate", s.request_rate === null ? "–" : s.request_rate.toFixed(1)),
        el("td", "num errors" + (s.error_rate > 0 ? " bad" : ""), errs),
      );
      body.append(tr);
    }
    return el("table", "slots", el("thead", "", head), body);
  }

  // holding returns the running hold step of a deployment, if it waits.
  function holding(d) {
    if (!d || d.status !== "running" || !d.steps || d.steps.length === 0) return null;
    const s = d.steps[d.steps.length - 1];
    return s.name === "hold" && s.status === "running" ? s : null;
  }

  function deployment(d, hold) {
    const out = [];
    const what = d.kind + (d.strategy ? " by " + d.strategy : "");
    const revs = d.from_revision ? "r" + d.from_revision + " → r" + d.to_revision : "r" + d.to_revision;
    out.push(el("p", "head",
      "Deployment " + d.id + ": " + what + ", " + revs + " in " + d.slot + " · ",
      el("span", "status " + d.status, d.status),
      " · started " + clock(d.started_at),
      d.ended_at ? ", took " + duration(d.started_at, d.ended_at) : ""));
    if (hold) out.push(el("p", "holding", "Holding: " + hold.detail));
    const ol = el("ol", "timeline");
    for (const s of d.steps || []) {
      const li = el("li", s.status,
        el("span", "name", s.name),
        el("span", "detail", s.detail || ""),
        s.outcome ? el("span", "outcome", " → " + s.outcome) : null,
        el("time", "", clock(s.started_at) + (s.ended_at ? " (" + duration(s.started_at, s.ended_at) + ")" : "")));
      li.dataset.step = s.name;
      ol.append(li);
    }
    out.push(ol);
    if (d.status === "failed" && d.reason) out.push(el("p", "reason", "Failed: " + d.reason));
    return out;
  }

  function updateButtons(c) {
    const svc = c.svc;
    const busy = pending.has(keyOf(svc));
    const inFlight = running(svc);
    const hasLive = svc.slots.some((s) => s.role === "live");
    for (const [a, b] of Object.entries(c.buttons)) {
      const can = a === "rollback" ? !inFlight && hasLive : inFlight;
      b.disabled = busy || !can;
      b.title = can ? "" : a === "rollback" ? "possible when no deployment is in flight" : "possible while a deployment is in flight";
    }
  }

  function render(snap) {
    last = snap;
    const byEnv = new Map();
    for (const svc of snap.services) {
      if (!byEnv.has(svc.env)) byEnv.set(svc.env, []);
      byEnv.get(svc.env).push(svc);
    }
    const want = [];
    const seen = new Set();
    for (const [env, svcs] of byEnv) {
      let sec = sections.get(env);
      if (!sec) {
        sec = el("section", "env", el("h2", "", env === "" ? "default" : env, el("span", "label", " environment")));
        sec.dataset.env = env;
        sections.set(env, sec);
      }
      const kids = [sec.firstChild];
      for (const svc of svcs) {
        renderService(svc);
        seen.add(keyOf(svc));
        kids.push(cards.get(keyOf(svc)).root);
      }
      setChildren(sec, kids);
      want.push(sec);
    }
    for (const key of cards.keys()) if (!seen.has(key)) cards.delete(key);
    for (const env of sections.keys()) if (!byEnv.has(env)) sections.delete(env);
    if (want.length === 0) want.push(el("p", "empty", "No services yet: teal apply a configuration."));
    setChildren($("services"), want);
    renderEvents(snap.events);
  }

  // setChildren moves nodes only when the order changed, so that a button
  // under the pointer stays where it is.
  function setChildren(parent, kids) {
    const cur = parent.children;
    if (cur.length === kids.length && kids.every((k, i) => cur[i] === k)) return;
    parent.replaceChildren(...kids);
  }

  let eventsSig = "";
  function renderEvents(events) {
    const sig = events.length ? events[events.length - 1].env + events[events.length - 1].seq + ":" + events.length : "";
    if (sig === eventsSig) return;
    eventsSig = sig;
    const items = [];
    for (const e of events.slice().reverse()) {
      const where = (e.env ? e.env + "/" : "") + (e.service || "");
      items.push(el("li", "",
        el("time", "", clock(e.time)),
        el("span", "where", where),
        el("span", "type", e.type),
        el("span", "msg", e.message, e.actor ? el("span", "actor", " (by " + e.actor + ")") : null)));
    }
    if (items.length === 0) items.push(el("li", "empty", "Nothing has happened yet."));
    $("events").replaceChildren(...items);
  }

  // --- actions -------------------------------------------------------------

  function say(c, text, kind) {
    c.result.textContent = text;
    c.result.className = "result " + (kind || "");
  }

  async function act(svc, action) {
    const c = cards.get(keyOf(svc));
    const t = token();
    if (!t) {
      say(c, "Enter the API token at the top of the page first.", "error");
      $("token").focus();
      return;
    }
    pending.set(keyOf(svc), action);
    updateButtons(c);
    say(c, LABELS[action] + "…", "");
    let url = "/dashboard/services/" + encodeURIComponent(svc.name) + "/" + action;
    if (svc.env) url += "?env=" + encodeURIComponent(svc.env);
    try {
      const resp = await fetch(url, { method: "POST", headers: { Authorization: "Bearer " + t } });
      if (resp.ok) {
        say(c, LABELS[action] + ": done", "ok");
      } else {
        const body = await resp.json().catch(() => null);
        const msg = body && body.error ? body.error.message : resp.status + " " + resp.statusText;
        say(c, LABELS[action] + " refused: " + msg, "error");
      }
    } catch (err) {
      say(c, LABELS[action] + ": the server could not be reached (" + err.message + ")", "error");
    } finally {
      pending.delete(keyOf(svc));
      const cur = cards.get(keyOf(svc));
      if (cur) updateButtons(cur);
    }
  }

  // --- the stream ----------------------------------------------------------

  let received = 0;
  function setConn(state, text) {
    $("conn").dataset.state = state;
    $("conn").textContent = text;
  }

  const es = new EventSource("/dashboard/events");
  es.onopen = () => setConn("live", "live");
  es.onerror = () => setConn("reconnecting", "reconnecting…");
  es.onmessage = (m) => {
    received = Date.now();
    setConn("live", "live");
    render(JSON.parse(m.data));
  };
  // The server sends a snapshot at least every second: say so when they
  // stop coming, so that nobody trusts a frozen page.
  setInterval(() => {
    if (last && Date.now() - received > 3000) {
      setConn("reconnecting", "no news for " + Math.round((Date.now() - received) / 1000) + "s");
    }
  }, 1000);
})();
