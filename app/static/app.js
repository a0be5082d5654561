// Draw-pad: Pointer Events drawing, live prediction through the public POST /predict API.
"use strict";

(() => {
  const LINE_WIDTH = 0.07; // stroke width as a fraction of the canvas side
  const INK = "#111111"; // dark ink on a transparent canvas: what the API expects
  const EXPORT_SIZE = 196; // px; the export is small to keep requests light
  const LIVE_DELAY_MS = 150; // at most one live prediction per this interval while drawing

  const canvas = document.querySelector("canvas"); // the page's first canvas is the drawing surface
  const ctx = canvas.getContext("2d");
  const exportCanvas = document.createElement("canvas");
  exportCanvas.width = exportCanvas.height = EXPORT_SIZE;
  const $ = (id) => document.getElementById(id);
  const ui = {
    result: $("result"), prediction: $("prediction"), confidence: $("confidence"), status: $("status"),
    seen: $("seen"), bars: $("bars"), hint: $("hint"), model: $("model"), curl: $("curl"),
  };

  let strokes = []; // each stroke: array of [x, y] in canvas units (0..1)
  let active = null; // { id: pointerId, points } while a pointer is drawing
  let seq = 0; // id of the latest request; bumped by Clear/Undo so older answers are ignored
  let inFlight = false;
  let again = false; // the drawing changed while a request was in flight
  let timer = 0;
  let frame = 0;

  // ---- Drawing -------------------------------------------------------------------------------

  function paint(c, w, h) {
    c.clearRect(0, 0, w, h);
    c.lineCap = "round";
    c.lineJoin = "round";
    c.lineWidth = LINE_WIDTH * Math.min(w, h);
    c.strokeStyle = c.fillStyle = INK;
    for (const pts of strokes) {
      const xy = pts.map(([x, y]) => [x * w, y * h]);
      c.beginPath();
      if (xy.length === 1) {
        c.arc(xy[0][0], xy[0][1], c.lineWidth / 2, 0, 2 * Math.PI);
        c.fill();
        continue;
      }
      // Quadratic curves through the midpoints give smooth strokes from jagged input.
      c.moveTo(xy[0][0], xy[0][1]);
      for (let i = 1; i < xy.length - 1; i++) {
        const mx = (xy[i][0] + xy[i + 1][0]) / 2;
        const my = (xy[i][1] + xy[i + 1][1]) / 2;
        c.quadraticCurveTo(xy[i][0], xy[i][1], mx, my);
      }
      const last = xy[xy.length - 1];
      c.lineTo(last[0], last[1]);
      c.stroke();
    }
  }

  function redraw() {
    if (frame) return;
    frame = requestAnimationFrame(redrawNow);
  }

  function redrawNow() {
    cancelAnimationFrame(frame);
    frame = 0;
    paint(ctx, canvas.width, canvas.height);
  }

  function resize() {
    // Backing store in device pixels keeps strokes crisp on high-DPI screens.
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(canvas.clientWidth * dpr));
    const h = Math.max(1, Math.round(canvas.clientHeight * dpr));
    if (canvas.width !== w || canvas.height !== h) {
      canvas.width = w;
      canvas.height = h;
    }
    redrawNow();
  }

  function toCanvas(e) {
    const r = canvas.getBoundingClientRect();
    return [
      (e.clientX - r.left - canvas.clientLeft) / canvas.clientWidth,
      (e.clientY - r.top - canvas.clientTop) / canvas.clientHeight,
    ];
  }

  function onDown(e) {
    if (active || (e.pointerType === "mouse" && e.button !== 0)) return;
    e.preventDefault();
    canvas.setPointerCapture(e.pointerId);
    active = { id: e.pointerId, points: [toCanvas(e)] };
    strokes.push(active.points);
    changed();
    redraw();
    schedulePredict();
  }

  function onMove(e) {
    if (!active || e.pointerId !== active.id) return;
    const events = (e.getCoalescedEvents && e.getCoalescedEvents()) || [];
    for (const ev of events.length ? events : [e]) {
      const p = toCanvas(ev);
      const q = active.points[active.points.length - 1];
      if (Math.hypot(p[0] - q[0], p[1] - q[1]) > 0.002) active.points.push(p);
    }
    redraw();
    schedulePredict();
  }

  function onUp(e) {
    if (!active || e.pointerId !== active.id) return;
    active = null;
    redrawNow();
    predictNow();
  }

  // ---- Prediction ----------------------------------------------------------------------------

  function exportImage() {
    const c = exportCanvas.getContext("2d");
    paint(c, EXPORT_SIZE, EXPORT_SIZE);
    return exportCanvas.toDataURL("image/png");
  }

  function schedulePredict() {
    if (!timer) timer = setTimeout(predictNow, LIVE_DELAY_MS);
  }

  function predictNow() {
    clearTimeout(timer);
    timer = 0;
    predict();
  }

  async function predict() {
    if (!strokes.length) return;
    if (inFlight) {
      again = true; // one request at a time; send the latest drawing when this one is done
      return;
    }
    const id = ++seq;
    inFlight = true;
    ui.result.setAttribute("aria-busy", "true");
    try {
      const res = await fetch("/predict?debug=true", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ image: exportImage() }),
      });
      const body = await res.json().catch(() => null);
      if (id !== seq) return; // cleared, undone or superseded since: never show a stale digit
      if (res.ok && body && Number.isInteger(body.digit)) showResult(body);
      else showError(errorText(res, body));
    } catch (err) {
      if (id === seq) showError("Could not reach the server. Check your connection and try again.");
    } finally {
      inFlight = false;
      if (again) {
        again = false;
        predict();
      }
      ui.result.setAttribute("aria-busy", String(inFlight));
    }
  }

  function errorText(res, body) {
    const detail = body && body.detail;
    let text = `the server answered ${res.status} ${res.statusText}`.trim();
    if (typeof detail === "string") text = detail;
    else if (Array.isArray(detail)) text = detail.map((d) => (d && d.msg) || JSON.stringify(d)).join("; ");
    return `Couldn't read the drawing: ${text}`;
  }

  // ---- Showing results -----------------------------------------------------------------------

  function buildBars() {
    for (let d = 0; d < 10; d++) {
      const li = document.createElement("li");
      li.innerHTML =
        `<span class="label">${d}</span>` +
        `<span class="track" aria-hidden="true"><span class="fill"></span></span>` +
        `<span class="value">–</span>`;
      ui.bars.append(li);
    }
  }

  function setBars(probs) {
    const top = probs ? probs.indexOf(Math.max(...probs)) : -1;
    [...ui.bars.children].forEach((li, d) => {
      const p = probs ? Number(probs[d]) || 0 : 0;
      li.classList.toggle("top", d === top);
      li.querySelector(".fill").style.width = `${(p * 100).toFixed(1)}%`;
      li.querySelector(".value").textContent = probs ? percent(p) : "–";
      li.setAttribute("aria-label", probs ? `${d}: ${percent(p)}` : `${d}: no prediction`);
    });
  }

  function percent(p) {
    return `${(p * 100).toFixed(1)}%`;
  }

  function setStatus(text, isError) {
    ui.status.textContent = text;
    ui.status.classList.toggle("error", Boolean(isError));
  }

  function showNothing() {
    ui.prediction.textContent = "";
    ui.confidence.textContent = "";
    ui.seen.hidden = true;
    ui.seen.removeAttribute("src");
    setBars(null);
  }

  function showBlank() {
    showNothing();
    setStatus("Draw a digit to see what the network thinks.", false);
  }

  function showError(message) {
    showNothing();
    setStatus(message, true);
  }

  function showResult(r) {
    ui.prediction.textContent = String(r.digit);
    ui.confidence.textContent = `${percent(Number(r.confidence) || 0)} confident`;
    setStatus(active ? "Reading as you draw…" : "Add strokes to refine, or Clear to start over.", false);
    setBars(Array.isArray(r.probabilities) && r.probabilities.length === 10 ? r.probabilities : null);
    if (typeof r.debug_image === "string" && r.debug_image.startsWith("data:image/")) {
      ui.seen.src = r.debug_image;
      ui.seen.hidden = false;
    } else {
      ui.seen.hidden = true;
    }
    if (r.model) ui.model.textContent = `Model: ${r.model}`;
  }

  // ---- Clear and undo ------------------------------------------------------------------------

  function changed() {
    ui.hint.classList.toggle("gone", strokes.length > 0);
  }

  function restart() {
    seq++; // any answer still on its way is now stale
    again = false;
    clearTimeout(timer);
    timer = 0;
    active = null;
    changed();
    redrawNow();
    if (strokes.length) predictNow();
    else showBlank();
  }

  function clear() {
    strokes = [];
    restart();
  }

  function undo() {
    strokes.pop();
    restart();
  }

  function onKey(e) {
    const t = e.target;
    if (e.defaultPrevented || (t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName)))) return;
    if (e.key === "Escape" || e.key === "Delete") {
      e.preventDefault();
      clear();
    } else if ((e.ctrlKey || e.metaKey) && !e.shiftKey && !e.altKey && e.key.toLowerCase() === "z") {
      e.preventDefault();
      undo();
    }
  }

  // ---- Wiring --------------------------------------------------------------------------------

  buildBars();
  showBlank();
  ui.curl.textContent =
    `curl -s -X POST '${location.origin}/predict?debug=true' \\\n` +
    `  -H 'Content-Type: application/json' \\\n` +
    `  -d "{\\"image\\": \\"data:image/png;base64,$(base64 -w0 digit.png)\\"}"`;
  $("curl-file").textContent = `curl -s -F file=@digit.png '${location.origin}/predict?debug=true'`;

  canvas.addEventListener("pointerdown", onDown);
  canvas.addEventListener("pointermove", onMove);
  canvas.addEventListener("pointerup", onUp);
  canvas.addEventListener("pointercancel", onUp);
  canvas.addEventListener("lostpointercapture", onUp);
  canvas.addEventListener("contextmenu", (e) => e.preventDefault());
  $("clear").addEventListener("click", clear);
  $("undo").addEventListener("click", undo);
  document.addEventListener("keydown", onKey);
  new ResizeObserver(resize).observe(canvas);
  window.addEventListener("resize", resize);
  resize();
})();
