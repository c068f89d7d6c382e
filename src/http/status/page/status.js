// The status page's client: polls the node's /admin/status and draws it.
// Every value from the node enters the page as text, never as markup: lobby
// data is written by game servers, i.e. by anyone on the internet.

const POLL_MS = 2000;
const API = "admin/status";
const TOKEN_KEY = "gmnet-master.admin-token";
const DATA_FIELDS = 8;
const SVG_NS = "http://www.w3.org/2000/svg";
/** The charts span the node's history (5 minutes by the second) but at least a minute. */
const WINDOW_MS = 5 * 60_000;
const MIN_SPAN_MS = 60_000;
/** The cards' "now": a short average, so one quiet second does not read as zero. */
const RECENT_MS = 10_000;

const OUTCOME_COLORS = {
  found: "#2e9d5b",
  not_found: "#d08c1a",
  no_udp_endpoint: "#e0642b",
  server_udp_unknown: "#8a5cc2",
  owner_unreachable: "#d6336c",
  owner_gone: "#8c2f39",
  store_error: "#c92a2a",
};
const LOBBY_COLORS = { ok: "#3572c6", store_error: "#c92a2a", disabled: "#868e96" };
const PALETTE = ["#d6336c", "#e0642b", "#8a5cc2", "#3572c6", "#d08c1a", "#1c7c7d", "#868e96"];
const IP_MODES = {
  full: "IPs shown in full",
  hash: "IPs hashed",
  truncate: "IPs truncated (/24, /48)",
};

const state = {
  filters: Array.from({ length: DATA_FIELDS }, () => ""),
  sortBy: "date",
  direction: "DESC",
  limit: 50,
  serverKey: null,
  timer: null,
  generation: 0,
};

const $ = (id) => document.getElementById(id);

/** An element with text children only (strings become text nodes). */
function el(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "className") element.className = value;
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    element.append(typeof child === "string" || typeof child === "number" ? String(child) : child);
  }
  return element;
}

function svg(tag, attributes = {}) {
  const element = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  return element;
}

function show(id, visible) {
  $(id).hidden = !visible;
}

// ---- time and number formatting ----

function duration(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const min = Math.floor(s / 60);
  if (min < 60) return `${min} min`;
  const h = Math.floor(min / 60);
  if (h < 48) return `${h} h ${min % 60} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

/** The time axis' two labels (the span and its half), in one unit: seconds below two minutes. */
function axisLabels(spanMs) {
  const s = spanMs / 1000;
  if (s < 120) return [`−${Math.round(s)} s`, `−${Math.round(s / 2)} s`];
  const minutes = (value) => `−${Math.round(value / 6) / 10} min`;
  return [minutes(s), minutes(s / 2)];
}

function clock(ms) {
  return new Date(ms).toLocaleString(undefined, { hour12: false });
}

function rate(value) {
  if (value === 0) return "0";
  if (value < 0.1) return value.toFixed(2);
  if (value < 10) return value.toFixed(1);
  return Math.round(value).toLocaleString();
}

function count(value) {
  return Math.round(value).toLocaleString();
}

/** The mean of the last `ms` of a series (the node samples once per interval). */
function recentRate(values, intervalMs, ms = RECENT_MS) {
  const n = Math.min(values.length, Math.max(1, Math.round(ms / intervalMs)));
  if (n === 0 || values.length === 0) return 0;
  let sum = 0;
  for (const v of values.slice(-n)) sum += v;
  return sum / n;
}

function colorFor(label, known) {
  if (known[label]) return known[label];
  let hash = 0;
  for (const char of label) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return PALETTE[hash % PALETTE.length];
}

// ---- fetching ----

function currentQuery() {
  const params = new URLSearchParams();
  state.filters.forEach((value, i) => {
    if (value !== "") params.set(`data${i + 1}`, value);
  });
  params.set("sortBy", state.sortBy);
  params.set("direction", state.direction);
  params.set("limit", String(state.limit));
  if (state.serverKey) params.set("server", state.serverKey);
  return params;
}

async function poll() {
  const generation = ++state.generation;
  clearTimeout(state.timer);
  const token = sessionStorage.getItem(TOKEN_KEY);
  const headers = { accept: "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch(`${API}?${currentQuery()}`, { headers, cache: "no-store" });
  } catch {
    connectionProblem("Cannot reach the node; retrying.");
    return schedule(generation);
  }
  const body = await response.json().catch(() => null);
  // A newer request (the user changed the lobby view) answers instead.
  if (generation !== state.generation) return;
  show("loading", false);
  if (response.status === 401) {
    askForToken(token ? "The node refused that token." : null);
    return; // polling resumes once a token is given
  }
  if (response.status === 403) {
    showDenied(body?.message ?? "");
    return;
  }
  if (!response.ok || !body) {
    connectionProblem(
      `The node answered HTTP ${response.status}: ${body?.message ?? "no details"}`,
    );
    return schedule(generation);
  }
  show("auth", false);
  show("denied", false);
  show("connection", false);
  show("content", true);
  show("forget-token", Boolean(token));
  render(body);
  schedule(generation);
}

function schedule(generation) {
  if (generation !== state.generation) return;
  state.timer = setTimeout(poll, POLL_MS);
}

function connectionProblem(message) {
  const banner = $("connection");
  banner.textContent = message;
  banner.hidden = false;
}

function askForToken(error) {
  show("content", false);
  show("auth", true);
  $("auth-error").textContent = error ?? "";
  show("auth-error", Boolean(error));
  $("auth-token").focus();
}

function showDenied(message) {
  show("content", false);
  show("denied", true);
  $("denied-message").textContent = message;
}

// ---- rendering ----

function render(snapshot) {
  renderHeader(snapshot);
  renderWarnings(snapshot.warnings);
  renderCards(snapshot);
  renderNodes(snapshot);
  renderGames(snapshot.servers);
  renderCharts(snapshot.mediation);
  renderLobby(snapshot);
  renderDetail(snapshot);
}

function renderHeader({ node, generatedAtMs }) {
  $("node-id").textContent = node.nodeId;
  const pill = $("ready-pill");
  const failing = Object.entries(node.checks)
    .filter(([, ok]) => !ok)
    .map(([name]) => name);
  pill.textContent = node.ready ? "ready" : `not ready: ${failing.join(", ")}`;
  pill.className = `pill ${node.ready ? "ok" : "bad"}`;
  pill.hidden = false;
  const item = (label, value) => el("span", {}, `${label} `, el("b", {}, value));
  $("meta").replaceChildren(
    item("version", node.version),
    item("store", node.storeMode === "redis" ? "Redis (cluster)" : "memory (one node)"),
    el("span", { id: "ip-mode" }, IP_MODES[node.logIp] ?? node.logIp),
    item("updated", new Date(generatedAtMs).toLocaleTimeString(undefined, { hour12: false })),
  );
}

function renderWarnings(warnings) {
  const children =
    warnings.length === 0
      ? [el("div", { className: "all-clear" }, "No warnings: nothing needs an operator.")]
      : warnings.map((w) =>
          el(
            "div",
            { className: `warning ${w.severity}`, "data-code": w.code, role: "alert" },
            el("strong", {}, w.title),
            el("span", {}, w.detail),
          ),
        );
  $("warnings").replaceChildren(...children);
}

function renderCards({ servers, nodes, mediation }) {
  $("servers-total").textContent = count(servers.total);
  $("games-total").textContent = count(servers.byGame.length);
  // Games are counted within the scan limit: say so when the store holds more.
  $("games-sub").replaceChildren(
    "distinct ",
    el("code", {}, "data1"),
    servers.scanned < servers.total ? ` among the newest ${count(servers.scanned)}` : "",
  );
  $("nodes-total").textContent = count(nodes.length);
  const ready = nodes.filter((n) => n.ready !== false && !n.draining).length;
  $("nodes-sub").textContent = ready === nodes.length ? "live, by heartbeat" : `${ready} serving`;
  let recent = 0;
  for (const values of Object.values(mediation.rates.connects))
    recent += recentRate(values, mediation.intervalMs);
  $("connect-rate").textContent = rate(recent);
  const totals = mediation.totals.connects;
  let all = 0;
  for (const value of Object.values(totals)) all += value;
  $("connects-total").textContent = count(all);
  $("connects-found").textContent =
    all === 0 ? "this node" : `${Math.round(((totals.found ?? 0) / all) * 100)}% found, this node`;
}

function yesNo(value, yes = "yes", no = "no") {
  if (value === undefined || value === null) return el("span", { className: "muted" }, "–");
  return el("span", { className: value ? "yes" : "no" }, value ? yes : no);
}

function renderNodes({ nodes, generatedAtMs }) {
  const rows = nodes.map((node) => {
    let draining = yesNo(node.draining === undefined ? undefined : !node.draining, "no", "yes");
    if (node.draining && node.drainDeadlineMs !== undefined) {
      const left = node.drainDeadlineMs - generatedAtMs;
      draining = el(
        "span",
        { className: "no" },
        left >= 0 ? `yes, ${duration(left)} left` : `yes, ${duration(-left)} overdue`,
      );
    }
    return el(
      "tr",
      { "data-node": node.nodeId },
      el(
        "td",
        { className: "mono", title: node.nodeId },
        node.nodeId,
        node.self ? el("span", { className: "self-tag" }, "this node") : null,
      ),
      el("td", { title: clock(node.startedAtMs) }, duration(generatedAtMs - node.startedAtMs)),
      el("td", { className: "num" }, count(node.servers)),
      el("td", {}, yesNo(node.ready)),
      el("td", {}, draining),
      el("td", {}, yesNo(node.storeUp, "up", "down")),
      el(
        "td",
        { title: clock(node.lastSeenMs) },
        `${duration(generatedAtMs - node.lastSeenMs)} ago`,
      ),
    );
  });
  if (rows.length === 0)
    rows.push(el("tr", {}, el("td", { colspan: 7, className: "empty" }, "No heartbeat yet.")));
  $("nodes-table").tBodies[0].replaceChildren(...rows);
}

function renderGames({ byGame }) {
  const max = Math.max(1, ...byGame.map((g) => g.servers));
  const rows = byGame.map((game) => {
    const bar = el("div", { className: "bar" });
    bar.style.width = `${(game.servers / max) * 100}%`;
    return el(
      "tr",
      { "data-game": game.game },
      game.game === ""
        ? el("td", { className: "muted" }, "(empty data1)")
        : el("td", { title: game.game }, game.game),
      el("td", { className: "num" }, count(game.servers)),
      el("td", { className: "bar-cell" }, bar),
    );
  });
  if (rows.length === 0)
    rows.push(
      el("tr", {}, el("td", { colspan: 3, className: "empty" }, "No game server registered.")),
    );
  $("games-table").tBodies[0].replaceChildren(...rows);
}

// ---- charts: small SVG line charts, drawn here (no charting library) ----

function renderCharts(mediation) {
  drawChart($("chart-connects"), mediation, "connects", OUTCOME_COLORS);
  drawChart($("chart-lobby"), mediation, "lobby", LOBBY_COLORS);
  drawChart($("chart-bad-input"), mediation, "badInput", {});
}

/** A round top for the y axis: 1, 2 or 5 times a power of ten. */
function niceMax(value) {
  if (value <= 1) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (value <= step * power) return step * power;
  return 10 * power;
}

function drawChart(figure, mediation, family, colors) {
  const series = mediation.rates[family];
  const totals = mediation.totals[family];
  const times = mediation.timesMs;
  const labels = Object.keys(series).sort((a, b) => {
    const order = Object.keys(colors);
    const ia = order.indexOf(a);
    const ib = order.indexOf(b);
    return (ia < 0 ? order.length : ia) - (ib < 0 ? order.length : ib) || a.localeCompare(b);
  });
  // A young node's few seconds are not squeezed into the right edge of five minutes.
  const endMs = times.at(-1) ?? 0;
  const spanMs = Math.min(WINDOW_MS, Math.max(MIN_SPAN_MS, endMs - (times[0] ?? endMs)));
  const startMs = endMs - spanMs;
  let peak = 0;
  for (const label of labels) for (const v of series[label]) peak = Math.max(peak, v);
  const top = niceMax(peak);
  // A 1000 x 100 canvas stretched to the box; strokes keep their width (non-scaling-stroke).
  // The top 8 units stay free, so a line at the maximum is not cut by the edge.
  const x = (t) => ((t - startMs) / spanMs) * 1000;
  const y = (v) => 100 - (v / top) * 92;

  const plot = svg("svg", { viewBox: "0 0 1000 100", preserveAspectRatio: "none", role: "img" });
  for (const fraction of [0.5, 1]) {
    plot.append(
      svg("line", { class: "grid", x1: 0, x2: 1000, y1: y(top * fraction), y2: y(top * fraction) }),
    );
  }
  for (const label of labels) {
    const values = series[label];
    if (values.length === 0) continue;
    const points = values.map((v, i) => `${x(times[i]).toFixed(1)},${y(v).toFixed(2)}`);
    const path = svg("path", {
      class: "series",
      d: `M${points.join("L")}`,
      stroke: colorFor(label, colors),
      "data-series": label,
    });
    const title = svg("title");
    title.textContent = label;
    path.append(title);
    plot.append(path);
  }
  const box = el("div", { className: "plot" }, plot);
  const [spanText, halfText] = axisLabels(spanMs);
  const axis = el(
    "div",
    { className: "x-axis" },
    el("span", {}, spanText),
    el("span", {}, halfText),
    el("span", {}, "now"),
  );
  const caption = figure.querySelector("figcaption");
  const scale =
    caption.querySelector(".scale") ?? caption.appendChild(el("span", { className: "scale" }));
  scale.textContent = `top line ${rate(top)}/s`;
  const legend = el("ul", { className: "legend" });
  for (const label of labels) {
    const swatch = el("span", { className: "swatch" });
    swatch.style.background = colorFor(label, colors);
    legend.append(
      el(
        "li",
        { "data-series": label },
        swatch,
        label,
        el(
          "span",
          { className: "rate" },
          `${rate(recentRate(series[label], mediation.intervalMs))}/s · ${count(totals[label] ?? 0)} total`,
        ),
      ),
    );
  }
  if (labels.length === 0) legend.append(el("li", { className: "muted" }, "nothing yet"));
  figure.setAttribute("data-points", String(times.length));
  figure.replaceChildren(caption, box, axis, legend);
}

// ---- lobby and one server ----

function buildLobbyForm() {
  const filters = $("lobby-filters");
  for (let i = 0; i < DATA_FIELDS; i++) {
    const input = el("input", {
      id: `filter-data${i + 1}`,
      name: `data${i + 1}`,
      placeholder: "any",
      maxlength: 1024,
      spellcheck: "false",
    });
    filters.append(el("label", {}, `data${i + 1}${i === 0 ? " (game)" : ""}`, input));
  }
  const sort = $("lobby-sort");
  sort.append(el("option", { value: "date" }, "date (registered)"));
  for (let i = 1; i <= DATA_FIELDS; i++)
    sort.append(el("option", { value: `data${i}` }, `data${i}`));

  $("lobby-form").addEventListener("submit", (event) => {
    event.preventDefault();
    applyLobbyForm();
  });
  let debounce = null;
  filters.addEventListener("input", () => {
    clearTimeout(debounce);
    debounce = setTimeout(applyLobbyForm, 400);
  });
  for (const id of ["lobby-sort", "lobby-direction"])
    $(id).addEventListener("change", applyLobbyForm);
  $("lobby-clear").addEventListener("click", () => {
    for (let i = 0; i < DATA_FIELDS; i++) $(`filter-data${i + 1}`).value = "";
    applyLobbyForm();
  });
}

function applyLobbyForm() {
  for (let i = 0; i < DATA_FIELDS; i++) state.filters[i] = $(`filter-data${i + 1}`).value;
  state.sortBy = $("lobby-sort").value;
  state.direction = $("lobby-direction").value;
  const limit = Number.parseInt($("lobby-limit").value, 10);
  state.limit = Number.isInteger(limit) && limit >= 1 && limit <= 1000 ? limit : 50;
  $("lobby-limit").value = String(state.limit);
  poll();
}

function renderLobby({ lobby, node, generatedAtMs }) {
  const filtered = state.filters.some((f) => f !== "");
  $("lobby-summary").textContent =
    `${count(lobby.total)} server(s) ${filtered ? "match" : "registered"}` +
    (lobby.servers.length < lobby.total ? `, showing the first ${lobby.servers.length}` : "") +
    (node.lobbyOrder === "reference"
      ? " · GMNET_LOBBY_ORDER=reference: directions inverted as games get them"
      : "");
  // Only the data columns some listed server uses: most games fill two or three.
  const used = [];
  for (let i = 0; i < DATA_FIELDS; i++) {
    if (i === 0 || lobby.servers.some((s) => (s.data[i] ?? "") !== "")) used.push(i);
  }
  const head = el(
    "tr",
    {},
    el("th", {}, "IP"),
    el("th", { className: "num" }, "UDP port"),
    ...used.map((i) => el("th", {}, `data${i + 1}`)),
    el("th", {}, "version"),
    el("th", {}, "registered"),
    el("th", {}, "owner node"),
  );
  $("lobby-table").tHead.replaceChildren(head);
  const rows = lobby.servers.map((server) => {
    const open = el(
      "button",
      { type: "button", className: "link", title: "Show this server" },
      server.ip,
    );
    open.addEventListener("click", () => {
      state.serverKey = server.key;
      poll();
    });
    return el(
      "tr",
      { "data-key": server.key, className: server.key === state.serverKey ? "selected" : "" },
      el("td", {}, open),
      el("td", { className: "num" }, server.udpPort ?? "–"),
      ...used.map((i) => el("td", { title: server.data[i] ?? "" }, server.data[i] ?? "")),
      el(
        "td",
        {},
        server.version === "" ? el("span", { className: "muted" }, "reg") : server.version,
      ),
      el(
        "td",
        { title: clock(server.createdTimeSec * 1000) },
        `${duration(generatedAtMs - server.createdTimeSec * 1000)} ago`,
      ),
      el("td", { className: "mono" }, server.ownerNodeId),
    );
  });
  if (rows.length === 0)
    rows.push(
      el(
        "tr",
        {},
        el(
          "td",
          { colspan: used.length + 5, className: "empty" },
          filtered ? "No server matches these filters." : "No game server registered.",
        ),
      ),
    );
  $("lobby-table").tBodies[0].replaceChildren(...rows);
}

function renderDetail({ detail, node, generatedAtMs }) {
  if (!state.serverKey) {
    show("detail", false);
    return;
  }
  show("detail", true);
  const fields = $("detail-fields");
  if (!detail) {
    $("detail-title").textContent = "";
    fields.replaceChildren(el("dd", {}, "This server is no longer registered."));
    return;
  }
  $("detail-title").textContent = detail.ip;
  const entries = [
    [
      "IP",
      `${detail.ip}${node.logIp === "full" ? "" : ` (${IP_MODES[node.logIp]}, as in the logs)`}`,
    ],
    [
      "UDP port",
      detail.udpPort === null ? "not bound yet (no UDP reg seen)" : String(detail.udpPort),
    ],
    ["Version", detail.version === "" ? "classic reg (no lobby data)" : detail.version],
    ...detail.data.map((value, i) => [`data${i + 1}`, value]),
    [
      "Registered",
      `${clock(detail.createdTimeSec * 1000)} (${duration(generatedAtMs - detail.createdTimeSec * 1000)} ago)`,
    ],
    ["Owner node", `${detail.ownerNodeId}${detail.ownerAlive ? "" : " (no recent heartbeat)"}`],
  ];
  const children = [];
  for (const [name, value] of entries)
    children.push(el("dt", {}, name), el("dd", {}, value === "" ? "–" : value));
  fields.replaceChildren(...children);
}

// ---- start ----

function start() {
  buildLobbyForm();
  $("auth-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $("auth-token").value.trim());
    $("auth-token").value = "";
    poll();
  });
  $("forget-token").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    poll();
  });
  $("detail-close").addEventListener("click", () => {
    state.serverKey = null;
    show("detail", false);
    poll();
  });
  poll();
}

start();
