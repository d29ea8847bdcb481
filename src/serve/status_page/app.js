// The status page's code: polls /status (the daemon's `ps --json` plus the gateway's recent
// requests) and /metrics (Prometheus text) every POLL_MS and redraws. Every element is built
// with createElement/textContent (never innerHTML with data); the charts are SVG drawn here.
// Behind API keys (a 401 from /status or /metrics) it asks for a key: kept in sessionStorage
// only (this tab, gone when it closes), sent as `Authorization: Bearer`, never put in the URL or
// in the page's text; polling stops until a key is given, and a refused key says so.
"use strict";

const POLL_MS = 2000;
const SPARK_POINTS = 60;  // tokens/s samples kept per model (two minutes at POLL_MS)
const LOG_LINES = 200;
const KEY_ITEM = "sparkctl.apiKey";  // the sessionStorage item holding the API key
const SVG_NS = "http://www.w3.org/2000/svg";
const COLORS = ["#4c8bf5", "#e8710a", "#12a4af", "#9334e6", "#d01884", "#188038", "#b06000",
                "#5f6368"];

const state = {
  colors: new Map(),      // deployment id -> color, stable across polls
  tokens: new Map(),      // model -> {total, at}: the last completion-token counter reading
  rates: new Map(),       // model -> [tokens/s, ...]
  selectedLog: null,
  waitingForKey: false,  // a 401 stopped the polling; the key form restarts it
};

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

function svg(tag, attrs) {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  return e;
}

function colorOf(id) {
  if (!state.colors.has(id)) state.colors.set(id, COLORS[state.colors.size % COLORS.length]);
  return state.colors.get(id);
}

function bytes(n) {
  if (n === null || n === undefined) return "\u2013";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let v = Number(n);
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return (i === 0 ? v.toFixed(0) : v.toFixed(1)) + " " + units[i];
}

function shown(v, digits) {
  if (v === null || v === undefined) return "\u2013";
  if (typeof v === "number" && digits !== undefined) return v.toFixed(digits);
  if (typeof v === "boolean") return v ? "yes" : "no";
  return String(v);
}

// A deployment holds its reservation while the daemon lists a port for it (the `ps --json`
// shape: port is null when the daemon holds no process for it).
function reservation(d) {
  if (d.port === null || d.port === undefined) return 0;
  return Math.max(Number(d.planned_bytes || 0), Number(d.measured_bytes || 0));
}

function drawMemory(doc) {
  const deps = Array.isArray(doc.deployments) ? doc.deployments : [];
  const budget = Number(doc.budget_bytes || 0);
  const reserved = Number(doc.reserved_bytes || 0);
  const avail = doc.mem_available_bytes === null || doc.mem_available_bytes === undefined
      ? null : Number(doc.mem_available_bytes);
  const held = deps.map((d) => [d, reservation(d)]).filter(([, r]) => r > 0);
  const heldSum = held.reduce((s, [, r]) => s + r, 0);
  const pending = Math.max(0, reserved - heldSum);  // admitted, not yet started
  const used = heldSum + pending;
  // The pool the models can use: what is reserved plus what the kernel says is still available.
  const pool = avail === null ? 0 : used + avail;
  const scale = Math.max(budget, pool, used, 1);
  const W = 1000;
  const H = 36;
  const x = (b) => (b / scale) * W;

  const bar = svg("svg", {id: "memory-bar", viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none",
                          role: "img", "aria-label": "memory reservations against the budget"});
  bar.append(svg("rect", {class: "mem-free", x: 0, y: 0, width: W, height: H}));
  if (avail !== null) {
    bar.append(svg("rect", {class: "mem-avail", x: x(used), y: 0, width: x(avail), height: H}));
  }
  const legend = document.getElementById("memory-legend");
  legend.replaceChildren();
  let at = 0;
  for (const [d, r] of held) {
    const seg = svg("rect", {class: "mem-seg", "data-id": d.id, x: x(at), y: 0,
                             width: Math.max(x(r), 1), height: H, fill: colorOf(d.id)});
    const title = svg("title");
    title.textContent = `${d.id}: ${bytes(r)} reserved` +
        (d.measured_bytes ? `, ${bytes(d.measured_bytes)} measured` : "");
    seg.append(title);
    bar.append(seg);
    const sw = el("span", {class: "swatch"});
    sw.style.background = colorOf(d.id);
    legend.append(el("li", {}, sw, `${d.id} ${bytes(r)}`));
    at += r;
  }
  if (pending > 0) {
    bar.append(svg("rect", {class: "mem-seg mem-pending", x: x(at), y: 0, width: x(pending),
                            height: H, fill: "#9aa4af"}));
    legend.append(el("li", {}, `pending ${bytes(pending)}`));
  }
  if (budget > 0) {
    bar.append(svg("line", {class: "mem-budget", x1: x(budget), x2: x(budget), y1: 0, y2: H}));
  }
  const availSw = el("span", {class: "swatch"});
  availSw.style.background = "var(--avail)";
  legend.append(el("li", {}, availSw, `MemAvailable ${bytes(avail)}`));
  legend.append(el("li", {}, `\u2503 budget ${bytes(budget)}`));
  document.getElementById("memory-bar-box").replaceChildren(bar);
  document.getElementById("memory-summary").textContent =
      `${bytes(reserved)} reserved of a ${bytes(budget)} budget; MemAvailable ${bytes(avail)}` +
      (pool ? `; pool (reserved + MemAvailable) ${bytes(pool)}` : "");
}

// The state cell's text: the state and, for a load that waits (`waiting` in ps --json), what it
// waits for, as `sparkctl ps` writes it (src/cli/cmd_serve.cpp state_cell).
function stateText(d) {
  const w = d.waiting;
  if (!w || typeof w !== "object") return shown(d.state);
  return (d.state === "unloaded" ? "" : `${shown(d.state)}; `) + waitingText(w);
}

function waitingText(w) {
  const left = typeof w.until_s === "number" ? `: ${Math.ceil(w.until_s)} s` : "";
  const behind = shown(w.behind);
  switch (w.reason) {
    case "quantum": return `waiting (${behind}${left})`;
    case "loading": return `waiting (${behind} loading)`;
    case "draining": return `waiting (${behind} drains${left})`;
    case "stopping": return `waiting (${behind} stops)`;
    case "queued": return `waiting (after ${behind})`;
    default: return `waiting (${shown(w.reason)}: ${behind})`;
  }
}

function drawDeployments(doc) {
  const body = document.querySelector("#deployments tbody");
  const deps = Array.isArray(doc.deployments) ? doc.deployments : [];
  const rows = [];
  for (const d of deps) {
    const tr = el("tr", {"data-id": d.id, class: "selectable"});
    if (d.id === state.selectedLog) tr.classList.add("selected");
    const stateCell = el("td", {class: `state state-${String(d.state).replace(/[^a-z_-]/gi, "")}`},
                         stateText(d));
    if (d.failure) stateCell.title = String(d.failure);
    tr.append(el("td", {}, shown(d.id)), el("td", {}, shown(d.model)), el("td", {}, shown(d.engine)),
              el("td", {}, shown(d.quant)), stateCell, el("td", {class: "num"}, shown(d.port)),
              el("td", {class: "num"}, shown(d.pid)), el("td", {}, shown(d.pinned)),
              el("td", {class: "num"}, shown(d.in_flight)),
              el("td", {class: "num"}, d.max_in_flight > 0 ? shown(d.max_in_flight) : "\u2013"),
              el("td", {class: "num"}, shown(d.queued)),
              el("td", {class: "num"}, bytes(d.planned_bytes)),
              el("td", {class: "num"}, bytes(d.measured_bytes)),
              el("td", {class: "num"}, shown(d.restarts)),
              el("td", {class: "num"}, d.idle_s === null || d.idle_s === undefined
                                         ? "\u2013" : `${Number(d.idle_s).toFixed(0)} s`),
              el("td", {}, shown(d.last_exit)));
    tr.addEventListener("click", () => selectLog(d.id));
    rows.push(tr);
  }
  body.replaceChildren(...rows);

  const select = document.getElementById("log-select");
  const ids = rows.map((r) => r.dataset.id);
  const current = Array.from(select.options).map((o) => o.value);
  if (ids.join("\n") !== current.join("\n")) {
    select.replaceChildren(...ids.map((id) => el("option", {value: id}, id)));
  }
  if (state.selectedLog === null || !ids.includes(state.selectedLog)) {
    // By default the log of the first deployment with an engine (a port), else the first one.
    const running = deps.find((d) => d.port !== null && d.port !== undefined);
    state.selectedLog = running ? running.id : ids.length ? ids[0] : null;
  }
  if (state.selectedLog !== null) select.value = state.selectedLog;
}

function drawRequests(doc) {
  const body = document.querySelector("#requests tbody");
  const rows = (Array.isArray(doc.recent_requests) ? doc.recent_requests : []).map((r) =>
      el("tr", {}, el("td", {}, new Date(Number(r.time_ms)).toLocaleTimeString()),
         el("td", {}, shown(r.model)), el("td", {}, shown(r.path)),
         el("td", {class: "num"}, shown(r.status)), el("td", {}, shown(r.stream)),
         el("td", {class: "num"}, shown(r.ttft_ms, 1)), el("td", {class: "num"}, shown(r.e2e_ms, 1)),
         el("td", {class: "num"}, shown(r.prompt_tokens)),
         el("td", {class: "num"}, shown(r.completion_tokens))));
  body.replaceChildren(...rows);
}

// Reads `name{model="..."} value` samples from Prometheus text (label values escaped as
// \\, \" and \n: the text exposition format).
function samplesOf(text, name) {
  const out = new Map();
  for (const line of text.split("\n")) {
    if (!line.startsWith(name + "{")) continue;
    const m = /model="((?:[^"\\]|\\.)*)"[^}]*\}\s+(\S+)/.exec(line);
    if (!m) continue;
    const model = m[1].replace(/\\(.)/g, (_, c) => (c === "n" ? "\n" : c));
    const v = Number(m[2]);
    if (Number.isFinite(v)) out.set(model, v);
  }
  return out;
}

function updateRates(metricsText, now) {
  for (const [model, total] of samplesOf(metricsText, "sparkctl_gateway_completion_tokens_total")) {
    const last = state.tokens.get(model);
    state.tokens.set(model, {total, at: now});
    if (!last || now <= last.at) continue;
    // A counter that went down was reset (a new gateway): that interval is not a rate.
    const rate = total >= last.total ? (total - last.total) / ((now - last.at) / 1000) : 0;
    const series = state.rates.get(model) || [];
    series.push(rate);
    if (series.length > SPARK_POINTS) series.shift();
    state.rates.set(model, series);
  }
}

function sparkline(series) {
  const W = 300;
  const H = 32;
  const s = svg("svg", {viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none", class: "sparkline"});
  const max = Math.max(1, ...series);
  const step = W / (SPARK_POINTS - 1);
  const x0 = W - (series.length - 1) * step;
  const points = series.map((v, i) => `${(x0 + i * step).toFixed(1)},${(H - 2 - (v / max) * (H - 4)).toFixed(1)}`);
  // One reading: a short flat segment ending at it.
  if (points.length === 1) points.unshift(`${(W - step).toFixed(1)},${points[0].split(",")[1]}`);
  s.append(svg("polyline", {class: "spark", points: points.join(" ")}));
  return s;
}

function drawRates() {
  const box = el("div", {class: "tps"});
  for (const [model, series] of state.rates) {
    const last = series.length ? series[series.length - 1] : 0;
    box.append(el("span", {"data-model": model}, model), el("span", {class: "num"}, `${last.toFixed(1)} tok/s`),
               sparkline(series));
  }
  if (!state.rates.size) box.append(el("span", {class: "muted"}, "waiting for a second reading"));
  document.getElementById("throughput").replaceChildren(box);
}

function storedKey() {
  try {
    return window.sessionStorage.getItem(KEY_ITEM);
  } catch (e) {
    return null;  // no storage (e.g. disabled): no key
  }
}

// A 401: `keySent` tells whether the request carried a key (then that key was refused).
class Unauthorized extends Error {
  constructor(url, keySent) {
    super(`${url}: HTTP 401`);
    this.keySent = keySent;
  }
}

async function fetchText(url) {
  const key = storedKey();
  const headers = key === null ? {} : {Authorization: `Bearer ${key}`};
  const r = await fetch(url, {cache: "no-store", headers});
  if (r.status === 401) throw new Unauthorized(url, key !== null);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return r.text();
}

function askForKey(keySent) {
  const message = document.getElementById("key-message");
  if (keySent) {
    try {
      window.sessionStorage.removeItem(KEY_ITEM);
    } catch (e) {
      // nothing stored
    }
    message.className = "error";
    message.textContent = "Wrong key: the gateway refused it (401). Enter another one.";
  } else {
    message.className = "";
    message.textContent = "This gateway needs an API key (one of its api_keys_file) to show its status.";
  }
  document.getElementById("key-section").hidden = false;
  const updated = document.getElementById("updated");
  updated.className = "error";
  updated.textContent = "API key needed";
  state.waitingForKey = true;
  document.getElementById("key-input").focus();
}

// The key form: the key goes to sessionStorage (never to the URL or the page's text: the input
// is emptied at once), then one poll tries it.
function onKeySubmit(ev) {
  ev.preventDefault();
  const input = document.getElementById("key-input");
  const key = input.value.trim();
  input.value = "";
  const message = document.getElementById("key-message");
  if (!/^[\x21-\x7e]+$/.test(key)) {  // what an HTTP header value can carry
    message.className = "error";
    message.textContent = "Not a key: an API key is printable ASCII without spaces.";
    return;
  }
  try {
    window.sessionStorage.setItem(KEY_ITEM, key);
  } catch (e) {
    message.className = "error";
    message.textContent = "This browser keeps no sessionStorage for the page: the key cannot be kept.";
    return;
  }
  if (!state.waitingForKey) return;  // a poll is already scheduled; it uses the new key
  state.waitingForKey = false;
  message.className = "muted";
  message.textContent = "Checking the key\u2026";
  poll();
}

async function drawLog() {
  const pre = document.getElementById("log-tail");
  if (state.selectedLog === null) {
    pre.textContent = "";
    return;
  }
  const id = state.selectedLog;
  try {
    const doc = JSON.parse(await fetchText(`/status/logs/${encodeURIComponent(id)}?lines=${LOG_LINES}`));
    if (id === state.selectedLog) {
      pre.textContent = doc.lines.length ? doc.lines.join("\n") : `(${id} has no log yet)`;
    }
  } catch (e) {
    if (e instanceof Unauthorized) throw e;
    pre.textContent = String(e.message || e);
  }
}

function selectLog(id) {
  state.selectedLog = id;
  for (const tr of document.querySelectorAll("#deployments tbody tr")) {
    tr.classList.toggle("selected", tr.dataset.id === id);
  }
  document.getElementById("log-select").value = id;
  drawLog().catch(() => {});  // a 401 here: the next poll asks for the key
}

async function poll() {
  const updated = document.getElementById("updated");
  try {
    const [statusText, metricsText] = await Promise.all([fetchText("/status"), fetchText("/metrics")]);
    const doc = JSON.parse(statusText);
    document.getElementById("mode").textContent = doc.simulated === true ? "simulated engines" : "";
    drawDeployments(doc);
    drawMemory(doc);
    drawRequests(doc);
    updateRates(metricsText, Date.now());
    drawRates();
    await drawLog();
    document.getElementById("key-section").hidden = true;
    updated.className = "muted";
    updated.textContent = `updated ${new Date().toLocaleTimeString()}`;
  } catch (e) {
    if (e instanceof Unauthorized) {
      askForKey(e.keySent);
      return;  // no polling without a key; the key form polls again
    }
    updated.className = "error";
    updated.textContent = `cannot reach the gateway: ${e.message || e}`;
  }
  setTimeout(poll, POLL_MS);
}

document.getElementById("log-select").addEventListener("change", (ev) => selectLog(ev.target.value));
document.getElementById("key-form").addEventListener("submit", onKeySubmit);
poll();
