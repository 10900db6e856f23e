// rnnlab serve's explorer: type an input, see the gates of one layer recomputed as you type;
// select a span, and the units on across it (a hypothesis, as in LSTMVis) are searched for in
// the server's corpus. Every number comes from the server's JSON API (/info, /states,
// /hypothesis, /search); nothing is fetched from anywhere else.
"use strict";
(function () {
  const W = JSON.parse(document.getElementById("words").textContent);
  const words = W.words;
  const tr = (key, f) => String(words[key] ?? key).replace(/\{(\w+)\}/g,
    (m, n) => (f && n in f ? f[n] : m));
  const $ = (id) => document.getElementById(id);
  const query = new URLSearchParams(location.search);
  const token = query.get("token");
  const headers = { "Content-Type": "application/json" };
  if (token) headers.Authorization = "Bearer " + token;

  async function api(path, body) {
    const r = await fetch(path, body === undefined ? { headers } :
      { method: "POST", headers, body: JSON.stringify(body) });
    const j = await r.json();
    if (!r.ok) throw new Error(j.error || String(r.status));
    return j;
  }

  let info = null, cur = null, sel = null, anchor = null, seq = 0, timer = null;
  const EXAMPLE = { text: "def f(x):\n    return g(x, 'abc') + [1, 2]\n",
    music: "[60, 64, 67], [60, 64, 67], [62, 65], [], [64, 67, 72], [64, 67]",
    series: "1, 3, 2, 5, 4, 6, 5, 8, 7, 9, 8, 11" };

  function readInput() {
    const v = $("input").value;
    if (info.reads === "text") return v;
    return JSON.parse("[" + (v.trim() || "") + "]");
  }

  function place() {
    return { layer: +$("layer").value, direction: +$("direction").value };
  }

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(update, 120);
  }

  async function update() {
    const my = ++seq;
    let data;
    try { data = readInput(); } catch (e) { $("error").textContent = tr("error", { msg: e.message }); return; }
    try {
      const res = await api("states", { input: data, names: [$("quantity").value], ...place() });
      if (my !== seq) return;                      // a newer keystroke is on its way
      $("error").textContent = "";
      cur = res;
      cur.input = data;
      if (sel && sel.end > cur.tokens.length) sel = null;
      draw();
      if (sel) hypothesis();
    } catch (e) {
      if (my === seq) $("error").textContent = tr("error", { msg: e.message });
    }
  }

  // ----- drawing ----------------------------------------------------------------------
  function colWidth(T) { return Math.max(2, Math.min(12, Math.floor(1100 / Math.max(T, 1)))); }

  function scale(name, values) {
    const b = info.bounds[name];
    if (b) return b;
    let m = 1e-6;
    for (const row of values) for (const v of row) m = Math.max(m, Math.abs(v));
    return [-m, m];
  }

  function colour(v, lo, hi) {
    if (lo < 0) {                                       // diverging: blue - white - red
      const t = Math.max(-1, Math.min(1, v / Math.max(Math.abs(lo), hi)));
      const w = Math.round(255 * (1 - Math.abs(t)));
      return t >= 0 ? [255, w, w] : [w, w, 255];
    }
    const t = Math.max(0, Math.min(1, (v - lo) / (hi - lo || 1)));
    return [Math.round(255 - 200 * t), Math.round(255 - 90 * t), Math.round(255 - 200 * t)];
  }

  function draw() {
    drawStrip();
    drawView();
    drawHeat();
  }

  function drawStrip() {
    const strip = $("strip");
    strip.textContent = "";
    if (info.reads !== "text") return;
    cur.tokens.forEach((t, i) => {
      const s = document.createElement("span");
      s.className = "tok" + (sel && i >= sel.start && i < sel.end ? " in" : "");
      s.dataset.i = i;
      s.textContent = t === "\n" ? "\u21b5\n" : t;
      strip.appendChild(s);
    });
  }

  function drawView() {                  // the piano roll (music) or the plot (series)
    const c = $("view");
    if (info.reads === "text") { c.hidden = true; return; }
    c.hidden = false;
    const T = cur.tokens.length, cw = colWidth(T), g = c.getContext("2d");
    if (info.roll) {
      const [lo, P] = info.roll, rh = Math.max(2, Math.min(4, Math.floor(240 / P)));
      c.width = T * cw; c.height = P * rh;
      g.fillStyle = "#fff"; g.fillRect(0, 0, c.width, c.height);
      g.fillStyle = "#1d2330";
      cur.input.forEach((step, t) => (step || []).forEach((p) => {
        if (p >= lo && p < lo + P) g.fillRect((t + 1) * cw, (lo + P - 1 - p) * rh, cw, rh);
      }));
    } else {
      const v = cur.tokens.map(Number), mn = Math.min(...v), mx = Math.max(...v);
      c.width = T * cw; c.height = 120;
      g.fillStyle = "#fff"; g.fillRect(0, 0, c.width, c.height);
      g.strokeStyle = "#0b63c5"; g.beginPath();
      v.forEach((y, t) => {
        const py = 110 - 100 * (y - mn) / (mx - mn || 1);
        t ? g.lineTo(t * cw + cw / 2, py) : g.moveTo(cw / 2, py);
      });
      g.stroke();
    }
    shade(g, cw, c.height);
  }

  function drawHeat() {
    const name = $("quantity").value, a = cur.gates[name];
    const T = a.length, H = T ? a[0].length : 0, cw = colWidth(T);
    const rh = Math.max(1, Math.min(4, Math.floor(520 / Math.max(H, 1))));
    const c = $("heat"), g = c.getContext("2d");
    c.width = Math.max(1, T * cw); c.height = Math.max(1, H * rh);
    const [lo, hi] = scale(name, a), img = g.createImageData(c.width, c.height);
    for (let t = 0; t < T; t++) for (let u = 0; u < H; u++) {
      const [r, gg, b] = colour(a[t][u], lo, hi);
      for (let y = u * rh; y < (u + 1) * rh; y++) for (let x = t * cw; x < (t + 1) * cw; x++) {
        const k = 4 * (y * c.width + x);
        img.data[k] = r; img.data[k + 1] = gg; img.data[k + 2] = b; img.data[k + 3] = 255;
      }
    }
    g.putImageData(img, 0, 0);
    shade(g, cw, c.height);
    if (cur.units_on) {
      g.fillStyle = "#111";
      for (const u of cur.units_on) g.fillRect(0, u * rh, 3, rh);
    }
  }

  function shade(g, cw, h) {
    if (!sel) return;
    g.strokeStyle = "#111"; g.lineWidth = 2;
    g.strokeRect(sel.start * cw + 1, 1, (sel.end - sel.start) * cw - 2, h - 2);
  }

  // ----- selecting a span -------------------------------------------------------------
  function select(a, b) {
    const T = cur.tokens.length;
    a = Math.max(0, Math.min(T - 1, a)); b = Math.max(0, Math.min(T - 1, b));
    sel = { start: Math.min(a, b), end: Math.max(a, b) + 1 };
    draw();
  }

  $("strip").addEventListener("mousedown", (e) => {
    if (e.target.dataset.i === undefined) return;
    anchor = +e.target.dataset.i; select(anchor, anchor); e.preventDefault();
  });
  $("strip").addEventListener("mouseover", (e) => {
    if (anchor !== null && e.buttons && e.target.dataset.i !== undefined)
      select(anchor, +e.target.dataset.i);
  });
  for (const id of ["heat", "view"]) {
    const col = (e) => Math.floor(e.offsetX / colWidth(cur.tokens.length));
    $(id).addEventListener("mousedown", (e) => { anchor = col(e); select(anchor, anchor); });
    $(id).addEventListener("mousemove", (e) => { if (anchor !== null && e.buttons) select(anchor, col(e)); });
  }
  document.addEventListener("mouseup", () => {
    if (anchor === null) return;
    anchor = null;
    hypothesis();
  });

  // ----- hypothesis and matches -------------------------------------------------------
  let hypSeq = 0, thTimer = null;
  async function hypothesis() {
    if (!sel || !cur) return;
    const my = ++hypSeq, threshold = +$("threshold").value;
    try {
      const h = await api("hypothesis", { input: cur.input, start: sel.start, end: sel.end,
        threshold, ...place() });
      if (my !== hypSeq) return;
      cur.units_on = h.units;
      drawHeat();
      $("hypothesis").textContent = h.units.length ?
        tr("hypothesis", { n: h.units.length, th: threshold, start: sel.start, end: sel.end - 1,
          units: h.units.slice(0, 40).join(" ") + (h.units.length > 40 ? " \u2026" : "") }) :
        tr("no_units");
      $("matches").textContent = "";
      if (!info.corpus || !h.units.length) return;
      const s = await api("search", { units: h.units, threshold, length: sel.end - sel.start,
        k: 10, ...place() });
      if (my !== hypSeq) return;
      for (const m of s.matches) {
        const li = document.createElement("li"), sc = document.createElement("span");
        sc.className = "sc";
        sc.textContent = tr("match_row", { score: m.score.toFixed(2), others: m.others });
        const mark = document.createElement("mark");
        const flat = (t) => t.replace(/\n/g, "\u21b5");      // one line per match
        mark.textContent = flat(m.span);
        li.append(sc, flat(m.left), mark, flat(m.right));
        $("matches").appendChild(li);
      }
      if (!s.matches.length) $("matches").textContent = tr("no_matches");
    } catch (e) {
      $("error").textContent = tr("error", { msg: e.message });
    }
  }

  // ----- start ------------------------------------------------------------------------
  function options(sel, values, label) {
    sel.textContent = "";
    values.forEach((v, i) => sel.add(new Option(label(v, i), typeof v === "number" ? v : v)));
  }

  async function start() {
    info = await api("info");
    document.title = tr("doc_title", { cell: info.cell.toUpperCase() });
    $("title").textContent = tr("title", { cell: info.cell.toUpperCase(), layers: info.layers,
      hidden: info.hidden, task: info.task });
    $("meta").textContent = tr("meta", { verbs: info.verbs.join(", ") || "\u2014" });
    for (const [k, id] of [["input_title", "input-title"], ["layer", "l-layer"],
      ["direction", "l-direction"], ["quantity", "l-quantity"], ["threshold", "l-threshold"],
      ["select_hint", "select-hint"], ["heat_title", "heat-title"], ["hyp_title", "hyp-title"],
      ["matches_title", "matches-title"], ["legend_title", "legend-title"]]) $(id).textContent = tr(k);
    $("input-hint").textContent = tr(info.reads === "text" ? "hint_text" : info.roll ? "hint_music" : "hint_series");
    $("corpus").textContent = info.corpus ? tr("corpus_meta", { tokens: info.corpus.tokens }) : tr("no_corpus");
    options($("layer"), [...Array(info.layers).keys()], (v) => String(v));
    options($("direction"), [...Array(info.directions).keys()], (v) => tr(v ? "reverse" : "forward"));
    options($("quantity"), info.quantities, (v) => v);
    const dl = $("legend").querySelector("dl");
    for (const q of info.quantities) {
      const dt = document.createElement("dt"), dd = document.createElement("dd");
      dt.textContent = q; dd.textContent = words.legend[q] || "";
      dl.append(dt, dd);
    }
    const langs = $("langs");
    for (const [code, name] of Object.entries(words.languages)) {
      const a = document.createElement("a"), q = new URLSearchParams(location.search);
      q.set("lang", code); a.href = "?" + q.toString(); a.textContent = name;
      langs.appendChild(a);
    }
    $("input").value = EXAMPLE[info.reads === "text" ? "text" : info.roll ? "music" : "series"];
    $("input").addEventListener("input", schedule);
    for (const id of ["layer", "direction"]) $(id).addEventListener("change", () => { sel = null; update(); });
    $("quantity").addEventListener("change", update);
    $("threshold").addEventListener("input", () => {
      $("threshold-value").textContent = $("threshold").value;
      clearTimeout(thTimer); thTimer = setTimeout(hypothesis, 150);
    });
    await update();
  }
  start().catch((e) => { $("error").textContent = tr("error", { msg: e.message }); });
})();
