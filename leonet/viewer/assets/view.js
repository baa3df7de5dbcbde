// leonet live view: draws the frames the server pushes over a WebSocket (docs/view.md).
"use strict";
const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf",
                 "#bcbd22", "#7f7f7f", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd"];
const view = { static: null, frame: null, ws: null, path: null, lastHandover: null };
const $ = (id) => document.getElementById(id);
const fmt = (n) => n.toLocaleString("en-US");

function connect() {
  const proto = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${proto}://${location.host}/ws${location.search}`);
  view.ws = ws;
  ws.onmessage = (ev) => {
    const msg = JSON.parse(ev.data);
    if (msg.type === "static") init(msg);
    else if (msg.type === "frame") render(msg);
    else if (msg.type === "error") $("path-info").textContent = msg.error;
  };
  ws.onopen = () => setStatus("live", "live");
  ws.onclose = () => { setStatus("down", "disconnected (run ended?) - retrying"); setTimeout(connect, 2000); };
}

function setStatus(cls, text) { const s = $("status"); s.className = "status " + cls; s.textContent = text; }

function init(st) {
  view.static = st;
  $("scenario").textContent = st.scenario;
  document.title = `leonet: ${st.scenario}`;
  const list = $("node-names");
  list.innerHTML = "";
  for (const name of st.ground_stations.concat(st.names.slice(0, st.num_satellites))) {
    const o = document.createElement("option"); o.value = name; list.appendChild(o);
  }
  const q = new URLSearchParams(location.search).get("path");
  const p = q ? q.split(",") : st.default_path;
  if (p && p.length === 2) { $("path-a").value = p[0]; $("path-b").value = p[1]; }
  const notes = (st.notes || []).slice();
  if (!st.map_outlines) notes.push("map outlines are not installed (scripts/install.sh fetches them with npm): grid only");
  $("notes").textContent = notes.join(" ");
}

function segments(pairs, lat, lon) {
  const la = [], lo = [];
  for (let k = 0; k < pairs.length; k += 2) {
    const a = pairs[k], b = pairs[k + 1];
    la.push(lat[a], lat[b], null); lo.push(lon[a], lon[b], null);
  }
  return { lat: la, lon: lo };
}

function boxOutline(box) {
  if (!box) return null;
  let w = box.lon_min_deg, e = box.lon_max_deg;
  if (e < w) e += 360;
  const lat = [], lon = [];
  const along = (la, from, to) => { const n = Math.max(2, Math.ceil(Math.abs(to - from))); for (let i = 0; i <= n; i++) { lat.push(la); lon.push(from + (to - from) * i / n); } };
  along(box.lat_min_deg, w, e); along(box.lat_max_deg, e, w); lat.push(box.lat_min_deg); lon.push(w);
  return { lat: lat, lon: lon.map((x) => ((x + 180) % 360 + 360) % 360 - 180) };
}

function render(f) {
  const st = view.static;
  if (!st) return;
  view.frame = f;
  const n = st.num_satellites, names = st.names;
  $("clock").textContent = f.time.replace("T", " ").replace("Z", " UTC");
  $("offset").textContent = `+${f.offset_s.toFixed(0)} s, tick ${f.tick}`;
  const c = f.counts;
  $("node-count").textContent = fmt(c.nodes);
  $("counts").textContent = `${fmt(c.satellites)} satellites, ${fmt(c.ground_stations)} ground stations; ` +
    `${fmt(c.isl)} ISLs, ${fmt(c.gsl)} GSLs` + (st.bounding_box ? `; ${fmt(c.in_box)} in the box` : "") +
    `; ${fmt(c.suspended)} suspended` + (c.failed_links ? `; ${c.failed_links} links failed` : "");

  const inBox = new Uint8Array(n).fill(f.active ? 0 : 1);
  if (f.active) for (const i of f.active) inBox[i] = 1;
  const susp = new Set(f.suspended);
  const owners = f.owners;
  const satColor = [], satSymbol = [], satText = [];
  for (let i = 0; i < n; i++) {
    let color = inBox[i] ? "#1f77b4" : "#a9b6c2";
    let owner = "";
    if (owners && owners.of[i] >= 0) { color = PALETTE[owners.of[i] % PALETTE.length]; owner = ` owner ${owners.labels[owners.of[i]]}`; }
    satColor.push(color);
    satSymbol.push(susp.has(i) ? "x" : "circle");
    satText.push(`${names[i]} (shell ${st.shells[st.shell_of[i]]}) ${f.alt_km[i]} km` +
                 (inBox[i] ? "" : " outside the box") + (susp.has(i) ? " suspended" : "") + owner);
  }
  const gsLat = f.lat.slice(n), gsLon = f.lon.slice(n);
  const traces = [];
  const box = boxOutline(st.bounding_box);
  if (box) traces.push({ type: "scattergeo", mode: "lines", name: "bounding box", lat: box.lat, lon: box.lon,
                         line: { color: "#e67e22", width: 2, dash: "dash" }, hoverinfo: "name" });
  if ($("show-isl").checked) {
    const s = segments(f.isl, f.lat, f.lon);
    traces.push({ type: "scattergeo", mode: "lines", name: `ISLs (${fmt(c.isl)})`, lat: s.lat, lon: s.lon,
                  line: { color: n > 1000 ? "rgba(90,110,130,0.35)" : "rgba(70,90,110,0.7)", width: n > 1000 ? 0.7 : 1.1 }, hoverinfo: "skip" });
  }
  const g = segments(f.gsl, f.lat, f.lon);
  traces.push({ type: "scattergeo", mode: "lines", name: `GSLs (${fmt(c.gsl)})`, lat: g.lat, lon: g.lon,
                line: { color: "#2ca02c", width: 1.2 }, hoverinfo: "skip" });
  traces.push({ type: "scattergeo", mode: "markers", name: "satellites", lat: f.lat.slice(0, n), lon: f.lon.slice(0, n),
                text: satText, hoverinfo: "text",
                marker: { size: n > 2000 ? 3 : 4.5, color: satColor, symbol: satSymbol, line: { width: 0 } } });
  traces.push({ type: "scattergeo", mode: $("show-names").checked ? "markers+text" : "markers", name: "ground stations",
                lat: gsLat, lon: gsLon, text: st.ground_stations, textposition: "bottom center", hoverinfo: "text",
                textfont: { size: 11, color: "#7b1d12" },
                marker: { size: 9, color: "#c0392b", symbol: "triangle-up", line: { width: 1, color: "#fff" } } });
  const fresh = f.handovers.filter((h) => h.time === f.time && h.new);
  if (fresh.length) {
    const pairs = [];
    for (const h of fresh) { pairs.push(names.indexOf(h.ground_station), names.indexOf(h.new)); }
    const s = segments(pairs, f.lat, f.lon);
    traces.push({ type: "scattergeo", mode: "lines", name: "handover now", lat: s.lat, lon: s.lon,
                  line: { color: "#f1c40f", width: 4 }, hoverinfo: "name" });
  }
  const info = $("path-info");
  if (f.path && f.path.error) { info.textContent = f.path.error; }
  else if (f.path && !f.path.reachable) { info.textContent = `${f.path.from} -> ${f.path.to}: unreachable now`; }
  else if (f.path) {
    const h = f.path.hops;
    traces.push({ type: "scattergeo", mode: "lines+markers", name: `path ${f.path.from} - ${f.path.to}`,
                  lat: h.map((i) => f.lat[i]), lon: h.map((i) => f.lon[i]), text: f.path.names, hoverinfo: "text",
                  line: { color: "#d6249f", width: 3.5 }, marker: { size: 7, color: "#d6249f" } });
    info.textContent = `${f.path.from} -> ${f.path.to}: ${f.path.delay_ms.toFixed(2)} ms one way ` +
                       `(RTT ${f.path.rtt_ms.toFixed(2)} ms), ${h.length - 1} hops: ${f.path.names.join(" ")}`;
  } else info.textContent = "no path chosen";

  const proj = $("projection").value;
  const layout = {
    margin: { l: 0, r: 0, t: 0, b: 0 }, uirevision: proj, showlegend: true,
    legend: { x: 0.01, y: 0.02, bgcolor: "rgba(255,255,255,0.75)" },
    geo: { projection: { type: proj }, showland: st.map_outlines, landcolor: "#e9efe2", showocean: st.map_outlines,
           oceancolor: "#dce9f5", showcountries: st.map_outlines, countrycolor: "#c3c9ce", showcoastlines: st.map_outlines,
           coastlinecolor: "#9aa5ad", showframe: false, bgcolor: "#f6f8fa",
           lataxis: { showgrid: true, dtick: 30, gridcolor: "#d0d7de" }, lonaxis: { showgrid: true, dtick: 30, gridcolor: "#d0d7de" } },
  };
  Plotly.react("map", traces, layout, { topojsonURL: "/topojson/", displaylogo: false, responsive: true });

  renderOwners(owners, f.owner_source);
  renderHandovers(f.handovers, f.time);
  document.body.dataset.tick = f.tick;
}

function renderOwners(owners, source) {
  const el = $("owners");
  if (!owners) { el.textContent = "no control plane owns satellites in this run"; el.className = "muted"; return; }
  const count = new Array(owners.labels.length).fill(0);
  for (const o of owners.of) if (o >= 0) count[o]++;
  el.className = "";
  el.innerHTML = "";
  owners.labels.forEach((label, i) => {
    const row = document.createElement("div");
    const sw = document.createElement("span"); sw.className = "swatch"; sw.style.background = PALETTE[i % PALETTE.length];
    row.appendChild(sw); row.appendChild(document.createTextNode(`${label}: ${count[i]} satellites`));
    el.appendChild(row);
  });
  if (source) { const s = document.createElement("div"); s.className = "muted"; s.textContent = `from ${source}`; el.appendChild(s); }
}

function renderHandovers(list, now) {
  const el = $("handovers");
  el.innerHTML = "";
  for (const h of list.slice().reverse().slice(0, 30)) {
    const li = document.createElement("li");
    if (h.time === now) li.className = "fresh";
    li.textContent = `${h.time.slice(11, 19)} ${h.ground_station}: ${h.old || "-"} -> ${h.new || "-"}`;
    el.appendChild(li);
  }
  if (!list.length) el.innerHTML = '<li class="muted">none yet</li>';
}

$("path-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const a = $("path-a").value.trim(), b = $("path-b").value.trim();
  if (view.ws && a && b) view.ws.send(JSON.stringify({ path: [a, b] }));
});
$("path-clear").addEventListener("click", () => { $("path-a").value = ""; $("path-b").value = "";
  if (view.ws) view.ws.send(JSON.stringify({ path: null })); });
for (const id of ["projection", "show-isl", "show-names"]) $(id).addEventListener("change", () => view.frame && render(view.frame));
connect();
