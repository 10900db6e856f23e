"use strict";
// rnnlab lesson: the page's script (inlined into lesson.html by rnnlab.viz.lesson). It reads the
// data block (LESSON SCHEMA in lesson.py: the demo's real numbers) and draws every part of the
// lesson from it; every word comes from PAGE.strings (rnnlab.viz.i18n, section "lesson").
const PAGE = JSON.parse(document.getElementById("rnnlab-lesson").textContent);
const D = PAGE.data, DIN = D.dinners, T = D.days.length;
const $ = (id) => document.getElementById(id);
const tr = (k, v) => (PAGE.strings[k] ?? k).replace(/\{(\w+)\}/g, (m, n) => (v && n in v ? v[n] : m));
const NS = "http://www.w3.org/2000/svg";
function el(tag, attrs, text) {            // every string goes in as text, never as HTML
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}
function sv(parent, tag, attrs, text) {    // an SVG element, appended to parent
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  if (parent) parent.append(e);
  return e;
}
const f2 = (v) => (Math.abs(v) < 0.005 ? 0 : v).toFixed(2);
const pct = (v) => `${(100 * v).toFixed(1)}%`;
const sci = (v) => (v === 0 ? "0" : Math.abs(v) >= 0.01 ? v.toPrecision(2) : v.toExponential(1));
const argmax = (a) => a.reduce((b, v, i) => (v > a[b] ? i : b), 0);
const DHEX = ["#d9480f", "#0b7285", "#b08900"], DCOL = DHEX;      // pizza, sushi, waffles

// ---- colour by magnitude: white -> green for gates in [0, 1], blue - white - red around 0 --------
function rgb(v, lo, hi) {
  let a, c;
  if (lo < 0) {
    const x = Math.max(-1, Math.min(1, v / Math.max(-lo, hi)));
    a = Math.abs(x); c = x >= 0 ? [178, 24, 43] : [33, 102, 172];
  } else { a = Math.max(0, Math.min(1, (v - lo) / (hi - lo))); c = [0, 109, 44]; }
  const k = [0, 1, 2].map((i) => Math.round(255 + (c[i] - 255) * a));
  return { css: `rgb(${k[0]},${k[1]},${k[2]})`, dark: a > 0.55, a };
}
const G = D.lstm.gates;
const cMax = Math.max(1e-6, ...G.c.flat().map(Math.abs), ...G.k.flat().map(Math.abs));
const RANGE = { f: [0, 1], i: [0, 1], o: [0, 1], g: [-1, 1], j: [-1, 1], h: [-1, 1], h_prev: [-1, 1],
  tanh_c: [-1, 1], c: [-cMax, cMax], k: [-cMax, cMax], c_prev: [-cMax, cMax], x: [0, 1] };
function paintCell(node, v, range) {
  const c = rgb(v, range[0], range[1]);
  node.style.background = c.css; node.style.color = c.dark ? "#fff" : "";
}

// ---- words on the page -----------------------------------------------------------------------------
document.documentElement.lang = PAGE.lang;
document.title = tr("title");
for (const e of document.querySelectorAll("[data-tr]")) e.textContent = tr(e.dataset.tr);
$("subtitle").textContent = tr("subtitle", { seed: D.seed });
const tip = $("tip");
function showTip(e, head, lines) {
  tip.replaceChildren(el("div", {}, head), ...lines.map((l) => el("div", { class: "vals" }, l)));
  tip.hidden = false;
  const r = tip.getBoundingClientRect();
  tip.style.left = `${Math.min(e.clientX + 14, innerWidth - r.width - 8)}px`;
  tip.style.top = `${e.clientY + 16 + r.height > innerHeight ? e.clientY - r.height - 10 : e.clientY + 16}px`;
}
const chip = (j, text) => { const c = el("span", { class: "chip" }, text ?? DIN[j]); c.style.background = DCOL[j]; return c; };

// ---- 1. the dinner rotation -------------------------------------------------------------------------
DIN.forEach((name, j) => {
  const card = el("div", { class: "card" }), vec = el("span", { class: "onehot" });
  card.append(el("span", { class: "dinner" }, name), vec);
  DIN.forEach((_, k) => {
    const s = el("span", {}, k === j ? "1" : "0");
    if (k === j) { s.style.background = DCOL[j]; s.style.color = "#fff"; }
    vec.append(s);
  });
  $("onehots").append(card);
});

function drawUnrolled() {                  // x_t (one-hot) -> h_t (H values) -> y_t, for every day
  const R = D.rnn, W = 122, cw = 34, hw = cw * R.hidden, width = 56 + T * W;
  const svg = sv(null, "svg", { viewBox: `0 0 ${width} 250`, width, height: 250 });
  sv(svg, "defs").innerHTML = '<marker id="ah" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" ' +
    'markerHeight="6" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker>';
  sv(svg, "text", { x: 4, y: 40 }, "y_t"); sv(svg, "text", { x: 4, y: 128 }, "h_t"); sv(svg, "text", { x: 4, y: 214 }, "x_t");
  for (let t = 0; t < T; t++) {
    const x0 = 46 + t * W, mid = x0 + W / 2 - 4, g = sv(svg, "g", { class: "day-col", "data-t": t, style: "cursor:pointer" });
    sv(g, "rect", { x: x0, y: 4, width: W - 8, height: 242, rx: 8, fill: "transparent", class: "sel-box" });
    const p = R.probs[t], j = argmax(p), next = (D.days[t] + 1) % DIN.length;   // the rotation's next day
    sv(g, "rect", { x: mid - 50, y: 22, width: 100, height: 26, rx: 13, fill: DHEX[j] });
    sv(g, "text", { x: mid, y: 39, "text-anchor": "middle", style: "fill:#fff" },
      `${DIN[j]} ${f2(p[j])} ${j === next ? "\u2713" : "\u2717"}`);
    sv(g, "line", { x1: mid, y1: 108, x2: mid, y2: 50, stroke: "#555", "marker-end": "url(#ah)" });
    R.h[t].forEach((v, u) => {
      const c = rgb(v, -1, 1), x = mid - hw / 2 + u * cw;
      sv(g, "rect", { x, y: 110, width: cw, height: 26, fill: c.css, stroke: "#888" });
      sv(g, "text", { x: x + cw / 2, y: 127, "text-anchor": "middle", class: "val", style: c.dark ? "fill:#fff" : "" }, f2(v));
    });
    if (t > 0) {                            // h_{t-1} -> h_t
      sv(g, "line", { x1: mid - hw / 2 - W + hw, y1: 123, x2: mid - hw / 2 - 2, y2: 123, stroke: "#555",
        "marker-end": "url(#ah)" });
    }
    sv(g, "line", { x1: mid, y1: 196, x2: mid, y2: 138, stroke: "#555", "marker-end": "url(#ah)" });
    DIN.forEach((_, k) => sv(g, "rect", { x: mid - 30 + k * 20, y: 198, width: 18, height: 18, stroke: "#888",
      fill: k === D.days[t] ? DHEX[k] : "#fff" }));
    sv(g, "text", { x: mid, y: 236, "text-anchor": "middle" }, `${tr("day_n", { n: t + 1 })}: ${DIN[D.days[t]]}`);
    g.addEventListener("click", () => setRnnDay(t));
  }
  $("unrolled").replaceChildren(svg);
}

function drawTable() {                     // P(today | yesterday), rows = yesterday
  const tb = el("table", { class: "grid" }), head = el("tr");
  head.append(el("th", {}, tr("yesterday_today")), ...DIN.map((n) => el("th", {}, n)));
  tb.append(head);
  D.rnn.table.forEach((row, i) => {
    const r = el("tr"); r.append(el("th", {}, DIN[i]));
    row.forEach((v) => { const td = el("td", { class: "mono" }, v.toFixed(3)); paintCell(td, v, [0, 1]); r.append(td); });
    tb.append(r);
  });
  $("table").replaceChildren(tb);
}

function drawTwoStep() {                   // the day before -> a guess for yesterday -> today
  const box = $("twostep");
  for (const s of D.rnn.two_step) {
    const line = el("div", { class: "row" });
    line.append(el("span", { class: "muted" }, tr("before")), chip(s.before), el("span", {}, "\u2192"),
      el("span", { class: "muted" }, tr("guess_yesterday")),
      chip(s.yesterday, `${DIN[s.yesterday]} ${f2(Math.max(...s.p_yesterday))}`),
      el("span", {}, "\u2192"), el("span", { class: "muted" }, tr("guess_today")),
      chip(s.today, `${DIN[s.today]} ${f2(Math.max(...s.p_today))}`));
    box.append(line);
  }
}

function drawRollout() {                   // 14 days from the model's own predictions
  const box = $("rollout"), grid = el("div", { class: "days" });
  $("rollout-intro").textContent = tr("rollout_intro", { start: DIN[D.rnn.rollout.start],
    rnn: pct(D.rnn.rollout_14_accuracy), lstm: pct(D.lstm.rollout_14_accuracy) });
  const truth = D.rnn.rollout.truth;
  grid.style.gridTemplateColumns = `110px repeat(${truth.length}, 1fr)`;
  for (const [label, roll] of [[tr("model_rnn"), D.rnn.rollout], [tr("model_lstm"), D.lstm.rollout], [tr("truth"), null]]) {
    grid.append(el("span", { class: "muted" }, label));
    (roll ? roll.ids : truth).forEach((j, d) => {
      const c = chip(j, roll ? `${DIN[j]}\n${f2(roll.probs[d][j])}` : DIN[j]);
      if (roll && j !== truth[d]) c.classList.add("miss");
      grid.append(c);
    });
  }
  box.replaceChildren(grid);
}

// ---- 2. the RNN's equations for the selected day ------------------------------------------------------
function mat(rows, range, caption) {       // a matrix or column vector, coloured by value
  const term = el("span", { class: "term" }), m = el("span", { class: "mat" });
  const R = rows.map((r) => (Array.isArray(r) ? r : [r]));
  m.style.gridTemplateColumns = `repeat(${R[0].length}, auto)`;
  for (const r of R) for (const v of r) { const s = el("span", {}, f2(v)); paintCell(s, v, range); m.append(s); }
  term.append(m, el("span", { class: "cap" }, caption));
  return term;
}
const op = (s) => el("span", { class: "op" }, s);
function setRnnDay(t) {
  const R = D.rnn, hPrev = t ? R.h[t - 1] : R.h[0].map(() => 0), x = DIN.map((_, k) => (k === D.days[t] ? 1 : 0));
  const big = Math.max(1, ...R.W_x.flat().map(Math.abs), ...R.W_h.flat().map(Math.abs));
  $("rnn-day").value = t;
  $("rnn-day-label").textContent = tr("rnn_day", { day: t + 1, dinner: DIN[D.days[t]] });
  const e1 = el("div", { class: "eq" }), e2 = el("div", { class: "eq" });
  e1.append(mat(R.h[t], [-1, 1], "h_t"), op("= tanh("), mat(R.W_x, [-big, big], "W_x"), op("\u00b7"),
    mat(x, [0, 1], `x_t (${DIN[D.days[t]]})`), op("+"), mat(R.W_h, [-big, big], "W_h"), op("\u00b7"),
    mat(hPrev, [-1, 1], "h_{t\u22121}"), op("+"), mat(R.b, [-big, big], "b"), op(")"));
  const e1b = el("div", { class: "eq" });
  e1b.append(op("="), op("tanh("), mat(R.Wx_x[t], [-big, big], "W_x\u00b7x_t"), op("+"),
    mat(R.Wh_h[t], [-big, big], "W_h\u00b7h_{t\u22121}"), op("+"), mat(R.b, [-big, big], "b"), op(")"),
    op("= tanh("), mat(R.a[t], [-big, big], "a_t"), op(")"));
  const p = R.probs[t];
  e2.append(mat(p, [0, 1], "y_t"), op("= softmax("), mat(R.W_y, [-big, big], "W_y"), op("\u00b7"),
    mat(R.h[t], [-1, 1], "h_t"), op("+"), mat(R.b_y, [-big, big], "b_y"), op(") = softmax("),
    mat(R.logits[t], [-big, big], tr("logits")), op(")"),
    el("span", {}, tr("rnn_predicts", { dinner: DIN[argmax(p)], p: f2(Math.max(...p)) })));
  $("rnn-eq").replaceChildren(e1, e1b, e2, el("p", { class: "muted" }, tr("rnn_head_note")));
  for (const g of document.querySelectorAll("#unrolled .day-col")) {
    g.querySelector(".sel-box").setAttribute("stroke", +g.dataset.t === t ? "#0b63c5" : "none");
    g.querySelector(".sel-box").setAttribute("stroke-width", 2);
  }
}
$("rnn-day").max = T - 1;
$("rnn-day").addEventListener("input", (e) => setRnnDay(+e.target.value));

// ---- 3. why long sequences hurt: the measured gradient norms -------------------------------------------
function drawGradients() {
  const Gd = D.gradients, cells = Gd.cells, W = 700, H = 300, m = { l: 70, r: 150, t: 12, b: 46 };
  const lines = [];
  for (const [cell, colour] of [["rnn", "#c92a2a"], ["lstm", "#1864ab"]]) {
    if (!cells[cell]) continue;
    lines.push({ name: tr(`grad_${cell}_trained`), ys: cells[cell].trained, colour, dash: "" });
    lines.push({ name: tr(`grad_${cell}_init`), ys: cells[cell].init, colour, dash: "5 4", op: 0.5 });
  }
  const all = lines.flatMap((l) => l.ys).filter((v) => v > 0);
  const y0 = Math.floor(Math.log10(Math.min(...all))), y1 = Math.ceil(Math.log10(Math.max(...all)));
  const n = Math.max(...lines.map((l) => l.ys.length));
  const sx = (d) => m.l + (d / (n - 1)) * (W - m.l - m.r);
  const sy = (v) => H - m.b - ((Math.log10(v) - y0) / (y1 - y0 || 1)) * (H - m.t - m.b);
  const svg = sv(null, "svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H });
  sv(svg, "rect", { x: m.l, y: m.t, width: W - m.l - m.r, height: H - m.t - m.b, fill: "none", stroke: "#ccc" });
  for (let e = y0; e <= y1; e += Math.max(1, Math.ceil((y1 - y0) / 7))) {
    sv(svg, "line", { x1: m.l, x2: W - m.r, y1: sy(10 ** e), y2: sy(10 ** e), stroke: "#eee" });
    sv(svg, "text", { x: m.l - 6, y: sy(10 ** e) + 4, "text-anchor": "end" }, `1e${e}`);
  }
  for (let d = 0; d < n; d += 10) sv(svg, "text", { x: sx(d), y: H - m.b + 16, "text-anchor": "middle" }, d);
  sv(svg, "text", { x: (m.l + W - m.r) / 2, y: H - 8, "text-anchor": "middle" }, tr("grad_x"));
  sv(svg, "text", { x: 14, y: H / 2, "text-anchor": "middle", transform: `rotate(-90 14 ${H / 2})` },
    "\u2016\u2202L/\u2202h_t\u2016");
  lines.forEach((l, k) => {
    const pts = l.ys.map((v, d) => (v > 0 ? `${sx(d).toFixed(1)},${sy(v).toFixed(1)}` : null)).filter(Boolean);
    sv(svg, "polyline", { points: pts.join(" "), fill: "none", stroke: l.colour, "stroke-width": 2,
      "stroke-dasharray": l.dash, "stroke-opacity": l.op || 1, class: "grad-line" });
    sv(svg, "line", { x1: W - m.r + 10, x2: W - m.r + 30, y1: m.t + 14 + 18 * k, y2: m.t + 14 + 18 * k,
      stroke: l.colour, "stroke-width": 2, "stroke-dasharray": l.dash, "stroke-opacity": l.op || 1 });
    sv(svg, "text", { x: W - m.r + 34, y: m.t + 18 + 18 * k }, l.name);
  });
  $("grad-plot").replaceChildren(svg);
  const at = (cell, d) => cells[cell].trained[d] / cells[cell].trained[0];
  const d = Math.min(20, n - 1), last = n - 1, r = cells.rnn, l = cells.lstm;
  $("grad-text").textContent = tr("grad_text", { d, rnn: sci(at("rnn", d)), lstm: sci(at("lstm", d)), T: Gd.T,
    last, rnn_last: sci(at("rnn", last)), lstm_last: sci(at("lstm", last)) }) + " " +
    tr("grad_result", { T: Gd.T, rnn_mse: sci(r.test_metric), lstm_mse: sci(l.test_metric), baseline: sci(r.baseline),
      rnn_verdict: tr(r.solved ? "solved" : "not_solved"), lstm_verdict: tr(l.solved ? "solved" : "not_solved") });
}

// ---- 4. the LSTM cell in colah's style, every arrow and gate with its live value --------------------------
let step = 0, timer = null;
const LSTM_TERMS = ["c", "f", "add", "input", "o", "h"];
for (const k of LSTM_TERMS) $("lstm-terms").append(el("dt", {}, tr(`term_${k}`)), el("dd", {}, tr(`term_${k}_text`)));
const vec = (name, t) => (name === "c_prev" ? D.lstm.c_prev[t] : name === "h_prev" ? D.lstm.h_prev[t]
  : name === "x" ? DIN.map((_, k) => (k === D.days[t] ? 1 : 0)) : G[name][t]);
const live = [];                            // [{name, kind: "cell"|"line", node}] repainted each step
function lstmSvg() {
  const svg = sv(null, "svg", { viewBox: "0 0 1000 490", width: 1000, height: 490 });
  sv(svg, "defs").innerHTML = '<marker id="la" viewBox="0 0 10 10" refX="8" refY="5" markerWidth="11" ' +
    'markerHeight="11" markerUnits="userSpaceOnUse" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#444"/></marker>';
  sv(svg, "rect", { x: 200, y: 30, width: 600, height: 385, rx: 20, fill: "#e9f5ec", stroke: "#8fbf9a" });
  const line = (name, pts, width) => {
    const p = sv(svg, "polyline", { points: pts.map((q) => q.join(",")).join(" "), fill: "none",
      "stroke-width": width || 3, "marker-end": "url(#la)", "data-line": name, stroke: "#999" });
    live.push({ name, kind: "line", node: p, width: width || 3 });
  };
  line("c_prev", [[10, 80], [286, 80]], 5); line("k", [[314, 80], [506, 80]], 5); line("c", [[534, 80], [990, 80]], 5);
  line("c", [[740, 80], [740, 136]]); line("tanh_c", [[740, 164], [740, 246]]);
  line("h_prev", [[10, 370], [650, 370]]); line("x", [[230, 475], [230, 374]]);
  for (const x of [300, 410, 520, 650]) {   // [h_{t-1}, x_t] into every gate
    sv(svg, "line", { x1: x, y1: 370, x2: x, y2: 320, stroke: "#bbb", "stroke-width": 2, "marker-end": "url(#la)" });
  }
  line("f", [[300, 282], [300, 94]]); line("i", [[410, 282], [410, 190], [506, 190]]);
  line("g", [[520, 282], [520, 204]]); line("j", [[520, 176], [520, 94]]);
  line("o", [[650, 282], [650, 260], [726, 260]]); line("h", [[740, 274], [740, 370], [990, 370]]);
  const hot = (key) => {                    // a part of the cell that explains itself on hover
    const g = sv(svg, "g", { class: "hot", "data-gate": key });
    g.addEventListener("mousemove", (e) => gateTip(e, key));
    g.addEventListener("mouseleave", () => { tip.hidden = true; });
    return g;
  };
  for (const [key, x, fn] of [["f", 300, "\u03c3"], ["i", 410, "\u03c3"], ["g", 520, "tanh"], ["o", 650, "\u03c3"]]) {
    const g = hot(key);
    sv(g, "rect", { x: x - 30, y: 282, width: 60, height: 36, rx: 4, fill: "#fde68a", stroke: "#b08900" });
    sv(g, "text", { x, y: 305, "text-anchor": "middle", class: fn === "tanh" ? "" : "big" }, fn);
    sv(g, "text", { x, y: 338, "text-anchor": "middle" }, tr(`node_${key}`));
  }
  sv(svg, "text", { x: 465, y: 358, "text-anchor": "middle", class: "muted" }, tr("node_ig"));
  const nodes = [["k", 300, 80, "\u00d7"], ["add", 520, 80, "+"], ["j", 520, 190, "\u00d7"], ["h", 740, 260, "\u00d7"]];
  for (const [key, x, y, sym] of nodes) {
    const g = hot(key);
    sv(g, "circle", { cx: x, cy: y, r: 14, fill: "#fbcfe8", stroke: "#c2255c" });
    sv(g, "text", { x, y: y + 6, "text-anchor": "middle", class: "big" }, sym);
  }
  sv(svg, "text", { x: 540, y: 68 }, tr("node_add"));
  const th = hot("tanh_c");
  sv(th, "ellipse", { cx: 740, cy: 150, rx: 30, ry: 14, fill: "#fbcfe8", stroke: "#c2255c" });
  sv(th, "text", { x: 740, y: 155, "text-anchor": "middle" }, "tanh");
  const road = hot("c");
  sv(road, "rect", { x: 560, y: 20, width: 160, height: 22, fill: "transparent" });
  sv(road, "text", { x: 640, y: 36, "text-anchor": "middle" }, tr("node_c"));
  // value chips: H cells (vertical beside a vertical arrow, horizontal along the road and bus)
  const chipAt = (name, x, y, vertical, label) => {
    const n = vec(name, 0).length, cw = vertical ? 42 : 36, ch = vertical ? 16 : 18;
    sv(svg, "text", { x, y: y - 4, class: "val" }, label);
    for (let u = 0; u < n; u++) {
      const rx = vertical ? x : x + u * cw, ry = vertical ? y + u * ch : y;
      const r = sv(svg, "rect", { x: rx, y: ry, width: cw, height: ch, stroke: "#888" });
      const t = sv(svg, "text", { x: rx + cw / 2, y: ry + ch - 4, "text-anchor": "middle", class: "val",
        "data-v": `${name}.${u}` });
      live.push({ name, kind: "cell", u, rect: r, text: t });
    }
  };
  chipAt("c_prev", 20, 50, false, "c_{t\u22121}"); chipAt("k", 330, 50, false, "k_t = f_t * c_{t\u22121}");
  chipAt("c", 830, 50, false, "c_t"); chipAt("f", 308, 170, true, "f_t"); chipAt("i", 418, 215, true, "i_t");
  chipAt("g", 528, 215, true, "g_t"); chipAt("j", 528, 110, true, "j_t"); chipAt("o", 598, 190, true, "o_t");
  chipAt("tanh_c", 750, 182, true, "tanh(c_t)"); chipAt("h", 830, 380, false, "h_t");
  chipAt("h_prev", 20, 380, false, "h_{t\u22121}"); chipAt("x", 240, 440, false, "x_t");
  return svg;
}
function gateTip(e, key) {
  const show = { f: ["f"], i: ["i"], g: ["g"], o: ["o"], k: ["f", "c_prev", "k"], j: ["i", "g", "j"],
    add: ["k", "j", "c"], h: ["o", "tanh_c", "h"], tanh_c: ["c", "tanh_c"], c: ["c_prev", "c"] }[key];
  showTip(e, tr(`tip_${key}`), show.map((n) => `${n.padEnd(6)} [${vec(n, step).map(f2).join(", ")}]`));
}
function setLstmStep(t) {
  step = t;
  $("lstm-step").value = t;
  const p = D.lstm.probs[t], j = argmax(p);
  $("lstm-step-label").textContent = tr("lstm_step", { day: t + 1, dinner: DIN[D.days[t]], next: DIN[j], p: f2(p[j]) });
  for (const L of live) {
    const v = vec(L.name, t), range = RANGE[L.name];
    if (L.kind === "cell") {
      const c = rgb(v[L.u], range[0], range[1]);
      L.rect.setAttribute("fill", c.css); L.text.textContent = f2(v[L.u]); L.text.style.fill = c.dark ? "#fff" : "";
    } else {                                // an arrow: the colour of its mean, thicker when larger
      const mean = v.reduce((a, b) => a + b, 0) / v.length, c = rgb(mean, range[0], range[1]);
      L.node.setAttribute("stroke", c.a < 0.15 ? "#bbb" : c.css);
      L.node.setAttribute("stroke-width", (L.width * (0.6 + 0.8 * c.a)).toFixed(2));
    }
  }
  const vs = (n) => `[${vec(n, t).map(f2).join(", ")}]`;
  $("lstm-eq").replaceChildren(...[
    `f_t = \u03c3(W_f\u00b7[h_{t\u22121}, x_t] + b_f) = ${vs("f")}`,
    `k_t = f_t * c_{t\u22121} = ${vs("f")} * ${vs("c_prev")} = ${vs("k")}`,
    `i_t = \u03c3(W_i\u00b7[h_{t\u22121}, x_t] + b_i) = ${vs("i")},  g_t = tanh(W_C\u00b7[h_{t\u22121}, x_t] + b_C) = ${vs("g")}`,
    `j_t = i_t * g_t = ${vs("j")}`, `c_t = k_t + j_t = ${vs("k")} + ${vs("j")} = ${vs("c")}`,
    `o_t = \u03c3(W_o\u00b7[h_{t\u22121}, x_t] + b_o) = ${vs("o")}`,
    `h_t = o_t * tanh(c_t) = ${vs("o")} * ${vs("tanh_c")} = ${vs("h")}`,
  ].map((s) => el("div", { class: "vec-line" }, s)));
}
function play(on) {
  if (timer) { clearInterval(timer); timer = null; }
  if (on) timer = setInterval(() => setLstmStep((step + 1) % T), 900);
  $("lstm-play").textContent = tr(on ? "pause" : "play");
  $("lstm-play").setAttribute("aria-pressed", on ? "true" : "false");
}
$("lstm-diagram").append(lstmSvg());
$("lstm-step").max = T - 1;
$("lstm-step").addEventListener("input", (e) => { play(false); setLstmStep(+e.target.value); });
$("lstm-play").addEventListener("click", () => { if (!timer) setLstmStep((step + 1) % T); play(!timer); });

// ---- 5. the children's book -----------------------------------------------------------------------------
const KINDS = ["grammatical", "self_reference", "run_on", "missing_period", "fragment", "other"];
const MODELS = ["memoryless", "rnn", "lstm"];
function drawBook() {
  const B = D.book, tb = el("table", { class: "grid" }), head = el("tr");
  head.append(el("th", {}, ""), ...MODELS.map((m) => el("th", {}, tr(`model_${m}`))));
  tb.append(head);
  for (const k of KINDS) {
    const r = el("tr"), th = el("th", {});
    th.append(el("span", { class: `chip kind-${k}` }, tr(`kind_${k}`)),
      el("div", { class: "muted mono" }, tr(`kind_${k}_example`)));
    r.append(th);
    for (const m of MODELS) {
      const c = B.models[m].counts[k], n = B.models[m].counts.total, ci = B.models[m].ci95[k];
      const td = el("td", { "data-model": m, "data-kind": k });
      td.append(el("div", { class: "mono" }, `${c} / ${n}`), el("div", { class: "muted" }, `${pct(ci[0])} \u2013 ${pct(ci[1])}`));
      r.append(td);
    }
    tb.append(r);
  }
  $("book-table").replaceChildren(tb, el("p", { class: "muted" }, tr("book_ci")));
  const bi = B.bigram, w = (s) => bi.words.indexOf(s), name = bi.words.find((s) => !["saw", "."].includes(s));
  $("book-why").textContent = tr("book_why", { name, saw: f2(bi.probs[w(name)][w("saw")]), dot: f2(bi.probs[w(name)][w(".")]) });
  for (const c of B.comparisons) {
    const [a, b] = c.pair, ka = B.models[a].counts, kb = B.models[b].counts;
    $("book-claims").append(el("li", {}, tr(c.significant ? "claim_sig" : "claim_ns", { a: tr(`model_${a}`), b: tr(`model_${b}`),
      ka: ka.grammatical, na: ka.total, kb: kb.grammatical, nb: kb.total, p: sci(c.p_value) })));
  }
  for (const m of MODELS) {
    const col = el("div", { class: "card", "data-model": m });
    col.append(el("h3", {}, tr(`model_${m}`)));
    for (const s of B.models[m].examples) {         // judged by rnnlab.data.synthetic.sentence_kind
      const line = el("div", { class: "sentence" });
      line.append(el("span", {}, s.words.join(" ").replace(/ \.$/, ".") + " "),
        el("span", { class: `chip kind-${s.kind}` }, tr(`kind_${s.kind}`)));
      col.append(line);
    }
    $("book-examples").append(col);
  }
}
// ---- 6. where to go next ----------------------------------------------------------------------------------
function drawNext() {
  for (const [k, href] of Object.entries(D.links || {})) {
    if (!href) continue;
    const li = el("li"), a = el("a", { href }, tr(`link_${k}`));
    li.append(a); $("next-links").append(li);
  }
  $("next-code").textContent = tr("next_code");
}

drawUnrolled(); drawTable(); drawTwoStep(); drawRollout(); setRnnDay(0); drawGradients();
setLstmStep(0); play(false); drawBook(); drawNext();
window.rnnlabLesson = { data: D, setRnnDay, setLstmStep, play, get step() { return step; } };
